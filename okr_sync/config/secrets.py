"""Literal secrets in the config file: found, reported once, never echoed back.

A token belongs in an environment variable and the file names it as
``${VAR}``; a user name or password inside a URL (``https://bot:TOKEN@site``)
is a literal secret too, in any value of the file. These checks run on the raw YAML, before and apart from the models,
so a secret is caught wherever it sits (even under an unknown key) and masked
in every problem that would otherwise quote it. They live apart from
:mod:`okr_sync.config.loading` to keep the loader short; it is their only user.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from okr_sync.errors import Problem
from okr_sync.interfaces import ENV_REF as _ENV_REF
from okr_sync.yamlpos import YamlDocument

_SECRET_KEY = re.compile(r"(?i)(^|_)(token|password|passwd|secret|api_?key|pat|credentials?)$")
_SECRET_VALUE = re.compile(
    r"^(secret_[A-Za-z0-9]{20,}|ntn_[A-Za-z0-9]{20,}|ATATT[A-Za-z0-9_\-=]{20,})$"
)

#: ``scheme://user[:password]@`` anywhere in a value: the userinfo ends the authority's
#: first part at "@", before any "/", "?" or "#" (RFC 3986, section 3.2). A PostgreSQL
#: URL names its user this way (``postgresql://okr@db/okr``): only a password there is
#: a secret, so its user name alone passes.
_URL_USERINFO = re.compile(
    r"(?i)\b(?!postgres(?:ql)?://[^/?#\s@:]*@)[a-z][a-z0-9+.-]*://[^/?#\s@]*@"
)


def _scan_strings(
    data: Any, path: tuple[str | int, ...] = ()
) -> Iterable[tuple[tuple[str | int, ...], str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _scan_strings(value, (*path, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _scan_strings(value, (*path, index))
    elif isinstance(data, str):
        yield path, data


_LITERAL_SECRET = "a literal secret is not allowed in the config file"
_URL_CREDENTIALS = "a user name or password inside a URL is not allowed in the config file"
#: A PostgreSQL URL (the state store's) may name its user: only the password is refused.
_PG_URL_PASSWORD = "a password inside a PostgreSQL URL is not allowed in the config file"
_PG_URL = re.compile(r"(?i)^\s*postgres(?:ql)?://")
#: The messages that report a secret; a model's complaint about the same value repeats them.
_SECRET_MESSAGES = (_LITERAL_SECRET, _URL_CREDENTIALS, _PG_URL_PASSWORD)


def _looks_secret(path: tuple[str | int, ...], value: str) -> bool:
    """A literal (not an environment reference) that is or sits where a secret goes."""
    if _ENV_REF.match(value):
        return False
    key = path[-1] if path and isinstance(path[-1], str) else ""
    return bool(
        _SECRET_VALUE.match(value)
        or (key and _SECRET_KEY.search(key))
        or _URL_USERINFO.search(value)
    )


def secret_problems(doc: YamlDocument, check_env: bool) -> list[Problem]:
    """Literal secrets (never echoed back) and environment references that are unset or empty."""
    problems = []
    for path, value in _scan_strings(doc.data):
        ref = _ENV_REF.match(value)
        if ref:
            name = ref.group(1)
            setting = os.environ.get(name)
            if check_env and setting is None:
                problems.append(
                    doc.problem(
                        path,
                        f"environment variable {name} is not set",
                        f"export {name}=... before running okr-sync",
                    )
                )
            elif (
                check_env and setting is not None and not setting.strip()
            ):  # `NAME=` in an env file sets it empty
                problems.append(
                    doc.problem(
                        path,
                        f"environment variable {name} is empty",
                        f"give {name} its value where it is set (an env file's '{name}=' "
                        "line with nothing after the '=' sets it empty)",
                    )
                )
            continue
        if _URL_USERINFO.search(value) and _PG_URL.match(value):
            problems.append(
                doc.problem(
                    path,
                    _PG_URL_PASSWORD,
                    "remove ':password' from the URL; name an environment variable instead "
                    '(state: password: "${OKR_STATE_PASSWORD}"), or let libpq read '
                    "PGPASSWORD or ~/.pgpass",
                )
            )
        elif _URL_USERINFO.search(value):
            problems.append(
                doc.problem(
                    path,
                    _URL_CREDENTIALS,
                    "remove the 'user:password@' part; a connection's credentials go in its "
                    'token, as "${NAME}" naming an environment variable',
                )
            )
        elif _looks_secret(path, value):
            var = (str(path[1]) if len(path) > 1 else "OKR_SYNC").upper().replace(
                "-", "_"
            ) + "_TOKEN"
            problems.append(
                doc.problem(
                    path,
                    _LITERAL_SECRET,
                    f'put it in an environment variable and write "${{{var}}}" here instead',
                )
            )
    return problems


def one_per_secret(problems: list[Problem]) -> list[Problem]:
    """Each literal secret reported once.

    What a connector's model says about the same value (it must be an
    environment reference) only repeats it; an unknown key is news, so it stays.
    """
    secret_fields = {p.field for p in problems if p.message in _SECRET_MESSAGES}
    return [
        p
        for p in problems
        if p.field not in secret_fields or p.message in (*_SECRET_MESSAGES, "unknown key")
    ]


def without_secrets(problems: list[Problem], doc: YamlDocument) -> list[Problem]:
    """Problems with any literal secret found in the file masked, wherever it is quoted."""
    secrets = [v for path, v in _scan_strings(doc.data) if _looks_secret(path, v)]
    if not secrets:
        return problems
    masked = []
    for p in problems:
        message, hint = p.message, p.hint
        for secret in secrets:
            message, hint = message.replace(secret, "***"), hint.replace(secret, "***")
        masked.append(Problem(p.file, p.line, p.field, message, hint))
    return masked
