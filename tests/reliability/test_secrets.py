"""No token anywhere: logs at every level, errors, plan and summary output, the state store.

Tracer tokens (unique strings) are the sandboxes' credentials. Full runs at debug
level, as text and as JSON, with faults on both services and with a wrong token,
then every byte okr-sync wrote is searched for the tracers — and for the forms a
token travels in (Jira Cloud's Basic header is base64 of "email:token").
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.crash_world import CrashWorld

JIRA_TRACER = "trc-jira-4f9d2c7a1e8b5063"
NOTION_TRACER = "ntn_trc_notion_b8e1f4a2c9d7305e6f11"
WRONG_TRACER = "trc-wrong-0a9b8c7d6e5f4321"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CrashWorld]:
    w = CrashWorld(tmp_path, jira_token=JIRA_TRACER, notion_token=NOTION_TRACER)
    yield w
    w.close()


def forms(world: CrashWorld) -> list[str]:
    """The tracers as they could leak: raw, and inside an encoded Basic header."""
    raw = [JIRA_TRACER, NOTION_TRACER, WRONG_TRACER]
    basic = [
        base64.b64encode(f"{world.jira.email}:{token}".encode()).decode()
        for token in (JIRA_TRACER, WRONG_TRACER)
    ]
    return raw + basic + [b[:24] for b in basic]


def files_written(world: CrashWorld) -> dict[str, bytes]:
    return {
        str(p.relative_to(world.folder)): p.read_bytes()
        for p in world.folder.rglob("*")
        if p.is_file()
    }


def test_tracer_tokens_never_leave_the_environment(world: CrashWorld) -> None:
    outputs: list[str] = []

    def cli(*args: str, env: dict[str, str] | None = None) -> int:
        code, out, err = world.cli(*args, env=env)
        outputs.extend([out, err])
        return code

    # Faults on both services during a debug-level sync: retries, error texts, tracebacks.
    # (The client speaks REST v2: the v3 endpoints named here before never fired.)
    world.jira.faults.add("GET /rest/api/2/search/jql", 503, times=1)
    world.jira.faults.malformed("GET /rest/api/2/field")
    world.notion.faults.add("PATCH /v1/pages/{id}", 500, times=1)
    world.notion.faults.add("POST /v1/comments", 502, times=1)
    assert cli("sync", "-vv") in (0, 1)
    assert world.jira.faults.pending == 0
    assert cli("plan", "--json", "-vv", "--log-format", "json") in (0, 1)
    world.week()
    assert cli("sync", "--json", "-vv", "--log-format", "json") in (0, 1)
    # A wrong token on each service: the 401s, their messages and the failed run.
    assert cli("sync", "-vv", env={"JIRA_API_TOKEN": WRONG_TRACER}) == 1
    assert cli("sync", "-vv", env={"NOTION_TOKEN": WRONG_TRACER}) != 0
    for command in (("history",), ("history", "KR-1"), ("explain", "KR-1"), ("explain", "O-1"),
                    ("status",), ("validate",), ("check",)):  # fmt: skip
        cli(*command, "-vv")
    text = "\n".join(outputs)
    assert "401" in text or "Unauthorized" in text or "credentials" in text.lower()
    assert "conflict" in text.lower()  # the runs really happened, at debug level
    stored = files_written(world)
    assert any(name.endswith("state.db") for name in stored)
    for form in forms(world):
        assert form not in text, f"{form!r} appears in the output"
        for name, data in stored.items():
            assert form.encode() not in data, f"{form!r} appears in {name}"


def test_the_state_store_and_lock_are_private_and_a_shared_config_is_fine(
    world: CrashWorld,
) -> None:
    os.chmod(world.config, 0o644)  # readable by others: it holds only ${NAME} references
    code, _, err = world.cli("sync")
    assert code == 0
    assert err == ""  # no warning about the config's permissions (or anything else)
    for path in (world.state, world.state.with_name("state.db.lock")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(world.state.parent.stat().st_mode) == 0o700


URL_TRACER = "trc-url-9c1e7b3a5d2f4860"


def test_a_url_with_credentials_in_the_config_is_refused_without_echoing_it(
    world: CrashWorld,
) -> None:
    text = world.config.read_text()
    for name, url in (("url", world.jira.url), ("base_url", world.notion.url)):
        bad = url.replace("http://", f"http://okr-bot:{URL_TRACER}@")
        world.config.write_text(text.replace(f"{name}: {url}", f"{name}: {bad}", 1))
        line = next(i for i, t in enumerate(world.config.read_text().splitlines(), 1) if bad in t)
        for command in ("validate", "sync", "status"):
            code, out, err = world.cli(command)
            assert code == 2, (command, out, err)
            assert URL_TRACER not in out + err
            assert f"okr-sync.yaml:{line}: connections." in err and f".{name}: " in err, err
            assert "user name or password inside a URL" in err
        assert not world.state.exists()  # nothing was touched


def test_url_credentials_a_service_mentions_are_redacted_everywhere(world: CrashWorld) -> None:
    # A second line of defence: a URL with a user name and password inside, in Jira's
    # own error text (a proxy's help link, say), reaches logs, summaries and the store.
    link = f"https://okr-bot:{URL_TRACER}@proxy.example/help"
    body = json.dumps({"errorMessages": [f"Search refused; see {link}"], "errors": {}})
    world.jira.faults.add("GET /rest/api/2/search/jql", 400, times=1, body=body)
    outputs = []
    for command in (("sync", "-vv"), ("sync", "-vv", "--log-format", "json"), ("status",),
                    ("status", "--json")):  # fmt: skip
        _, out, err = world.cli(*command)
        outputs += [out, err]
    text = "\n".join(outputs)
    assert world.jira.faults.pending == 0
    assert "https://***@proxy.example/help" in text  # the message is there, redacted
    assert URL_TRACER not in text
    for name, data in files_written(world).items():
        assert URL_TRACER.encode() not in data, name
