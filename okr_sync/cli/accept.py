"""``okr-sync accept KR [FIELD] [--target NAME]``: the human's value is right.

With ``conflicts: skip`` a value a human typed over a computed one is kept, and
reported as a conflict on every run. ``accept`` records that value as accepted in
the state store (under the run lock, so no sync is planning meanwhile): runs then
leave it where it is without reporting it, until someone edits the field again
(then the conflict rules apply as before) or it comes to hold the computed value.

The value accepted is the one the last run found and kept (``explain`` and
``status`` show it); nothing is read from the services.

Exit codes: 0 accepted; 1 no open conflict matches (or no state store yet);
2 config or usage error; 3 a sync holds the lock of the state store.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from okr_sync.cli import render
from okr_sync.cli.common import common_options, echo, location_of
from okr_sync.config.loading import load_config
from okr_sync.errors import StateError


def _where(conflict: dict[str, object]) -> str:
    return f"{conflict['target']} {conflict['record']} {conflict['field']}"


@click.command()
@common_options
@click.argument("kr")
@click.argument("field", required=False)
@click.option("--target", metavar="NAME", help="Only the fields of this write target.")
def accept(path: Path, quiet: bool, kr: str, field: str | None, target: str | None) -> None:
    """Accept the human value kept on a KR's field(s): no conflict until edited again."""
    loaded = load_config(path, check_env=False)
    if target is not None and target not in loaded.config.write:
        known = ", ".join(sorted(loaded.config.write)) or "none"
        raise click.BadParameter(f"no write target named {target!r} (targets: {known})",
                                 param_hint="--target")  # fmt: skip
    location = location_of(loaded)
    if not location.exists():
        raise StateError(f"no runs recorded yet in {location}; run 'okr-sync sync' first")
    with location.run_lock(advice="wait for it to finish, then accept"):
        state = location.open()
        try:
            found = state.open_conflicts(kr)
            chosen = [
                c for c in found
                if (field is None or c["field"] == field) and (target is None or c["target"] == target)
            ]  # fmt: skip
            if not chosen:
                what = " ".join(filter(None, [kr, field, target and f"on {target}"]))
                others = "; ".join(_where(c) for c in found)
                raise StateError(
                    f"no open conflict on {what}: the last run kept no human value there"
                    + (f" (open on {kr}: {others})" if others else "")
                )
            state.accept(kr, chosen, dt.datetime.now(dt.UTC))
        finally:
            state.close()
    for c in chosen:
        echo(
            f"accepted: {_where(c)} = {render.show(c['value'])} "
            f"(okr-sync's value was {render.show(c['last_written'])}; seen in run {c['run_id']})"
        )
    if not quiet:
        echo("okr-sync leaves these values as they are, and reports no conflict on them, "
             "until someone edits them again.")  # fmt: skip
