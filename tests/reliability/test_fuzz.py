"""Fuzzing the config loader: any input either loads or raises ConfigError, nothing else.

Inputs are arbitrary text and bytes, arbitrary YAML-shaped documents, and
mutations of the shipped example (a key dropped, a value replaced by another
type, unicode, huge numbers, nulls). What loads must also be usable: a dry run
of a mutated example ends in a summary or a typed error.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.files import YamlOkrConfig, YamlOkrSource
from okr_sync.config.loading import ENV_VAR, load_config
from okr_sync.config.okr_checks import check_local_okrs
from okr_sync.engine.engine import Engine, build_connectors
from okr_sync.errors import ConfigError, DataError, OkrSyncError
from okr_sync.state.store import StateStore
from tests.reliability.mutations import (
    EDGES,
    FUZZ,
    documents,
    mutate,
    mutated,
    scalar_paths,
    value_at,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)

KEYS = st.one_of(
    st.sampled_from(
        ["version", "connections", "okrs", "items", "cycle", "measures", "mapping", "rules",
         "write", "status", "thresholds", "labels", "conflicts", "state", "pull", "schedule",
         "type", "path", "token", "kr", "epics", "query", "label", "source", "start", "end",
         "default", "cron", "key_results", "objectives", "at_risk_gap", "url", "id", "parent",
         "objective", "target", "weight", "full_every_hours", "jitter_seconds", "timezone"]
    ),
    st.text(max_size=12),
    st.integers(),
)  # fmt: skip
DOCUMENTS = documents(KEYS, dates=True)
VALUES = st.one_of(EDGES, DOCUMENTS)

#: The shipped example with every optional section spelt out, so each can be mutated.
CONFIG = yaml.safe_load((EXAMPLE / "okr-sync.yaml").read_text(encoding="utf-8")) | {
    "pull": {"full_every_hours": 24},
    "schedule": {"cron": "*/30 * * * *", "jitter_seconds": 0, "timezone": "UTC"},
}
CONFIG["status"]["labels"] = {"on_track": "On track", "at_risk": "At risk"}
OKRS = yaml.safe_load((EXAMPLE / "okrs.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the example's folder; each example overwrites the file under test."""
    path = tmp_path_factory.mktemp("fuzz")
    for name in ("okrs.yaml", "work-items.json"):
        shutil.copy(EXAMPLE / name, path / name)
    yield path


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def load_or_config_error(path: Path) -> None:
    """Load the config (and the local OKR file it names); only ConfigError may escape."""
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        assert exc.problems
        assert all(p.file for p in exc.problems)
        str(exc)  # renders
        return
    with contextlib.suppress(ConfigError, DataError):
        check_local_okrs(loaded)


def leaves(data: Any) -> Iterator[Any]:
    if isinstance(data, dict):
        for value in data.values():
            yield from leaves(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from leaves(value)
    else:
        yield data


def plan_or_typed_error(folder: Path, document: Any) -> None:
    """Load, then a dry run: it ends in a summary, a ConfigError or another typed error."""
    path = folder / "okr-sync.yaml"
    path.write_text(dump(document), encoding="utf-8")
    try:
        loaded = load_config(path)
        check_local_okrs(loaded)
    except (ConfigError, DataError):
        return
    settings_ = loaded.config.model_dump(exclude={"mapping"})  # queries hold data, not settings
    numbers = [v for v in leaves(settings_) if isinstance(v, float)]
    assert all(math.isfinite(v) for v in numbers), "a setting must be a finite number"
    state = StateStore.open_readonly(folder / "no-state" / "state.db")
    try:
        summary = Engine(loaded, build_connectors(loaded), state, now=lambda: NOW).run(apply=False)
    except OkrSyncError:
        return
    finally:
        state.close()
    for kr in summary.key_results:
        assert kr.progress is None or 0 <= kr.progress <= 1, kr


# --- anything at all --------------------------------------------------------------------


@FUZZ
@given(text=st.text())
def test_any_text(folder: Path, text: str) -> None:
    path = folder / "okr-sync.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    load_or_config_error(path)


@FUZZ
@given(data=st.binary())
def test_any_bytes(folder: Path, data: bytes) -> None:
    path = folder / "okr-sync.yaml"
    path.write_bytes(data)
    load_or_config_error(path)


@FUZZ
@given(document=DOCUMENTS)
def test_any_yaml_document(folder: Path, document: Any) -> None:
    path = folder / "okr-sync.yaml"
    path.write_text(dump(document), encoding="utf-8")
    load_or_config_error(path)


@settings(FUZZ, max_examples=60)
@given(document=st.dictionaries(KEYS, DOCUMENTS, max_size=8))
def test_any_top_level_mapping(folder: Path, document: dict[Any, Any]) -> None:
    path = folder / "okr-sync.yaml"
    path.write_text(dump(document), encoding="utf-8")
    load_or_config_error(path)


# --- the shipped example, mutated ----------------------------------------------------------


@FUZZ
@given(document=mutated(CONFIG, VALUES))
def test_mutated_example_config(folder: Path, document: Any) -> None:
    path = folder / "okr-sync.yaml"
    path.write_text(dump(document), encoding="utf-8")
    load_or_config_error(path)


@FUZZ
@given(document=mutated(OKRS, VALUES))
def test_mutated_example_okr_file(folder: Path, document: Any) -> None:
    path = folder / "fuzzed-okrs.yaml"
    path.write_text(dump(document), encoding="utf-8")
    source = YamlOkrSource("okrs", YamlOkrConfig(type="yaml_okrs", path=str(path)), folder)
    try:
        tree = source.pull_okrs()
    except ConfigError as exc:
        assert exc.problems and all(p.file == str(path) for p in exc.problems)
        return
    for kr in tree.key_results:  # what loads is usable: finite numbers
        assert all(v is None or math.isfinite(v) for v in (kr.start, kr.target, kr.weight))


@settings(FUZZ, max_examples=60)
@given(document=mutated(CONFIG, VALUES))
def test_a_mutated_example_that_loads_also_plans(folder: Path, document: Any) -> None:
    plan_or_typed_error(folder, document)


NUMBER_EDGES = (math.inf, math.nan, 10**400, -1)


def test_every_scalar_of_the_example_config_set_to_a_number_edge(folder: Path) -> None:
    """Each scalar of the config in turn becomes inf, NaN, 10**400 or -1, then a dry run."""
    paths = scalar_paths(CONFIG)
    assert len(paths) > 40
    for path in paths:
        for edge in NUMBER_EDGES:
            document = copy.deepcopy(CONFIG)
            mutate(document, path, "replace", edge)
            plan_or_typed_error(folder, document)


def test_every_scalar_of_the_example_okrs_set_to_a_number_edge(tmp_path: Path) -> None:
    """The same for the OKR file: a KR never computes from a NaN or an infinity."""
    for name in ("okr-sync.yaml", "work-items.json"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    paths = [p for p in scalar_paths(OKRS) if not isinstance(value_at(OKRS, p), str)]
    assert len(paths) > 14  # starts, targets, currents
    config = yaml.safe_load((EXAMPLE / "okr-sync.yaml").read_text(encoding="utf-8"))
    for path in paths:
        for edge in NUMBER_EDGES:
            okrs = copy.deepcopy(OKRS)
            mutate(okrs, path, "replace", edge)
            (tmp_path / "okrs.yaml").write_text(dump(okrs), encoding="utf-8")
            plan_or_typed_error(tmp_path, config)
