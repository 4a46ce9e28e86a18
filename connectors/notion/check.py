"""``okr-sync check`` for a Notion connection: token, shared databases, properties, options.

- credentials: ``GET /v1/users/me`` (the integration's bot user);
- each configured database (objectives, key_results, items[].database): resolved
  to its data source as a pull does (``GET /v1/databases/{id}``, then
  ``GET /v1/data_sources/{id}``); a 404 ``object_not_found`` means it is not
  shared with the integration;
- properties: the names configured (or the defaults) against the schema, with
  the types each role accepts (:data:`connectors.notion.okrs.KR_TYPES`, the same
  check a pull makes); what the write spec writes must be a writable type;
- status options: every label okr-sync may write must be an option of the
  Status property (:func:`connectors.notion.pages.missing_status_options`, the
  check made before any write);
- what a KR's number is computed from: a missing Start or Target (default names
  included: KRs then have none, and those whose measure needs one fail), Measure
  and Direction select options okr-sync cannot read, a link property that seems
  renamed (:func:`connectors.notion.okrs.unread_links`) — each a problem, as
  each fails KRs in a sync;
- item databases: the same schema check a pull makes
  (:func:`connectors.notion.items.check_item_database`): every problem there
  fails the pull (a missing Status, a ``done:`` matching no option, a status
  without options in its Complete group), so each is a problem here too;
- relations: Objective, Parent objective and Initiatives should point at the
  configured databases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from connectors.notion.choices import MEASURES, known_direction, known_measure
from connectors.notion.config import ItemDatabase
from connectors.notion.items import check_item_database, fitting, options
from connectors.notion.okrs import KR_TYPES, Schema, check_properties, source_title, unread_links
from connectors.notion.pages import FIELD_TO_LOGICAL, missing_status_options
from connectors.notion.values import READ_ONLY, WRITABLE
from okr_sync.errors import AuthError, SourceError
from okr_sync.interfaces import CheckContext, CheckLevel, CheckResult, env_name
from okr_sync.models import RecordKind

if TYPE_CHECKING:
    from connectors.notion.access import NotionAccess

_PAGE_ID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
#: KR inputs whose default name missing still fails KRs (no start, no target).
_NEEDED = {"start": "start value", "target": "target"}


class _Checklist:
    def __init__(self, connection: str) -> None:
        self.connection = connection
        self.results: list[CheckResult] = []

    def add(self, level: CheckLevel, subject: str, message: str, hint: str = "",
            missing: Sequence[str] = ()) -> None:  # fmt: skip
        self.results.append(
            CheckResult(connection=self.connection, subject=subject, level=level, message=message,
                        hint=hint, missing_keys=tuple(missing))
        )  # fmt: skip


def _text(exc: SourceError) -> str:
    return str(exc).removeprefix(f"{exc.source}: ")


def _kinds(types: frozenset[str]) -> str:
    return " or ".join(sorted(types))


_fitting = fitting


def check_notion(connector: NotionAccess, context: CheckContext) -> list[CheckResult]:
    """Every check of one Notion connection; a database that cannot be read skips its own checks."""
    out = _Checklist(connector.name)
    bot = _credentials(connector, out)
    if bot is None:
        return out.results
    cfg = connector.config
    opened: dict[str, tuple[str, dict[str, Any]]] = {}  # config key → (data source id, object)
    if "okrs" in context.roles and not cfg.key_results:
        out.add("fail", "key_results", "no Key Results database is configured",
                "set key_results: to the database's id or URL")  # fmt: skip
    okr_databases: tuple[tuple[str, str, str | None, BaseModel, RecordKind], ...] = (
        ("objectives", "Objectives", cfg.objectives, cfg.objective_properties, "objective"),
        ("key_results", "Key Results", cfg.key_results, cfg.key_result_properties, "key_result"),
    )
    for key, role, ref, names, kind in okr_databases:
        raw = _open(connector, ref, role, key, bot, context, out) if ref else None
        if ref and raw is not None:
            opened[key] = (connector.data_source(ref, role), raw)
            _okr_database(raw, role, names, f"{key.removesuffix('s')}_properties", kind,
                          context, connector.name, out)  # fmt: skip
    for index, spec in enumerate(cfg.items):
        key = f"items[{index}].database"
        raw = _open(connector, spec.database, "items", key, bot, context, out)
        if raw is not None:
            opened[key] = (connector.data_source(spec.database, "items"), raw)
            _item_database(raw, spec, index, out)
    if "key_results" in opened:
        _unread_links(connector, opened, out)
    _relations(cfg.key_result_properties, cfg.objective_properties, opened, out)
    foreign = sorted(k for k in context.item_keys if not _PAGE_ID.match(k))
    if foreign and "items" in context.roles:
        # Rows are keyed by page id: an epic key left to any source is never one of them.
        out.add("ok", "linked keys", f"{', '.join(foreign)} cannot be Notion rows: left to the "
                "other item sources", missing=foreign)  # fmt: skip
    return out.results


def _credentials(connector: NotionAccess, out: _Checklist) -> str | None:
    var = env_name(connector.config.token)
    try:
        me = connector.caller.call("read the integration (users/me)", connector.client().users.me)
    except AuthError:
        out.add("fail", "credentials", f"Notion refused the token in {var} (unauthorized)",
                f"put the integration's current secret in {var} (www.notion.so/profile/integrations "
                "→ the integration → Internal Integration Secret; a new secret replaces the old one)")  # fmt: skip
        return None
    except SourceError as exc:
        where = connector.config.base_url
        hint = (
            "check that this machine reaches api.notion.com (a proxy or firewall?)"
            if "api.notion.com" in where
            else f"check base_url ({where}) and that it is reachable"
        )
        out.add("fail", "connection", _text(exc), hint)
        return None
    name = str(me.get("name") or "the integration") if isinstance(me, dict) else "the integration"
    workspace = ((me.get("bot") or {}) if isinstance(me, dict) else {}).get("workspace_name")
    where = f" in workspace {workspace!r}" if workspace else ""
    out.add("ok", "credentials", f"token accepted: integration {name!r}{where}")
    return name


def _open(connector: NotionAccess, ref: str, role: str, key: str, bot: str,
          context: CheckContext, out: _Checklist) -> dict[str, Any] | None:  # fmt: skip
    """The database's data source object, or a problem saying how to share it."""
    subject = f"{role} database" if role != "items" else f"{key.removesuffix('.database')} database"
    try:
        return connector.source_schema(ref, role)
    except SourceError as exc:
        text = _text(exc)
        if "object_not_found" in text or "restricted_resource" in text:
            out.add("fail", subject,
                    "Notion cannot see this database: it is not shared with the integration "
                    "(or the id is not a database's)",
                    f"open the database in Notion → ••• → Connections → add the integration "
                    f"{bot!r}; if it is shared, check '{key}' in {context.config_file}")  # fmt: skip
        else:
            out.add("fail", subject, text, f"check '{key}' in {context.config_file}")
        return None


