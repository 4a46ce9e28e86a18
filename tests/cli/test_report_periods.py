"""``okr-sync report`` where periods end and targets move, on the shipped example.

KR-3 (manual, Current 650, start 900, target 400) gets its own period ending
2026-11-30; each run pins the clock, as in ``tests/cli/test_periods.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main
from okr_sync.cli.report.data import gather
from tests.backends import Backend


def run(monkeypatch: pytest.MonkeyPatch, day: str, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("OKR_SYNC_NOW", f"{day}T12:00:00+00:00")
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def card(page: str, kr: str) -> str:
    """One KR's article in the page."""
    found = re.search(rf'<article class="kr" id="kr-{kr}".*?</article>', page, re.S)
    assert found, kr
    return found.group(0)


def report(monkeypatch: pytest.MonkeyPatch, day: str, config: Path) -> str:
    out = config.parent / "r.html"
    code, text = run(monkeypatch, day, "report", "-c", str(config), "--out", str(out))
    assert code == 0, text
    return out.read_text(encoding="utf-8")


@pytest.fixture
def config(example: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in backend.env.items():
        monkeypatch.setenv(name, value)
    example.write_text(backend.config(example.read_text()))
    edit(
        example.parent / "okrs.yaml",
        "    current: 650\n",
        "    current: 650\n    period_end: 2026-11-30\n",
    )
    return example


def test_a_target_moved_mid_period_is_marked_and_the_past_keeps_its_own(
    config: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = str(config)
    assert run(monkeypatch, "2026-11-10", "sync", "-c", c)[0] == 0
    edit(config.parent / "okrs.yaml", "target: 400", "target: 500")
    assert run(monkeypatch, "2026-11-15", "sync", "-c", c)[0] == 0

    store = backend.location.open_readonly()
    try:
        data = gather(store)
    finally:
        store.close()
    kr3 = data.krs["KR-3"]
    assert [(p.target, p.progress) for p in kr3.points] == [(400, 0.5), (500, 0.625)]
    (move,) = kr3.moves
    assert move.text() == "target 400 → 500 (seen 2026-11-15)"
    assert all(not k.moves for k in data.krs.values() if k.id != "KR-3")

    page = report(monkeypatch, "2026-11-15", config)
    moved = card(page, "KR-3")
    assert moved.count('class="move"') == 1 and moved.count('class="moved"') == 1
    assert ">target 400 → 500 (seen 2026-11-15)</text>" in moved
    # The 100 % line is one segment per target, each saying which one.
    assert re.findall(r"<title>100 % = (target \d+)</title>", moved) == ["target 400", "target 500"]
    # 50 % against 400 and 62.5 % against 500 are not joined: the jump is the goal, not work.
    assert "<polyline" not in moved
    sentence = (
        "target moved 400 → 500: changed after 2026-11-10, seen 2026-11-15; "
        "points before were computed against 400"
    )
    assert f'<p class="targets">Target line: {sentence}.</p>' in moved
    assert f"{sentence} (vertical line; the line is not joined across it)" in moved  # caption
    for other in ("KR-1", "KR-4"):  # no move: nothing of the kind
        kr = card(page, other)
        assert 'class="move"' not in kr and "Target line" not in kr and "<title>100 %" not in kr
        assert "<polyline" in kr  # their two runs are joined


def test_a_closed_kr_shows_its_reason_and_final_value_and_nothing_after_its_end(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = str(config)
    assert run(monkeypatch, "2026-11-15", "sync", "-c", c)[0] == 0
    assert run(monkeypatch, "2026-11-22", "sync", "-c", c)[0] == 0
    edit(config.parent / "okrs.yaml", "current: 650", "current: 600")  # after the period
    assert run(monkeypatch, "2026-12-05", "sync", "-c", c)[0] == 0
    assert run(monkeypatch, "2026-12-06", "sync", "-c", c)[0] == 0

    page = report(monkeypatch, "2026-12-06", config)
    closed = card(page, "KR-3")
    assert '<b>■</b>closed</span><span class="pct">50 %</span>' in closed
    assert "650 / 400 ms" in closed  # the final value, not 600 entered after the period
    assert (
        '<p class="closed">Closed: period ended 2026-11-30: final value 50 % as of 2026-11-22 '
        "(run 2); nothing more is written"
    ) in closed
    assert closed.count('class="final"') == 1 and ">final 50 %</text>" in closed
    # The two runs within the period are drawn; the two after its end are not.
    (line,) = re.findall(r'<polyline class="synced" points="([^"]+)"', closed)
    xs = [float(pair.split(",")[0]) for pair in line.split()]
    end = float(re.search(r'<line class="end" x1="([\d.]+)"', closed).group(1))  # type: ignore[union-attr]
    assert len(xs) == 2 and max(xs) < end
    assert all(
        float(x) <= end for x in re.findall(r'<circle class="dot[^"]*" cx="([\d.]+)"', closed)
    )
    assert (
        "2 synced runs (solid line); expected pace (dashed) from 01 Oct to 30 Nov; closed: "
        "period ended 30 Nov, final value 50 % (square); 2 runs after the period end not drawn "
        "(they kept the final value)"
    ) in closed
    # Its items are those the final run counted (none: a manual KR), not "all removed".
    assert 'class="since"' not in closed and "Current is entered by hand" in closed
    other = card(page, "KR-4")
    assert 'class="final"' not in other and 'class="end"' not in other and "Closed:" not in other


def test_a_kr_closed_without_a_final_value_needs_attention(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(monkeypatch, "2026-12-05", "sync", "-c", str(config))
    page = report(monkeypatch, "2026-12-05", config)
    closed = card(page, "KR-3")
    assert '<p class="note">Closed: period ended 2026-11-30; no value was recorded within it' in (
        closed
    )
    assert "closed: period ended 30 Nov, no final value recorded" in closed
    assert 'class="final"' not in closed
    attention = page.split('<h2 id="attention">')[1].split("<h2")[0]
    assert 'href="#kr-KR-3"' in attention
