"""The config file: YAML → validated models, with every problem located.

One file (``okr-sync.yaml`` by default; ``--config`` or ``OKR_SYNC_CONFIG``
override). Loading gathers *all* problems — YAML syntax, unknown keys, wrong
types, literal secrets, unset environment variables, references to unknown
connections — and raises one :class:`ConfigError` whose problems each name the
file, line and field, and what to do. Nothing here touches the network.

The literal-secret checks are in :mod:`okr_sync.config.secrets`; the checks
between sections are in :mod:`okr_sync.config.checks`, those against the OKRs in
:mod:`okr_sync.config.okr_checks`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
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
from okr_sync.config import registry
from okr_sync.config.checks import cross_check
from okr_sync.config.secrets import one_per_secret, secret_problems, without_secrets
from okr_sync.core.forecast import ForecastThresholds
from okr_sync.core.progress import Thresholds, check_measure
from okr_sync.errors import ConfigError, Problem
from okr_sync.interfaces import ConnectorConfig, SecretRef, WriteSpec
from okr_sync.models import DEFAULT_STATUS_LABELS, Status
from okr_sync.schedule import cron
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
    #: ``pace``: progress against elapsed time; ``forecast``: the forecast against the
    #: target (README "Forecast"), by ``forecast``'s thresholds.
    basis: Literal["pace", "forecast"] = "pace"
    forecast: ForecastThresholds = ForecastThresholds()

    def label_map(self) -> dict[Status, str]:
        """Labels for every status, defaults filled in."""
        return {**DEFAULT_STATUS_LABELS, **self.labels}


class MappingConfig(_Section):
    """How items are linked to KRs (see :mod:`mappings`)."""

    label_prefix: str = "okr:"
    rules: tuple[Rule, ...] = ()


#: A PostgreSQL namespace: it names a schema, ``okr_sync_<namespace>``.
_NAMESPACE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class StateConfig(_Section):
    """Where the state store lives: a SQLite ``path``, or a PostgreSQL ``url``.

    A relative ``path`` starts at the config file's folder; a ``url`` needs a
    ``namespace`` (see :mod:`okr_sync.state.location`).

    The URL never carries a password: libpq reads ``PGPASSWORD``, ``~/.pgpass`` or
    ``PGSERVICE``, or ``password`` names an environment variable (``"${OKR_DB_PASSWORD}"``).
    """

    path: str | None = None
    url: str | None = None
    namespace: str | None = None
    password: SecretRef | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(
                "the state store's url must be a PostgreSQL URL such as "
                "postgresql://okr@db.internal:5432/okr (for a SQLite file, use path:)"
            )
        if parts.password is not None or "password=" in parts.query.lower():
            raise ValueError(
                "a password inside the URL is not allowed in the config file; write "
                'password: "${OKR_STATE_PASSWORD}" or let libpq read PGPASSWORD or ~/.pgpass'
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and not _NAMESPACE.match(value):
            raise ValueError(
                "a namespace is 1 to 40 lower-case letters, digits or '_', starting with a "
                "letter (such as payments or team_core)"
            )
        return value

    @model_validator(mode="after")
    def _one_backend(self) -> StateConfig:
        if self.url is None:
            if self.namespace is not None or self.password is not None:
                raise ValueError("namespace and password go with url (a PostgreSQL store)")
        elif self.path is not None:
            raise ValueError("give either path (a SQLite file) or url (PostgreSQL), not both")
        elif self.namespace is None:
            raise ValueError(
                "a PostgreSQL store needs a namespace (such as the team's name): many configs "
                "may share one database, each in its own namespace"
            )
        return self


class PullConfig(_Section):
    """Incremental pulls: how often a full pull catches deleted and moved items."""

    # At most a year: a longer period is "never" and overflows date arithmetic.
    full_every_hours: float = Field(default=24.0, gt=0, le=24 * 366)


class ScheduleConfig(_Section):
    """When ``okr-sync schedule`` runs syncs (see :mod:`okr_sync.schedule.cron`)."""

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
        p = Path(self.config.state.path or ".okr-sync/state.db").expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def okr_source_identity(self) -> str:
        """The identity of the OKR source, as a state store records it (never a secret)."""
        return self.connections[self.config.okrs].source_identity()

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
            import difflib  # here: only a config with an unknown key needs it

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
    problems += secret_problems(doc, check_env)
    try:
        config: Config | None = Config.model_validate(doc.data)
    except ValidationError as exc:
        problems += _pydantic_problems(doc, exc, Config)
        config = None
    connections = _validate_connections(doc, problems)
    problems += cross_check(doc, connections)
    if config is None or problems:
        raise ConfigError(without_secrets(one_per_secret(problems), doc))
    rules = tuple(
        rule.model_copy(update={"line": doc.line_of(("mapping", "rules", i)), "index": i})
        for i, rule in enumerate(config.mapping.rules)
    )
    config = config.model_copy(
        update={"mapping": config.mapping.model_copy(update={"rules": rules})}
    )
    return LoadedConfig(config=config, connections=connections, path=file, doc=doc)


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
