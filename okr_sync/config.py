"""The config file: YAML → validated models, with every problem located.

One file (``okr-sync.yaml`` by default; ``--config`` or ``OKR_SYNC_CONFIG``
override). Loading gathers *all* problems — YAML syntax, unknown keys, wrong
types, literal secrets, unset environment variables, references to unknown
connections — and raises one :class:`ConfigError` whose problems each name the
file, line and field, and what to do. Nothing here touches the network.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mappings.rules import Rule
from okr_sync import cron, registry
from okr_sync.errors import ConfigError, Problem
from okr_sync.interfaces import ENV_REF as _ENV_REF
from okr_sync.interfaces import ConnectorConfig, WriteSpec
from okr_sync.models import DEFAULT_STATUS_LABELS, OkrTree, Status
from okr_sync.progress import Thresholds, check_measure
from okr_sync.rollup import check_tree
from okr_sync.yamlpos import YamlDocument, load_yaml

DEFAULT_FILE = "okr-sync.yaml"
ENV_VAR = "OKR_SYNC_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CycleConfig(_Section):
    """The OKR cycle (e.g. a quarter): the period of KRs and objectives that set none."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> CycleConfig:
        if self.end < self.start:
            raise ValueError("the cycle's end is before its start")
        return self


class StatusConfig(_Section):
    """Status thresholds, and the label written for each status."""

    thresholds: Thresholds = Thresholds()
    labels: dict[Status, str] = Field(default_factory=dict)

    def label_map(self) -> dict[Status, str]:
        """Labels for every status, defaults filled in."""
        return {**DEFAULT_STATUS_LABELS, **self.labels}


class MappingConfig(_Section):
    """How items are linked to KRs (see :mod:`mappings`)."""

    label_prefix: str = "okr:"
    rules: tuple[Rule, ...] = ()


class StateConfig(_Section):
    """Where the state store lives (relative paths are next to the config file)."""

    path: str = ".okr-sync/state.db"


class PullConfig(_Section):
    """Incremental pulls: how often a full pull catches deleted and moved items."""

    # At most a year: a longer period is "never" and overflows date arithmetic.
    full_every_hours: float = Field(default=24.0, gt=0, le=24 * 366)


class ScheduleConfig(_Section):
    """When ``okr-sync schedule`` runs syncs (see :mod:`okr_sync.cron`)."""

    cron: str | None = None
    jitter_seconds: int = Field(default=0, ge=0, le=86_400)  # at most a day
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            cron.parse(value)  # a CronError is a ValueError naming the cron field
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value

    @property
    def tz(self) -> dt.tzinfo:
        """The zone the cron expression is read in."""
        return zone(self.timezone)


def zone(name: str) -> dt.tzinfo:
    """A time zone by IANA name; UTC needs no time zone database.

    Raises:
        ValueError: the name is unknown here.
    """
    if name.upper() == "UTC":
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin or "
            "America/New_York (or UTC)"
        ) from None


class Config(_Section):
    """The whole file. ``connections`` are validated by each connector's own model."""

    version: Literal[1] = 1
    connections: dict[str, dict[str, Any]]
    okrs: str
    items: tuple[str, ...] = ()
    cycle: CycleConfig | None = None
    measures: dict[str, Annotated[str, AfterValidator(check_measure)]] = Field(default_factory=dict)
    mapping: MappingConfig = MappingConfig()
    write: dict[str, WriteSpec] = Field(default_factory=dict)
    status: StatusConfig = StatusConfig()
    conflicts: Literal["overwrite", "skip"] = "overwrite"
    state: StateConfig = StateConfig()
    pull: PullConfig = PullConfig()
    schedule: ScheduleConfig = ScheduleConfig()


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config with its connection configs and where it came from."""

    config: Config
    connections: dict[str, ConnectorConfig]
    path: Path
    doc: YamlDocument

    @property
    def base_dir(self) -> Path:
        """The config file's folder: relative paths start here."""
        return self.path.parent

    @property
    def state_path(self) -> Path:
        """The state database file."""
        p = Path(self.config.state.path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def measure_for(self, kr_id: str, own: str | None) -> str:
        """The measure of a KR: config per KR, else the KR's own, else the default."""
        return (
            self.config.measures.get(kr_id)
            or own
            or self.config.measures.get("default", "issues_done")
        )


def find_config(explicit: str | Path | None) -> Path:
    """``--config``, else ``$OKR_SYNC_CONFIG``, else ``./okr-sync.yaml``."""
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_FILE)


