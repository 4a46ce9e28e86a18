"""What a run tells the logs: one line per cause, and one ``summary`` event at the end.

A failing source makes every KR it feeds stale, and the reason of each KR
quotes the source's error. Logged in full on every line, a single refused token
would be read six times over; so a cause is said once, where it happened (the
pull of a source, the read of a target, the preparation of writes, one write),
and the lines that follow from it name it by its connection instead
(:func:`shorten`). The data keep the full texts (``sync --json``, ``explain``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from okr_sync import log as okr_log
from okr_sync.models import Outcome

log = logging.getLogger("okr_sync.engine.engine")


def shorten(reason: str, causes: Mapping[str, str]) -> str:
    """``reason`` with the text of each cause already reported replaced by its name.

    ``causes`` maps a connection name to its error text (a failed source's, as
    reported once): "…an item source failed (jira: <the 401's text>)" becomes
    "…an item source failed (jira: see above)".
    """
    for name, text in sorted(causes.items(), key=lambda kv: -len(kv[1])):
        if text:
            reason = reason.replace(text, f"{name}: see above")
    return reason


def log_results(outcome: Outcome, causes: Mapping[str, str]) -> None:
    """One line per KR or objective left unwritten (the cause named, not repeated)."""
    for kr in outcome.key_results:
        if kr.stale or kr.error:
            reason = shorten(kr.error or "", causes)
            log.warning(
                "%s %s: %s", kr.kr_id, "stale" if kr.stale else "failed", reason,
                extra={"event": "failure", "kr": kr.kr_id, "stale": kr.stale, "error": reason},
            )  # fmt: skip
        elif kr.skipped:
            log.info("%s left alone: %s", kr.kr_id, kr.skipped,
                     extra={"event": "skipped", "kr": kr.kr_id, "reason": kr.skipped})  # fmt: skip
    for obj in outcome.objectives:
        if obj.stale or obj.error:  # an objective left unwritten, with the KRs that made it so
            reason = shorten(obj.error or "", causes)
            log.warning(
                "%s stale: %s", obj.objective_id, reason,
                extra={"event": "failure", "objective": obj.objective_id, "stale": obj.stale,
                       "error": reason},
            )  # fmt: skip


def log_abort(reason: str, source: str | None) -> None:
    """The ``failure`` event of a run that ended on an error, before its summary.

    For JSON logs only: in text, the command line (``error: …``) or the scheduler
    (``run of … failed``) says it, once.
    """
    fields: dict[str, Any] = {"event": "failure", "error": reason, okr_log.JSON_ONLY: True}
    if source is not None:
        fields["source"] = source
    log.error("run failed: %s", reason, extra=fields)


def log_summary(
    *,
    outcome: str,
    reason: str | None,
    dry_run: bool,
    run_id: int | None,
    writes: int = 0,
    planned: int = 0,
    conflicts: int = 0,
    failed: tuple[str, ...] = (),
) -> None:
    """The one ``summary`` event that ends every run, whatever ended it.

    ``outcome`` is ``ok``, ``failed`` or ``stopped``; ``reason`` says why a run
    ended on an error (the error itself, which the command line reports once:
    it is a field here, not repeated in the message).
    """
    fields: dict[str, Any] = {
        "event": "summary", "outcome": outcome, "reason": reason, "dry_run": dry_run,
        "run_id": run_id, "writes": writes, "planned": planned, "conflicts": conflicts,
        "failed": list(failed),
    }  # fmt: skip
    if reason is not None:
        log.info("run %s before finishing (the error is reported once, above)", outcome,
                 extra=fields)  # fmt: skip
        return
    verb = "would write" if dry_run else "wrote"
    count = planned if dry_run else writes
    log.info(
        "run %s: %s %d record(s), %d conflict(s), %d failed",
        "planned" if dry_run else "finished", verb, count, conflicts, len(failed),
        extra=fields,
    )  # fmt: skip
