"""``okr-sync check``: the preflight checklist, or its JSON.

Exit codes: 0 no problem (warnings allowed); 1 problems found; 2 the config
itself is invalid (as every command).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from okr_sync.cli.common import common_options, echo, emit_json
from okr_sync.config.loading import load_config
from okr_sync.engine.preflight import PreflightReport, run_preflight
from okr_sync.errors import EXIT_FAILED, EXIT_OK

MARKS = {"ok": "✔", "warn": "!", "fail": "✘"}


def checklist_text(report: PreflightReport, types: dict[str, str], *, quiet: bool = False) -> str:
    """One group per connection, one line per result, the hint under problems and warnings."""
    lines: list[str] = []
    group = None
    for result in report.results:
        if quiet and result.level == "ok":
            continue
        if result.connection != group:
            group = result.connection
            kind = types.get(group)
            lines += [""] if lines else []
            lines.append(f"{group} ({kind})" if kind else group)
        lines.append(f"  {MARKS[result.level]} {result.subject}: {result.message}")
        if result.hint and result.level != "ok":
            lines.append(f"      hint: {result.hint}")
    fails, warns = len(report.failures), len(report.warnings)
    noted = f"{warns} warning{'s' if warns != 1 else ''}" if warns else ""
    if fails:
        found = f"{fails} problem{'s' if fails != 1 else ''}" + (f" and {noted}" if noted else "")
        lines += [
            "",
            f"{found}: fix {'them' if fails != 1 else 'it'}, then run okr-sync check again",
        ]
    else:
        extra = f" ({noted})" if noted else ""
        lines += ["", f"All checks passed{extra}: okr-sync plan shows what a sync would write."]
    return "\n".join(lines).lstrip("\n")


@click.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check(path: Path, quiet: bool, as_json: bool) -> None:
    """Preflight: credentials, shared databases, properties and options, epics, JQL, files.

    Reads every connection (nothing is written) and lists every problem with what
    to do about it. Exit code 1 if any problem is found.
    """
    loaded = load_config(path)
    report = run_preflight(loaded)
    if as_json:
        emit_json(report.to_json())
    else:
        types = {name: cfg.type for name, cfg in loaded.connections.items()}
        echo(checklist_text(report, types, quiet=quiet))
    sys.exit(EXIT_FAILED if report.failures else EXIT_OK)
