"""``okr-sync check`` for a Jira connection: credentials, fields, linked epics, JQL rules.

Every check goes through the connector's own code paths (``connect``,
``search_keys``, ``count``), so what passes here is what a sync does:

- credentials: the connection itself (``GET serverInfo``, ``GET myself``, ``GET field``),
  and the API user's time zone (incremental pulls write their dates in it);
- fields: the story-points field (configured, or discovered by schema and name),
  Data Center's Epic Link field, ``kr_field`` and ``fields.<name>``, against the
  field list already read;
- story points per project: for the projects of the linked epics, the field a pull
  counts (the configured one, the one the project's boards estimate by, or the one
  its issues use: :mod:`connectors.jira.points`), read over the epics' children, with
  the issues whose other story-point field holds another value;
- linked epics: one batched ``key in (…)`` search for every key (Data Center's
  refusal of unknown keys is handled as in a pull);
- JQL: each rule's query (and ``scope``) counted, as a ``count`` KR is:
  ``approximate-count`` on Cloud, a one-row search on Data Center. Jira answers
  400 with its own message for a query it cannot run.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.jira.issues import (
    EPIC_LINK_SCHEMA,
    STORY_POINT_NAMES,
    STORY_POINT_SCHEMA,
    find_field,
)
from connectors.jira.jql import in_clauses, strip_order_by
from connectors.jira.points import PointsChooser, Values, project_of
from okr_sync.errors import AuthError, SourceError
from okr_sync.interfaces import CheckContext, CheckLevel, CheckResult, env_name

if TYPE_CHECKING:
    from connectors.jira.config import JiraAccess


def _text(exc: SourceError) -> str:
    """The error without the leading connection name (the checklist already shows it)."""
    return str(exc).removeprefix(f"{exc.source}: ")


def _jira_says(exc: SourceError) -> str:
    """Jira's own message out of a failed call, when it answered with one."""
    text = _text(exc)
    _, found, said = text.partition(" answered 400: ")
    return said if found else text


class _Checklist:
    def __init__(self, connection: str) -> None:
        self.connection = connection
        self.results: list[CheckResult] = []

    def add(self, level: CheckLevel, subject: str, message: str, hint: str = "",
            missing: Sequence[str] = ()) -> None:  # fmt: skip
        self.results.append(
            CheckResult(connection=self.connection, subject=subject, level=level,
                        message=message, hint=hint, missing_keys=tuple(missing))
        )  # fmt: skip


def check_jira(connector: JiraAccess, context: CheckContext) -> list[CheckResult]:
    """Every check of one Jira connection; later checks are skipped only when they cannot run."""
    out = _Checklist(connector.name)
    if not _credentials(connector, out):
        return out.results
    conn = connector.connect()
    if conn.zone is None:
        out.add("fail", "time zone", (conn.zone_problem or "").removeprefix(f"{connector.name}: "),
                "set the API user's time zone in the Jira profile (Profile → Time zone)")  # fmt: skip
    _fields(connector, conn.fields, conn.cloud, context, out)
    if "items" in context.roles:
        epics = _epics(connector, context, out)
        if epics:
            _points(connector, epics, out)
        _queries(connector, context, out)
    return out.results


