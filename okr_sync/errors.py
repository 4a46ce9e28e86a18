"""Typed errors. Library code raises these; only the CLI prints them and picks exit codes.

Connectors raise :class:`SourceError` (a pull failed), :class:`WriteError` (a write
failed) or :class:`AuthError`; each message says what to do and never carries a secret.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3


class OkrSyncError(Exception):
    """Base class of every error okr-sync raises on purpose."""

    exit_code = EXIT_FAILED
    #: Set by the engine when the error ended a run (recorded as failed, summary logged).
    ended_run = False


@dataclass(frozen=True)
class Problem:
    """One problem in a config file (or another user-supplied file)."""

    file: str
    line: int | None
    field: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class ConfigError(OkrSyncError):
    """The config (or a file it names) is invalid; every problem is listed."""

    exit_code = EXIT_CONFIG

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the configuration:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


class DataError(OkrSyncError):
    """The OKR data itself is inconsistent (duplicate ids, a cycle of parent objectives)."""

    exit_code = EXIT_CONFIG

    def __init__(self, problems: list[str], source: str) -> None:
        self.problems = list(problems)
        self.source = source
        lines = [f"the OKRs from '{source}' are inconsistent:", *(f"  {p}" for p in problems)]
        super().__init__("\n".join(lines))


class SourceError(OkrSyncError):
    """A connector could not pull (network, HTTP error, malformed payload).

    ``selector`` names the query selector (a rule's id such as ``rule-3``) whose
    query failed, so the engine can point at the rule's line in the config.
    """

    def __init__(
        self, source: str, message: str, *, retriable: bool = False, selector: str | None = None
    ) -> None:
        self.source = source
        self.retriable = retriable
        self.selector = selector
        super().__init__(f"{source}: {message}")


class AuthError(SourceError):
    """Credentials were refused; the message names the site and what to check."""


class WriteError(OkrSyncError):
    """A write to a target failed; other writes go on."""

    def __init__(self, target: str, message: str) -> None:
        self.target = target
        super().__init__(f"{target}: {message}")


class StateError(OkrSyncError):
    """The state store cannot be opened or is from a newer okr-sync."""


class LockHeld(OkrSyncError):
    """Another okr-sync process holds the lock of this state store."""

    exit_code = EXIT_LOCKED


class CronError(OkrSyncError, ValueError):
    """A cron expression is invalid; ``field`` names the cron field at fault.

    A ``ValueError`` too, so a config model's validator can raise it as is.
    """

    exit_code = EXIT_CONFIG

    def __init__(self, expression: str, field: str, message: str) -> None:
        self.expression = expression
        self.field = field
        where = "" if field == "expression" else f"{field} field "
        super().__init__(f"{where}{message} (in cron {expression!r})")
