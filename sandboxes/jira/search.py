"""Search endpoints.

Cloud's token-paged ``search/jql``, approximate count and bulk fetch, and the
offset-paged ``/search`` (Data Center; 410 Gone on Cloud).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandboxes.jira.context import ApiContext
from sandboxes.jira.http import (
    ISSUE_NOT_FOUND,
    ApiError,
    ApiRequest,
    ApiResponse,
    split_list,
)
from sandboxes.jira.jql import JqlError
from sandboxes.jira.jql_eval import CompiledQuery, JqlEvaluator, nulls_last_key
from sandboxes.jira.model import StoredIssue
from sandboxes.jira.page_tokens import Mark
from sandboxes.jira.render import FieldSelection, select_fields
from sandboxes.jira.store import JiraStore

UNBOUNDED = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)
BAD_TOKEN = "The provided next page token is invalid or expired."
MAX_PROPERTIES = 5
MAX_RECONCILE = 50
MAX_BULK = 100


def mark_of(compiled: CompiledQuery, issue: StoredIssue) -> Mark:
    """The point just after ``issue`` in the order of ``compiled``."""
    return tuple(nulls_last_key(key)(issue) for key, _ in compiled.sorts), issue.id


def resume_index(compiled: CompiledQuery, results: list[StoredIssue], mark: Mark | None) -> int:
    """Index in ``results`` of the first issue after ``mark`` (0 from the start).

    Places ``mark`` among the results the way :meth:`CompiledQuery.run` orders them
    (by id, then stable sorts from the last sort key to the first).
    """
    if mark is None:
        return 0
    rows: list[tuple[tuple[Any, ...], int, int]] = [
        (mark_of(compiled, issue)[0], issue.id, 0) for issue in results
    ]
    rows.append((mark[0], mark[1], 1))  # ties with an unchanged issue: the mark comes after it
    rows.sort(key=lambda r: (r[1], r[2]))
    for level in reversed(range(len(compiled.sorts))):
        rows.sort(key=lambda r: r[0][level], reverse=compiled.sorts[level][1])
    return next(i for i, row in enumerate(rows) if row[2] == 1)


@dataclass
class _Args:
    jql: str
    token: str | None
    max_results: int | None
    start_at: int
    fields: list[str]
    expand: list[str]
    properties: list[str]
    reconcile: list[Any]


def _args(req: ApiRequest) -> _Args:
    """Search parameters from the query string (GET) or the JSON body (POST)."""
    if req.method == "POST":
        body = req.json() or {}
        if not isinstance(body, dict):
            raise ApiError(400, ["The request body must be a JSON object."])
        raw_max = body.get("maxResults")
        return _Args(
            jql=str(body.get("jql") or ""),
            token=body.get("nextPageToken") or None,
            max_results=None if raw_max is None else req.int_param("maxResults", 50, raw_max),
            start_at=req.int_param("startAt", 0, body.get("startAt")),
            fields=split_list(body.get("fields")),
            expand=split_list(body.get("expand")),
            properties=split_list(body.get("properties")),
            reconcile=list(body.get("reconcileIssues") or []),
        )
    raw = req.param("maxResults")
    return _Args(
        jql=req.param("jql") or "",
        token=req.param("nextPageToken") or None,
        max_results=None if raw in (None, "") else req.int_param("maxResults", 50),
        start_at=req.int_param("startAt", 0),
        fields=req.multi("fields"),
        expand=req.multi("expand"),
        properties=req.multi("properties"),
        reconcile=req.multi("reconcileIssues"),
    )


@dataclass
class _Run:
    """One query's results at one version of the store (and one clock reading, if it used it)."""

    compiled: CompiledQuery
    results: list[StoredIssue]
    version: int
    at: datetime | None
    position: dict[int, int]


#: Per store: the results of recent queries. A page of a long search is then a slice, not
#: a filter and sort of every issue again; any change to the store (its lock's version)
#: or, for a query with a relative date, a moved clock makes an entry stale.
_RUNS: weakref.WeakKeyDictionary[JiraStore, dict[str, _Run]] = weakref.WeakKeyDictionary()
_MAX_RUNS = 64


def _run(ctx: ApiContext, jql: str) -> _Run:
    store = ctx.store
    runs = _RUNS.setdefault(store, {})
    version = store.lock.version
    found = runs.get(jql)
    if found is not None and found.version == version and found.at in (None, store.now()):
        return found
    evaluator = JqlEvaluator(store)
    try:
        compiled = evaluator.compile(jql)
    except JqlError as exc:
        raise ApiError(400, [str(exc)]) from None
    results = compiled.run(store.issues.values())
    at = store.now() if evaluator.uses_clock else None
    run = _Run(compiled, results, version, at, {i.id: n for n, i in enumerate(results)})
    if len(runs) >= _MAX_RUNS or any(r.version != version for r in runs.values()):
        runs.clear()
    runs[jql] = run
    return run


def _resume(run: _Run, mark: Mark | None) -> int:
    """Where the page after ``mark`` starts: just after its issue when that is still in place."""
    if mark is None:
        return 0
    at = run.position.get(mark[1])
    if at is not None and mark_of(run.compiled, run.results[at]) == mark:
        return at + 1
    return resume_index(run.compiled, run.results, mark)


