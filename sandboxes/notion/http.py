"""Request and error types shared by the Notion sandbox's handlers.

Handlers are plain functions ``(NotionContext, NotionRequest) -> ApiResponse`` (the
context is in :mod:`sandboxes.notion.context`); they never touch sockets. Errors are raised as ``NotionError`` and rendered as Notion's
error object (``{"object": "error", "status", "code", "message", "request_id"}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sandboxes.messages import ApiResponse
from sandboxes.notion.model import normalize_id

NOTION_JSON = "application/json; charset=utf-8"
V2022 = "2022-06-28"
V2025 = "2025-09-03"
V2026 = "2026-03-11"
VERSIONS = (V2022, V2025, V2026)
CAPABILITIES = frozenset(
    {"read_content", "update_content", "insert_content", "read_comments", "insert_comments"}
)


class NotionError(Exception):
    """An error answer with Notion's ``code`` and message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        additional_data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.additional_data = additional_data

    def body(self, request_id: str) -> dict[str, Any]:
        """The error object, in Notion's key order."""
        body: dict[str, Any] = {
            "object": "error",
            "status": self.status,
            "code": self.code,
            "message": self.message,
        }
        if self.additional_data is not None:
            body["additional_data"] = self.additional_data
        body["request_id"] = request_id
        return body


def validation(message: str) -> NotionError:
    """A 400 ``validation_error``."""
    return NotionError(400, "validation_error", message)


def invalid_url() -> NotionError:
    """The 400 Notion answers for a path it does not serve."""
    return NotionError(400, "invalid_request_url", "Invalid request URL.")


def shown(value: Any) -> str:
    """A value quoted the way Notion's validation messages quote it."""
    if value is None:
        return "`undefined`"
    return f"`{json.dumps(value, separators=(',', ':'))}`"


@dataclass
class NotionRequest:
    """A parsed request; ``args`` holds the path arguments (decoded)."""

    method: str
    path: str
    query: dict[str, list[str]]
    raw_body: bytes
    version: str
    args: dict[str, str] = field(default_factory=dict)

    @property
    def legacy(self) -> bool:
        """Whether the request speaks 2022-06-28 (one data source per database)."""
        return self.version == V2022

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def params(self, name: str) -> list[str]:
        """All values of a repeated parameter, written ``name=`` or ``name[]=``."""
        return [*self.query.get(name, []), *self.query.get(f"{name}[]", [])]

    def body(self) -> dict[str, Any]:
        """The JSON body as an object (``{}`` when empty); 400 like Notion otherwise."""
        if not self.raw_body.strip():
            return {}
        try:
            data = json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError):
            raise NotionError(400, "invalid_json", "Error parsing JSON body.") from None
        if not isinstance(data, dict):
            raise validation(
                f"body failed validation: body should be an object, instead was {shown(data)}."
            )
        return data

    def path_id(self, name: str, kind: str) -> str:
        """Path argument ``name`` as a dashed UUID; 400 ``validation_error`` otherwise."""
        raw = self.args[name]
        found = normalize_id(raw)
        if found is None:
            raise validation(
                f"path failed validation: path.{kind}_id should be a valid uuid, "
                f"instead was `{json.dumps(raw)}`."
            )
        return found


def page_size(raw: Any, where: str, default: int) -> int:
    """A ``page_size`` between 1 and 100 (``where`` is ``body`` or ``query``)."""
    if raw is None:
        return default
    value = raw
    if where == "query" and isinstance(raw, str):
        try:
            value = int(raw)
        except ValueError:
            value = raw
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation(
            f"{where} failed validation: {where}.page_size should be a number, instead was {shown(raw)}."
        )
    if value < 1 or value > 100:
        bound = "≥ `1`" if value < 1 else "≤ `100`"
        raise validation(
            f"{where} failed validation: {where}.page_size should be {bound}, instead was `{value}`."
        )
    return value


def respond(body: dict[str, Any], status: int = 200) -> ApiResponse:
    """A JSON answer (the server adds ``request_id`` and the request-id header)."""
    return ApiResponse(status, body, content_type=NOTION_JSON)
