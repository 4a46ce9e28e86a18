"""The deployment recipes in examples/deploy: valid units and manifests, real command lines."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from okr_sync.cli.main import main
from okr_sync.config.loading import load_config
from okr_sync.errors import StateError
from okr_sync.schedule.cron import parse
from okr_sync.state.location import PostgresLocation, state_location
from tests.conftest import ROOT

DEPLOY = ROOT / "examples" / "deploy"
BINARY = "/opt/okr-sync/bin/okr-sync"
UNITS = ("okr-sync.service", "okr-sync.timer", "okr-sync-schedule.service")
CONFIG = "/etc/okr-sync/okr-sync.yaml"


def check_command(argv: list[str]) -> click.Context:
    """Parse an okr-sync command line with the real CLI (raises click.UsageError if wrong)."""
    assert Path(argv[0]).name == "okr-sync", argv
    group = click.Context(main, info_name="okr-sync")
    command = main.get_command(group, argv[1])
    assert command is not None, f"no command {argv[1]!r} in {argv}"
    return command.make_context(argv[1], argv[2:], parent=group)


def until_shell_operator(tokens: list[str]) -> list[str]:
    out = []
    for token in tokens:
        if token in {"&&", "||", ";", "|", ">", ">>", "2>&1"} or token.startswith((">", "2>")):
            break
        out.append(token)
    return out


def crontab_commands() -> list[list[str]]:
    found = []
    for line in (DEPLOY / "crontab").read_text().splitlines():
        if not line.strip() or line.startswith("#") or "=" in line.split()[0]:
            continue
        tokens = shlex.split(line)[5:]  # after the five time fields
        for i, token in enumerate(tokens):
            if Path(token).name == "okr-sync":
                found.append(until_shell_operator(tokens[i:]))
    return found


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / name).read_text())
    return parser


def yaml_docs(name: str) -> list[Any]:
    return list(yaml.safe_load_all((DEPLOY / name).read_text()))


def cronjob() -> dict[str, Any]:
    (job,) = [d for d in yaml_docs("kubernetes-cronjob.yaml") if d["kind"] == "CronJob"]
    return job  # type: ignore[no-any-return]


def workflow_commands(name: str = "github-actions.yml") -> list[list[str]]:
    (flow,) = yaml_docs(name)
    runs = [step["run"] for step in flow["jobs"]["sync"]["steps"] if "run" in step]
    return [shlex.split(line) for run in runs for line in run.splitlines() if "okr-sync " in line]


# --- every command line is one the CLI accepts ---------------------------------------------


def test_crontab_runs_a_quiet_sync_with_the_tokens_from_an_env_file() -> None:
    (argv,) = crontab_commands()
    ctx = check_command(argv)
    assert argv[:2] == [BINARY, "sync"] and ctx.params["config_path"] == Path(CONFIG)
    line = next(x for x in (DEPLOY / "crontab").read_text().splitlines() if x.startswith("*/30"))
    assert "set -a && . /etc/okr-sync/env && set +a" in line
    assert parse(" ".join(line.split()[:5])).text == "*/30 * * * *"


@pytest.mark.parametrize(
    ("name", "command"), [("okr-sync.service", "sync"), ("okr-sync-schedule.service", "schedule")]
)
def test_systemd_services_run_a_real_command(name: str, command: str) -> None:
    service = unit(name)["Service"]
    argv = shlex.split(service["ExecStart"])
    ctx = check_command(argv)
    assert argv[:2] == [BINARY, command] and ctx.params["config_path"] == Path(CONFIG)
    assert service["EnvironmentFile"] == "/etc/okr-sync/env"
    assert service["StateDirectory"] == "okr-sync"  # /var/lib/okr-sync, as the config says


def test_the_timer_starts_the_oneshot_sync() -> None:
    assert unit("okr-sync.service")["Service"]["Type"] == "oneshot"
    timer = unit("okr-sync.timer")
    assert timer["Timer"]["OnCalendar"] == "*:0/30" and timer["Install"]["WantedBy"]
    schedule = unit("okr-sync-schedule.service")["Service"]
    assert schedule["KillSignal"] == "SIGTERM" and schedule["RestartPreventExitStatus"] == "2"


def test_the_cronjob_never_overlaps_has_no_volume_and_takes_secrets_from_a_secret() -> None:
    job = cronjob()
    spec = job["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert parse(spec["schedule"]).text == "*/30 * * * *"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    check_command(container["command"] + container["args"])
    assert container["args"][0] == "sync"
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert set(secrets) == {"JIRA_API_TOKEN", "NOTION_TOKEN", "OKR_STATE_PASSWORD", "PGHOST"}
    assert all(ref["name"] == "okr-sync-secrets" for ref in secrets.values())
    assert all(ref["key"] == name for name, ref in secrets.items())
    # The state lives in PostgreSQL: the only volume is the config (and the database's CA).
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes == {"config": {"name": "config", "configMap": {"name": "okr-sync-config"}}}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"config": "/etc/okr-sync"}
    kinds = [d["kind"] for d in yaml_docs("kubernetes-cronjob.yaml")]
    assert "PersistentVolumeClaim" not in kinds
    configmap = next(d for d in yaml_docs("kubernetes-cronjob.yaml") if d["kind"] == "ConfigMap")
    assert "sslrootcert=/etc/okr-sync/db-ca.crt" in configmap["data"]["okr-sync.yaml"]
    assert "db-ca.crt" in configmap["data"]


def test_the_ci_workflow_syncs_on_a_schedule_with_the_state_in_postgresql() -> None:
    (flow,) = yaml_docs("github-actions.yml")
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert parse(triggers["schedule"][0]["cron"]).text == "*/30 * * * *"
    assert flow["concurrency"]["cancel-in-progress"] is False
    (argv,) = workflow_commands()
    ctx = check_command(argv)
    assert argv[:2] == ["okr-sync", "sync"] and ctx.params["config_path"] == Path(
        "okr/okr-sync.yaml"
    )
    steps = flow["jobs"]["sync"]["steps"]
    assert not [s for s in steps if "cache" in str(s.get("uses", ""))]  # nothing restored
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert install["run"] == "pip install '.[postgresql]'"  # psycopg, for state.url
    sync = next(s for s in steps if "run" in s and "okr-sync sync" in s["run"])
    assert sync["env"] == {
        "JIRA_API_TOKEN": "${{ secrets.JIRA_API_TOKEN }}",
        "NOTION_TOKEN": "${{ secrets.NOTION_TOKEN }}",
        "OKR_STATE_PASSWORD": "${{ secrets.OKR_STATE_PASSWORD }}",
        "PGHOST": "${{ secrets.OKR_STATE_HOST }}",
    }


def test_the_cache_fallback_workflow_says_it_is_limited_and_why() -> None:
    name = "github-actions-sqlite-cache.yml"
    text = (DEPLOY / name).read_text()
    assert text.startswith("# FALLBACK, with hard limits")
    assert "unused for 7 days" in text and "github-actions.yml" in text
    (flow,) = yaml_docs(name)
    (argv,) = workflow_commands(name)
    check_command(argv)
    assert argv[:2] == ["okr-sync", "sync"]
    steps = flow["jobs"]["sync"]["steps"]
    restore = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache/restore"))
    save = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache/save"))
    assert restore["with"]["path"] == save["with"]["path"] == "okr/.okr-sync"
    assert "${{ github.run_id }}" in save["with"]["key"] and restore["with"]["restore-keys"]
    assert save["if"] == "always()"


def test_a_wrong_command_line_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        check_command(["okr-sync", "sync", "--every", "30m"])


# --- the configs they run -------------------------------------------------------------------


def cluster_config(tmp_path: Path) -> Path:
    configmap = next(d for d in yaml_docs("kubernetes-cronjob.yaml") if d["kind"] == "ConfigMap")
    inline = tmp_path / "okr-sync.yaml"
    inline.write_text(configmap["data"]["okr-sync.yaml"])
    return inline


def test_the_configs_are_valid_with_tokens_only_as_environment_references(tmp_path: Path) -> None:
    shipped = load_config(DEPLOY / "okr-sync.yaml", check_env=False)
    with_postgres = load_config(DEPLOY / "okr-sync-postgresql.yaml", check_env=False)
    in_cluster = load_config(cluster_config(tmp_path), check_env=False)
    assert shipped.state_path == Path("/var/lib/okr-sync/state.db")
    for loaded in (shipped, with_postgres, in_cluster):
        assert loaded.connections["jira"].token == "${JIRA_API_TOKEN}"  # type: ignore[attr-defined]
        assert loaded.connections["notion"].token == "${NOTION_TOKEN}"  # type: ignore[attr-defined]
    assert shipped.config.schedule.cron == with_postgres.config.schedule.cron == "*/30 * * * *"
    # The PostgreSQL config is the SQLite one with another state section, nothing else.
    assert with_postgres.config.model_dump(exclude={"state"}) == shipped.config.model_dump(
        exclude={"state"}
    )


@pytest.mark.parametrize("recipe", ["okr-sync-postgresql.yaml", "kubernetes-cronjob.yaml"])
def test_the_postgresql_recipes_name_a_namespace_and_take_the_password_from_a_secret(
    recipe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = DEPLOY / recipe if recipe.endswith("postgresql.yaml") else cluster_config(tmp_path)
    state = load_config(config, check_env=False).config.state
    assert state.path is None and state.namespace == "payments"
    assert state.url is not None and state.url.startswith("postgresql://okr_sync@/okr?")
    assert "sslmode=verify-full" in state.url  # TLS, with the server's certificate checked
    assert state.password == "${OKR_STATE_PASSWORD}"  # the secret the recipe maps to the env
    location = state_location(state, config.parent)
    assert isinstance(location, PostgresLocation)
    monkeypatch.delenv("OKR_STATE_PASSWORD", raising=False)
    with pytest.raises(StateError, match="OKR_STATE_PASSWORD, which is not set"):
        location.password()  # from the environment only, never from the file
    monkeypatch.setenv("OKR_STATE_PASSWORD", "from-the-secret")
    assert location.password() == "from-the-secret"
    # The secret the recipe maps to OKR_STATE_PASSWORD is the one the config reads.
    if recipe == "kubernetes-cronjob.yaml":
        (container,) = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"]}
    else:
        (flow,) = yaml_docs("github-actions.yml")
        sync = next(s for s in flow["jobs"]["sync"]["steps"] if "okr-sync sync" in s.get("run", ""))
        env = {
            k: v.removeprefix("${{ secrets.").removesuffix(" }}") for k, v in sync["env"].items()
        }
    assert env["OKR_STATE_PASSWORD"] == "OKR_STATE_PASSWORD" and "PGHOST" in env


# --- systemd's own check ---------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that ExecStart's binary exists: point it at a stand-in of the same name
    fake = tmp_path / "bin" / "okr-sync"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    for name in UNITS:
        text = (DEPLOY / name).read_text()
        (tmp_path / name).write_text(text.replace(BINARY, str(fake)))
    proc = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert not [line for line in proc.stderr.splitlines() if any(u in line for u in UNITS)]
