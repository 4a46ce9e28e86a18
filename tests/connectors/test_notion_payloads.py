"""The Notion connector, driving the real ``notion-client``, on real recorded Notion payloads.

HTTP is mocked with httpx's ``MockTransport``: the connector builds its own
``notion_client.Client`` (token from the environment, base URL, version,
``retry=False``) and the test only hands it an ``httpx.Client`` on the mock
transport. Every body served comes from ``tests/fixtures/notion/`` (see its README
for sources and licences). Where a test needs a variant of a real body (an error
code swapped in, a status option added, a page wrapped in a query list) it builds
it in memory from the real file and says so.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import notion_client
import pytest
from notion_client.errors import UnknownHTTPResponseError

from connectors._throttle import TokenBucket
from connectors.notion.config import NotionConfig
from connectors.notion.connector import NotionConnector
from connectors.notion.values import date_range, number, plain
from okr_sync.errors import AuthError, SourceError, WriteError
from okr_sync.interfaces import WriteSpec
from okr_sync.models import (
    DEFAULT_STATUS_LABELS,
    KrResult,
    OkrTree,
    Outcome,
    PullRequest,
    RecordRef,
    Status,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "notion" / "2025-09-03"
TOKEN = "ntn_tracer_secret_XYZ123"
TOKEN_ENV = "NOTION_PAYLOAD_TEST_TOKEN"
NOW = dt.datetime(2024, 5, 6, 9, 30, tzinfo=dt.UTC)

EVERY_TYPE = "data_sources_query_every_property_type.json"
ROLLUPS = "data_sources_query_rollup_shapes.json"
FORMULAS = "data_sources_query_formula_shapes.json"
FORMULA_SCHEMA = "data_sources_retrieve_formula_schema.json"
PAGE_1 = "data_sources_query_110_rows_page1.json"
PAGE_2 = "data_sources_query_110_rows_page2.json"
DB_110 = "databases_create_initial_data_source.json"
SEARCH = "search_data_sources_schemas_and_status_groups.json"
DB_RETRIEVE = "sdk_databases_retrieve.json"
DB_CREATE = "sdk_databases_create.json"
DS_CREATE = "sdk_data_sources_create.json"
DS_RETRIEVE = "sdk_data_sources_retrieve.json"
RELATION_PAGE = "pages_retrieve_relation_has_more.json"
RELATION_ITEMS = "pages_properties_retrieve_relation_paged.json"
UNAUTHORIZED = "error_401_unauthorized.json"
NOT_FOUND = "error_404_object_not_found.json"
BAD_REQUEST = "error_400_invalid_request_url.json"
COMMENT = "sdk_comments_create.json"

#: Ids as they stand in the recordings.
ALL_PROPS_DS = "3839ce7b-60a4-802c-b152-000ba814957b"  # "All Properties DB" (EVERY_TYPE's rows)
ITEM_2_PAGE = "38b9ce7b-60a4-810a-a3e0-d0c7fde33f0c"  # its row "Item 2", unique id 3
DB_110_ID = "d231d54e-042f-42e6-877e-4192861f6fdf"  # database of the 110 rows
DS_110_ID = "1c7ee02a-64b6-43b6-bce6-22df1bc62c22"  # its only data source
SDK_DB_ID = "e234cdc8-4ad2-4371-a97e-999a238bf8f5"  # DB_RETRIEVE
SDK_DB_SOURCE = "b71e1213-3d03-46cb-b9c2-db9856a9f42d"  # its only data source


def payload(name: str) -> dict[str, Any]:
    """One stored request/response pair."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def body(name: str) -> Any:
    """The response body of a stored pair (a fresh copy: tests may derive from it)."""
    return copy.deepcopy(payload(name)["response"])


def rows(name: str) -> list[dict[str, Any]]:
    return body(name)["results"]


def row(name: str, title: str) -> dict[str, Any]:
    """The row of a stored query whose title is ``title``."""
    return next(r for r in rows(name) if title_of(r) == title)


def title_of(page: dict[str, Any]) -> str:
    prop = next(p for p in page["properties"].values() if p["type"] == "title")
    return "".join(t["plain_text"] for t in prop["title"])


def data_source_object(ident: str) -> dict[str, Any]:
    """A real data source object (with its schema) from the real search result.

    ``data_sources.retrieve`` answers with the same object (plus a ``request_id``).
    """
    return next(ds for ds in body(SEARCH)["results"] if ds["id"] == ident)


