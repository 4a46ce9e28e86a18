"""Failed runs, accepted human values and the store's identity, on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from okr_sync.errors import EXIT_CONFIG
from okr_sync.models import ChangeAction, FieldChange, RecordRef
from okr_sync.state.records import StoreServesAnother
from okr_sync.state.store import StateStore
from tests.backends import Backend
from tests.state.raw import contents

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
KR1 = RecordRef(kind="key_result", id="KR-1")


@pytest.fixture
def store(backend: Backend) -> Iterator[StateStore]:
    s = backend.location.open()
    yield s
    s.close()


def kept_human_value(value: float, *, field: str = "current") -> FieldChange:
    """A field a human typed over (okr-sync had written 0.5): policy skip kept it."""
    return FieldChange(target="notion", ref=KR1, owner="KR-1", field=field, before=value,
                       after=0.7, last_written=0.5, conflict=True,
                       action=ChangeAction.SKIP)  # fmt: skip


# --- runs that failed as a whole --------------------------------------------------------------


def test_a_failed_run_is_recorded_with_its_redacted_reason(store: StateStore) -> None:
    crashed = store.start_run(T0)  # died while running: no one finished it
    store.redact = lambda text: text.replace("s3cr3t", "***")
    failed = store.record_failed_run(T0, T0 + dt.timedelta(seconds=3), "token s3cr3t refused")
    latest, older = store.runs()
    assert (latest["id"], latest["outcome"], latest["reason"]) == (failed, "failed",
                                                                   "token *** refused")  # fmt: skip
    assert latest["finished_at"] == (T0 + dt.timedelta(seconds=3)).isoformat()
    assert (older["id"], older["outcome"]) == (crashed, "interrupted")


def test_a_run_already_started_is_marked_failed_not_added(store: StateStore) -> None:
    run_id = store.start_run(T0)
    assert store.record_failed_run(T0, T0, "lost the state store", run_id=run_id) == run_id
    (only,) = store.runs()
    assert (only["id"], only["outcome"], only["reason"]) == (run_id, "failed",
                                                             "lost the state store")  # fmt: skip


# --- acceptances -------------------------------------------------------------------------------


def test_an_accepted_human_value_is_kept_until_okr_sync_writes_the_field(
    store: StateStore,
) -> None:
    run_id = store.start_run(T0)
    store.record_changes(run_id, [kept_human_value(80.0)], "skipped")
    (open_conflict,) = store.open_conflicts("KR-1")
    assert (open_conflict["field"], open_conflict["value"], open_conflict["last_written"]) == (
        "current", 80.0, 0.5,
    )  # fmt: skip

    store.accept("KR-1", [open_conflict], T0 + dt.timedelta(hours=1))
    assert store.accepted("notion") == {(KR1, "current"): 80.0}
    (acceptance,) = store.acceptances("KR-1")
    assert (acceptance["value"], acceptance["run_id"]) == (80.0, run_id)
    assert acceptance["accepted_at"] == (T0 + dt.timedelta(hours=1)).isoformat()

    # okr-sync writing the field (a human edited it again, overwritten) ends the acceptance.
    written = FieldChange(target="notion", ref=KR1, owner="KR-1", field="current",
                          before=90.0, after=0.7, last_written=0.5)  # fmt: skip
    store.record_changes(store.start_run(T0 + dt.timedelta(days=1)), [written], "applied")
    assert store.accepted("notion") == {}
    assert store.acceptances("KR-1") == []
    assert store.open_conflicts("KR-1") == []


def test_a_field_found_holding_okr_syncs_value_ends_its_acceptance(store: StateStore) -> None:
    run_id = store.start_run(T0)
    store.record_changes(run_id, [kept_human_value(80.0)], "skipped")
    store.accept("KR-1", store.open_conflicts("KR-1"), T0)
    store.adopt("notion", run_id, [(KR1, "current", 0.7)])
    assert store.accepted("notion") == {}
    assert store.last_written("notion") == {(KR1, "current"): (0.7,)}


# --- the OKR source the store serves ---------------------------------------------------------


def test_the_first_run_that_writes_claims_the_store(store: StateStore) -> None:
    assert store.source_identity() is None
    store.check_source("notion:abc", claim=False)  # a plan: claims nothing
    assert store.source_identity() is None
    store.check_source("notion:abc", claim=True)
    assert store.source_identity() == "notion:abc"
    store.check_source("notion:abc", claim=True)  # the same source again: fine
    assert store.source_identity() == "notion:abc"


def test_another_okr_source_is_refused_naming_both_and_recording_nothing(
    backend: Backend, store: StateStore
) -> None:
    store.check_source("yaml_okrs:okrs.yaml", claim=True)
    store.start_run(T0)
    before = contents(backend)
    for claim in (True, False):
        with pytest.raises(StoreServesAnother) as info:
            store.check_source("yaml_okrs:other-okrs.yaml", claim=claim)
        assert info.value.exit_code == EXIT_CONFIG == 2
        message = str(info.value)
        assert str(backend.location) in message
        assert "(yaml_okrs:okrs.yaml)" in message and "(yaml_okrs:other-okrs.yaml)" in message
    assert contents(backend) == before
    ro = backend.location.open_readonly()  # the read-only side refuses as well
    try:
        with pytest.raises(StoreServesAnother):
            ro.check_source("yaml_okrs:other-okrs.yaml", claim=False)
    finally:
        ro.close()
