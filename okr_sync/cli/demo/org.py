"""The demo organisation: a Jira site and a Notion OKR workspace, seeded into the sandboxes.

Acme Pay has one company objective with two team objectives under it, seven key
results (one per measure, including a decreasing KR and a manual one), two Jira
projects with a few hundred issues (epics, stories with story points, customer
bugs, incidents) and a Notion Initiatives database. ``simulate_week`` plays the
humans of one week: issues close, an initiative finishes, a deal is signed, a
manager edits a Current value by hand.

Everything here talks to the sandboxes' seeding methods (no HTTP), and is
deterministic: the same clock gives the same organisation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sandboxes import JiraSandbox, NotionSandbox

#: Objectives: id → (title, owner, parent id).
OBJECTIVES: dict[str, tuple[str, str, str | None]] = {
    "O-1": ("Become the easiest way to pay online", "Maya", None),
    "O-2": ("Ship the new checkout", "Ann", "O-1"),
    "O-3": ("Run a platform customers can rely on", "Raj", "O-1"),
}

#: Key results: id → (title, objective, start, target, measure).
KEY_RESULTS: dict[str, tuple[str, str, float, float, str]] = {
    "KR-1": ("Complete the checkout redesign epics", "O-2", 0, 100, "issues_done"),
    "KR-2": ("Deliver the payments roadmap (story points)", "O-2", 0, 100, "points_done"),
    "KR-3": ("Cut checkout p95 latency from 900 ms to 400 ms", "O-2", 900, 400, "manual"),
    "KR-4": ("Close 40 customer-reported bugs", "O-3", 0, 40, "count:done"),
    "KR-5": ("Reduce open incidents from 30 to 5", "O-3", 30, 5, "count"),
    "KR-6": ("Finish the platform initiatives", "O-3", 0, 100, "initiatives_done"),
    "KR-7": ("Win $250k ARR through partner integrations", "O-1", 0, 250_000, "sum:arr"),
}

KR_STATUS = ("Not started", "On track", "At risk", "Off track", "Achieved")
INITIATIVE_STATUS = ("Not started", "In progress", "Done")
POINTS = (1, 2, 3, 5, 8, 3, 2, 5)


@dataclass
class DemoClock:
    """The demo's clock, shared by the sandboxes and the engine, moved on by hand."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        """The demo's current time."""
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        """Move time on (e.g. one week)."""
        self.now += delta


@dataclass
class DemoOrg:
    """What was seeded: sandbox handles and the ids a story or a test needs."""

    jira: JiraSandbox
    notion: NotionSandbox
    databases: dict[str, str]  # objectives, key_results, initiatives → database id
    data_sources: dict[str, str] = field(default_factory=dict)  # the same roles → data source id
    objective_pages: dict[str, str] = field(default_factory=dict)
    kr_pages: dict[str, str] = field(default_factory=dict)
    initiative_pages: dict[str, str] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)  # epic key → story keys
    customer_bugs: list[str] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)

    @property
    def issue_count(self) -> int:
        """Issues in the Jira sandbox."""
        return len(self.jira.search_keys("project in (PAY, PLAT) ORDER BY key"))

    def kr_value(self, kr_id: str, prop: str) -> object:
        """A property of a KR page as Notion holds it now (plain value)."""
        value = self.notion.page(self.kr_pages[kr_id])["properties"][prop]
        inner = value[value["type"]]
        if isinstance(inner, dict) and "name" in inner:
            return inner["name"]
        if isinstance(inner, dict) and "start" in inner:
            return inner["start"]
        return inner


def okr_layout(box: NotionSandbox) -> tuple[dict[str, str], dict[str, str]]:
    """The usual OKR layout: Objectives, Key Results, Initiatives (with an ARR number).

    Key Results have a Direction select (Increase / Decrease).

    Returns database ids and data source ids, each by role (``objectives``,
    ``key_results``, ``initiatives``). ``okr-sync sandbox notion`` serves it empty.
    """
    status = {"status": {"options": [{"name": n} for n in KR_STATUS]}}
    obj_db, obj_ds = box.add_database("Objectives", {
        "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "O"}}, "Owner": {"people": {}},
        "Progress": {"number": {"format": "percent"}}, "Status": status, "Last synced": {"date": {}},
    })  # fmt: skip
    box.add_property(obj_ds, "Parent objective", {"relation": {"data_source_id": obj_ds, "type": "single_property", "single_property": {}}})  # fmt: skip
    ini_db, ini_ds = box.add_database("Initiatives", {
        "Name": {"title": {}},
        "Status": {"status": {"options": [{"name": n} for n in INITIATIVE_STATUS]}},
        "ARR": {"number": {"format": "dollar"}},
    })  # fmt: skip
    kr_db, kr_ds = box.add_database("Key Results", {
        "Name": {"title": {}}, "ID": {"unique_id": {"prefix": "KR"}},
        "Objective": {"relation": {"data_source_id": obj_ds, "type": "single_property", "single_property": {}}},
        "Start": {"number": {}}, "Target": {"number": {}}, "Current": {"number": {}},
        "Progress": {"number": {"format": "percent"}}, "Status": status, "Due": {"date": {}},
        "Last synced": {"date": {}}, "Jira epics": {"rich_text": {}},
        "Forecast": {"number": {"format": "percent"}}, "Forecast range": {"rich_text": {}},
        "Initiatives": {"relation": {"data_source_id": ini_ds, "type": "single_property", "single_property": {}}},
        "Direction": {"select": {"options": [{"name": "Increase"}, {"name": "Decrease"}]}},
    })  # fmt: skip
    databases = {"objectives": obj_db, "key_results": kr_db, "initiatives": ini_db}
    sources = {"objectives": obj_ds, "key_results": kr_ds, "initiatives": ini_ds}
    return databases, sources


def _seed_jira(org: DemoOrg, when: dt.datetime) -> None:
    jira = org.jira
    jira.add_project("PAY", "Payments")
    jira.add_project("PLAT", "Platform")
    # (epic title, labels, stories, stories done, story points?)
    epics = [
        ("Checkout redesign: one-page flow", (), 40, 22, False),
        ("Checkout redesign: saved cards", (), 30, 10, False),
        ("Payments roadmap: wallets", ("okr:KR-2",), 35, 9, True),
        ("Payments roadmap: payouts", ("okr:KR-2",), 25, 4, True),
    ]
    for title, labels, stories, done, pointed in epics:
        epic = jira.add_issue("PAY", title, issuetype="Epic", labels=labels, updated=when)
        org.children[epic] = [
            jira.add_issue(
                "PAY",
                f"{title.split(': ')[-1].capitalize()}: story {i + 1}",
                parent=epic,
                status="Done" if i < done else ("In Progress" if i < done + 4 else "To Do"),
                story_points=POINTS[i % len(POINTS)] if pointed and i % 7 != 6 else None,
                updated=when,
            )
            for i in range(stories)
        ]
    platform = jira.add_issue("PLAT", "Observability overhaul", issuetype="Epic", updated=when)
    org.children[platform] = [
        jira.add_issue(
            "PLAT",
            f"Dashboards: service {i + 1}",
            parent=platform,
            status="Done" if i < 12 else "To Do",
            updated=when,
        )
        for i in range(40)
    ]
    org.customer_bugs = [
        jira.add_issue(
            "PLAT",
            f"Customer bug #{1000 + i}",
            issuetype="Bug",
            labels=["customer-bug"],
            status="Done" if i < 14 else "To Do",
            updated=when,
        )
        for i in range(60)
    ]
    org.incidents = [
        jira.add_issue(
            "PLAT",
            f"Incident: {area} degraded",
            issuetype="Bug",
            labels=["incident"],
            status="Done" if i < 12 else "In Progress",
            updated=when,
        )
        for i, area in enumerate(
            ["checkout", "payouts", "webhooks", "login", "search", "refunds"] * 5
        )
    ]


def _seed_notion(org: DemoOrg, sources: dict[str, str], when: dt.datetime) -> None:
    notion = org.notion
    org.people = {name: notion.add_user(name) for name in ("Maya", "Ann", "Raj")}
    for oid, (title, owner, parent) in OBJECTIVES.items():
        values: dict[str, object] = {"Name": title, "Owner": [org.people[owner]]}
        if parent:
            values["Parent objective"] = [org.objective_pages[parent]]
        org.objective_pages[oid] = notion.add_page(
            sources["objectives"], values, last_edited_time=when
        )
    initiatives = [
        ("Multi-region failover", "Done", None, "KR-6"),
        ("Zero-downtime deploys", "In progress", None, "KR-6"),
        ("Runbooks for every alert", "Done", None, "KR-6"),
        ("Capacity planning", "In progress", None, "KR-6"),
        ("Public status page", "Not started", None, "KR-6"),
        ("Partner deal: Shopify app", "Done", 60_000.0, "KR-7"),
        ("Partner deal: WooCommerce plugin", "Done", 35_000.0, "KR-7"),
        ("Partner deal: Marketplace payouts", "In progress", 20_000.0, "KR-7"),
    ]
    related: dict[str, list[str]] = {}
    for name, status, arr, kr in initiatives:
        values = {"Name": name, "Status": status}
        if arr is not None:
            values["ARR"] = arr
        page = notion.add_page(sources["initiatives"], values, last_edited_time=when)
        org.initiative_pages[name] = page
        related.setdefault(kr, []).append(page)
    epic_keys = list(org.children)
    for kid, (title, oid, start, target, measure) in KEY_RESULTS.items():
        values = {"Name": title, "Objective": [org.objective_pages[oid]], "Start": float(start),
                  "Target": float(target), "Direction": "Decrease" if start > target else "Increase"}  # fmt: skip
        if kid == "KR-1":
            values["Jira epics"] = f"{epic_keys[0]}, {epic_keys[1]}"
        if measure == "manual":
            values["Current"] = 650.0
        if kid in related:
            values["Initiatives"] = related[kid]
        org.kr_pages[kid] = notion.add_page(
            sources["key_results"], values, edited_by=org.people["Maya"], last_edited_time=when
        )


def seed(jira: JiraSandbox, notion: NotionSandbox, when: dt.datetime) -> DemoOrg:
    """Fill both sandboxes with the demo organisation, as of ``when``."""
    databases, sources = okr_layout(notion)
    org = DemoOrg(jira=jira, notion=notion, databases=databases, data_sources=sources)
    _seed_jira(org, when)
    _seed_notion(org, sources, when)
    return org


@dataclass(frozen=True)
class WeekOfWork:
    """What ``simulate_week`` did, for the story and for tests."""

    issues_closed: int
    incidents_opened: int
    initiative_done: str
    deal_signed: str
    human_edit: tuple[str, str, float]  # KR, property, value a human typed
    manual_update: tuple[str, float]  # the manual KR's new Current


def simulate_week(org: DemoOrg) -> WeekOfWork:
    """One week of human work in Jira and Notion (call after moving the clock on)."""
    jira, notion = org.jira, org.notion
    closed = 0
    for epic, quota in zip(list(org.children)[:4], (10, 8, 7, 3), strict=True):
        for key in [k for k in org.children[epic] if jira.issue(k)["status"] != "Done"][:quota]:
            jira.update_issue(key, status="Done")
            closed += 1
    for key in org.customer_bugs[14:23]:
        jira.update_issue(key, status="Done")
        closed += 1
    for key in org.incidents[12:20]:
        jira.update_issue(key, status="Done")
        closed += 1
    org.incidents += [
        jira.add_issue("PLAT", f"Incident: {area} degraded", issuetype="Bug", labels=["incident"])
        for area in ("payouts", "webhooks")
    ]
    finished = "Zero-downtime deploys"
    notion.update_page(
        org.initiative_pages[finished], {"Status": "Done"}, edited_by=org.people["Raj"]
    )
    deal = "Partner deal: Marketplace payouts"
    notion.update_page(org.initiative_pages[deal], {"ARR": 45_000.0}, edited_by=org.people["Ann"])
    # A manager "corrects" a computed value by hand: okr-sync must notice, not silently lose it.
    notion.update_page(org.kr_pages["KR-1"], {"Current": 80.0}, edited_by=org.people["Ann"])
    # The manual KR: humans own Current, okr-sync only computes progress and status from it.
    notion.update_page(org.kr_pages["KR-3"], {"Current": 540.0}, edited_by=org.people["Raj"])
    return WeekOfWork(
        issues_closed=closed,
        incidents_opened=2,
        initiative_done=finished,
        deal_signed=f"{deal} (ARR now $45,000)",
        human_edit=("KR-1", "Current", 80.0),
        manual_update=("KR-3", 540.0),
    )