def query_list(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """A one-page query answer: the real last-page envelope (PAGE_2) around ``pages``."""
    envelope = body(PAGE_2)
    envelope["results"] = pages
    return envelope


def error_body(code: str, message: str, status: int) -> dict[str, Any]:
    """Notion's error object, from the real 400 body with code, status and message swapped."""
    error = body(BAD_REQUEST)
    error.update(status=status, code=code, message=message)
    return error


RATE_LIMITED = error_body(
    "rate_limited", "You have been rate limited. Please try again in a few minutes.", 429
)
SERVER_ERROR = error_body("internal_server_error", "Unexpected error occurred.", 500)
#: 529 with a code notion-client does not know: it raises UnknownHTTPResponseError.
OVERLOADED = error_body("service_overload", "Notion is overloaded; try again later.", 529)


# --- the fake Notion behind httpx.MockTransport -----------------------------------------


class FakeNotion:
    """Answers per (method, raw path) from queued answers and records every request.

    An answer is a JSON body (status 200) or ``(status, body)`` or
    ``(status, body, headers)``; the last answer of a route repeats. A request no
    route expects gets Notion's real ``invalid_request_url`` 400 and is listed in
    ``unexpected``.
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Any]] = {}
        self.requests: list[httpx.Request] = []
        self.unexpected: list[str] = []

    def on(self, method: str, path: str, *answers: Any) -> None:
        self.routes.setdefault((method, path), []).extend(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, path_of(request))
        queue = self.routes.get(key)
        if not queue:
            self.unexpected.append(" ".join(key))
            return httpx.Response(400, json=body(BAD_REQUEST))
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        status, content, headers = 200, answer, {}
        if isinstance(answer, tuple):
            status, content, *rest = answer
            headers = rest[0] if rest else {}
        return httpx.Response(status, json=content, headers=headers)

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and path_of(r) == path]

    def trail(self) -> list[tuple[str, str]]:
        return [(r.method, path_of(r)) for r in self.requests]


def path_of(request: httpx.Request) -> str:
    """The raw (still percent-encoded) path, without the query string."""
    return request.url.raw_path.decode().partition("?")[0]


def sent(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


@pytest.fixture
def notion(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNotion]:
    """The connector's own notion_client.Client, on a mock transport."""
    fake = FakeNotion()
    real = notion_client.Client
    opened: list[httpx.Client] = []

    def client(*args: Any, **kwargs: Any) -> Any:
        given = kwargs.pop("client", None)  # the connector's own httpx client: set aside
        if given is not None:
            given.close()
        opened.append(httpx.Client(transport=httpx.MockTransport(fake)))
        return real(*args, client=opened[-1], **kwargs)

    monkeypatch.setattr(notion_client, "Client", client)  # imported by the connector on use
    yield fake
    for http in opened:
        http.close()


@pytest.fixture
def sleeps() -> list[float]:
    """Retry waits the connector asked for (the injected sleep records instead of sleeping)."""
    return []


@pytest.fixture
def throttled() -> list[float]:
    """Waits the token bucket asked for, kept apart from the retry waits."""
    return []


@pytest.fixture
def make(
    monkeypatch: pytest.MonkeyPatch,
    notion: FakeNotion,
    sleeps: list[float],
    throttled: list[float],
) -> Callable[..., NotionConnector]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)

    def build(now: dt.datetime = NOW, **config: Any) -> NotionConnector:
        cfg = NotionConfig.model_validate(
            {"type": "notion", "token": "${" + TOKEN_ENV + "}", **config}
        )
        connector = NotionConnector("notion", cfg, sleep=sleeps.append, clock=lambda: now)
        # The bucket shares the connector's sleep; its waits are recorded on their own.
        connector.caller.bucket.sleep = throttled.append
        return connector

    return build


def serve_data_source(notion: FakeNotion, source: dict[str, Any], *queries: dict[str, Any]) -> None:
    """A data source named by its id: databases.retrieve answers the real 404, then the
    data source object, then the query pages."""
    ident = source["id"]
    notion.on("GET", f"/v1/databases/{ident}", (404, body(NOT_FOUND)))
    notion.on("GET", f"/v1/data_sources/{ident}", source)
    if queries:
        notion.on("POST", f"/v1/data_sources/{ident}/query", *queries)


# --- 1. property values on real pages ------------------------------------------------


def plain_values(page: dict[str, Any]) -> dict[str, Any]:
    return {name: plain(prop) for name, prop in page["properties"].items()}


def test_every_property_type_reads_plain_values() -> None:
    item_2, item_1 = rows(EVERY_TYPE)
    assert {p["type"] for p in item_2["properties"].values()} == {
        "title", "rich_text", "number", "select", "multi_select", "status", "date", "people",
        "files", "checkbox", "url", "email", "phone_number", "formula", "relation", "rollup",
        "created_time", "created_by", "last_edited_time", "last_edited_by", "unique_id",
        "button", "place",
    }  # fmt: skip
    empty = {
        "Files": None, "Phone number": None, "URL": None, "Button": None,
        "Multi-Select": [], "AI summary": "", "Created by": None, "AI custom": "",
        "AI key info": "", "Select": None, "Relation two-way": [], "Place": None,
        "Date": None, "Relation": [], "Email": None, "People": [], "Last edited by": None,
        "Rollup": 0.0,  # a count rollup over no pages
        "Formula": None,  # {"type": "string", "string": null}
        "Status": "Not started",
        "Created time": "2026-06-26T13:45:00.000Z",
        "Last edited time": "2026-06-26T13:45:00.000Z",
    }  # fmt: skip
    assert plain_values(item_2) == {
        **empty, "Title": "Item 2", "Text": "Text 2", "Number": 2.0, "Checkbox": True, "ID": "3",
    }  # fmt: skip
    assert plain_values(item_1) == {
        **empty, "Title": "Item 1", "Text": "Text 1", "Number": 1.0, "Checkbox": False, "ID": "2",
    }  # fmt: skip
    props = item_2["properties"]
    # Relations say whether the page object cut them off.
    assert props["Relation"]["has_more"] is False
    assert {name: number(props[name]) for name in ("Number", "Rollup", "Formula", "Text",
                                                   "Checkbox", "Status")} == {
        "Number": 2.0, "Rollup": 0.0, "Formula": None, "Text": None, "Checkbox": None,
        "Status": None,
    }  # fmt: skip
    assert date_range(props["Date"]) == (None, None)  # "date": null


