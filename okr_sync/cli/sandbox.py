"""``okr-sync sandbox``: run a local fake of a tool's API, for trying okr-sync without accounts."""

from __future__ import annotations

import json
import re
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

# The sandboxes load only when a sandbox command runs: every other command, and
# ``--help``, stays free of them.
if TYPE_CHECKING:
    from sandboxes import JiraSandbox, NotionSandbox


#: A Jira issue key: the project key (a capital letter, then capitals, digits or _), a number.
ISSUE_KEY = re.compile(r"^([A-Z][A-Z0-9_]*)-([1-9][0-9]*)$")


def seed_jira(sandbox: JiraSandbox, path: Path) -> int:
    """Load a ``json_items`` file into the sandbox (epics first, then their children).

    Each issue keeps the key the file gives it (``PAY-10`` stays ``PAY-10``), so
    a config and an OKR file naming those keys work against the sandbox as they
    do against the file; issues created later number on from the highest key.

    Raises:
        click.BadParameter: a key that is not a Jira issue key (``PROJECT-123``).
    """
    items = json.loads(path.read_text(encoding="utf-8"))["items"]
    numbers: dict[str, tuple[str, int]] = {}
    for item in items:
        found = ISSUE_KEY.match(str(item["key"]))
        if found is None:
            raise click.BadParameter(
                f"{path}: {item['key']!r} is not a Jira issue key (PROJECT-123)",
                param_hint="--seed",
            )
        numbers[item["key"]] = (found.group(1), int(found.group(2)))
    for project in dict.fromkeys(project for project, _ in numbers.values()):
        sandbox.add_project(project, project)
    status = {"done": "Done", "in_progress": "In Progress"}
    kinds = {i["key"]: i.get("kind", "issue") for i in items}
    parents = {i["key"]: i.get("parent_key") for i in items if i.get("parent_key") in kinds}

    def depth(key: str) -> int:  # parents before children (a parent outside the file: none)
        seen = {key}
        while (key := parents.get(key, "")) and key not in seen:
            seen.add(key)
        return len(seen)

    for item in sorted(items, key=lambda i: (i.get("kind") != "epic", depth(i["key"]))):
        kind = item.get("kind", "issue")
        parent = parents.get(item["key"])
        issuetype = (
            "Epic"
            if kind == "epic"
            else "Sub-task"
            if parent and kinds.get(parent) != "epic"
            else "Story"
        )
        project, number = numbers[item["key"]]
        sandbox.add_issue(
            project, item.get("title") or item["key"], issuetype=issuetype,
            status=status.get(item.get("status_category", "todo"), "To Do"), parent=parent,
            story_points=item.get("story_points"), labels=item.get("labels") or (), number=number,
        )  # fmt: skip
    return len(items)


@click.group()
def sandbox() -> None:
    """Run a local fake of a tool's API (no account, no network)."""


@sandbox.command("jira")
@click.option(
    "--port",
    type=int,
    default=8080,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--mode", type=click.Choice(["cloud", "datacenter"]), default="cloud", show_default=True
)
@click.option("--seed", "seed_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A json_items file to load, e.g. examples/quickstart/work-items.json.")  # fmt: skip
@click.option("--latency", type=float, default=0.0, help="Seconds added to every request.")
def jira(port: int, mode: str, seed_file: Path | None, latency: float) -> None:
    """Serve the Jira sandbox until interrupted (Ctrl-C)."""
    from sandboxes import JiraSandbox

    box = JiraSandbox(mode, latency=latency)  # type: ignore[arg-type]
    url = box.start(port=port)
    count = seed_jira(box, seed_file) if seed_file else 0
    secret = box.api_token if mode == "cloud" else box.pat
    click.echo(f"Jira sandbox ({mode}) at {url} with {count} issues")
    click.echo("Point a jira connection at it:")
    click.echo(f"  url: {url}")
    if mode == "cloud":
        click.echo(f"  email: {box.email}")
    click.echo('  token: "${JIRA_API_TOKEN}"')
    click.echo(f"and export JIRA_API_TOKEN={secret}   (the sandbox's own fixed token)")
    _serve(box)


@sandbox.command("notion")
@click.option(
    "--port",
    type=int,
    default=8081,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option("--latency", type=float, default=0.0, help="Seconds added to every request.")
@click.option("--no-rate-limit", is_flag=True, help="Turn off the 3 requests/s limit.")
def notion(port: int, latency: float, no_rate_limit: bool) -> None:
    """Serve the Notion sandbox, with empty OKR databases in the default layout, until interrupted."""
    from okr_sync.cli.demo.org import okr_layout
    from sandboxes import NotionSandbox

    box = NotionSandbox(latency=latency, rate_limit=None if no_rate_limit else 3.0)
    url = box.start(port=port)
    ids, _ = okr_layout(box)
    click.echo(f"Notion sandbox at {url}, with empty Objectives, Key Results and Initiatives")
    click.echo("A config for it, valid as it stands (save it as okr-sync.yaml):")
    click.echo("")
    click.echo(notion_config(url, ids))
    click.echo(f"and export NOTION_TOKEN={box.token}   (the sandbox's own fixed token)")
    _serve(box)


def notion_config(url: str, ids: dict[str, str]) -> str:
    """A whole config using the Notion sandbox's databases (``okr_layout``'s ids by role)."""
    return f"""version: 1
connections:
  notion:
    type: notion
    token: "${{NOTION_TOKEN}}"
    base_url: {url}     # delete this line to use the real Notion API
    objectives: {ids["objectives"]}
    key_results: {ids["key_results"]}
    items:                        # databases whose rows are work items
      - database: {ids["initiatives"]}   # Initiatives
        numbers: {{arr: ARR}}       # for sum:arr measures
okrs: notion
items: [notion]
write:
  notion:
    key_results: [progress, current, status, last_synced]
    objectives: [progress, status, last_synced]
"""


def _serve(box: JiraSandbox | NotionSandbox) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
        click.echo(f"served {sum(box.requests.values())} requests")