_SECRET_KEY = re.compile(r"(?i)(^|_)(token|password|passwd|secret|api_?key|pat|credentials?)$")
_SECRET_VALUE = re.compile(
    r"^(secret_[A-Za-z0-9]{20,}|ntn_[A-Za-z0-9]{20,}|ATATT[A-Za-z0-9_\-=]{20,})$"
)


def _scan_strings(
    data: Any, path: tuple[str | int, ...] = ()
) -> Iterable[tuple[tuple[str | int, ...], str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _scan_strings(value, (*path, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _scan_strings(value, (*path, index))
    elif isinstance(data, str):
        yield path, data


_LITERAL_SECRET = "a literal secret is not allowed in the config file"


def _looks_secret(path: tuple[str | int, ...], value: str) -> bool:
    """A literal (not an environment reference) that is or sits where a secret goes."""
    if _ENV_REF.match(value):
        return False
    key = path[-1] if path and isinstance(path[-1], str) else ""
    return bool(_SECRET_VALUE.match(value) or (key and _SECRET_KEY.search(key)))


def _secret_problems(doc: YamlDocument, check_env: bool) -> list[Problem]:
    """Literal secrets (never echoed back) and environment references that are unset."""
    problems = []
    for path, value in _scan_strings(doc.data):
        ref = _ENV_REF.match(value)
        if ref:
            if check_env and not os.environ.get(ref.group(1)):
                problems.append(
                    doc.problem(
                        path,
                        f"environment variable {ref.group(1)} is not set",
                        f"export {ref.group(1)}=... before running okr-sync",
                    )
                )
            continue
        if _looks_secret(path, value):
            var = (str(path[1]) if len(path) > 1 else "OKR_SYNC").upper().replace(
                "-", "_"
            ) + "_TOKEN"
            problems.append(
                doc.problem(
                    path,
                    _LITERAL_SECRET,
                    f'put it in an environment variable and write "${{{var}}}" here instead',
                )
            )
    return problems


def _unwrap(annotation: Any) -> Any:
    """The model class inside Optional[...] / tuple[...] / dict[..., ...], if any."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple, list, dict):
        for arg in typing.get_args(annotation)[::-1]:
            found = _unwrap(arg)
            if found is not None:
                return found
        return None
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, str) and part in current.model_fields:
            current = _unwrap(current.model_fields[part].annotation)
    return sorted(current.model_fields) if current is not None else []


def _pydantic_problems(
    doc: YamlDocument, exc: ValidationError, model: type[BaseModel], at: tuple[str | int, ...] = ()
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if p != "[key]" and isinstance(p, str | int))
        path = (*at, *loc)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            hint += f"allowed here: {', '.join(allowed)}" if allowed else "remove it"
            problems.append(doc.problem(path, "unknown key", hint))
        elif err["type"] == "missing":
            problems.append(doc.problem(path, "this key is required", "add it"))
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(doc.problem(path, msg))
    return problems


def load_config(path: str | Path | None = None, *, check_env: bool = True) -> LoadedConfig:
    """Load and validate the config file.

    Raises:
        ConfigError: with every problem found, each naming file, line and field.
    """
    file = find_config(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        hint = f"pass --config FILE or set {ENV_VAR}"
        raise ConfigError(
            [
                Problem(
                    str(file), None, "", f"cannot read the config file: {exc.strerror or exc}", hint
                )
            ]
        ) from exc
    doc, problems = load_yaml(raw, str(file))
    if doc is None:
        raise ConfigError(problems)
    if doc.data is None:
        raise ConfigError(
            [
                Problem(
                    str(file),
                    1,
                    "",
                    "the config file is empty",
                    "start from 'okr-sync init' or the README's example",
                )
            ]
        )
    if not isinstance(doc.data, dict):
        what = (
            "a list"
            if isinstance(doc.data, list)
            else f"a single value ({type(doc.data).__name__})"
        )
        raise ConfigError(
            [
                doc.problem(
                    (),
                    "the config must be a YAML mapping of keys (version, connections, "
                    f"okrs, …), not {what}",
                    "see the README's example",
                )
            ]
        )
    problems += _secret_problems(doc, check_env)
    try:
        config: Config | None = Config.model_validate(doc.data)
    except ValidationError as exc:
        problems += _pydantic_problems(doc, exc, Config)
        config = None
    connections = _validate_connections(doc, problems)
    problems += _cross_check(doc, connections)
    if config is None or problems:
        raise ConfigError(_without_secrets(_one_per_secret(problems), doc))
    rules = tuple(
        rule.model_copy(update={"line": doc.line_of(("mapping", "rules", i)), "index": i})
        for i, rule in enumerate(config.mapping.rules)
    )
    config = config.model_copy(
        update={"mapping": config.mapping.model_copy(update={"rules": rules})}
    )
    return LoadedConfig(config=config, connections=connections, path=file, doc=doc)


def _one_per_secret(problems: list[Problem]) -> list[Problem]:
    """Each literal secret reported once.

    What a connector's model says about the same value (it must be an
    environment reference) only repeats it; an unknown key is news, so it stays.
    """
    secret_fields = {p.field for p in problems if p.message == _LITERAL_SECRET}
    return [
        p
        for p in problems
        if p.field not in secret_fields or p.message in (_LITERAL_SECRET, "unknown key")
    ]


def _without_secrets(problems: list[Problem], doc: YamlDocument) -> list[Problem]:
    """Problems with any literal secret found in the file masked, wherever it is quoted."""
    secrets = [v for path, v in _scan_strings(doc.data) if _looks_secret(path, v)]
    if not secrets:
        return problems
    masked = []
    for p in problems:
        message, hint = p.message, p.hint
        for secret in secrets:
            message, hint = message.replace(secret, "***"), hint.replace(secret, "***")
        masked.append(Problem(p.file, p.line, p.field, message, hint))
    return masked


def _validate_connections(doc: YamlDocument, problems: list[Problem]) -> dict[str, ConnectorConfig]:
    raw = doc.data.get("connections")
    out: dict[str, ConnectorConfig] = {}
    if not isinstance(raw, dict):
        return out
    for name, body in raw.items():
        at = ("connections", str(name))
        if not isinstance(body, dict) or "type" not in body:
            problems.append(
                doc.problem(
                    at,
                    "a connection needs a 'type'",
                    f"one of: {', '.join(registry.known_types())}",
                )
            )
            continue
        try:
            cls = registry.connector_class(str(body["type"]))
        except KeyError as exc:
            problems.append(doc.problem((*at, "type"), str(exc.args[0])))
            continue
        try:
            out[str(name)] = cls.config_model.model_validate(body)
        except ValidationError as exc:
            problems += _pydantic_problems(doc, exc, cls.config_model, at)
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _cross_check(doc: YamlDocument, conns: dict[str, ConnectorConfig]) -> list[Problem]:
    """References between sections, checked on the raw data.

    Working on the raw data reports them even when other parts of the file are invalid.
    """
    data = doc.data
    defined = _as_dict(data.get("connections"))
    problems: list[Problem] = []

    def need(name: Any, role: str, path: tuple[str | int, ...]) -> Any:
        if not isinstance(name, str):
            return None  # a type error, reported by the model
        if name not in defined:
            known = ", ".join(map(str, defined)) or "none"
            problems.append(
                doc.problem(path, f"no connection named {name!r}", f"defined connections: {known}")
            )
            return None
        if name not in conns:
            return None  # the connection itself is invalid: already reported
        cls = registry.connector_class(conns[name].type)
        if role not in registry.roles(cls):
            problems.append(
                doc.problem(
                    path, f"connection {name!r} ({conns[name].type}) cannot be used as {role}"
                )
            )
            return None
        return cls

    need(data.get("okrs"), "okrs", ("okrs",))
    items = _as_list(data.get("items"))
    for i, name in enumerate(items):
        need(name, "items", ("items", i))
    sections = (("key_result", "key_results"), ("objective", "objectives"), ("item", "items"))
    for name, spec in _as_dict(data.get("write")).items():
        cls = need(name, "target", ("write", name))
        if cls is None:
            continue
        for kind, section in sections:
            allowed = cls.writable_fields.get(kind, frozenset())
            for i, field in enumerate(_as_list(_as_dict(spec).get(section))):
                if isinstance(field, str) and field not in allowed:
                    hint = (
                        f"writable: {', '.join(sorted(allowed))}"
                        if allowed
                        else f"{name} has no {section}"
                    )
                    problems.append(
                        doc.problem(
                            ("write", name, section, i), f"{field!r} cannot be written", hint
                        )
                    )
    for index, rule in enumerate(_as_list(_as_dict(data.get("mapping")).get("rules"))):
        rule = _as_dict(rule)
        path = ("mapping", "rules", index)
        if rule.get("source") is None:
            continue
        cls = need(rule["source"], "items", (*path, "source"))
        if cls is not None and rule["source"] not in items:
            problems.append(
                doc.problem((*path, "source"), f"{rule['source']!r} is not listed under 'items'")
            )
        checker = getattr(cls, "query_problem", None)
        if rule.get("query") is not None and checker is not None:
            problem = checker(rule["query"])
            if problem:
                problems.append(doc.problem((*path, "query"), problem))
    return problems


def check_kr_ids(loaded: LoadedConfig, tree: OkrTree) -> list[Problem]:
    """Rules and measures that name KRs the OKR source does not have."""
    known = {kr.id for kr in tree.key_results}
    hint_ids = ", ".join(sorted(known)[:8]) + (" …" if len(known) > 8 else "")
    problems = []
    for rule in loaded.config.mapping.rules:
        if rule.kr not in known:
            problems.append(
                Problem(
                    str(loaded.path),
                    rule.line,
                    f"mapping.rules[{rule.index}].kr",
                    f"unknown key result {rule.kr!r}",
                    f"known ids: {hint_ids}",
                )
            )
    for kr_id in loaded.config.measures:
        if kr_id != "default" and kr_id not in known:
            problems.append(
                loaded.doc.problem(
                    ("measures", kr_id), f"unknown key result {kr_id!r}", f"known ids: {hint_ids}"
                )
            )
    return problems


def check_local_okrs(loaded: LoadedConfig) -> OkrTree | None:
    """Read a local OKR source (a file: no network) and check it against the config.

    Commands run this before they touch anything, so a bad OKR file or a rule
    naming an unknown KR changes no file. Sources behind the network return
    None: the engine checks them at the start of each run.

    Raises:
        ConfigError: a problem in the OKR file, or a KR id the config names that it lacks.
        DataError: duplicate ids or a cycle of parents (sources without lines to point at).
    """
    config = loaded.connections[loaded.config.okrs]
    cls = registry.connector_class(config.type)
    if not getattr(cls, "offline", False):
        return None
    tree: OkrTree = cls(loaded.config.okrs, config, loaded.base_dir).pull_okrs()
    check_tree(tree, loaded.config.okrs)
    problems = check_kr_ids(loaded, tree)
    if problems:
        raise ConfigError(problems)
    return tree