def test_rollup_shapes_read_plain_values() -> None:
    item_3 = row(ROLLUPS, "Item 3")
    assert plain_values(item_3) == {
        "Title": "Item 3",
        "Number": 12.0,
        "Date": "2024-11-25T14:08:00.000+00:00",
        "Relation": [
            "38c9ce7b-60a4-81b2-981d-dcaa7d5acedf",
            "38c9ce7b-60a4-8132-a1bf-c4c7c89b39cd",
        ],
        "Rollup Number Array": [42.0, 72.0],  # show_original: type "array"
        "Rollup Date Array": ["2024-11-25T14:08:00.000+00:00", "1981-11-23T07:02:00.000+00:00"],
        "Rollup Title": ["Item 1", "Item 2"],
        "Rollup Date": "1981-11-23T07:02:00.000+00:00",  # earliest_date: type "date"
        "Rollup Number": 72.0,  # max: type "number"
    }
    props = item_3["properties"]
    assert number(props["Rollup Number"]) == 72.0
    assert number(props["Rollup Number Array"]) is None  # two related rows: no single value
    one = copy.deepcopy(props["Rollup Number Array"])  # in memory: over one related row
    one["rollup"]["array"] = one["rollup"]["array"][:1]
    assert number(one) == 42.0  # "show original" of one number is that number
    assert date_range(props["Date"]) == (None, dt.date(2024, 11, 25))  # a single date: the end

    item_1 = row(ROLLUPS, "Item 1")  # no related pages: the empty forms
    values = plain_values(item_1)
    assert {k: v for k, v in values.items() if k.startswith("Rollup")} == {
        "Rollup Number Array": [],
        "Rollup Date Array": [],
        "Rollup Title": [],
        "Rollup Date": None,
        "Rollup Number": None,
    }
    assert number(item_1["properties"]["Rollup Number"]) is None


def test_formula_shapes_read_plain_values() -> None:
    item_2, item_1 = row(FORMULAS, "Item 2"), row(FORMULAS, "Item 1")
    assert plain_values(item_2) == {
        "Name": "Item 2",
        "Date Source": "2024-11-25T14:08:00.000+00:00",
        "Tags": ["In Progress"],
        "Date": "2024-11-25T14:08:00.000+00:00",  # formula of type date
        "String": "Item 2",
        "Checkbox": False,  # formula of type boolean (not checkbox)
        "Number": 1.0,
    }
    assert plain_values(item_1)["Tags"] == ["Done", "In Progress"]
    assert plain_values(item_1)["Checkbox"] is True
    props = item_1["properties"]
    assert [number(props[n]) for n in ("Number", "String", "Checkbox", "Date")] == [
        2.0, None, None, None,
    ]  # fmt: skip


def test_relation_on_a_page_object_is_cut_at_25() -> None:
    prop = body(RELATION_PAGE)["properties"]["Items Purchased"]
    everything = [i["relation"]["id"] for i in body(RELATION_ITEMS)["results"]]

    assert prop["has_more"] is True
    assert plain(prop) == everything[:25]
    assert len(everything) == 30


