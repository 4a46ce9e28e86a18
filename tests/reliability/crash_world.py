"""A Jira + Notion world (the demo organisation) synced by real `okr-sync sync` processes.

Used by the crash tests: each sync is a separate OS process that can be killed
with SIGKILL at a chosen point (after N requests reached the sandboxes, plus a
few milliseconds), exactly as a power cut or an OOM kill would stop it. The
processes are forked from an interpreter that has already imported okr-sync
(``tests/warm_processes.py`` says why that is the same process, minus half a
second of start-up).

The state store is the given backend's (``tests/backends.py``): a SQLite file in the
world's folder, or a PostgreSQL namespace. The world reads it back only through
okr-sync's own :class:`~okr_sync.state.location.StateLocation`, as a command would.

A world may also run on another world's sandboxes (``sandboxes_of``): the crash tests
build the organisation and its first sync once, :meth:`CrashWorld.save` what the
sandboxes hold then, and :meth:`CrashWorld.restore` it before each test, with a copy of
the state store made at the same moment.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from okr_sync.cli.common import location_of
from okr_sync.cli.demo.config import demo_config
from okr_sync.cli.demo.org import DemoClock, DemoOrg, seed, simulate_week
from okr_sync.config.loading import load_config
from okr_sync.state.location import SqliteLocation, StateLocation
from sandboxes import JiraSandbox, NotionSandbox
from tests.backends import Backend, sqlite_backend
from tests.reliability.sandbox_hooks import (
    around_request,
    on_every_request,
    restore_sandbox,
    sandbox_state,
)
from tests.warm_processes import WarmProcess

START = dt.datetime(2026, 11, 16, 12, tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class Saved:
    """What a world's two sandboxes held, its clock read and its org knew, at one moment."""

    jira: dict[str, Any]
    notion: dict[str, Any]
    now: dt.datetime
    #: The org's ids (a week of work adds incidents), without its sandbox handles.
    org: dict[str, Any]


