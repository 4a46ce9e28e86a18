"""What travels between a sandbox's HTTP server and its handlers: requests and answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Literal

JSON_TYPE = "application/json;charset=UTF-8"


@dataclass
class ApiResponse:
    """What a handler answers: a JSON ``body``, or ``raw`` bytes, or nothing (204)."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    #: A transport fault to carry out instead of a clean answer (see ``damage``).
    transport: Literal["reset", "truncated"] | None = None

    def payload(self) -> bytes:
        """The encoded body."""
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


@dataclass(frozen=True)
class HttpRequest:
    """One request as the HTTP server read it; ``path`` is still percent-encoded."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: Message