def test_kr_period_from_a_formula_date(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    formula_db = body(FORMULA_SCHEMA)  # the real data_sources.retrieve of "Formula DB"
    serve_data_source(notion, formula_db, body(FORMULAS))
    connector = make(
        key_results=formula_db["id"],
        key_result_properties={"title": "Name", "current": "Number", "period": "Date"},
    )

    krs = {kr.title: kr for kr in connector.pull_okrs().key_results}

    assert krs["Item 2"].current == 1.0  # the formula number is read
    assert krs["Item 2"].period_end == dt.date(2024, 11, 25)  # the formula date is not


# --- 2. database → data source ---------------------------------------------------------


def test_database_id_resolves_to_its_only_data_source(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    notion.on("GET", f"/v1/databases/{SDK_DB_ID}", body(DB_RETRIEVE))
    connector = make(key_results=SDK_DB_ID)

    assert connector.data_source(SDK_DB_ID, "Key Results") == SDK_DB_SOURCE
    assert connector.data_source(SDK_DB_ID, "Key Results") == SDK_DB_SOURCE  # cached

    assert notion.trail() == [("GET", f"/v1/databases/{SDK_DB_ID}")]
    (request,) = notion.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"  # from the environment
    assert request.headers["Notion-Version"] == "2025-09-03"


def test_data_source_id_is_taken_after_the_database_404(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    source = body(DS_RETRIEVE)
    serve_data_source(notion, source)
    connector = make(key_results=source["id"])

    assert connector.data_source(source["id"], "Key Results") == source["id"]
    assert notion.trail() == [
        ("GET", f"/v1/databases/{source['id']}"),
        ("GET", f"/v1/data_sources/{source['id']}"),
    ]


def test_database_with_two_data_sources_asks_for_the_data_source_id(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    # The real database as created, with the second data source that the real
    # data_sources.create (DS_CREATE) then added to it: what a retrieve returns afterwards.
    database = body(DB_CREATE)
    second = body(DS_CREATE)
    assert second["parent"]["database_id"] == database["id"]
    name = "".join(t["plain_text"] for t in second["title"])
    database["data_sources"].append({"id": second["id"], "name": name})
    notion.on("GET", f"/v1/databases/{database['id']}", database)
    connector = make(key_results=database["id"])

    with pytest.raises(SourceError) as caught:
        connector.pull_okrs()

    text = str(caught.value)
    assert "has 2 data sources" in text
    assert database["data_sources"][0]["id"] in text
    assert second["id"] in text
    assert "put the data source id in the config" in text
    assert notion.trail() == [("GET", f"/v1/databases/{database['id']}")]  # nothing queried


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://www.notion.so/d231d54e042f42e6877e4192861f6fdf", id="recorded-url"),
        pytest.param(
            "https://www.notion.so/acme/New-database-d231d54e042f42e6877e4192861f6fdf"
            "?v=0f1c2b3a4d5e6f708192a3b4c5d6e7f8",
            id="workspace-title-and-view",
        ),
    ],
)
def test_notion_url_in_the_config_resolves_to_the_database_id(
    make: Callable[..., NotionConnector], notion: FakeNotion, url: str
) -> None:
    database = body(DB_110)
    assert database["id"] == DB_110_ID
    notion.on("GET", f"/v1/databases/{DB_110_ID}", database)
    connector = make(key_results=url)

    assert connector.data_source(url, "Key Results") == DS_110_ID
    assert notion.trail() == [("GET", f"/v1/databases/{DB_110_ID}")]


def test_app_notion_com_url_resolves_to_the_database_id(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    database = body(DB_RETRIEVE)
    url = database["url"]  # https://app.notion.com/p/e234cdc84ad24371a97e999a238bf8f5
    notion.on("GET", f"/v1/databases/{SDK_DB_ID}", database)
    connector = make(key_results=url)

    found = None
    with contextlib.suppress(SourceError):  # today: Notion's 400 on the URL sent as an id
        found = connector.data_source(url, "Key Results")

    assert notion.trail() == [("GET", f"/v1/databases/{SDK_DB_ID}")]
    assert found == SDK_DB_SOURCE


# --- 3. query paging over the real 110 rows ---------------------------------------------

QUERY_110 = f"/v1/data_sources/{DS_110_ID}/query"


def serve_110(notion: FakeNotion, *pages: dict[str, Any]) -> None:
    """The database of the 110 rows (its object as created: a retrieve returns the same
    object), its data source (from the real search) and the query pages given."""
    notion.on("GET", f"/v1/databases/{DB_110_ID}", body(DB_110))
    notion.on("GET", f"/v1/data_sources/{DS_110_ID}", data_source_object(DS_110_ID))
    notion.on("POST", QUERY_110, *pages)


def test_query_follows_the_real_cursor_over_two_pages(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    serve_110(notion, body(PAGE_1), body(PAGE_2))
    connector = make(key_results=body(DB_110)["url"])  # a URL, as users paste it

    tree = connector.pull_okrs()

    page_ids = [r["id"] for r in rows(PAGE_1) + rows(PAGE_2)]
    assert [kr.id for kr in tree.key_results] == page_ids  # 110, each once, in order
    assert len(set(page_ids)) == 110
    assert tree.key_results[0].title == "Page 110"
    posts = notion.calls("POST", QUERY_110)
    assert len(posts) == 2
    # Exactly the bodies recorded from the real API (page_size 100, then the cursor).
    assert [sent(p) for p in posts] == [
        payload(PAGE_1)["request"]["body"],
        payload(PAGE_2)["request"]["body"],
    ]
    assert sent(posts[1])["start_cursor"] == body(PAGE_1)["next_cursor"]
    assert notion.unexpected == []


def test_repeated_cursor_is_an_error(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    serve_110(notion, body(PAGE_1), body(PAGE_1))  # page 2 hands out page 1's cursor again
    connector = make(key_results=DB_110_ID)

    with pytest.raises(SourceError) as caught:
        connector.pull_okrs()

    assert "repeated a cursor" in str(caught.value)
    assert len(notion.calls("POST", QUERY_110)) == 2  # no loop


def test_incomplete_result_is_an_error(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    page = body(PAGE_1)
    page["request_status"] = {"type": "incomplete"}  # Notion cut the result short
    serve_110(notion, page)
    connector = make(key_results=DB_110_ID)

    with pytest.raises(SourceError) as caught:
        connector.pull_okrs()

    assert "cut the result short" in str(caught.value)
    assert len(notion.calls("POST", QUERY_110)) == 1


# --- 4. relations beyond 25 --------------------------------------------------------------


RELATION_ITEMS_PATH = payload(RELATION_ITEMS)["request"]["path"].partition("?")[0]


def customer_krs(
    make: Callable[..., NotionConnector], notion: FakeNotion, *items: Any
) -> NotionConnector:
    """The real page with 30 related pages (25 in the page object) as the only KR, its
    relation as the KR's initiatives; ``items`` answer the page-property endpoint."""
    page = body(RELATION_PAGE)
    source_id = page["parent"]["data_source_id"]
    # The page's data source: the "Customer DB" schema of the real search (the same test
    # database, recorded in another run), with this run's ids and relation property id.
    source = data_source_object("289fefe5-04c6-4116-9ba4-deba5d2d018e")
    source["id"] = source_id
    source["parent"]["database_id"] = page["parent"]["database_id"]
    source["properties"]["Items Purchased"]["id"] = page["properties"]["Items Purchased"]["id"]
    serve_data_source(notion, source, query_list([page]))
    notion.on("GET", RELATION_ITEMS_PATH, *items)
    return make(key_results=source_id, key_result_properties={"initiatives": "Items Purchased"})


def test_relation_with_has_more_is_read_in_full(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    connector = customer_krs(make, notion, body(RELATION_ITEMS))

    (kr,) = connector.pull_okrs().key_results

    (get,) = notion.calls("GET", RELATION_ITEMS_PATH)
    recorded = payload(RELATION_ITEMS)["request"]["path"]
    assert get.url.raw_path.decode() == recorded  # ?page_size=100, property id kept encoded
    everything = [i["relation"]["id"] for i in body(RELATION_ITEMS)["results"]]
    assert kr.id == body(RELATION_PAGE)["id"]
    assert kr.title == "Customer 1"
    assert [link.key for link in kr.links] == everything  # all 30, not the page's 25
    assert {link.source for link in kr.links} == {"notion"}
    assert notion.unexpected == []


def test_repeated_cursor_on_the_relation_endpoint_is_an_error(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    looping = body(RELATION_ITEMS)  # the real list, claiming more behind a cursor it repeats
    looping.update(has_more=True, next_cursor=body(PAGE_1)["next_cursor"])
    # The third answer only stops the loop this test would otherwise hang in.
    connector = customer_krs(make, notion, looping, looping, (400, body(BAD_REQUEST)))

    with pytest.raises(SourceError) as caught:
        connector.pull_okrs()

    assert "repeated a cursor" in str(caught.value)
    assert len(notion.calls("GET", RELATION_ITEMS_PATH)) == 2


# --- 5. errors -----------------------------------------------------------------------------


def test_401_is_an_auth_error_without_the_token(
    make: Callable[..., NotionConnector], notion: FakeNotion, sleeps: list[float]
) -> None:
    notion.on("GET", f"/v1/databases/{SDK_DB_ID}", (401, body(UNAUTHORIZED)))
    connector = make(key_results=SDK_DB_ID)

    with pytest.raises(AuthError) as caught:
        connector.pull_okrs()

    error = caught.value
    text = str(error)
    assert "unauthorized" in text
    assert "check" in text
    assert "token" in text
    rendered = "".join(traceback.format_exception(error))
    for secret in (TOKEN, "Bearer"):
        assert secret not in text
        assert secret not in rendered
        assert secret not in repr(error.args)
    assert error.__cause__ is None  # the notion-client error (it carries headers) is not chained
    assert error.__context__ is None
    (request,) = notion.requests  # not retried
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"  # the token was really sent
    assert sleeps == []


def test_404_on_the_database_explains_how_to_share_it(
    make: Callable[..., NotionConnector], notion: FakeNotion, sleeps: list[float]
) -> None:
    notion.on("GET", f"/v1/databases/{SDK_DB_ID}", (404, body(NOT_FOUND)))
    notion.on("GET", f"/v1/data_sources/{SDK_DB_ID}", (404, body(NOT_FOUND)))
    connector = make(key_results=SDK_DB_ID)

    with pytest.raises(SourceError) as caught:
        connector.pull_okrs()

    error = caught.value
    assert not isinstance(error, AuthError)
    text = str(error)
    assert "object_not_found" in text
    assert body(NOT_FOUND)["message"] in text  # Notion's own words
    assert "share it with the integration" in text
    assert "Connections" in text
    assert not error.retriable
    assert len(notion.requests) == 2  # the database, then the id as a data source
    assert sleeps == []


# --- pages of the real "All Properties DB", as Key Results --------------------------------

KR_NAMES = {"title": "Title", "progress": "Number", "status": "Status", "last_synced": "Date"}
ITEM_2 = RecordRef(kind="key_result", id="3")  # unique id 3, no prefix
PATCH_ITEM_2 = f"/v1/pages/{ITEM_2_PAGE}"
#: status.labels mapped onto the real options of the Status property.
MAPPED_LABELS = {**DEFAULT_STATUS_LABELS, Status.ON_TRACK: "In progress"}


def pull_krs(
    make: Callable[..., NotionConnector],
    notion: FakeNotion,
    names: dict[str, str] = KR_NAMES,
    *,
    source: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
    now: dt.datetime = NOW,
) -> tuple[NotionConnector, OkrTree]:
    source = source or data_source_object(ALL_PROPS_DS)
    serve_data_source(notion, source, query or body(EVERY_TYPE))
    connector = make(now=now, key_results=ALL_PROPS_DS, key_result_properties=names)
    tree = connector.pull_okrs()
    assert [kr.id for kr in tree.key_results] == ["3", "2"]
    return connector, tree


def outcome(
    tree: OkrTree,
    status: Status,
    *,
    labels: dict[Status, str] | None = None,
    progress: float = 0.42,
) -> Outcome:
    result = KrResult(
        kr_id="3", title="Item 2", measure="count", current=12.0, done=12.0, total=40.0,
        progress=progress, expected=0.55, status=status,
    )  # fmt: skip
    return Outcome(
        tree=tree, key_results=(result,), objectives=(), links=(),
        status_labels=labels or dict(DEFAULT_STATUS_LABELS), synced_on=NOW.date(),
    )  # fmt: skip


def updated(page: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """What PATCH answers: the real page, with the values sent."""
    page = copy.deepcopy(page)
    for name, value in properties.items():
        page["properties"][name].update(value)
    return page


def test_validation_error_on_patch_is_a_write_error_with_notions_message(
    make: Callable[..., NotionConnector], notion: FakeNotion, sleeps: list[float]
) -> None:
    connector, _ = pull_krs(make, notion)
    message = "Number is expected to be number."
    notion.on("PATCH", PATCH_ITEM_2, (400, error_body("validation_error", message, 400)))

    with pytest.raises(WriteError) as caught:
        connector.write_record(ITEM_2, {"progress": 0.42})

    assert message in str(caught.value)
    assert "rejected" in str(caught.value)
    assert len(notion.calls("PATCH", PATCH_ITEM_2)) == 1  # a 400 is not retried
    assert sleeps == []


def test_429_waits_what_retry_after_says(
    make: Callable[..., NotionConnector], notion: FakeNotion, sleeps: list[float]
) -> None:
    limited = (429, RATE_LIMITED, {"Retry-After": "3"})
    notion.on("GET", f"/v1/databases/{SDK_DB_ID}", limited, limited, body(DB_RETRIEVE))
    connector = make(key_results=SDK_DB_ID)

    assert connector.data_source(SDK_DB_ID, "Key Results") == SDK_DB_SOURCE

    assert sleeps == [3.0, 3.0]
    assert len(notion.requests) == 3


def test_500_on_a_patch_is_retried(
    make: Callable[..., NotionConnector], notion: FakeNotion, sleeps: list[float]
) -> None:
    connector, _ = pull_krs(make, notion)
    page = connector.pages[ITEM_2]
    notion.on(
        "PATCH", PATCH_ITEM_2, (500, SERVER_ERROR), updated(page, {"Number": {"number": 0.42}})
    )

    connector.write_record(ITEM_2, {"progress": 0.42})

    patches = notion.calls("PATCH", PATCH_ITEM_2)
    assert len(patches) == 2  # a PATCH sets values: safe to repeat
    assert sent(patches[0]) == sent(patches[1]) == {"properties": {"Number": {"number": 0.42}}}
    assert len(sleeps) == 1
    assert 0.0 < sleeps[0] <= 1.3  # no Retry-After: first backoff step, with jitter
    assert connector.read_records([ITEM_2])[ITEM_2]["progress"] == 0.42


def test_500_on_a_comment_post_is_not_retried(
    make: Callable[..., NotionConnector], notion: FakeNotion, sleeps: list[float]
) -> None:
    connector = comment_setup(make, notion, comments_with(None))
    notion.on("POST", "/v1/comments", (500, SERVER_ERROR), body(COMMENT))

    with pytest.raises(WriteError) as caught:
        connector.write_record(ITEM_2, {"status": "At risk"})

    assert "500" in str(caught.value)
    assert len(notion.calls("POST", "/v1/comments")) == 1  # it may have been posted
    assert notion.calls("PATCH", PATCH_ITEM_2) == []  # the status waits for the comment
    assert sleeps == []


def test_529_overload_is_retried(
    make: Callable[..., NotionConnector], notion: FakeNotion, sleeps: list[float]
) -> None:
    overloaded = (529, OVERLOADED)
    notion.on("GET", f"/v1/databases/{SDK_DB_ID}", overloaded, overloaded, body(DB_RETRIEVE))
    connector = make(key_results=SDK_DB_ID)
    with pytest.raises(UnknownHTTPResponseError):  # what notion-client makes of a 529
        connector.client().databases.retrieve(SDK_DB_ID)

    assert connector.data_source(SDK_DB_ID, "Key Results") == SDK_DB_SOURCE

    assert len(notion.requests) == 3  # the bare call, then a 529 and the retry
    assert len(sleeps) == 1


def test_529_on_a_comment_post_is_retried(
    make: Callable[..., NotionConnector], notion: FakeNotion, sleeps: list[float]
) -> None:
    notion.on("POST", "/v1/comments", (529, OVERLOADED), body(COMMENT))
    connector = make(key_results=ALL_PROPS_DS)
    request = payload(COMMENT)["request"]["body"]

    created = connector.caller.call(
        "comment", connector.client().comments.create, idempotent=False, write=True, **request
    )

    assert created["id"] == body(COMMENT)["id"]
    posts = notion.calls("POST", "/v1/comments")
    assert len(posts) == 2  # refused before any work: safe to repeat even a POST
    assert sent(posts[0]) == sent(posts[1]) == request
    assert len(sleeps) == 1


# --- 6. throttle ---------------------------------------------------------------------------


class Clock:
    """A monotonic clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_token_bucket_spreads_ten_calls_at_2_5_per_second() -> None:
    clock = Clock()
    bucket = TokenBucket(2.5, burst=3, clock=clock, sleep=clock.sleep)

    for _ in range(10):
        bucket.acquire()

    assert sum(clock.waits) == pytest.approx((10 - 3) / 2.5)
    assert clock.waits == pytest.approx([0.4] * 7)  # the burst of 3 goes at once
    assert bucket.waited == pytest.approx(2.8)


def test_token_bucket_refills_no_more_than_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(2.5, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        bucket.acquire()
    clock.now += 3600  # an hour idle

    for _ in range(5):
        bucket.acquire()

    assert clock.waits == pytest.approx([0.4, 0.4])


def test_every_attempt_takes_a_token(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    connector = make(key_results=SDK_DB_ID, requests_per_second=2.5)
    clock = Clock()
    bucket = connector.caller.bucket
    assert (bucket.rate, bucket.burst) == (2.5, 3)
    connector.caller.bucket = TokenBucket(2.5, burst=3, clock=clock, sleep=clock.sleep)
    limited = (429, RATE_LIMITED, {"Retry-After": "0"})
    notion.on("GET", f"/v1/databases/{SDK_DB_ID}", limited, body(DB_RETRIEVE))

    for _ in range(9):  # the first call is retried once: 10 requests
        connector.caller.call("read", connector.client().databases.retrieve, SDK_DB_ID)

    assert len(notion.requests) == 10
    assert sum(clock.waits) == pytest.approx((10 - 3) / 2.5)


# --- 7. writing ----------------------------------------------------------------------------


def test_one_patch_carries_every_changed_property_in_notions_shapes(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    connector, tree = pull_krs(make, notion)
    spec = WriteSpec(key_results=("progress", "status", "last_synced"))

    (record,) = connector.desired_records(
        outcome(tree, Status.ON_TRACK, labels=MAPPED_LABELS), spec
    )
    before = connector.read_records([ITEM_2])[ITEM_2]

    assert record.ref == ITEM_2
    assert record.fields == {"progress": 0.42, "status": "In progress", "last_synced": "2024-05-06"}
    assert before == {"progress": 2.0, "status": "Not started", "last_synced": None}
    assert connector.plan_notes == []
    properties = {
        "Number": {"number": 0.42},  # a 0..1 fraction: a percent format shows 42 %
        "Status": {"status": {"name": "In progress"}},
        "Date": {"date": {"start": "2024-05-06"}},
    }
    notion.on("PATCH", PATCH_ITEM_2, updated(connector.pages[ITEM_2], properties))
    pulled = len(notion.requests)

    connector.write_record(ITEM_2, record.fields)

    assert notion.trail()[pulled:] == [("PATCH", PATCH_ITEM_2)]  # one request, no comment
    assert sent(notion.requests[-1]) == {"properties": properties}
    assert connector.read_records([ITEM_2])[ITEM_2] == record.fields  # the answer is kept


def test_status_select_is_written_as_a_select(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    # The real schema with Status retyped as a select holding the same options, and the
    # page's value in select form: "Status" may be a select (go by type, not by name).
    source = data_source_object(ALL_PROPS_DS)
    status = source["properties"]["Status"]
    status["select"] = {"options": status.pop("status")["options"]}
    status["type"] = "select"
    query = body(EVERY_TYPE)
    for page in query["results"]:
        value = page["properties"]["Status"]
        value["select"] = value.pop("status")
        value["type"] = "select"
    connector, tree = pull_krs(make, notion, source=source, query=query)
    spec = WriteSpec(key_results=("status",))

    (record,) = connector.desired_records(
        outcome(tree, Status.ON_TRACK, labels=MAPPED_LABELS), spec
    )
    assert connector.read_records([ITEM_2])[ITEM_2]["status"] == "Not started"
    notion.on("PATCH", PATCH_ITEM_2, connector.pages[ITEM_2])
    connector.write_record(ITEM_2, record.fields)

    assert sent(notion.requests[-1]) == {
        "properties": {"Status": {"select": {"name": "In progress"}}}
    }


def test_formula_progress_is_left_to_notion_and_the_plan_says_so(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    names = {"title": "Title", "progress": "Formula", "current": "Number", "status": "Status"}
    connector, tree = pull_krs(make, notion, names)
    spec = WriteSpec(key_results=("progress", "current", "status"))

    (record,) = connector.desired_records(
        outcome(tree, Status.ON_TRACK, labels=MAPPED_LABELS), spec
    )

    assert record.fields == {"current": 12.0, "status": "In progress"}  # no progress
    (note,) = connector.plan_notes
    assert "'Formula' is a formula" in note
    assert "progress" in note
    properties = {"Number": {"number": 12.0}, "Status": {"status": {"name": "In progress"}}}
    notion.on("PATCH", PATCH_ITEM_2, updated(connector.pages[ITEM_2], properties))

    connector.write_record(ITEM_2, record.fields)

    assert sent(notion.calls("PATCH", PATCH_ITEM_2)[0]) == {"properties": properties}


def test_unknown_status_label_stops_before_any_request(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    connector, tree = pull_krs(make, notion)
    pulled = len(notion.requests)
    spec = WriteSpec(key_results=("progress", "status", "last_synced"))

    with pytest.raises(WriteError) as caught:  # "At risk" is no option of the real Status
        connector.desired_records(outcome(tree, Status.AT_RISK), spec)

    text = str(caught.value)
    assert "'At risk'" in text
    assert "Not started, In progress, Done" in text  # the options it has
    assert "nothing was written" in text
    assert len(notion.requests) == pulled
    assert notion.calls("PATCH", PATCH_ITEM_2) == []


# --- check-in comments --------------------------------------------------------------------

MARKER = "[okr-sync:3:On track→At risk]"
CHECK_IN = f"At risk: 12 of 40 items done, 30 % against 55 % of the period elapsed {MARKER}"


def okr_status_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The real schema and rows with "On track" and "At risk" added to Status's options
    (as a team adds them in Notion), and "Item 2" set to "On track"."""
    source = data_source_object(ALL_PROPS_DS)
    options = source["properties"]["Status"]["status"]["options"]
    on_track = {"id": "0b6a1a57-6a43-4f57-9a6c-0a1f5e0d1c01", "name": "On track",
                "color": "green", "description": None}  # fmt: skip
    at_risk = {"id": "0b6a1a57-6a43-4f57-9a6c-0a1f5e0d1c02", "name": "At risk",
               "color": "yellow", "description": None}  # fmt: skip
    options += [on_track, at_risk]
    query = body(EVERY_TYPE)
    item_2 = next(p for p in query["results"] if p["id"] == ITEM_2_PAGE)
    item_2["properties"]["Status"]["status"] = {k: on_track[k] for k in ("id", "name", "color")}
    return source, query


def comments_with(text: str | None) -> dict[str, Any]:
    """GET /v1/comments: a list holding the real comment (on this page), plus one with
    ``text`` when given."""
    comment = body(COMMENT)
    del comment["request_id"]
    comment["parent"]["page_id"] = ITEM_2_PAGE
    comments = [comment]
    if text is not None:
        extra = copy.deepcopy(comment)
        extra["rich_text"][0]["text"]["content"] = extra["rich_text"][0]["plain_text"] = text
        # posted by an earlier attempt, after the page's status last changed
        extra["created_time"] = "2030-01-01T00:00:00.000Z"
        comments.append(extra)
    listed = query_list(comments)
    listed["type"] = "comment"
    listed["comment"] = listed.pop("page_or_data_source")
    return listed


def comment_setup(
    make: Callable[..., NotionConnector],
    notion: FakeNotion,
    comments: dict[str, Any],
    now: dt.datetime = NOW,
) -> NotionConnector:
    """KRs pulled, "Item 2" is On track; the run wants it At risk, with a comment."""
    source, query = okr_status_schema()
    connector, tree = pull_krs(make, notion, source=source, query=query, now=now)
    spec = WriteSpec(key_results=("progress", "status", "comment"))
    (record,) = connector.desired_records(outcome(tree, Status.AT_RISK, progress=0.3), spec)
    assert record.fields == {"progress": 0.3, "status": "At risk"}
    assert connector.read_records([ITEM_2])[ITEM_2]["status"] == "On track"
    notion.on("GET", "/v1/comments", comments)
    notion.on("PATCH", PATCH_ITEM_2, connector.pages[ITEM_2])
    return connector


def test_status_change_posts_one_check_in_comment(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    connector = comment_setup(make, notion, comments_with(None))
    notion.on("POST", "/v1/comments", body(COMMENT))
    pulled = len(notion.requests)

    connector.write_record(ITEM_2, {"progress": 0.3, "status": "At risk"})

    assert notion.trail()[pulled:] == [
        ("GET", "/v1/comments"),
        ("POST", "/v1/comments"),
        ("PATCH", PATCH_ITEM_2),  # the status after the comment
    ]
    listing, post, patch = notion.requests[pulled:]
    assert dict(listing.url.params) == {"block_id": ITEM_2_PAGE, "page_size": "100"}
    assert sent(post) == {
        "parent": {"page_id": ITEM_2_PAGE},
        "rich_text": [{"type": "text", "text": {"content": CHECK_IN}}],
    }
    assert sent(patch) == {
        "properties": {"Number": {"number": 0.3}, "Status": {"status": {"name": "At risk"}}}
    }


def test_marker_already_there_posts_nothing(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    # An earlier attempt posted the comment and died before the PATCH.
    connector = comment_setup(make, notion, comments_with(CHECK_IN))
    pulled = len(notion.requests)

    connector.write_record(ITEM_2, {"progress": 0.3, "status": "At risk"})

    assert notion.trail()[pulled:] == [("GET", "/v1/comments"), ("PATCH", PATCH_ITEM_2)]


def test_rerun_next_day_does_not_post_the_comment_again(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    # Yesterday's run posted CHECK_IN and died before its PATCH: the page still says
    # "On track", and today's run makes the same change.
    tomorrow = NOW + dt.timedelta(days=1)
    connector = comment_setup(make, notion, comments_with(CHECK_IN), now=tomorrow)
    notion.on("POST", "/v1/comments", body(COMMENT))

    connector.write_record(ITEM_2, {"progress": 0.3, "status": "At risk"})

    assert notion.calls("POST", "/v1/comments") == []


def comments_listed(*texts: tuple[str, str]) -> dict[str, Any]:
    """GET /v1/comments: the real comment, then one per ``(text, created_time)``, oldest first."""
    listed = comments_with(None)
    for text, created in texts:
        extra = copy.deepcopy(listed["results"][0])
        extra["rich_text"][0]["text"]["content"] = extra["rich_text"][0]["plain_text"] = text
        extra["created_time"] = created
        listed["results"].append(extra)
    return listed


def test_a_check_in_posted_before_a_human_edit_is_not_posted_again(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    # An attempt posted CHECK_IN and its PATCH failed; then a human edited the page
    # (its last_edited_time, 2026-06-26 in the recording, is after the comment).
    connector = comment_setup(make, notion, comments_listed((CHECK_IN, "2026-01-05T10:00:00.000Z")))
    assert str(connector.pages[ITEM_2]["last_edited_time"]) > "2026-01-05"
    notion.on("POST", "/v1/comments", body(COMMENT))

    connector.write_record(ITEM_2, {"progress": 0.3, "status": "At risk"})

    assert notion.calls("POST", "/v1/comments") == []
    assert len(notion.calls("PATCH", PATCH_ITEM_2)) == 1


def test_the_same_change_after_another_check_in_is_announced_again(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    # On track → At risk, later At risk → On track, and now On track → At risk again.
    back = "On track: 30 of 40 items done, 75 % against 60 % of the period elapsed [okr-sync:3:At risk→On track]"
    listed = comments_listed(
        (CHECK_IN, "2030-01-01T00:00:00.000Z"), (back, "2030-02-01T00:00:00.000Z")
    )
    connector = comment_setup(make, notion, listed)
    notion.on("POST", "/v1/comments", body(COMMENT))

    connector.write_record(ITEM_2, {"progress": 0.3, "status": "At risk"})

    (post,) = notion.calls("POST", "/v1/comments")
    assert sent(post)["rich_text"][0]["text"]["content"] == CHECK_IN


def test_an_item_pull_reads_the_schema_then_every_row_and_never_counts_a_trashed_one(
    make: Callable[..., NotionConnector], notion: FakeNotion
) -> None:
    query = body(EVERY_TYPE)
    query["results"][1]["in_trash"] = True  # as a fake Notion might list it
    serve_data_source(notion, data_source_object(ALL_PROPS_DS), query)
    connector = make(items=[{"database": ALL_PROPS_DS}])

    result = connector.pull_items(PullRequest())

    assert [i.key for i in result.items] == [ITEM_2_PAGE]
    assert not result.incremental and result.cursor is None  # always in full
    (post,) = notion.calls("POST", f"/v1/data_sources/{ALL_PROPS_DS}/query")
    assert sent(post) == {
        "sorts": [{"timestamp": "created_time", "direction": "ascending"}],
        "page_size": 100,
    }