def _okr_database(raw: Mapping[str, Any], role: str, names: BaseModel, key: str, kind: RecordKind,
                  context: CheckContext, connection: str, out: _Checklist) -> None:  # fmt: skip
    title = source_title(raw, role)
    props: Mapping[str, Mapping[str, Any]] = raw.get("properties") or {}
    resolved, problems = check_properties(props, names)
    fields = context.write.for_kind(kind) if context.write else ()
    written = {FIELD_TO_LOGICAL[f] for f in fields if f in FIELD_TO_LOGICAL}
    unused = sorted(
        str(n) for logical, n in names.model_dump().items()
        if isinstance(n, str) and logical in KR_TYPES and logical not in resolved
        and logical not in written and not any(p.logical == logical for p in problems)
        and not (kind == "key_result" and logical in _NEEDED)
    )  # fmt: skip
    used = set(resolved.values())
    message = f"shared; reads {', '.join(repr(n) for n in props if n in used)}"
    out.add("ok", f"{title} database", message + (f"; not found, so not used: {', '.join(unused)}" if unused else ""))  # fmt: skip
    for p in problems:
        types = KR_TYPES[p.logical]
        if p.found is None:
            out.add("fail", f"{title} › {p.name}", f"no such property ({p.logical})",
                    f"add a {_kinds(types)} property named {p.name!r} in Notion, or set "
                    f"{key}.{p.logical} to one of: {_fitting(props, types)}")  # fmt: skip
        else:
            out.add("fail", f"{title} › {p.name}",
                    f"is a {p.found} property; {p.logical} must be a {_kinds(types)}",
                    f"change its type in Notion, or set {key}.{p.logical} to one of: "
                    f"{_fitting(props, types)}")  # fmt: skip
    bad = {p.logical for p in problems}
    if kind == "key_result":
        _kr_inputs(props, names, resolved, bad, title, key, out)
    section = "key_results" if kind == "key_result" else "objectives"
    for field in fields:
        logical = FIELD_TO_LOGICAL.get(field)
        if logical is None or logical in bad:
            continue  # comment rides on status changes; a bad property is reported above
        name = resolved.get(logical)
        wanted = getattr(names, logical, None) or logical
        if name is None:
            out.add("fail", f"{title} › {wanted}", f"okr-sync writes {field} here, but there is no such property",
                    f"add a {_kinds(KR_TYPES[logical])} property named {wanted!r} in Notion, set "
                    f"{key}.{logical}, or remove {field} from write.{connection}.{section}")  # fmt: skip
            continue
        prop_type = str(props[name].get("type"))
        if prop_type in READ_ONLY and logical == "progress":
            out.add("ok", f"{title} › {name}", f"a {prop_type}: Notion computes progress, okr-sync leaves it alone")  # fmt: skip
        elif prop_type in READ_ONLY or prop_type not in WRITABLE:
            out.add("warn", f"{title} › {name}", f"a {prop_type} cannot be written, so {field} will not show",
                    f"make {name!r} a {_kinds(KR_TYPES[logical] & WRITABLE)} property, or remove "
                    f"{field} from write.{connection}.{section}")  # fmt: skip
    if "status" in fields and "status" in resolved:
        schema = Schema(title, props, resolved)
        unknown = missing_status_options(schema, context.status_labels)
        options = ", ".join(schema.options("status")) or "none"
        if unknown:
            out.add("fail", f"{title} › {resolved['status']}",
                    f"no option {', '.join(map(repr, unknown))} (it has: {options}); nothing can be "
                    "written to Notion until it has",
                    "add the option in Notion (the API cannot create status options), or map the "
                    f"status to an existing option under status.labels in {context.config_file}")  # fmt: skip
        else:
            out.add("ok", f"{title} › {resolved['status']}", "has an option for every status okr-sync writes")  # fmt: skip


