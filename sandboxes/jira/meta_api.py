"""Site metadata endpoints: serverInfo, myself, field, statuscategory, project."""

from __future__ import annotations

from typing import Any

from sandboxes.jira.catalog import CATEGORIES
from sandboxes.jira.context import ApiContext
from sandboxes.jira.http import ApiError, ApiRequest, ApiResponse

# Versions as real sites report them: Cloud is always 1001.0.0; DC says "Server".
_CLOUD_VERSION = ("1001.0.0-SNAPSHOT", [1001, 0, 0], 100285)
_DC_VERSION = ("9.12.12", [9, 12, 12], 9120012)


def server_info(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /rest/api/{2,3}/serverInfo``; the jira client calls it at construction."""
    version, numbers, build = _CLOUD_VERSION if ctx.site.cloud else _DC_VERSION
    render = ctx.renderer(req)
    body: dict[str, Any] = {
        "baseUrl": ctx.base_url,
        "version": version,
        "versionNumbers": numbers,
        "deploymentType": "Cloud" if ctx.site.cloud else "Server",
        "buildNumber": build,
        "buildDate": "2025-11-20T00:00:00.000+0000",
        "serverTime": render.ts(ctx.store.now()),
        "scmInfo": "9f3c2a1d5b7e4c6f8a0b1c2d3e4f5a6b7c8d9e0f",
        "serverTitle": "Jira",
        "defaultLocale": {"locale": "en_US"},
    }
    return ApiResponse(body=body)


def myself(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /rest/api/{2,3}/myself``: the API user, with its own ``timeZone``."""
    user = ctx.renderer(req).user()
    user.update({"locale": "en_US", "groups": {"size": 1, "items": []}})
    user["applicationRoles"] = {"size": 1, "items": []}
    user["expand"] = "groups,applicationRoles"
    return ApiResponse(body=user)


def fields(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /rest/api/{2,3}/field``: a plain array, no paging."""
    return ApiResponse(body=[f.to_json() for f in ctx.store.fields])


def status_categories(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /rest/api/{2,3}/statuscategory``."""
    render = ctx.renderer(req)
    return ApiResponse(body=[render.category(key) for key in CATEGORIES])


def projects(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /rest/api/{2,3}/project``: every project (the old, unpaged list)."""
    render = ctx.renderer(req)
    return ApiResponse(body=[render.project(p) for p in ctx.store.projects.values()])


def project(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /rest/api/{2,3}/project/{project}`` by key or id."""
    found = ctx.store.project(req.args["project"])
    if found is None:
        raise ApiError(404, [f"No project could be found with key '{req.args['project']}'."])
    return ApiResponse(body=ctx.renderer(req).project(found))


def application_links(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /rest/applinks/latest/listApplicationlinks``: 404, as for a non-admin.

    The jira client calls it before ``add_remote_link`` and only warns on failure.
    """
    raise ApiError(404, ["The requested resource is not available to this user."])
