"""``JiraSandbox``: a faithful local fake of the Jira REST API.

It is driven by the real ``jira`` client, unchanged.

Use it as a context manager::

    with JiraSandbox("cloud") as sb:
        sb.add_project("PAY", "Payments")
        epic = sb.add_issue("PAY", "Checkout v2", issuetype="Epic")
        sb.add_issue("PAY", "Card form", parent=epic, story_points=3)
        client = JIRA(sb.url, basic_auth=(sb.email, sb.api_token), max_retries=0)

Seeding and "human" edits (``add_issue``, ``update_issue``, ``move_issue``...) act on
the store directly, without HTTP, and are not counted in ``requests``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sandboxes.jira.boards import add_board
from sandboxes.jira.faults import FaultPlan
from sandboxes.jira.http import SiteConfig
from sandboxes.jira.jql_eval import JqlEvaluator
from sandboxes.jira.server import SandboxServer
from sandboxes.jira.store import JiraStore
from sandboxes.loopback import LoopbackSandbox


class JiraSandbox(LoopbackSandbox):
    """A fake Jira Cloud or Data Center site on loopback.

    Cloud: HTTP Basic ``email:api_token``, REST v2 and v3, ``search/jql`` with token
    paging, 410 on the removed ``/search``. Data Center: ``Authorization: Bearer
    <pat>``, REST v2 only, offset-paged ``/search``, Epic Link field. Both: Jira
    Software's boards (``/rest/agile/1.0/board``) with their estimation field.

    Page caps are the real services': Cloud's ``search/jql`` serves at most 100 issues a
    page when fields are asked for and ``max_key_page_size`` (5000) for ``id``/``key``
    only; Data Center's ``/search`` clamps to ``max_page_size`` (its default
    ``jira.search.views.default.max``, 1000) whatever the fields.

    ``requests`` counts every request (faulted and rejected ones too) by
    ``"METHOD template"``, e.g. ``"GET /rest/api/3/search/jql"`` or
    ``"PUT /rest/api/2/issue/{key}/properties/{prop}"``. ``faults`` schedules errors.
    ``clock`` (default: now, UTC) drives ``created``/``updated`` and relative JQL dates.
    ``url``, ``latency``, ``server_errors``, ``start``/``stop`` and ``with`` come from
    ``LoopbackSandbox``.
    """

    def __init__(
        self,
        mode: Literal["cloud", "datacenter"] = "cloud",
        *,
        email: str = "bot@example.com",
        api_token: str = "sandbox-api-token",
        pat: str = "sandbox-pat",
        user_time_zone: str = "Australia/Sydney",
        site_time_zone: str = "America/Los_Angeles",
        max_page_size: int | None = None,
        max_key_page_size: int = 5000,
        latency: float = 0.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if mode not in ("cloud", "datacenter"):
            raise ValueError(f"mode must be 'cloud' or 'datacenter', not {mode!r}")
        if max_page_size is None:  # as the real services cap a page of issues with fields
            max_page_size = 100 if mode == "cloud" else 1000
        if max_page_size < 1 or max_key_page_size < 1:
            raise ValueError("page sizes must be at least 1")
        self.mode: Literal["cloud", "datacenter"] = mode
        self.email = email
        self.api_token = api_token
        self.pat = pat
        self.store = JiraStore(
            mode, site_time_zone=site_time_zone, user_time_zone=user_time_zone, clock=clock
        )
        self.faults = FaultPlan(latency)
        self.requests: Counter[str] = Counter()
        if mode != "cloud":  # Data Center's cap is the same whatever the fields
            max_key_page_size = max_page_size
        site = SiteConfig(mode, email, api_token, pat, max_page_size, max_key_page_size)
        self._server = SandboxServer(site, self.store, self.faults, self.requests)

    def __repr__(self) -> str:
        # Never show credentials.
        return f"JiraSandbox(mode={self.mode!r}, url={self.url!r})"

    # -- seeding and simulated humans -------------------------------------------------

    def add_project(self, key: str, name: str, *, board: bool = True) -> None:
        """Create a project (key: upper-case letters/digits, e.g. ``PAY``).

        With ``board`` (the default, as a software project has), it gets a scrum board
        "<KEY> board" estimating by the field ``add_issue`` writes story points to.
        """
        with self.store.lock:
            self.store.add_project(key, name)
            if board:
                add_board(self.store, key, f"{key} board",
                          estimation=self.store.story_points_field)  # fmt: skip

    def add_board(self, project: str, name: str, *, estimation: str | None,
                  type: str = "scrum") -> int:  # fmt: skip
        """Add a board to ``project``; returns its id.

        ``estimation`` is the field its estimates are read from (an id or a name), None
        for a board that counts issues.
        """
        with self.store.lock:
            return add_board(self.store, project, name, estimation=estimation, type=type).id

    def set_board_estimation(self, board_id: int, estimation: str | None) -> None:
        """Change a board's estimation field, as an admin would."""
        with self.store.lock:
            found = self.store.field(estimation) if estimation else None
            self.store.boards[board_id].estimation = found.id if found else None

    def add_issue(
        self,
        project: str,
        summary: str,
        *,
        issuetype: str = "Story",
        status: str = "To Do",
        parent: str | None = None,
        story_points: float | None = None,
        labels: Sequence[str] = (),
        fields: Mapping[str, Any] | None = None,
        updated: datetime | None = None,
        created: datetime | None = None,
        number: int | None = None,
    ) -> str:
        """Create an issue and return its key (``PAY-12``).

        ``number`` gives the key's number (``PAY-10`` for 10), as when a seed
        keeps the keys it names; later issues of the project number on from the
        highest one given. Without it the project's next number is used.

        ``issuetype``: Epic, Story, Task, Bug or Sub-task; ``status``: To Do, In
        Progress, In Review, Done or Closed ("Done" sets a resolution, "Closed" does
        not, so ``resolutiondate`` stays null though the category is done).
        ``parent`` must sit one hierarchy level up (an epic for a story, a story for a
        sub-task). ``story_points`` go to ``customfield_10016`` on Cloud and
        ``customfield_10026`` on Data Center; ``fields`` sets any field by id or name,
        e.g. ``{"Story Points": 5}``, ``{"description": "..."}``, ``{"resolution": None}``.
        ``updated``/``created`` default to the clock.
        """
        with self.store.lock:
            issue = self.store.add_issue(
                project,
                summary,
                issuetype=issuetype,
                status=status,
                parent=parent,
                story_points=story_points,
                labels=labels,
                fields=fields,
                updated=updated,
                created=created,
                number=number,
            )
            return issue.key

    def remove_field(self, ref: str) -> None:
        """Delete a custom field (by id or name) from the site, with its values on every issue.

        As an admin deleting a field, or a site without Jira Software's story points:
        ``GET /field`` no longer lists it and issues no longer carry it.
        """
        with self.store.lock:
            found = self.store.field(ref)
            if found is None or not found.custom:
                raise KeyError(f"no custom field {ref!r} in the sandbox")
            self.store.fields.remove(found)
            del self.store.field_by_id[found.id]
            for issue in self.store.issues.values():
                issue.custom.pop(found.id, None)

    def update_issue(self, key: str, **changes: Any) -> None:
        """Change an issue as a human would, and bump ``updated`` (or set ``updated=``).

        Accepts ``summary``, ``status``, ``labels``, ``story_points``, ``parent`` (a key
        or None), ``issuetype``, ``description``, ``fields`` (as in ``add_issue``) and
        ``updated``.
        """
        with self.store.lock:
            self.store.update_issue(key, changes)

    def add_comment(self, key: str, text: str) -> None:
        """A human's comment on an issue (bumps ``updated``, as Jira does)."""
        with self.store.lock:
            issue = self.store.require(key)
            self.store.new_comment(issue, text)
            self.store.touch(issue)

    def delete_issue(self, key: str) -> None:
        """Delete an issue; its sub-tasks go too, other children just lose the parent."""
        with self.store.lock:
            self.store.delete_issue(key)

    def move_issue(self, key: str, project: str) -> str:
        """Move an issue to another project; returns the new key (the id stays)."""
        with self.store.lock:
            return self.store.move_issue(key, project)

    def set_count_error(self, error: int) -> None:
        """Make ``approximate-count`` answer ``error`` more (or fewer) than match: a stale count."""
        with self.store.lock:
            self.store.count_error = error

    def issue(self, key: str) -> dict[str, Any]:
        """A copy of the stored issue, with properties, comments and remote links."""
        with self.store.lock:
            return self.store.snapshot(self.store.require(key))

    def search_keys(self, jql: str) -> list[str]:
        """Keys matching ``jql`` in result order, evaluated without HTTP.

        Raises ``JqlError`` with Jira's message where Jira would answer 400.
        """
        with self.store.lock:
            return [i.key for i in JqlEvaluator(self.store).search(jql)]