def _kr_inputs(props: Mapping[str, Mapping[str, Any]], names: BaseModel, resolved: Mapping[str, str],
               bad: set[str], title: str, key: str, out: _Checklist) -> None:  # fmt: skip
    """What KRs are computed from: Start and Target present, Measure and Direction readable."""
    explicit = names.model_fields_set
    for logical, what in _NEEDED.items():
        wanted = getattr(names, logical, None)
        if wanted and logical not in resolved and logical not in bad and logical not in explicit:
            out.add("fail", f"{title} › {wanted}",
                    f"no such property ({logical}): no KR has a {what}, so every KR whose measure "
                    "needs one fails",
                    f"add a number property named {wanted!r} in Notion, or set {key}.{logical} to "
                    f"one of: {_fitting(props, KR_TYPES[logical])}")  # fmt: skip
    readers = (("measure", known_measure, f"{', '.join(sorted(MEASURES))} or sum:<name>"),
               ("direction", known_direction, "Increase or Decrease"))  # fmt: skip
    for logical, known, allowed in readers:
        name = resolved.get(logical)
        prop = props.get(name or "") or {}
        if prop.get("type") not in ("select", "status"):
            continue
        unknown = [o for o in options(prop) if not known(o)]
        if unknown:
            out.add("fail", f"{title} › {name}",
                    f"okr-sync cannot read the option(s) {', '.join(map(repr, unknown))} as a "
                    f"{logical}: a KR set to one fails",
                    f"rename them in Notion to one of: {allowed} (or delete the unused ones)")  # fmt: skip


def _unread_links(connector: NotionAccess, opened: Mapping[str, tuple[str, dict[str, Any]]],
                  out: _Checklist) -> None:  # fmt: skip
    """Link properties of the Key Results database that seem renamed: every KR fails in a sync."""
    cfg = connector.config
    raw = opened["key_results"][1]
    title = source_title(raw, "Key Results")
    props: Mapping[str, Mapping[str, Any]] = raw.get("properties") or {}
    resolved, _ = check_properties(props, cfg.key_result_properties)
    items = {opened[f"items[{i}].database"][0]: spec.key_results
             for i, spec in enumerate(cfg.items) if f"items[{i}].database" in opened}  # fmt: skip
    schema = Schema(title, props, resolved)
    for problem in unread_links(schema, cfg.key_result_properties, items, cfg.epics_source):
        out.add("fail", f"{title} database", problem,
                "a link property okr-sync read was renamed or removed; until the config names "
                "it again, every KR fails in a sync")  # fmt: skip


def _item_database(raw: Mapping[str, Any], spec: ItemDatabase, index: int, out: _Checklist) -> None:
    """The schema check a pull makes: each of its problems fails the pull, so each fails here."""
    title = source_title(raw, f"items[{index}]")
    props: Mapping[str, Mapping[str, Any]] = raw.get("properties") or {}
    _, problems = check_item_database(spec, index, props)
    for problem in problems:
        out.add("fail", f"{title} › {problem.name}", problem.message, problem.hint)
    if not problems:
        out.add("ok", f"{title} database", "shared; properties as configured")


def _relations(kr_names: BaseModel, obj_names: BaseModel,
               opened: Mapping[str, tuple[str, dict[str, Any]]], out: _Checklist) -> None:  # fmt: skip
    """Relations that point at another database than the one configured: links would be lost."""
    items = {ds for key, (ds, _) in opened.items() if key.startswith("items[")}
    checks: Sequence[tuple[str, str | None, set[str], str]] = [
        ("key_results", getattr(kr_names, "objective", None), {opened["objectives"][0]} if "objectives" in opened else set(), "objectives"),
        ("key_results", getattr(kr_names, "initiatives", None), items, "items[].database"),
        ("objectives", getattr(obj_names, "parent", None), {opened["objectives"][0]} if "objectives" in opened else set(), "objectives"),
    ]  # fmt: skip
    for where, name, targets, setting in checks:
        if where not in opened or not name or not targets:
            continue
        raw = opened[where][1]
        prop = (raw.get("properties") or {}).get(name) or {}
        relation = prop.get("relation") if prop.get("type") == "relation" else None
        points_at = relation.get("data_source_id") if isinstance(relation, dict) else None
        if points_at and points_at not in targets:
            title = source_title(raw, where)
            out.add("warn", f"{title} › {name}",
                    "relates to another database than the one configured, so its links are not followed",
                    f"point '{setting}' at the database this relation uses, or fix the relation in Notion")  # fmt: skip
