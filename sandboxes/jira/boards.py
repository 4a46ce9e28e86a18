"""Jira Software's agile API, as far as boards go: the list and each board's configuration.

``GET /rest/agile/1.0/board?projectKeyOrId=…`` pages by ``startAt`` at most 50 boards
a page (Cloud echoes ``maxResults`` 50 whatever is asked) and lists the boards whose
filter names the project; ``GET /rest/agile/1.0/board/{id}/configuration`` carries the
board's ``estimation`` (``{"type": "field", "field": {"fieldId", "displayName"}}``, or
``{"type": "issueCount"}``), as Jira Software's documentation shows it. Both modes
serve them (Data Center has Jira Software too).
"""

from __future__ import annotations

from typing import Any

from sandboxes.jira.context import ApiContext
from sandboxes.jira.http import ApiError, ApiRequest, ApiResponse
from sandboxes.jira.model import Board
from sandboxes.jira.store import JiraStore

BOARD_PAGE = 50


def add_board(store: JiraStore, project: str, name: str, *, estimation: str | None,
              type: str = "scrum") -> Board:  # fmt: skip
    """Create a board of ``project`` estimating by the field ``estimation`` (None: issue count)."""
    if project not in store.projects:
        raise KeyError(f"no project {project!r} in the sandbox")
    found = store.field(estimation) if estimation is not None else None
    if estimation is not None and found is None:
        raise KeyError(f"no field {estimation!r} in the sandbox")
    fid = found.id if found is not None else None
    board = Board(len(store.boards) + 1, name, project, type, fid)
    store.boards[board.id] = board
    return board


def _location(ctx: ApiContext, board: Board) -> dict[str, Any]:
    proj = ctx.store.projects[board.project]
    return {
        "projectId": proj.id,
        "displayName": f"{proj.name} ({proj.key})",
        "projectName": proj.name,
        "projectKey": proj.key,
        "projectTypeKey": "software",
        "name": f"{proj.name} ({proj.key})",
    }


def list_boards(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /rest/agile/1.0/board`` (``projectKeyOrId``, ``startAt``, ``maxResults``)."""
    wanted = req.param("projectKeyOrId")
    boards = list(ctx.store.boards.values())
    if wanted:
        proj = ctx.store.project(wanted)
        if proj is None:
            raise ApiError(400, [f"No project could be found with key or id '{wanted}'."])
        boards = [b for b in boards if b.project == proj.key]
    start = max(0, req.int_param("startAt", 0))
    size = max(1, min(req.int_param("maxResults", BOARD_PAGE), BOARD_PAGE))
    page = boards[start : start + size]
    base = f"{ctx.base_url}/rest/agile/1.0/board"
    return ApiResponse(
        body={
            "maxResults": size,
            "startAt": start,
            "total": len(boards),
            "isLast": start + len(page) >= len(boards),
            "values": [
                {"id": b.id, "self": f"{base}/{b.id}", "name": b.name, "type": b.type,
                 "location": _location(ctx, b)}
                for b in page
            ],
        }
    )  # fmt: skip


def board_configuration(ctx: ApiContext, req: ApiRequest) -> ApiResponse:
    """``GET /rest/agile/1.0/board/{boardId}/configuration``."""
    try:
        board = ctx.store.boards[int(req.args["boardId"])]
    except (KeyError, ValueError):
        raise ApiError(404, ["The requested board cannot be viewed because it either does "
                             "not exist or you do not have permission to view it."]) from None  # fmt: skip
    proj = ctx.store.projects[board.project]
    api = f"{ctx.base_url}/rest/api/2"
    body: dict[str, Any] = {
        "id": board.id,
        "name": board.name,
        "type": board.type,
        "self": f"{ctx.base_url}/rest/agile/1.0/board/{board.id}/configuration",
        "location": {"type": "project", "key": proj.key, "id": str(proj.id),
                     "self": f"{api}/project/{proj.id}", "name": proj.name},
        "filter": {"id": str(10000 + board.id), "self": f"{api}/filter/{10000 + board.id}"},
        "columnConfig": {"columns": [], "constraintType": "issueCount"},
        "ranking": {"rankCustomFieldId": 10019},
    }  # fmt: skip
    if board.estimation is None:
        body["estimation"] = {"type": "issueCount"}
    else:
        field = ctx.store.field_by_id[board.estimation]
        body["estimation"] = {
            "type": "field", "field": {"fieldId": field.id, "displayName": field.name}
        }  # fmt: skip
    return ApiResponse(body=body)
