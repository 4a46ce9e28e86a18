"""A Jira + Notion world (the demo organisation) synced by real `okr-sync sync` processes.

Used by the crash tests: each sync is a separate OS process that can be killed
with SIGKILL at a chosen point (after N requests reached the sandboxes, plus a
few milliseconds), exactly as a power cut or an OOM kill would stop it.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from okr_sync.cli.demo.config import demo_config
from okr_sync.cli.demo.org import DemoClock, DemoOrg, seed, simulate_week
from sandboxes import JiraSandbox, NotionSandbox
from tests.reliability.sandbox_hooks import around_request

START = dt.datetime(2026, 11, 16, 12, tzinfo=dt.UTC)


class CrashWorld:
    """The demo organisation on both sandboxes, plus a config folder for CLI processes."""

    def __init__(
        self,
        folder: Path,
        *,
        latency: float = 0.004,
        jira_token: str = "sandbox-api-token",
        notion_token: str = "ntn_sandbox_token_000000000000000000000000000",
    ) -> None:
        self.folder = folder
        self.clock = DemoClock(START)
        self.jira = JiraSandbox("cloud", clock=self.clock, latency=latency, api_token=jira_token)
        self.notion = NotionSandbox(
            rate_limit=None, clock=self.clock, seed=7, latency=latency, token=notion_token
        )
        self.jira.start()
        self.notion.start()
        self.org: DemoOrg = seed(self.jira, self.notion, START - dt.timedelta(days=1))
        text = demo_config(
            jira_url=self.jira.url, jira_email=self.jira.email, notion_url=self.notion.url,
            databases=self.org.databases,
            cycle=(START.date() - dt.timedelta(days=49), START.date() + dt.timedelta(days=42)),
        )  # fmt: skip
        # Jira check-in comments too: a comment posted twice is the easiest loss to see.
        text = text.replace(
            "items: [property, remote_link]", "items: [property, remote_link, comment]"
        )
        # The sandbox does not rate-limit; a local base_url may be driven faster than 3/s.
        text = text.replace("base_url:", "requests_per_second: 500\n    base_url:", 1)
        self.config = folder / "okr-sync.yaml"
        self.config.write_text(text)
        self.state = folder / ".okr-sync" / "state.db"
        self.kills = 0

    def close(self) -> None:
        """Stop both sandboxes."""
        self.jira.stop()
        self.notion.stop()

    # --- processes -------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            JIRA_API_TOKEN=self.jira.api_token,
            NOTION_TOKEN=self.notion.token,
            OKR_SYNC_NOW=self.clock.now.isoformat(),
        )
        return env

    def _spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        command = args or ("sync", "-q")
        return subprocess.Popen(
            [sys.executable, "-m", "okr_sync", *command, "-c", str(self.config)],
            env={**self._env(), **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    def cli(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Any okr-sync command on this world's config; returns (exit code, stdout, stderr)."""
        proc = self._spawn(*args, env=env)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out, err

    def requests(self) -> int:
        """Requests both sandboxes have received so far."""
        return sum(self.jira.requests.values()) + sum(self.notion.requests.values())

    def sync(self) -> tuple[int, str]:
        """One uninterrupted sync; returns (exit code, stdout + stderr)."""
        proc = self._spawn()
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out + err

    def sync_killed(self, after_requests: int, extra_ms: int) -> bool:
        """A sync killed by SIGKILL once ``after_requests`` more requests arrived (+extra_ms).

        Returns False when the run finished before reaching the kill point.
        """
        base = self.requests()
        proc = self._spawn()
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if self.requests() - base >= after_requests:
                time.sleep(extra_ms / 1000)
                if proc.poll() is not None:
                    break
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                self.kills += 1
                return True
            time.sleep(0.0005)
        proc.communicate(timeout=120)
        return False

    def sync_killed_on(self, service: str, method: str, nth: int, *, answered: bool) -> bool:
        """A sync killed at its ``nth`` ``method`` request to ``service``.

        ``answered=False`` kills it when the request arrives (it is never applied);
        ``answered=True`` kills it once the service has applied the request but
        before the answer reaches the process (the write landed, the run never
        learnt it). Returns False when the run finished first.
        """
        proc = self._spawn()

        def kill() -> None:
            os.kill(proc.pid, signal.SIGKILL)
            self.kills += 1

        sandbox = self.notion if service == "notion" else self.jira
        remove = around_request(sandbox, method, kill, nth=nth, answered=answered)
        try:
            proc.communicate(timeout=120)
        finally:
            remove()
        return proc.returncode == -signal.SIGKILL

    def week(self) -> None:
        """A week of human work (the demo's), the clock moved on."""
        self.clock.advance(dt.timedelta(days=7))
        simulate_week(self.org)

    # --- what the targets hold -----------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Every value okr-sync writes, as the two services hold it now."""
        out: dict[str, Any] = {}
        for kid, page in self.org.kr_pages.items():
            props = self.notion.page(page)["properties"]
            out[kid] = {name: _plain(props[name]) for name in
                        ("Progress", "Current", "Status", "Last synced")}  # fmt: skip
            out[kid]["comments"] = [_comment_text(c) for c in self.notion.comments(page)]
        for oid, page in self.org.objective_pages.items():
            props = self.notion.page(page)["properties"]
            out[oid] = {name: _plain(props[name]) for name in ("Progress", "Status", "Last synced")}
        for epic in list(self.org.children)[:4]:  # the epics linked to KRs
            issue = self.jira.issue(epic)
            prop = issue["properties"].get("okr-sync") or {}
            out[epic] = {
                "key_results": prop.get("key_results"),
                "remote_links": sorted(link["globalId"] for link in issue["remote_links"]),
                "comments": [str(c.get("body")) for c in issue.get("comments", [])],
            }
        return out

    def human_values_in_history(self, kr: str, field: str) -> list[Any]:
        """The values humans had typed that the state store remembers (before okr-sync's)."""
        db = sqlite3.connect(f"file:{self.state}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT before FROM changes WHERE owner = ? AND field = ? AND conflict = 1",
                (kr, field),
            ).fetchall()
        finally:
            db.close()
        return [row[0] for row in rows]

    def integrity(self) -> tuple[str, list[str]]:
        """SQLite's integrity check and the outcome of every recorded run."""
        db = sqlite3.connect(f"file:{self.state}?mode=ro", uri=True)
        try:
            check = db.execute("PRAGMA integrity_check").fetchone()[0]
            outcomes = [r[0] for r in db.execute("SELECT outcome FROM runs ORDER BY id")]
        finally:
            db.close()
        return check, outcomes


def _plain(prop: dict[str, Any]) -> Any:
    inner = prop[prop["type"]]
    if isinstance(inner, dict):
        return inner.get("name", inner.get("start"))
    return inner


def _comment_text(comment: dict[str, Any]) -> str:
    return "".join(run.get("plain_text", "") for run in comment.get("rich_text", []))