def _top_level(selection: FieldSelection, expand: list[str], ctx: ApiContext) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    fields = ctx.store.field_by_id
    if "names" in expand:
        extra["names"] = {fid: fields[fid].name for fid in selection.ids}
    if "schema" in expand:
        extra["schema"] = {fid: fields[fid].schema for fid in selection.ids if fields[fid].schema}
    return extra


def search_jql(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET|POST /rest/api/{2,3}/search/jql`` (Cloud): token paging, ids by default.

    A token remembers the query and where its page ended (see :class:`PageTokens`):
    an issue whose sort values change between pages may show up twice or not at
    all, as with Jira's search-after tokens; ``reconcileIssues`` is accepted and
    needs nothing, as the sandbox has no index lag. Pages hold at most
    ``max_page_size`` issues (``max_key_page_size`` when only ``id`` or ``key`` is asked
    for), half that for ``*all``.
    """
    args = _args(req)
    if len(args.properties) > MAX_PROPERTIES:
        raise ApiError(400, [f"You can request at most {MAX_PROPERTIES} issue properties."])
    if len(args.reconcile) > MAX_RECONCILE:
        raise ApiError(400, [f"You can reconcile at most {MAX_RECONCILE} issues."])
    run = _run(ctx, args.jql)
    compiled = run.compiled
    if not compiled.bounded:
        raise ApiError(400, [UNBOUNDED])
    mark: Mark | None = None
    if args.token:
        found = ctx.tokens.resolve(args.token)
        if found is None or found[0] != args.jql:
            raise ApiError(400, [BAD_TOKEN])
        mark = found[1]
    selection = select_fields(ctx.store, args.fields, "id")
    # "The greatest number of items returned per page is achieved when requesting id or
    # key only. It returns max 5000 issues" (the search/jql spec); with fields, 100.
    keys_only = all(f in ("id", "key") for f in args.fields)
    cap = ctx.site.max_key_page_size if keys_only else ctx.site.max_page_size
    # Jira returns fewer issues per page when every field is asked for.
    if "*all" in args.fields:
        cap = max(1, cap // 2)
    size = max(1, min(50 if args.max_results is None else args.max_results, cap))
    if ctx.faults.take_search("empty_page"):
        return ApiResponse(
            body={
                "issues": [],
                "nextPageToken": ctx.tokens.issue(args.jql, mark),
                "isLast": False,
            }
        )
    results = run.results
    offset = _resume(run, mark)
    page = results[offset : offset + size]
    render = ctx.renderer(req)
    body: dict[str, Any] = {"issues": [render.issue(i, selection, args.properties) for i in page]}
    following = offset + len(page)
    if args.token and ctx.faults.take_search("repeat_token"):
        body["nextPageToken"], body["isLast"] = args.token, False
    elif following < len(results) and page:
        next_token = ctx.tokens.issue(args.jql, mark_of(compiled, page[-1]))
        body["nextPageToken"], body["isLast"] = next_token, False
    else:
        body["isLast"] = True
    body.update(_top_level(selection, args.expand, ctx))
    return ApiResponse(body=body)


def search_legacy(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET|POST /rest/api/{2,3}/search``: 410 on Cloud, offset paging on Data Center."""
    if ctx.site.cloud:
        raise ApiError(410, [SEARCH_REMOVED])
    args = _args(req)
    results = _run(ctx, args.jql).results
    start = max(0, args.start_at)
    # DC truncates to jira.search.views.default.max and echoes the effective size.
    size = max(0, min(50 if args.max_results is None else args.max_results, ctx.site.max_page_size))
    selection = select_fields(ctx.store, args.fields, "*navigable")
    render = ctx.renderer(req)
    body: dict[str, Any] = {
        "expand": "schema,names",
        "startAt": start,
        "maxResults": size,
        "total": len(results),
        "issues": [
            render.issue(i, selection, args.properties) for i in results[start : start + size]
        ],
    }
    body.update(_top_level(selection, args.expand, ctx))
    return ApiResponse(body=body)


def approximate_count(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``POST /rest/api/{2,3}/search/approximate-count`` (Cloud): ``{"count": N}``."""
    args = _args(req)
    run = _run(ctx, args.jql)
    if not run.compiled.bounded:
        raise ApiError(400, [UNBOUNDED])
    return ApiResponse(body={"count": ctx.store.approximate(len(run.results))})


def bulk_fetch(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``POST /rest/api/{2,3}/issue/bulkfetch`` (Cloud): up to 100 issues by id or key."""
    body = req.json() or {}
    refs = body.get("issueIdsOrKeys") if isinstance(body, dict) else None
    if not isinstance(refs, list) or not 1 <= len(refs) <= MAX_BULK:
        raise ApiError(
            400, [f"issueIdsOrKeys must hold between 1 and {MAX_BULK} issue ids or keys."]
        )
    selection = select_fields(ctx.store, split_list(body.get("fields")), "*navigable")
    properties = split_list(body.get("properties"))
    render = ctx.renderer(req)
    issues, errors = [], []
    for ref in refs:
        issue = ctx.store.get(str(ref))
        if issue is None:
            errors.append({"id": str(ref), "errorMessage": ISSUE_NOT_FOUND})
        else:
            issues.append(render.issue(issue, selection, properties))
    return ApiResponse(body={"expand": "schema,names", "issues": issues, "issueErrors": errors})
