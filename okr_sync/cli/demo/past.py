"""The demo organisation's past: the weeks of work before the first sync, as Jira history.

The seed puts every issue in the state it has at the first sync. For ``okr-sync
backfill`` to have something to replay, :func:`play_past` moves the seeded issues
back to "To Do", created at the period start, and then walks them to their
seeded state through the sandbox's ordinary edits, spread over the weeks before
the first sync: the sandbox records each edit with its time, as Jira would. The
state at the first sync is exactly the seeded one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from okr_sync.cli.demo.org import DemoOrg


def play_past(org: DemoOrg, start: dt.datetime, until: dt.datetime) -> int:
    """Give the seeded Jira issues a history from ``start`` to ``until``; returns the edits."""
    jira, store = org.jira, org.jira.store
    final: dict[str, str] = {}
    groups: dict[str, list[str]] = defaultdict(list)  # an epic's children, or a label's bugs
    with store.lock:
        for issue in sorted(store.issues.values(), key=lambda i: i.id):
            issue.created = start
            final[issue.key] = issue.status
            parent = store.parent(issue)
            groups[parent.key if parent else ",".join(issue.labels) or issue.key].append(issue.key)
            if issue.status != "To Do":  # its history starts at "To Do" (no entry: creation)
                store.set_status(issue, "To Do", start)
            issue.updated = start
    span = until - start
    edits = 0
    for keys in groups.values():
        moving = [k for k in keys if final[k] != "To Do"]
        for i, key in enumerate(moving):
            # Work finishes steadily over the weeks, a little faster towards the end.
            share = ((i + 1) / (len(moving) + 1)) ** 0.9
            finish = start + span * share
            begun = max(start + dt.timedelta(hours=1), finish - dt.timedelta(days=3))
            jira.update_issue(key, status="In Progress", updated=begun)
            edits += 1
            if final[key] != "In Progress":
                jira.update_issue(key, status=final[key], updated=finish)
                edits += 1
    return edits
