"""Issue endpoints: read and edit, entity properties, comments, remote links.

Every write through these handlers bumps the issue's ``updated`` time except entity
property writes: the sandbox assumes (as observed behaviour suggests, but Atlassian
does not document) that properties are metadata outside the issue's history.
"""

from __future__ import annotations

import json
from typing import Any

from sandboxes.jira.changelog import embedded
from sandboxes.jira.context import ApiContext
from sandboxes.jira.edit import EditPlan, is_adf_doc
from sandboxes.jira.http import (
    ISSUE_NOT_FOUND,
    ApiError,
    ApiRequest,
    ApiResponse,
)
from sandboxes.jira.model import RemoteLink, StoredIssue
from sandboxes.jira.render import select_fields

MAX_PROPERTY_CHARS = 32768
MAX_PROPERTY_KEY = 255


def find_issue(ctx: ApiContext, req: ApiRequest) -> StoredIssue:
    """The issue named in the path, or 404 as Jira words it."""
    issue = ctx.store.get(req.args["key"])
    if issue is None:
        raise ApiError(404, [ISSUE_NOT_FOUND])
    return issue


def get_issue(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /issue/{key}?fields=&properties=&expand=`` (fields default ``*all``)."""
    issue = find_issue(ctx, req)
    selection = select_fields(ctx.store, req.multi("fields"), "*all")
    render = ctx.renderer(req)
    body = render.issue(issue, selection, req.multi("properties"), req.multi("expand"))
    if "changelog" in req.multi("expand"):
        body["changelog"] = embedded(ctx, req, issue)
    return ApiResponse(body=body)


def edit_issue(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``PUT /issue/{key}[?notifyUsers=false][&returnIssue=true]`` → 204."""
    issue = find_issue(ctx, req)
    plan = EditPlan(ctx.store, issue, req.version)
    plan.collect(req.json())
    if plan.errors:
        raise ApiError(400, errors=plan.errors)
    plan.apply()
    ctx.store.touch(issue)
    if req.param("returnIssue") == "true":
        selection = select_fields(ctx.store, [], "*navigable")
        return ApiResponse(200, ctx.renderer(req).issue(issue, selection))
    return ApiResponse(204)


# -- entity properties -------------------------------------------------------------


def list_properties(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /issue/{key}/properties`` → ``{"keys": [{"self", "key"}]}``."""
    issue = find_issue(ctx, req)
    api = ctx.renderer(req).api
    keys = [{"self": f"{api}/issue/{issue.key}/properties/{k}", "key": k} for k in issue.properties]
    return ApiResponse(body={"keys": keys})


def get_property(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /issue/{key}/properties/{prop}`` → ``{"key", "value"}``."""
    issue = find_issue(ctx, req)
    key = req.args["prop"]
    if key not in issue.properties:
        raise ApiError(404, [f"The property with key '{key}' does not exist."])
    return ApiResponse(body={"key": key, "value": issue.properties[key]})


def put_property(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``PUT /issue/{key}/properties/{prop}`` → 201 created, 200 updated.

    Does not change the issue's ``updated`` time (an assumption; see the module doc).
    """
    issue = find_issue(ctx, req)
    key = req.args["prop"]
    if len(key) > MAX_PROPERTY_KEY:
        raise ApiError(
            400, [f"The property key cannot be longer than {MAX_PROPERTY_KEY} characters."]
        )
    text = req.body.decode("utf-8", "replace")
    if not text.strip():
        raise ApiError(400, ["The property value must be a valid, non-empty JSON value."])
    if len(text) > MAX_PROPERTY_CHARS:
        raise ApiError(
            400, [f"The property value cannot be longer than {MAX_PROPERTY_CHARS} characters."]
        )
    try:
        value = json.loads(text)
    except ValueError:
        raise ApiError(400, ["The property value must be a valid, non-empty JSON value."]) from None
    created = key not in issue.properties
    issue.properties[key] = value
    return ApiResponse(201 if created else 200)


def delete_property(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``DELETE /issue/{key}/properties/{prop}`` → 204, or 404."""
    issue = find_issue(ctx, req)
    key = req.args["prop"]
    if key not in issue.properties:
        raise ApiError(404, [f"The property with key '{key}' does not exist."])
    del issue.properties[key]
    return ApiResponse(204)


# -- comments ---------------------------------------------------------------------


def list_comments(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /issue/{key}/comment?startAt=&maxResults=&orderBy=`` (paged).

    Cloud serves at most 100 comments a page whatever is asked (measured: maxResults=1000
    echoed 100).
    """
    issue = find_issue(ctx, req)
    start = max(0, req.int_param("startAt", 0))
    cap = 100 if ctx.site.cloud else 5000
    limit = max(0, min(req.int_param("maxResults", cap), cap))
    render = ctx.renderer(req)
    page = render.comments_page(issue, start, limit)
    if req.param("orderBy") == "-created":
        newest_first = list(reversed(issue.comments))[start : start + limit]
        page["comments"] = [render.comment(issue, c) for c in newest_first]
    page.pop("self")
    return ApiResponse(body=page)


def add_comment(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``POST /issue/{key}/comment`` → 201; v2 takes a string body, v3 an ADF doc."""
    issue = find_issue(ctx, req)
    body = req.json()
    text = body.get("body") if isinstance(body, dict) else None
    if req.version == "3":
        if not is_adf_doc(text):
            raise ApiError(400, errors={"comment": "Comment body is not valid!"})
    elif not isinstance(text, str):
        raise ApiError(400, errors={"comment": "Comment body is not valid!"})
    elif not text.strip():
        raise ApiError(400, errors={"comment": "Comment body can not be empty!"})
    comment = ctx.store.new_comment(issue, text)
    ctx.store.touch(issue)
    return ApiResponse(201, ctx.renderer(req).comment(issue, comment))


def get_comment(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /issue/{key}/comment/{commentId}``."""
    issue = find_issue(ctx, req)
    for comment in issue.comments:
        if str(comment.id) == req.args["commentId"]:
            return ApiResponse(body=ctx.renderer(req).comment(issue, comment))
    raise ApiError(404, [f"Can not find a comment for the id: {req.args['commentId']}."])


# -- remote links -----------------------------------------------------------------


def _link_by_global_id(issue: StoredIssue, global_id: str) -> RemoteLink:
    for link in issue.remote_links:
        if link.data.get("globalId") == global_id:
            return link
    raise ApiError(404, [f"No remote link with global id '{global_id}' exists on {issue.key}."])


def _link_by_id(issue: StoredIssue, link_id: str) -> RemoteLink:
    for link in issue.remote_links:
        if str(link.id) == link_id:
            return link
    raise ApiError(404, [f"No remote link with id '{link_id}' exists on {issue.key}."])


def _link_data(req: ApiRequest) -> dict[str, Any]:
    body = req.json()
    if not isinstance(body, dict):
        raise ApiError(400, ["The request body must be a JSON object."])
    obj = body.get("object")
    if (
        not isinstance(obj, dict)
        or not isinstance(obj.get("title"), str)
        or not obj["title"].strip()
    ):
        raise ApiError(400, errors={"title": "'title' is required."})
    if len(str(body.get("globalId") or "")) > 255:
        raise ApiError(400, errors={"globalId": "The global id must not exceed 255 characters."})
    return body


def list_links(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /issue/{key}/remotelink`` (a list), or ``?globalId=`` (one link)."""
    issue = find_issue(ctx, req)
    render = ctx.renderer(req)
    global_id = req.param("globalId")
    if global_id is not None:
        return ApiResponse(body=render.remote_link(issue, _link_by_global_id(issue, global_id)))
    return ApiResponse(body=[render.remote_link(issue, link) for link in issue.remote_links])


def add_link(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``POST /issue/{key}/remotelink``: upsert by globalId → 201 created / 200 updated."""
    issue = find_issue(ctx, req)
    link, created = ctx.store.upsert_link(issue, _link_data(req))
    ctx.store.touch(issue)
    shown = ctx.renderer(req).remote_link(issue, link)
    return ApiResponse(201 if created else 200, {"id": shown["id"], "self": shown["self"]})


def delete_links(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``DELETE /issue/{key}/remotelink?globalId=`` → 204."""
    issue = find_issue(ctx, req)
    global_id = req.param("globalId")
    if not global_id:
        raise ApiError(400, ["The globalId query parameter is required."])
    issue.remote_links.remove(_link_by_global_id(issue, global_id))
    ctx.store.touch(issue)
    return ApiResponse(204)


def get_link(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /issue/{key}/remotelink/{linkId}``."""
    issue = find_issue(ctx, req)
    link = _link_by_id(issue, req.args["linkId"])
    return ApiResponse(body=ctx.renderer(req).remote_link(issue, link))


def put_link(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``PUT /issue/{key}/remotelink/{linkId}`` → 204 (fields left out become null)."""
    issue = find_issue(ctx, req)
    link = _link_by_id(issue, req.args["linkId"])
    link.data = _link_data(req)
    ctx.store.touch(issue)
    return ApiResponse(204)


def delete_link(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``DELETE /issue/{key}/remotelink/{linkId}`` → 204."""
    issue = find_issue(ctx, req)
    issue.remote_links.remove(_link_by_id(issue, req.args["linkId"]))
    ctx.store.touch(issue)
    return ApiResponse(204)
