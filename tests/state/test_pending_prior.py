"""A write that failed leaves its field's earlier value known (migration 0011), on both backends.

A pending value is one okr-sync was writing when the outcome was lost or the write
failed. The field may then hold that value (the write landed) or the one it held
before (it did not): neither is a human edit. Without the earlier value, the next
run took an untouched field for a human edit (a false conflict; with `skip`, the
field was never written).
"""

from __future__ import annotations

import datetime as dt

import pytest

import okr_sync.state.store as state_module
from okr_sync.models import ChangeAction, FieldChange, RecordRef
from okr_sync.state.schema import MIGRATIONS
from tests.backends import Backend

AT = dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC)
REF = RecordRef(kind="key_result", id="KR-1")


def _change(before: object, after: object, conflict: bool = False) -> FieldChange:
    return FieldChange(
        target="pages", ref=REF, owner="KR-1", field="progress", before=before, after=after,
        last_written=None, conflict=conflict,
        action=ChangeAction.OVERWRITE if conflict else ChangeAction.WRITE,
    )  # fmt: skip


def test_a_failed_write_leaves_both_its_value_and_the_one_it_replaced(backend: Backend) -> None:
    store = backend.location.open()
    try:
        run_id = store.start_run(AT)
        store.record_intent(run_id, [_change(None, 0.5)])
        store.record_changes(run_id, [_change(None, 0.5)], "failed", "refused")
        assert store.last_written("pages") == {(REF, "progress"): (0.5, None)}
        # confirmed later: only okr-sync's value is left
        store.record_intent(run_id, [_change(None, 0.5)])
        store.record_changes(run_id, [_change(None, 0.5)], "applied")
        assert store.last_written("pages") == {(REF, "progress"): (0.5,)}
        # a human's value being overwritten when the write failed stays a human's
        human = _change(0.8, 0.6, conflict=True)
        store.record_intent(run_id, [human])
        store.record_changes(run_id, [human], "failed", "refused")
        assert store.last_written("pages") == {(REF, "progress"): (0.5, 0.6)}
    finally:
        store.close()


def test_pending_rows_of_an_older_store_get_their_earlier_value(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [name for name, _ in MIGRATIONS]
    monkeypatch.setattr(state_module, "MIGRATIONS", MIGRATIONS[: names.index("0011_pending_prior")])
    store = backend.location.open()
    run_id = store.start_run(AT)
    # What an older okr-sync left after a failed write: the pending value and the log row.
    with store.transaction() as db:
        db.execute(
            "INSERT INTO pending (target, kind, record, field, value) "
            "VALUES ('pages', 'key_result', 'KR-1', 'progress', '0.5')"
        )
        db.execute(
            "INSERT INTO changes (run_id, target, kind, record, owner, field, before, after, "
            "last_written, conflict, action, result, error) VALUES (?, 'pages', 'key_result', "
            "'KR-1', 'KR-1', 'progress', '0.25', '0.5', NULL, 0, 'write', 'failed', 'refused')",
            (run_id,),
        )
    store.close()
    monkeypatch.setattr(state_module, "MIGRATIONS", MIGRATIONS)
    store = backend.location.open()
    try:
        assert store.last_written("pages") == {(REF, "progress"): (0.5, 0.25)}
    finally:
        store.close()
