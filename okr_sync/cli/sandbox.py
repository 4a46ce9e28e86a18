"""``okr-sync sandbox``: run a local fake of a tool's API, for trying okr-sync without accounts."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

# The sandboxes load only when a sandbox command runs: every other command, and
# ``--help``, stays free of them.
if TYPE_CHECKING:
    from sandboxes import JiraSandbox, NotionSandbox


def seed_jira(sandbox: JiraSandbox, path: Path) -> int:
    """Load a ``json_items`` file into the sandbox (epics first, then their children)."""
    items = json.loads(path.read_text(encoding="utf-8"))["items"]
    keys: dict[str, str] = {}
    for project in dict.fromkeys(str(i["key"]).split("-")[0] for i in items):
        sandbox.add_project(project, project)
    status = {"done": "Done", "in_progress": "In Progress"}
    for item in sorted(items, key=lambda i: (i.get("kind") != "epic", bool(i.get("parent_key")))):
        kind = item.get("kind", "issue")
        parent = keys.get(item.get("parent_key") or "")
        parent_kind = next(
            (i.get("kind") for i in items if i["key"] == item.get("parent_key")), None
        )
        issuetype = (
            "Epic"
            if kind == "epic"
            else "Sub-task"
            if parent and parent_kind != "epic"
            else "Story"
        )
        keys[item["key"]] = sandbox.add_issue(
            str(item["key"]).split("-")[0], item.get("title") or item["key"], issuetype=issuetype,
            status=status.get(item.get("status_category", "todo"), "To Do"), parent=parent,
            story_points=item.get("story_points"), labels=item.get("labels") or (),
        )  # fmt: skip
    return len(keys)


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
    click.echo(f"Notion sandbox at {url}")
    click.echo("Point a notion connection at it:")
    click.echo(f"  base_url: {url}")
    click.echo('  token: "${NOTION_TOKEN}"')
    for role, ident in ids.items():
        click.echo(f"  {role}: {ident}")
    click.echo(f"and export NOTION_TOKEN={box.token}   (the sandbox's own fixed token)")
    _serve(box)


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