class CrashWorld:
    """The demo organisation on both sandboxes, plus a config folder for CLI processes."""

    def __init__(
        self,
        folder: Path,
        backend: Backend | None = None,
        *,
        latency: float = 0.004,
        jira_token: str = "sandbox-api-token",
        notion_token: str = "ntn_sandbox_token_000000000000000000000000000",
        sandboxes_of: CrashWorld | None = None,
    ) -> None:
        self.folder = folder
        #: Where the state store lives (SQLite in ``folder`` unless told otherwise).
        self.backend = backend or sqlite_backend(folder)
        #: False when the sandboxes are another world's (which stops them).
        self.owns_sandboxes = sandboxes_of is None
        if sandboxes_of is not None:
            self.clock = sandboxes_of.clock
            self.jira = sandboxes_of.jira
            self.notion = sandboxes_of.notion
            self.org: DemoOrg = sandboxes_of.org
        else:
            self.clock = DemoClock(START)
            self.jira = JiraSandbox(
                "cloud", clock=self.clock, latency=latency, api_token=jira_token
            )
            self.notion = NotionSandbox(
                rate_limit=None, clock=self.clock, seed=7, latency=latency, token=notion_token
            )
            self.jira.start()
            self.notion.start()
            self.org = seed(self.jira, self.notion, START - dt.timedelta(days=1))
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
        self.config.write_text(self.backend.config(text))
        #: The store as okr-sync itself finds it from the config.
        self.location: StateLocation = location_of(load_config(self.config, check_env=False))
        assert self.location.backend == self.backend.name, self.location
        #: The SQLite file (meaningful on the SQLite backend only).
        self.state = folder / ".okr-sync" / "state.db"
        self.kills = 0
        #: The pid of the last sync process started.
        self.pid: int | None = None

    def close(self) -> None:
        """Stop both sandboxes (unless they are another world's)."""
        if self.owns_sandboxes:
            self.jira.stop()
            self.notion.stop()

    def save(self) -> Saved:
        """What both sandboxes hold now, and the clock (for :meth:`restore`)."""
        ids = {
            f.name: copy.deepcopy(getattr(self.org, f.name))
            for f in dataclasses.fields(self.org)
            if f.name not in ("jira", "notion")
        }
        return Saved(sandbox_state(self.jira), sandbox_state(self.notion), self.clock.now, ids)

    def restore(self, saved: Saved) -> None:
        """Both sandboxes and the clock as :meth:`save` found them; no faults planned."""
        restore_sandbox(self.jira, saved.jira)
        restore_sandbox(self.notion, saved.notion)
        self.clock.now = saved.now
        for name, value in saved.org.items():
            setattr(self.org, name, copy.deepcopy(value))
        self.jira.faults.clear()
        self.notion.faults.clear()

    # --- processes -------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            JIRA_API_TOKEN=self.jira.api_token,
            NOTION_TOKEN=self.notion.token,
            OKR_SYNC_NOW=self.clock.now.isoformat(),
        )
        env.update(self.backend.env)  # the PostgreSQL password the config names
        return env

    def _spawn(self, *args: str, env: dict[str, str] | None = None) -> WarmProcess:
        command = args or ("sync", "-q")
        proc = WarmProcess([*command, "-c", str(self.config)], env={**self._env(), **(env or {})})
        self.pid = proc.pid
        return proc

    def cli(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Any okr-sync command on this world's config; returns (exit code, stdout, stderr)."""
        proc = self._spawn(*args, env=env)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out, err

    def requests(self) -> int:
        """Requests both sandboxes have received so far."""
        return sum(self.jira.requests.values()) + sum(self.notion.requests.values())

    def sync(self, *args: str) -> tuple[int, str]:
        """One uninterrupted sync (``sync -q`` unless told); returns (exit code, stdout + stderr)."""
        proc = self._spawn(*args)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out + err

    def sync_killed(self, after_requests: int, extra_ms: int) -> bool:
        """A sync killed by SIGKILL once ``after_requests`` more requests arrived (+extra_ms).

        Returns False when the run finished before reaching the kill point.
        """
        # The sandboxes' threads count the requests as they arrive and wake this one at
        # the N-th (rather than it polling the counts every half millisecond).
        arrived = [0]
        reached = threading.Event()
        counting = threading.Lock()

        def count() -> None:
            with counting:
                arrived[0] += 1
                if arrived[0] >= after_requests:
                    reached.set()

        if after_requests <= 0:
            reached.set()
        removers = [on_every_request(sandbox, count) for sandbox in (self.jira, self.notion)]
        try:
            proc = self._spawn()
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if reached.wait(0.01):
                    time.sleep(extra_ms / 1000)
                    if proc.poll() is not None:
                        break
                    proc.send_signal(signal.SIGKILL)
                    proc.communicate()
                    self.kills += 1
                    return True
        finally:
            for remove in removers:
                remove()
        proc.communicate(timeout=120)
        return False

    def sync_killed_when(self, condition: Callable[[], bool], timeout: float = 60) -> bool:
        """A sync killed by SIGKILL as soon as ``condition()`` holds (polled every 5 ms).

        Returns False when the run finished first, or when the condition never came
        within ``timeout`` seconds (the run is killed then too).
        """
        proc = self._spawn()
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            if condition():
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                self.kills += 1
                return True
            time.sleep(0.005)
        if proc.poll() is None:
            proc.kill()
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
        store = self.location.open_readonly()
        try:
            changes = store.changes_for(kr, limit=1_000_000)
        finally:
            store.close()
        return [c["before"] for c in changes if c["field"] == field and c["conflict"]]

    def pending(self) -> int:
        """Writes the store still holds as started but never confirmed."""
        store = self.location.open_readonly()
        try:
            return int(store.database.execute("SELECT COUNT(*) FROM pending").fetchone()[0])
        finally:
            store.close()

    def integrity(self) -> tuple[str, list[str]]:
        """The store's own check, and the outcome of every recorded run (oldest first).

        SQLite: ``PRAGMA integrity_check``. PostgreSQL keeps its own pages whole, so
        the check is okr-sync's: the namespace opens read-only, no migration is
        pending (``open_readonly`` refuses a store that needs one) and the runs read.
        Either way "ok" means the store is fit for the next command.
        """
        store = self.location.open_readonly()
        try:
            if isinstance(self.location, SqliteLocation):
                check = str(store.database.execute("PRAGMA integrity_check").fetchone()[0])
            else:
                check = "ok" if not store.pending_migrations() else "pending migrations"
            outcomes = [run["outcome"] for run in reversed(store.runs(limit=1_000_000))]
        finally:
            store.close()
        return check, outcomes


def _plain(prop: dict[str, Any]) -> Any:
    inner = prop[prop["type"]]
    if isinstance(inner, dict):
        return inner.get("name", inner.get("start"))
    return inner


def _comment_text(comment: dict[str, Any]) -> str:
    return "".join(run.get("plain_text", "") for run in comment.get("rich_text", []))
