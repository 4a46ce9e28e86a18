"""The Jira connection: the ``jira`` client, one retry layer, error translation, paging.

Retries: the ``jira`` client is built with ``max_retries=0`` (its own layer
would also retry comment POSTs and cap waits at 60 s, and never retries a 500),
and tenacity retries *idempotent* calls on 429/502/503/504 and connection
errors, waiting what ``Retry-After`` says, with the total wait capped. Reads
(searches, the field list, serverInfo, myself, GETs) are also retried on a 500
and on a body that is not valid JSON: one such answer must not fail a whole
pull, and a read changes nothing when repeated. Writes are not retried on them
(the write may have landed). A non-idempotent call (a comment) is retried only
on 429, which Jira sends before doing anything; its de-duplication against
existing comments happens before it is sent.

Errors: every ``JIRAError`` becomes a :class:`SourceError`, :class:`AuthError`
or :class:`WriteError` whose message names the site and request but never
carries headers or credentials (``str(JIRAError)`` includes request headers, so
it is never used, and the original exception is not chained).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from connectors._retry import Caller
from okr_sync.errors import AuthError, OkrSyncError, SourceError, WriteError

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Retried on reads only: Jira answers a passing 500 on reads that time out on its side
#: (pycontribs/jira issue #2366 and PR #2377: searches "time out and return 500 status").
READ_RETRY_STATUSES = frozenset({500})
GONE_HINT = (
    "Jira answered 410 Gone: this Cloud site has removed the old /search endpoint. okr-sync "
    "uses search/jql on Cloud; remove 'deployment: datacenter' from the connection if it is set"
)


class QueryError(SourceError):
    """Jira refused a query (400: a JQL it cannot run).

    When the query is one rule's, only that rule's KRs fail; the rest of the pull stands.
    """


def settle_environment(session: requests.Session, site: str) -> None:
    """Read the proxy and CA-bundle environment once for a session, not on every request.

    With ``trust_env``, requests walks the whole environment twice per request (proxies,
    then the ``NO_PROXY`` bypass): about a third of a millisecond of CPU each time, a
    fifth of a Jira pull's own CPU. Every request of a connection goes to one site, so
    the answer never changes: it is worked out here once, by requests itself, for
    ``site`` (``HTTP(S)_PROXY``/``ALL_PROXY`` unless ``NO_PROXY`` names the host;
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``), kept on the session, and the session
    stops reading the environment. A ``~/.netrc`` is no longer consulted either, which
    only mattered without credentials, and okr-sync always sends its own. One case
    differs: a redirect to another host (Jira's REST API does not redirect in normal
    use) keeps the site's proxy decision instead of checking ``NO_PROXY`` for that host.
    """
    settled = session.merge_environment_settings(site, {}, None, None, None)
    session.proxies = dict(settled["proxies"])
    session.verify = settled["verify"]
    session.cert = settled["cert"]
    session.trust_env = False


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


#: The connection failed: never reached, reset, timed out, or lost mid-answer (a
#: truncated body surfaces as ChunkedEncodingError, which is no ConnectionError).
_NETWORK = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
#: A 200 whose body is not JSON (cut short by a proxy): the client's ``json()`` raises these.
_MALFORMED = (json.JSONDecodeError, requests.exceptions.JSONDecodeError, UnicodeDecodeError)


def is_transient(exc: BaseException) -> bool:
    """A failure worth retrying for an idempotent call."""
    if isinstance(exc, _NETWORK):
        return True
    return _status(exc) in RETRY_STATUSES


def is_read_transient(exc: BaseException) -> bool:
    """A failure worth retrying on a read only: a 500, or a body that is not valid JSON."""
    return isinstance(exc, _MALFORMED) or _status(exc) in READ_RETRY_STATUSES


def get_json(http: Any, url: str, **kwargs: Any) -> Any:
    """GET ``url`` and parse its JSON, as one call: an unparsable body is retried with the GET."""
    return http.get(url, **kwargs).json()


def jira_message(exc: BaseException) -> str:
    """Jira's own error text (errorMessages and errors), without any request details."""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            parts = [str(m) for m in body.get("errorMessages") or []]
            errors = body.get("errors") or {}
            if isinstance(errors, dict):
                parts += [f"{k}: {v}" for k, v in errors.items()]
            for key in ("message", "errorMessage"):
                if body.get(key):
                    parts.append(str(body[key]))
            if parts:
                return "; ".join(parts)
    text = getattr(exc, "text", None)
    return str(text) if text else type(exc).__name__


