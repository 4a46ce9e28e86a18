"""``okr-sync init``: a commented starter config for the tools a team uses."""

from __future__ import annotations

import datetime as dt
import sys
from importlib import resources
from pathlib import Path

import click

from okr_sync.cli.common import clock

#: --tools value → (template, extra files written next to the config, tokens to export).
CHOICES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "notion+jira": ("notion+jira.yaml", (), ("JIRA_API_TOKEN", "NOTION_TOKEN")),
    "notion": ("notion.yaml", (), ("NOTION_TOKEN",)),
    "jira": ("jira.yaml", ("okrs.yaml",), ("JIRA_API_TOKEN",)),
}


def template(name: str, today: dt.date) -> str:
    """The text of a shipped template, its cycle set to the quarter ``today`` is in."""
    text = resources.files("okr_sync.cli").joinpath("templates", name).read_text(encoding="utf-8")
    start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    after = dt.date(start.year + start.month // 10, (start.month + 3 - 1) % 12 + 1, 1)
    end = after - dt.timedelta(days=1)
    return text.replace("CYCLE-START", start.isoformat()).replace("CYCLE-END", end.isoformat())


@click.command()
@click.option(
    "--tools", type=click.Choice(list(CHOICES)), default="notion+jira", show_default=True,
    help="notion+jira: OKRs in Notion, work in Jira. notion: both in Notion. "
    "jira: OKRs in a YAML file, work in Jira.",
)  # fmt: skip
@click.option(
    "-c", "--config", "path", type=click.Path(dir_okay=False, path_type=Path),
    default=Path("okr-sync.yaml"), show_default=True, help="Where to write the config.",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(tools: str, path: Path, force: bool) -> None:
    """Write a commented starter config (and okrs.yaml for --tools jira)."""
    name, extras, tokens = CHOICES[tools]
    today = clock()().date()
    files = {path: template(name, today)} | {path.with_name(e): template(e, today) for e in extras}
    existing = [str(p) for p in files if p.exists()]
    if existing and not force:
        click.echo(f"error: {', '.join(existing)} already exists; nothing was written "
                   "(pass --force to overwrite)", err=True)  # fmt: skip
        sys.exit(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    for file, text in files.items():
        file.write_text(text, encoding="utf-8")
        click.echo(f"wrote {file}")
    option = "" if path == Path("okr-sync.yaml") else f" -c {path}"
    click.echo("\nNext:")
    click.echo(f"  1. replace every CHANGE-ME in {', '.join(str(f) for f in files)}")
    click.echo(
        f"  2. export {'  '.join(f'{t}=…' for t in tokens)}   (never put tokens in the file)"
    )
    click.echo(f"  3. okr-sync check{option}   then   okr-sync plan{option}")
