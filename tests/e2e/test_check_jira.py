"""`okr-sync check` on the Jira side: each project's story-point field and the API user's zone."""

from __future__ import annotations

from typing import Any

import pytest

import connectors.jira.issues as issues
from tests.e2e import test_check as base
from tests.e2e.test_check import lines_with

# The world and fixtures of the main check tests.
make_world = base.make_world
no_real_sleep = base.no_real_sleep


def test_each_projects_story_point_field_is_named(make_world: Any) -> None:
    world = make_world()
    code, out = world.check()
    assert code == 0, out
    assert (
        "✔ story points of PAY: Story point estimate (customfield_10016), from board 'PAY board'"
        in out
    )


def test_issues_whose_other_field_disagrees_are_listed(make_world: Any) -> None:
    world = make_world()
    world.jira.set_board_estimation(1, "Story Points")  # the board add_project made for PAY
    # PAY-2, the checkout epic's story, holds an estimate (3) but no "Story Points".
    code, out = world.check()
    assert code == 0, out
    (warning,) = lines_with(out, "!")
    assert warning == (
        "! story points of PAY: Story Points (customfield_10026), from board 'PAY board'; the "
        "other story-point field holds another value on 1 issue(s): PAY-2"
    )


def test_a_project_whose_issues_leave_the_field_open_is_a_problem(make_world: Any) -> None:
    world = make_world()
    world.jira.set_board_estimation(1, None)  # the board counts issues, not points
    world.jira.add_issue("PAY", "Old story", parent="PAY-1", fields={"Story Points": 8})
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure.startswith("✘ story points of PAY: story points of project PAY: no board")
    assert (
        "Story point estimate (customfield_10016) and Story Points (customfield_10026)" in failure
    )


def test_a_time_zone_that_does_not_resolve_is_a_problem(
    make_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unknown(name: str) -> Any:
        raise issues.ZoneInfoNotFoundError(name)

    monkeypatch.setattr(issues, "ZoneInfo", unknown)
    world = make_world()
    code, out = world.check()
    assert code == 1
    (failure,) = lines_with(out, "✘")
    assert failure.startswith("✘ time zone: the API user's time zone 'Australia/Sydney'")