def _credentials(connector: JiraAccess, out: _Checklist) -> bool:
    cfg = connector.config
    var = env_name(cfg.token)
    try:
        conn = connector.connect()
    except AuthError as exc:
        text = _text(exc)
        status = next((c for c in ("401", "403") if f"answered {c}" in text), None)
        message = (
            f"{connector.site} refused the credentials in {var}"
            + {"401": " (401: not authenticated)", "403": " (403: forbidden)"}.get(status or "", "")
            if status or "environment variable" not in text
            else text
        )
        who = f"an API token of {cfg.email}" if cfg.email else "a personal access token"
        hint = (
            f"put {who} in {var} (Cloud: id.atlassian.com → Security → API tokens; Data "
            "Center: your profile → Personal Access Tokens)"
        )
        if not cfg.email:
            hint += "; Jira Cloud also needs 'email:' on the connection"
        if status == "403":
            hint += "; a 403 can also mean a CAPTCHA after failed logins: sign in once in a browser"
        out.add("fail", "credentials", message, hint)
        return False
    except SourceError as exc:
        out.add("fail", "connection", _text(exc),
                f"check 'url' of the {connector.name!r} connection and that the site is reachable")  # fmt: skip
        return False
    kind = "Jira Cloud" if conn.cloud else "Jira Data Center"
    user = conn.me.get("displayName") or conn.me.get("name") or conn.me.get("accountId") or "?"
    out.add("ok", "credentials", f"signed in to {connector.site} ({kind}) as {user}")
    if conn.cloud and not cfg.email:
        out.add("warn", "credentials", "Jira Cloud expects basic auth with the account email",
                f"add 'email:' next to the token of the {connector.name!r} connection")  # fmt: skip
    return True


