"""``okr-sync report [--out FILE]``: one self-contained HTML page from the state store.

:mod:`okr_sync.cli.report.data` gathers what the latest run recorded (read-only),
:mod:`okr_sync.cli.report.page` and :mod:`okr_sync.cli.report.chart` turn it into
HTML and inline SVG without any I/O. The page needs no network when opened.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import click

from okr_sync.cli.common import clock, common_options, echo, read_state
from okr_sync.cli.report.data import ReportData, gather
from okr_sync.cli.report.page import render_page
from okr_sync.models import Status
from okr_sync.state.store import StateStore


def write_report(
    store: StateStore, labels: Mapping[Status, str], out: Path, now: dt.datetime
) -> ReportData:
    """Write the report of ``store`` to ``out`` (replaced whole, never half-written).

    Raises:
        StateError: no run has recorded results yet.
        OSError: the file cannot be written.
    """
    data = gather(store)
    text = render_page(data, labels, now.astimezone(dt.UTC))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return data


@click.command()
@common_options
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("okr-report.html"),
    show_default=True, help="The HTML file to write (replaced if it exists).",
)  # fmt: skip
def report(path: Path, quiet: bool, out: Path) -> None:
    """Write an HTML report of the latest run: OKR tree, burn-up charts, changes, problems."""
    loaded, state = read_state(path)
    try:
        data = write_report(state, loaded.config.status.label_map(), out, clock()())
    except OSError as exc:
        raise click.FileError(str(out), hint=exc.strerror or str(exc)) from exc
    finally:
        state.close()
    if not quiet:
        size = out.stat().st_size
        echo(f"wrote {out}: run {data.run.id}, {len(data.krs)} key results, "
             f"{size / 1024:,.0f} KiB (opens offline in any browser)")  # fmt: skip
    else:
        echo(str(out))
