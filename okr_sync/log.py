"""Logging setup: human or JSON lines on stderr, with secrets redacted.

Library modules log through ``logging``; structured fields travel in
``extra={"event": ..., ...}``. Every record passes a redaction filter that
replaces the values of secret environment variables referenced by the config
(and anything that looks like an Authorization header, and the user name and
password inside a URL, ``https://user:password@host``) with ``***``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_AUTH = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic)?\s*[^\s'\",}]+")
#: The userinfo of a URL: after "scheme://", up to "@", before any "/", "?" or "#" (RFC 3986).
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@'\"<>]+@")


def referenced_secrets(data: Any) -> list[str]:
    """Values of the environment variables that ``${NAME}`` references in ``data`` name.

    ``data`` is a config file's text, or any nesting of dicts, lists and strings
    (e.g. connection configs dumped to dicts); unset variables are skipped.
    """
    # Imported here: the command line imports this module for every command, even
    # for --help, and the domain contract brings pydantic with it.
    from okr_sync.interfaces import ENV_REF_TEXT

    refs = re.compile(ENV_REF_TEXT)

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield from (os.environ[n] for n in refs.findall(value) if os.environ.get(n))
        elif isinstance(value, dict):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                yield from walk(item)

    return list(walk(data))


class Redactor(logging.Filter):
    """Replaces known secret values in messages and structured fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """The text with every secret, and every URL's user name and password, replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = _URL_USERINFO.sub(r"\1***@", text)
        return _AUTH.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.scrub(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, event, message and structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one JSON line."""
        data = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "log"),
            "message": record.getMessage(),
            "logger": record.name,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in data and not key.startswith("_"):
                data[key] = value
        if record.exc_text:
            data["traceback"] = record.exc_text
        return json.dumps(data, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


#: ``extra`` key of a record for JSON logs only: in text, whoever catches the error says it.
JSON_ONLY = "_json_only"


def _not_json_only(record: logging.LogRecord) -> bool:
    return not getattr(record, JSON_ONLY, False)


def setup(level: int, fmt: str, secrets: Iterable[str] = ()) -> Redactor:
    """Configure the root logger for the CLI; returns the redactor for other output."""
    handler = _StderrHandler()
    redactor = Redactor(secrets)
    handler.addFilter(redactor)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        handler.addFilter(_not_json_only)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return redactor
