"""What every ``okr-sync`` command shares: common options, redacted output, the run clock."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from okr_sync import log
from okr_sync.cli.group import output_closed
from okr_sync.errors import EXIT_FAILED, OkrSyncError, StateError

if TYPE_CHECKING:  # imported where used: a command's --help loads no config or state code
    from okr_sync.config.loading import LoadedConfig
    from okr_sync.state.location import StateLocation
    from okr_sync.state.store import StateStore

F = TypeVar("F", bound=Callable[..., Any])
_redactor = log.Redactor()
_log_format = "text"
_cli_log = logging.getLogger("okr_sync.cli")


def _secrets_of(path: Path) -> list[str]:
    """Values of the environment variables a config file refers to (for redaction)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")  # a bad byte is reported later
    except OSError:
        return []
    return log.referenced_secrets(text)


def common_options(func: F) -> F:
    """--config, --verbose, --quiet and --log-format on every command."""

    @click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Config file (default: $OKR_SYNC_CONFIG, else ./okr-sync.yaml).",
    )
    @click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
    @click.option("-q", "--quiet", is_flag=True, help="Only errors and the result.")
    @click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: one JSON object per log line, for log shippers.",
    )
    @functools.wraps(func)
    def wrapper(
        config_path: Path | None, verbose: int, quiet: bool, log_format: str, **kw: Any
    ) -> Any:
        global _redactor, _log_format
        _log_format = log_format
        from okr_sync.config.loading import find_config

        path = find_config(config_path)
        # JSON logs are for shippers, which want every run_start/write/conflict/summary
        # line, so they stay at INFO even with -q (which then only quiets stdout); text
        # logs start at WARNING to keep terminals quiet, and -q leaves only errors.
        if log_format == "json":
            level = [logging.INFO, logging.INFO, logging.DEBUG][min(verbose, 2)]
        else:
            level = (
                logging.ERROR
                if quiet
                else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
            )
        _redactor = log.setup(level, log_format, _secrets_of(path))
        try:
            return func(path=path, quiet=quiet, **kw)
        except OkrSyncError as exc:
            # A run that ended on this error logged it (JSON: its failure and summary events).
            if not (exc.ended_run and _log_format == "json"):
                say("error", str(exc), event="error", exit_code=exc.exit_code)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            if _log_format != "json":
                raise
            say("error", exc.format_message(), event="error", exit_code=exc.exit_code)
            sys.exit(exc.exit_code)
        except (KeyboardInterrupt, SystemExit, click.exceptions.Exit):
            raise
        except BrokenPipeError:  # our own output's reader went away: no bug, no message
            output_closed()
        except Exception as exc:  # a bug: say so, without a traceback unless asked (-vv)
            logging.getLogger(__name__).debug("internal error", exc_info=True)
            say("internal error", f"{type(exc).__name__}: {exc}", event="error",
                exit_code=EXIT_FAILED)  # fmt: skip
            sys.exit(EXIT_FAILED)

    return wrapper  # type: ignore[return-value]


def log_format() -> str:
    """The ``--log-format`` of the command running: ``text`` or ``json``."""
    return _log_format


def say(kind: str, text: str, *, event: str, level: int = logging.ERROR, **fields: Any) -> None:
    """A message of the command line's own on stderr: ``kind: text``, or a JSON log line.

    With ``--log-format json`` every line on stderr is a JSON object, these too:
    ``event`` names it (``failure`` for the error that ended a run, ``error`` for
    any other), ``error`` holds the text, and ``fields`` go along (e.g. ``exit_code``).
    """
    if _log_format == "json":
        extra = {"event": event, **({"error": text} if level >= logging.ERROR else {}), **fields}
        _cli_log.log(level, "%s: %s", kind, text, extra=extra)
    else:
        click.echo(_redactor.scrub(f"{kind}: {text}"), err=True)


def echo(text: str) -> None:
    """Print a line to stdout with every known secret redacted."""
    click.echo(_redactor.scrub(text))


def emit_json(data: Any) -> None:
    """Print data as indented JSON (redacted)."""
    echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


NOW_VAR = "OKR_SYNC_NOW"


def clock() -> Callable[[], dt.datetime]:
    """The run's clock: real time, or a fixed instant from $OKR_SYNC_NOW (demos, tests)."""
    fixed = os.environ.get(NOW_VAR)
    if not fixed:
        return lambda: dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(fixed)
    except ValueError:
        raise click.UsageError(f"{NOW_VAR}={fixed!r} is not an ISO date-time") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return lambda: moment


def location_of(loaded: LoadedConfig) -> StateLocation:
    """Where a config's state store lives (its ``state:`` section)."""
    from okr_sync.state.location import state_location

    return state_location(loaded.config.state, loaded.base_dir)


def read_state(path: Path) -> tuple[LoadedConfig, StateStore]:
    """The config and its state store, read-only, for commands that only read history."""
    from okr_sync.config.loading import load_config

    loaded = load_config(path, check_env=False)
    location = location_of(loaded)
    if not location.exists():
        raise StateError(f"no runs recorded yet in {location}; run 'okr-sync sync' first")
    return loaded, location.open_readonly()
