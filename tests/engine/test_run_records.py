"""Runs that end on an error are recorded, every run logs one summary, each cause is said once,
and an accepted human value is left alone (in-memory connectors)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from okr_sync.errors import SourceError, WriteError
from okr_sync.models import RecordRef
from tests.engine.test_engine import Setup


@pytest.fixture
def env(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == name]


def test_a_run_failing_before_it_computes_is_recorded_failed_with_its_redacted_reason(
    env: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    env.engine().run(apply=True)
    env.okrs.fail_pulls = "401 for token s3cr3t-value: the token was refused"
    engine = env.engine()
    env.state.redact = lambda text: text.replace("s3cr3t-value", "***")
    caplog.set_level(logging.INFO)
    with pytest.raises(SourceError):
        engine.run(apply=True)
    latest, first = env.state.runs()
    assert first["outcome"] == "ok"
    assert latest["outcome"] == "failed" and latest["finished_at"] is not None
    assert latest["reason"] == "okrs: 401 for token ***: the token was refused"
    (summary,) = events(caplog, "summary")
    assert summary.outcome == "failed" and summary.run_id == latest["id"]  # type: ignore[attr-defined]
    assert "refused" in summary.reason  # type: ignore[attr-defined]
    (failure,) = events(caplog, "failure")  # before the summary, naming the source
    assert failure.source == "okrs" and caplog.records.index(failure) < caplog.records.index(
        summary
    )  # type: ignore[attr-defined]


def test_every_run_logs_exactly_one_summary(env: Setup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    env.engine().run(apply=False)
    env.engine().run(apply=True)
    dry, real = events(caplog, "summary")
    assert dry.dry_run and dry.outcome == "ok" and dry.planned == 3  # type: ignore[attr-defined]
    assert not real.dry_run and real.writes == 3 and real.reason is None  # type: ignore[attr-defined]


def test_a_source_error_is_said_once_and_a_target_on_the_same_connection_names_it(
    env: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    env.engine().run(apply=True)
    error = "HTTP 401: check the API token"
    env.work.fail_pulls = error

    def refuse(refs: object) -> object:
        raise SourceError("work", error)

    env.work.read_records = refuse  # type: ignore[method-assign]
    env.loaded.config.write["work"] = env.loaded.config.write["pages"]  # work is a target too
    caplog.set_level(logging.INFO)
    summary = env.engine().run(apply=True)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert text.count(error) == 1 and "pull from work failed" in text
    assert "reading work failed" not in text
    target = next(f for f in summary.failures if f.target == "work")
    assert error not in target.error and "see source work" in target.error
    assert "KR-1 stale: not updated, an item source failed (work: see above)" in text


def test_a_write_side_problem_is_not_called_a_read(
    env: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    def no_option(outcome: object, spec: object) -> object:
        raise WriteError("pages", "the Status property has no option 'At risk'")

    env.pages.desired_records = no_option  # type: ignore[method-assign]
    caplog.set_level(logging.INFO)
    env.engine().run(apply=True)
    (failure,) = [r for r in events(caplog, "failure") if getattr(r, "target", None) == "pages"]
    assert failure.getMessage().startswith("cannot write to pages: ")
    assert failure.side == "write"  # type: ignore[attr-defined]
    assert not any("reading pages" in r.getMessage() for r in caplog.records)


def test_an_accepted_human_value_is_left_alone_until_edited_again(tmp_path: Path) -> None:
    env = Setup(tmp_path, "conflicts: skip\n")
    env.engine().run(apply=True)
    kr1 = RecordRef(kind="key_result", id="KR-1")
    env.pages.records[kr1]["status"] = "Achieved"  # a manager types over the computed status
    for _ in range(2):  # reported on every run while nothing is accepted
        summary = env.engine().run(apply=True)
        assert [(c.ref.id, c.field) for c in summary.plan.conflicts] == [("KR-1", "status")]
    (open_,) = env.state.open_conflicts("KR-1")
    assert open_["value"] == "Achieved" and open_["last_written"] == "On track"
    env.state.accept("KR-1", [open_], summary.started_at)
    summary = env.engine().run(apply=True)
    assert summary.plan.conflicts == () and summary.plan.changes == ()
    assert env.page("KR-1")["status"] == "Achieved"
    env.pages.records[kr1]["status"] = "Off track"  # edited again: a conflict as before
    summary = env.engine().run(apply=True)
    assert [c.before for c in summary.plan.conflicts] == ["Off track"]
    env.pages.records[kr1]["status"] = "On track"  # now holds the computed value: adopted
    env.engine().run(apply=True)
    assert env.state.acceptances("KR-1") == []