def _number_fields(fields: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted(
        str(f.get("name"))
        for f in fields
        if f.get("custom") and (f.get("schema") or {}).get("type") == "number"
    )


def _field(connector: JiraAccess, fields: Sequence[Mapping[str, Any]], wanted: str,
           what: str, out: _Checklist) -> str | None:  # fmt: skip
    """A configured field by id or name; a problem naming the close matches if absent."""
    try:
        return find_field(fields, wanted, connector.name, what)
    except SourceError:
        names = [str(f.get("name")) for f in fields]
        close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        out.add("fail", f"field {what}", f"no field {wanted!r} on {connector.site}",
                hint + f"set {what} to a field's name or id, as GET /rest/api/2/field lists it")  # fmt: skip
        return None


def _fields(connector: JiraAccess, fields: Sequence[Mapping[str, Any]], cloud: bool,
            context: CheckContext, out: _Checklist) -> None:  # fmt: skip
    cfg = connector.config
    needs_points = "points_done" in context.measures
    if cfg.story_points_field:
        found = _field(connector, fields, cfg.story_points_field, "story_points_field", out)
        if found:
            out.add("ok", "story points", f"field {cfg.story_points_field!r} ({found})")
    else:
        by_schema = [
            f for f in fields if (f.get("schema") or {}).get("custom") == STORY_POINT_SCHEMA
        ]
        by_name = [f for f in fields if str(f.get("name", "")).lower() in STORY_POINT_NAMES]
        found_fields = list({str(f["id"]): f for f in [*by_schema, *by_name]}.values())
        if found_fields:
            names = ", ".join(f"{f.get('name')} ({f['id']})" for f in found_fields)
            out.add("ok", "story points", f"read from {names}")
        else:
            numbers = ", ".join(_number_fields(fields)) or "none"
            out.add(
                "fail" if needs_points else "warn",
                "story points",
                "no story-points field found on this site"
                + (" (a KR uses the points_done measure)" if needs_points else
                   ": points_done KRs would have no estimates"),
                f"set story_points_field on the {connector.name!r} connection to the field "
                f"holding estimates; number fields here: {numbers}",
            )  # fmt: skip
    if not cloud:
        if cfg.epic_link_field:
            _field(connector, fields, cfg.epic_link_field, "epic_link_field", out)
        elif not any((f.get("schema") or {}).get("custom") == EPIC_LINK_SCHEMA for f in fields):
            out.add("fail", "field epic_link_field", "no Epic Link field on this Data Center site",
                    "set epic_link_field to the field that links issues to their epic")  # fmt: skip
    if cfg.kr_field:
        _field(connector, fields, cfg.kr_field, "kr_field", out)
    for name, wanted in cfg.fields.items():
        _field(connector, fields, wanted, f"fields.{name}", out)


def _epics(connector: JiraAccess, context: CheckContext, out: _Checklist) -> set[str]:
    """Check the linked keys; returns those found."""
    keys = set(context.item_keys)
    if not keys:
        return set()
    try:
        found, missing = connector.search_keys(keys, ["issuetype"])
    except SourceError as exc:
        out.add("fail", "linked epics", f"could not look the epics up: {_text(exc)}",
                "check that the account may browse the epics' projects")  # fmt: skip
        return set()
    missing |= keys - {str(issue.get("key")) for issue in found}
    if len(missing) < len(keys):
        out.add("ok", "linked epics", f"{len(keys) - len(missing)} of {len(keys)} found")
    for key in sorted(missing):
        where = "; ".join(context.item_keys[key])
        out.add(
            "fail", f"epic {key}", f"not found on {connector.site} (linked to {where})",
            "check the key: an issue moved to another project gets a new key, and an issue "
            "the account may not browse looks missing too",
            missing=[key],
        )  # fmt: skip
    return keys - missing


def _queries(connector: JiraAccess, context: CheckContext, out: _Checklist) -> None:
    scope = connector.config.scope
    if scope:
        try:
            connector.count(f"({strip_order_by(scope)})", "scope")
            out.add("ok", "scope", "valid JQL")
        except SourceError as exc:
            out.add("fail", "scope", f"Jira cannot run it: {_jira_says(exc)}",
                    f"fix 'scope' of the {connector.name!r} connection")  # fmt: skip
    for rule in context.queries:
        subject = f"JQL of {rule.kr}"
        problem = connector.query_problem(rule.query)
        if problem:
            out.add("fail", subject, problem, f"fix the query in {rule.where}")
            continue
        try:
            count = connector.count(strip_order_by(str(rule.query)), rule.rule_id)
        except SourceError as exc:
            out.add("fail", subject, f"Jira cannot run it: {_jira_says(exc)}",
                    f"fix the query in {rule.where}")  # fmt: skip
            continue
        out.add("ok", subject, f"valid, {count} issue{'s' if count != 1 else ''} match now")


def _points(connector: JiraAccess, epics: set[str], out: _Checklist) -> None:
    """The story-point field of each project of the linked epics, as a pull chooses it."""
    try:
        session = connector.session()
    except SourceError:
        return  # a configured field that does not exist: reported with the fields above
    ids = session.ids
    names = {str(f.get("id")): str(f.get("name")) for f in connector.connect().fields}
    chooser = PointsChooser(connector, ids.story_points, ids.points_configured, names)
    if not chooser.needs_choice:
        return  # one field or a configured one: the site-wide line above says it all
    child = "parent" if session.cloud else f"cf[{(ids.epic_link or '').rsplit('_', 1)[-1]}]"
    values: dict[str, dict[str, Values]] = {project_of(e): {} for e in epics}
    try:
        for clause in in_clauses(child, epics):
            for raw in connector.search(clause, ["key", *ids.story_points]):
                key = str(raw.get("key"))
                found = chooser.values_of(raw.get("fields") or {})
                if found is not None:
                    values.setdefault(project_of(key), {})[key] = found
        for project in sorted(values):
            subject = f"story points of {project}"
            try:
                chosen = chooser.decide(project, values[project])
            except SourceError as exc:
                out.add("fail", subject, _text(exc),
                        f"set story_points_field on the {connector.name!r} connection, or an "
                        f"estimation field on {project}'s board")  # fmt: skip
                continue
            said = f"{chooser.name(chosen.field_id)}, from {chosen.why}"
            if not chosen.disagree:
                out.add("ok", subject, said)
                continue
            shown = ", ".join(chosen.disagree[:10]) + (
                f" and {len(chosen.disagree) - 10} more" if len(chosen.disagree) > 10 else ""
            )
            out.add("warn", subject,
                    f"{said}; the other story-point field holds another value on "
                    f"{len(chosen.disagree)} issue(s): {shown}",
                    "those issues count by the field above; align or clear the other field "
                    "if it is stale")  # fmt: skip
    except SourceError as exc:
        out.add("fail", "story points", f"could not read the epics' children: {_text(exc)}")
