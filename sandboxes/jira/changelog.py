"""Change history endpoints, with the limits the real services set.

- Cloud ``GET /rest/api/{2,3}/issue/{key}/changelog``: ``startAt``/``maxResults``
  pages (``values``, ``total``, ``isLast``), at most 100 histories a page.
- Cloud ``POST /rest/api/{2,3}/changelog/bulkfetch``: ``issueIdsOrKeys`` (1 to 1000),
  ``fieldIds`` (at most 10), ``maxResults``, ``nextPageToken``; answers
  ``issueChangeLogs: [{issueId, changeHistories}]`` sorted by changelog date, then
  issue id, and a ``nextPageToken`` while more follow (jira.js ``getBulkChangelogs``:
  "changelogs of up to 1000 issues and can filter them by up to 10 field IDs").
- ``GET /issue/{key}?expand=changelog``: Cloud embeds only the latest 100 histories
  (pycontribs/jira #911); Data Center embeds all of them and has no ``/changelog``
  resource (it answers 404: atlassian-python-api #1396, Jira 9.12).
- ``GET /rest/api/{2,3}/status``: every status with its category, to read a
  status id in a changelog as a category.
"""

from __future__ import annotations

import itertools
from typing import Any

from sandboxes.jira.catalog import STATUSES
from sandboxes.jira.context import ApiContext
from sandboxes.jira.http import ISSUE_NOT_FOUND, ApiError, ApiRequest, ApiResponse
from sandboxes.jira.model import History, StoredIssue

MAX_PAGE = 100
MAX_BULK_ISSUES = 1000
MAX_BULK_FIELDS = 10
MAX_BULK_PAGE = 1000
EMBEDDED_CLOUD = 100


def render_history(ctx: ApiContext, req: ApiRequest, history: History,
                   fields: set[str] | None = None) -> dict[str, Any] | None:  # fmt: skip
    """One history as Jira shows it; None when ``fields`` filters out all its items."""
    render = ctx.renderer(req)
    items = [
        dict(i) for i in history.items
        if fields is None or i.get("fieldId") in fields or i.get("field") in fields
    ]  # fmt: skip
    if not items:
        return None
    return {"id": str(history.id), "author": render.user(), "created": render.ts(history.created),
            "items": items}  # fmt: skip


def find_issue(ctx: ApiContext, req: ApiRequest) -> StoredIssue:
    """The issue named in the path, or 404 as Jira words it."""
    issue = ctx.store.get(req.args["key"])
    if issue is None:
        raise ApiError(404, [ISSUE_NOT_FOUND])
    return issue


def _int(req: ApiRequest, name: str, default: int) -> int:
    text = req.param(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, [f"The '{name}' parameter must be a number."]) from None


def issue_changelog(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /issue/{key}/changelog?startAt=&maxResults=`` (Cloud), oldest first."""
    issue = find_issue(ctx, req)
    start = max(0, _int(req, "startAt", 0))
    size = min(MAX_PAGE, max(1, _int(req, "maxResults", MAX_PAGE)))
    histories = issue.history
    page = [render_history(ctx, req, h) for h in histories[start : start + size]]
    api = ctx.renderer(req).api
    body: dict[str, Any] = {
        "self": f"{api}/issue/{issue.key}/changelog?startAt={start}&maxResults={size}",
        "maxResults": size, "startAt": start, "total": len(histories),
        "isLast": start + size >= len(histories), "values": page,
    }  # fmt: skip
    if not body["isLast"]:
        body["nextPage"] = (
            f"{api}/issue/{issue.key}/changelog?startAt={start + size}&maxResults={size}"
        )
    return ApiResponse(body=body)


def embedded(ctx: ApiContext, req: ApiRequest, issue: StoredIssue) -> dict[str, Any]:
    """``changelog`` of ``GET /issue/{key}?expand=changelog``: Cloud keeps the latest 100."""
    histories = issue.history
    if ctx.store.mode == "cloud":
        histories = histories[-EMBEDDED_CLOUD:]
    shown = [render_history(ctx, req, h) for h in histories]
    return {"startAt": 0, "maxResults": len(shown), "total": len(issue.history), "histories": shown}


def bulk_changelog(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``POST /changelog/bulkfetch`` (Cloud)."""
    body = req.json() or {}
    if not isinstance(body, dict):
        raise ApiError(400, ["The request body must be a JSON object."])
    refs = body.get("issueIdsOrKeys")
    if not isinstance(refs, list) or not 1 <= len(refs) <= MAX_BULK_ISSUES:
        raise ApiError(
            400, [f"issueIdsOrKeys must hold between 1 and {MAX_BULK_ISSUES} issue ids or keys."]
        )
    field_ids = body.get("fieldIds")
    if field_ids is not None and (
        not isinstance(field_ids, list) or len(field_ids) > MAX_BULK_FIELDS
    ):
        raise ApiError(400, [f"fieldIds can hold at most {MAX_BULK_FIELDS} field ids."])
    size = body.get("maxResults", MAX_BULK_PAGE)
    if not isinstance(size, int) or size < 1:
        raise ApiError(400, ["maxResults must be a positive number."])
    size = min(size, MAX_BULK_PAGE)
    wanted = set(map(str, field_ids)) if field_ids else None
    issues = {i.id: i for ref in refs if (i := ctx.store.get(str(ref))) is not None}
    entries = sorted(
        ((h.created, iid, h) for iid, issue in issues.items() for h in issue.history),
        key=lambda e: (e[0], e[1], e[2].id),
    )
    rendered = [(iid, r) for _, iid, h in entries if (r := render_history(ctx, req, h, wanted))]
    key = repr(sorted(issues))
    start = 0
    token = body.get("nextPageToken")
    if token:
        found = ctx.tokens.resolve(str(token))
        if found is None or found[0] != key or found[1] is None:
            raise ApiError(400, ["The nextPageToken is invalid or has expired."])
        start = int(found[1][1])
    page = rendered[start : start + size]
    out: dict[str, Any] = {
        "issueChangeLogs": [
            {"issueId": str(iid), "changeHistories": [r for _, r in group]}
            for iid, group in itertools.groupby(page, key=lambda e: e[0])
        ]
    }
    if start + size < len(rendered):
        out["nextPageToken"] = ctx.tokens.issue(key, ((), start + size))
    return ApiResponse(body=out)


def statuses(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /rest/api/{2,3}/status``: every status with its category."""
    render = ctx.renderer(req)
    return ApiResponse(body=[render.status(name) for name in STATUSES])
