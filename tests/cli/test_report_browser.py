"""The report in a real browser: headless Chromium opens it from disk, with no network.

The DOM Chromium builds must hold every KR of the state store with the store's
numbers, and no element made from user text; on a phone-sized window nothing
may stick out sideways; the screenshot must show a page (ink, colours, the
charts' blue). Skipped only when no Chromium is found, and says so;
``OKR_SYNC_REQUIRE_CHROMIUM=1`` (``make test``, so CI) makes that a failure.
``scripts/ensure-chromium`` installs Debian's ``chromium`` when it is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from okr_sync.cli.main import main
from okr_sync.core.provenance import pct
from okr_sync.state.store import StateStore
from tests.cli.png import read_rgb
from tests.cli.test_report import EVIL, quickstart

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """$OKR_SYNC_CHROMIUM, else the first Chromium on PATH."""
    named = os.environ.get("OKR_SYNC_CHROMIUM")
    if named:
        return named
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        message = (
            "no Chromium found (chromium, chromium-browser, google-chrome, $OKR_SYNC_CHROMIUM): "
            "the report's browser test did not run; scripts/ensure-chromium installs one"
        )
        if os.environ.get("OKR_SYNC_REQUIRE_CHROMIUM") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def headless(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium, headless, with everything that could reach the network turned off."""
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
        f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


class Dom(HTMLParser):
    """The KR cards of a dumped DOM: id → (progress attribute, shown percentage, title)."""

    def __init__(self) -> None:
        super().__init__()
        self.krs: dict[str, dict[str, str]] = {}
        self.tags: set[str] = set()
        self.body: dict[str, str | None] = {}
        self._card: str | None = None
        self._into: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "article" and a.get("data-kr"):
            self._card = str(a["data-kr"])
            self.krs[self._card] = {"progress": a.get("data-progress") or "", "pct": "", "h": ""}
        elif self._card and tag == "span" and a.get("class") == "pct":
            self._into = "pct"
        elif self._card and tag == "h4":
            self._into = "h"

    def handle_endtag(self, tag: str) -> None:
        if (tag, self._into) in (("span", "pct"), ("h4", "h")):
            self._into = None
        if tag == "article":
            self._card = None

    def handle_data(self, data: str) -> None:
        if self._card and self._into:
            self.krs[self._card][self._into] += data


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A report of two real syncs of the shipped example, KR-1 titled with markup."""
    folder = tmp_path_factory.mktemp("report")
    config = quickstart(folder)
    okrs = folder / "okrs.yaml"
    text = okrs.read_text(encoding="utf-8")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("- id: KR-1"))
    title = next(i for i in range(at, len(lines)) if lines[i].strip().startswith("title:"))
    indent = lines[title][: len(lines[title]) - len(lines[title].lstrip())]
    lines[title] = f'{indent}title: "{EVIL}"'
    okrs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    mp = pytest.MonkeyPatch()
    try:
        for now in ("2026-11-08T12:00:00+00:00", "2026-11-15T12:00:00+00:00"):
            mp.setenv("OKR_SYNC_NOW", now)
            result = runner.invoke(main, ["sync", "-c", str(config), "-q"])
            assert result.exit_code in (0, 1), result.output
        out = folder / "okr-report.html"
        result = runner.invoke(main, ["report", "-c", str(config), "--out", str(out)])
        assert result.exit_code == 0, result.output
    finally:
        mp.undo()
    return out, folder / ".okr-sync" / "state.db"


def test_the_browser_shows_every_kr_with_the_store_numbers(
    chromium: str, report: tuple[Path, Path], tmp_path: Path
) -> None:
    page, db = report
    dom = Dom()
    dom.feed(headless(chromium, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout)
    store = StateStore.open_readonly(db)
    try:
        rows = store.history("kr", provenance=False)
    finally:
        store.close()
    last_run = max(r["run_id"] for r in rows)
    latest = {r["id"]: r for r in rows if r["run_id"] == last_run}
    assert len(latest) == 7 and sorted(dom.krs) == sorted(latest)
    for kr_id, row in latest.items():
        shown = dom.krs[kr_id]
        assert shown["pct"] == pct(row["progress"]), kr_id
        assert shown["progress"] == ("" if row["progress"] is None else f"{row['progress']:.4f}")
    # The markup in KR-1's title is text in the DOM, not an element.
    assert EVIL in dom.krs["KR-1"]["h"]
    assert "script" not in dom.tags and "u" not in dom.tags


def test_on_a_phone_nothing_sticks_out_sideways(
    chromium: str, report: tuple[Path, Path], tmp_path: Path
) -> None:
    page, _ = report
    probe = tmp_path / "probe.html"
    measure = (
        "<script>addEventListener('load',()=>{document.body.dataset.inner=innerWidth;"
        "document.body.dataset.scroll=document.documentElement.scrollWidth})</script>"
    )  # only in this copy: the report itself has no script
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", measure + "</body>"))
    dom = Dom()
    args = ("--window-size=390,844", "--dump-dom", probe.as_uri())
    dom.feed(headless(chromium, tmp_path / "profile", *args).stdout)
    inner, scroll = int(dom.body["data-inner"] or 0), int(dom.body["data-scroll"] or 0)
    assert 0 < inner <= 600  # headless Chromium's narrowest window: the phone layout applies
    assert scroll <= inner


def test_the_screenshot_is_a_page_not_a_blank(
    chromium: str, report: tuple[Path, Path], tmp_path: Path
) -> None:
    page, _ = report
    shot = tmp_path / "shot.png"
    headless(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1000,1400",
             page.as_uri())  # fmt: skip
    width, height, pixels = read_rgb(shot)
    assert (width, height) == (1000, 1400)
    ink = sum(1 for p in pixels if sum(p) < 600)
    assert ink > 0.02 * len(pixels)
    assert len(set(pixels)) > 100
    # The synced history is drawn in Okabe–Ito blue (#0072B2): the charts rendered.
    blue = sum(1 for r, g, b in pixels if r < 30 and 95 < g < 135 and 160 < b < 200)
    assert blue > 200