class JiraCaller(Caller):
    """Retries and error wording for the ``jira`` client."""

    def __init__(self, source: str, site: str, *, max_retries: int, max_wait: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        super().__init__(source, max_retries=max_retries, max_wait=max_wait, sleep=sleep)
        self.site = site

    def retry_after(self, exc: BaseException) -> float | None:
        """``Retry-After`` of a JIRAError's response."""
        return _retry_after(exc)

    def transient(self, exc: BaseException) -> bool:
        """429/502/503/504 and connection errors."""
        return is_transient(exc)

    def read_transient(self, exc: BaseException) -> bool:
        """500 and bodies that are not valid JSON (reads only)."""
        return is_read_transient(exc)

    def translate(self, exc: BaseException, what: str, *, selector: str | None = None,
                  write: bool = False, retries: int = 0) -> OkrSyncError:  # fmt: skip
        """A typed, secret-free error for a failed call."""
        status = _status(exc)
        gave_up = f"; gave up after {retries} retries" if retries else ""
        if isinstance(exc, _NETWORK):
            message = f"{what}: cannot reach {self.site} ({type(exc).__name__}){gave_up}"
        elif isinstance(exc, ValueError):  # the _MALFORMED ones, and any other unparsable body
            message = f"{what}: malformed response from {self.site} (not valid JSON){gave_up}"
        elif status in (401, 403):
            # A 403 says why (e.g. "To discard the user notification either admin or
            # project admin permissions are required"); Jira's own words never hold secrets.
            said = jira_message(exc) if status == 403 else ""
            said = f": {said}" if said and said != type(exc).__name__ else ""
            return AuthError(
                self.source,
                f"{what}: {self.site} answered {status} "
                f"({'not authenticated' if status == 401 else 'forbidden'}{said}). Check the API token "
                "(or personal access token), the account email for Jira Cloud, that the token has "
                "not expired, and that the account may browse and edit these projects",
            )
        elif status == 410:
            message = f"{what}: {GONE_HINT}"
        elif status in RETRY_STATUSES:
            wait = _retry_after(exc)
            hint = f", Retry-After {wait:.0f} s" if wait is not None else ""
            message = (
                f"{what}: {self.site} answered {status}{hint}; gave up after {retries} retries"
            )
        elif status == 400 and not write:
            return QueryError(
                self.source, f"{what}: {self.site} answered 400: {jira_message(exc)}",
                selector=selector,
            )  # fmt: skip
        elif status is not None:
            message = f"{what}: {self.site} answered {status}: {jira_message(exc)}{gave_up}"
        else:
            message = f"{what}: {jira_message(exc)}"
        if write:
            return WriteError(self.source, message)
        return SourceError(
            self.source, message, retriable=status in RETRY_STATUSES, selector=selector
        )


def cloud_pages(
    caller: JiraCaller, client: Any, jql: str, fields: list[str], *, page_size: int,
    properties: str | None = None, selector: str | None = None, max_pages: int = 100_000,
) -> Iterator[list[dict[str, Any]]]:  # fmt: skip
    """Page through ``search/jql`` by ``nextPageToken``.

    Guards the loop: a token seen before, an empty page that still claims more,
    or a page without an ``issues`` list raise a SourceError, because stopping
    quietly would compute progress from half the data.
    """
    token: str | None = None
    seen: set[str] = set()
    # The search/jql body takes `properties` as a list (SPEC); as a list the client also
    # sends it by GET as a repeated parameter, so a long query may go by POST with it.
    props = [properties] if properties else None
    for _ in range(max_pages):
        page = caller.call(
            "search", client.enhanced_search_issues, jql, nextPageToken=token, maxResults=page_size,
            fields=list(fields), properties=props, json_result=True, use_post=len(jql) > 1500,
            selector=selector,
        )  # fmt: skip
        issues = page.get("issues") if isinstance(page, dict) else None
        if not isinstance(issues, list):
            raise SourceError(
                caller.source, "search: malformed page (no 'issues' list)", selector=selector
            )
        token = page.get("nextPageToken") or None
        if issues:
            yield issues
        if token is None or page.get("isLast") is True:
            return
        if not issues:
            raise SourceError(caller.source, "search: an empty page claimed more results; not trusting the rest", selector=selector)  # fmt: skip
        if token in seen:
            raise SourceError(caller.source, "search: Jira repeated a page token; stopped to avoid a loop", selector=selector)  # fmt: skip
        seen.add(token)
    raise SourceError(caller.source, f"search: more than {max_pages} pages", selector=selector)


def server_pages(
    caller: JiraCaller, client: Any, jql: str, fields: list[str], *, page_size: int,
    properties: str | None = None, selector: str | None = None, max_restarts: int = 3,
) -> Iterator[list[dict[str, Any]]]:  # fmt: skip
    """Page through Data Center's ``/search`` by ``startAt``, at the page size the server returns.

    Offsets shift when an issue leaves or joins the result between two pages
    (deleted, moved, edited out of the query): the next page would skip or repeat
    one. Every page repeats ``total``, so when it changes the pass starts over
    (``max_restarts`` times, then the pull fails); pages already read stay, as
    what matched when they were read.
    """
    start, restarts = 0, 0
    expected: int | None = None
    while True:
        page = caller.call(
            "search", client.search_issues, jql, startAt=start, maxResults=page_size,
            fields=list(fields), properties=properties, json_result=True, use_post=len(jql) > 1500 and not properties,
            selector=selector,
        )  # fmt: skip
        issues = page.get("issues") if isinstance(page, dict) else None
        total = page.get("total") if isinstance(page, dict) else None
        if not isinstance(issues, list) or not isinstance(total, int):
            raise SourceError(
                caller.source, "search: malformed page (no 'issues' or 'total')", selector=selector
            )
        if expected is not None and total != expected:
            restarts += 1
            if restarts > max_restarts:
                raise SourceError(caller.source, f"search: the results kept changing while paging ({restarts} passes)", selector=selector)  # fmt: skip
            log.info("%s: search results changed while paging (%d → %d), reading again",
                     caller.source, expected, total)  # fmt: skip
            start, expected = 0, None
            continue
        expected = total
        if issues:
            yield issues
        start += len(issues)
        if start >= total:
            return
        if not issues:
            raise SourceError(
                caller.source, f"search: an empty page at {start} of {total}", selector=selector
            )
