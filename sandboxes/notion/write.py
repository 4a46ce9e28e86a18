"""Page property writes (``PATCH /v1/pages/{id}``, ``POST /v1/pages``), validated like Notion.

Keys are property names or ids. Refusals are 400 ``validation_error``: an unknown
property (``"X is not a property that exists."``), a value for a computed type
(formula, rollup, unique_id, created_*/last_edited_*: Notion's "body failed
validation. Fix one: ..." list), a value of the wrong type (``"X is expected to be
number."``), a status name the schema lacks (status options cannot be created
through the API), and the size limits (100 items per array, 2000 characters per
text run). An unknown select or multi_select name creates the option, as Notion
does. All values are checked before any is stored.
"""

from __future__ import annotations

from typing import Any

from sandboxes.notion.http import shown, validation
from sandboxes.notion.model import (
    READ_ONLY_TYPES,
    WRITABLE_TYPES,
    DataSource,
    DateValue,
    Option,
    PropertyDef,
    normalize_id,
)
from sandboxes.notion.store import NotionStore
from sandboxes.notion.values import MAX_TEXT, parse_date, plain_text, text_run

_LIMITS = {"url": 2000, "email": 200, "phone_number": 200}


def convert_properties(
    store: NotionStore, ds: DataSource, properties: Any
) -> list[tuple[PropertyDef, Any]]:
    """Validate a ``properties`` body and return ``(property, internal value)`` pairs."""
    if not isinstance(properties, dict):
        raise validation(
            f"body failed validation: body.properties should be an object, instead was {shown(properties)}."
        )
    out: list[tuple[PropertyDef, Any]] = []
    created: list[tuple[PropertyDef, Option]] = []
    try:
        for key, value in properties.items():
            prop = ds.find(key)
            if prop is None:
                raise validation(f"{key} is not a property that exists.")
            out.append((prop, _convert(store, prop, value, f"body.properties.{key}", created)))
    except Exception:
        # Options made for a refused request must not linger in the schema.
        for prop, option in created:
            prop.options.remove(option)
        raise
    return out


def _type_key(prop: PropertyDef, value: Any, path: str) -> str:
    if not isinstance(value, dict):
        raise validation(
            f"body failed validation: {path} should be an object, instead was {shown(value)}."
        )
    keys = [k for k in value if k in WRITABLE_TYPES]
    declared = value.get("type")
    if isinstance(declared, str) and declared in WRITABLE_TYPES and declared in value:
        keys = [declared]
    if len(keys) != 1:
        lines = "\n".join(
            f"{path}.{kind} should be defined, instead was `undefined`." for kind in WRITABLE_TYPES
        )
        raise validation(f"body failed validation. Fix one:\n{lines}")
    key = str(keys[0])
    if key != prop.type or prop.type in READ_ONLY_TYPES:
        raise validation(f"{prop.name} is expected to be {prop.type}.")
    return key


def _convert(
    store: NotionStore,
    prop: PropertyDef,
    value: Any,
    path: str,
    created: list[tuple[PropertyDef, Option]],
) -> Any:
    kind = _type_key(prop, value, path)
    data = value[kind]
    path = f"{path}.{kind}"
    if kind in ("title", "rich_text"):
        return rich_text_input(store, data, path)
    if kind == "number":
        if data is not None and (isinstance(data, bool) or not isinstance(data, int | float)):
            raise validation(
                f"body failed validation: {path} should be a number or `null`, instead was {shown(data)}."
            )
        return data
    if kind in ("select", "status"):
        if data is None:
            return None
        return _option(store, prop, data, path, created).id
    if kind == "multi_select":
        items = _array(data, path)
        ids = [
            _option(store, prop, item, f"{path}[{i}]", created).id for i, item in enumerate(items)
        ]
        return list(dict.fromkeys(ids))
    if kind == "date":
        return _date(data, path)
    if kind == "checkbox":
        if not isinstance(data, bool):
            raise validation(
                f"body failed validation: {path} should be a boolean, instead was {shown(data)}."
            )
        return data
    if kind in _LIMITS:
        if data is None:
            return None
        if not isinstance(data, str) or not data or len(data) > _LIMITS[kind]:
            raise validation(
                f"body failed validation: {path} should be a non-empty string of at most "
                f"{_LIMITS[kind]} characters or `null`, instead was {shown(data)}."
            )
        return data
    if kind == "relation":
        return _relation(store, prop, _array(data, path), path)
    if kind == "people":
        return _people(store, _array(data, path), path)
    return list(_array(data, path))  # files: stored as sent


def _array(data: Any, path: str) -> list[Any]:
    if not isinstance(data, list):
        raise validation(
            f"body failed validation: {path} should be an array, instead was {shown(data)}."
        )
    if len(data) > 100:
        raise validation(
            f"body failed validation: {path}.length should be ≤ `100`, instead was `{len(data)}`."
        )
    return data


def _option(
    store: NotionStore,
    prop: PropertyDef,
    data: Any,
    path: str,
    created: list[tuple[PropertyDef, Option]],
) -> Option:
    if not isinstance(data, dict) or not (data.get("name") or data.get("id")):
        raise validation(
            f"body failed validation: {path}.name should be defined, instead was `undefined`."
        )
    if data.get("id"):
        found = prop.option_by_id(str(data["id"]))
        if found is None:
            raise validation(f"Invalid select option id for property {prop.name}: {data['id']}")
        return found
    name = data["name"]
    if not isinstance(name, str):
        raise validation(
            f"body failed validation: {path}.name should be a string, instead was {shown(name)}."
        )
    found = prop.option_by_name(name)
    if found is not None:
        return found
    if prop.type == "status":
        allowed = ", ".join(f"'{o.name}'" for o in prop.options)
        raise validation(
            f"Invalid status value for property '{prop.name}': '{name}'. "
            f"Value must be one of the following: {allowed}."
        )
    if "," in name:
        raise validation(f"Select option names cannot contain commas: {name!r}.")
    option = store.option(prop, name, True)
    if isinstance(data.get("color"), str):
        option.color = data["color"]
    created.append((prop, option))
    return option


def _date(data: Any, path: str) -> DateValue | None:
    if data is None:
        return None
    if not isinstance(data, dict) or "start" not in data:
        raise validation(
            f"body failed validation: {path}.start should be defined, instead was `undefined`."
        )
    zone = data.get("time_zone")
    try:
        start = parse_date(str(data["start"]), zone)
        end = data.get("end")
        return DateValue(start, None if end is None else parse_date(str(end), zone))
    except ValueError:
        raise validation(
            f"body failed validation: {path}.start should be a valid ISO 8601 date string, "
            f"instead was {shown(data.get('start'))}."
        ) from None


def _relation(store: NotionStore, prop: PropertyDef, items: list[Any], path: str) -> list[str]:
    target = prop.config["data_source_id"]
    ids: list[str] = []
    for i, item in enumerate(items):
        raw = item.get("id") if isinstance(item, dict) else None
        page_id = normalize_id(raw) if isinstance(raw, str) else None
        if page_id is None:
            raise validation(
                f"body failed validation: {path}[{i}].id should be a valid uuid, instead was {shown(raw)}."
            )
        page = store.pages.get(page_id)
        if page is None or page.data_source_id != target or page.in_trash:
            raise validation(
                f"Relation property {prop.name} can only point to pages of its related data "
                f"source; {page_id} is not one."
            )
        ids.append(page_id)
    return list(dict.fromkeys(ids))


def _people(store: NotionStore, items: list[Any], path: str) -> list[str]:
    ids: list[str] = []
    for i, item in enumerate(items):
        raw = item.get("id") if isinstance(item, dict) else None
        user_id = normalize_id(raw) if isinstance(raw, str) else None
        if user_id is None or user_id not in store.users:
            raise validation(
                f"body failed validation: {path}[{i}].id should be the id of a user, instead was {shown(raw)}."
            )
        ids.append(user_id)
    return list(dict.fromkeys(ids))


def rich_text_input(store: NotionStore, data: Any, path: str) -> list[dict[str, Any]]:
    """Rich text sent by a client, completed the way Notion returns it."""
    runs: list[dict[str, Any]] = []
    for i, item in enumerate(_array(data, path)):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            raise validation(
                f"body failed validation: {where} should be an object, instead was {shown(item)}."
            )
        annotations = item.get("annotations") if isinstance(item.get("annotations"), dict) else {}
        if "text" in item:
            text = item["text"]
            content = text.get("content") if isinstance(text, dict) else None
            if not isinstance(content, str):
                raise validation(
                    f"body failed validation: {where}.text.content should be a string, instead was {shown(content)}."
                )
            if len(content) > MAX_TEXT:
                raise validation(
                    f"body failed validation: {where}.text.content.length should be ≤ `{MAX_TEXT}`, "
                    f"instead was `{len(content)}`."
                )
            link = text.get("link")
            url = link.get("url") if isinstance(link, dict) else None
            runs.append(text_run(content, url, annotations))
        elif isinstance(item.get("equation"), dict):
            expression = str(item["equation"].get("expression", ""))
            runs.append(_run("equation", {"expression": expression}, expression, annotations))
        elif isinstance(item.get("mention"), dict):
            runs.append(_mention(store, item["mention"], annotations, where))
        else:
            raise validation(
                f"body failed validation: {where}.text should be defined, instead was `undefined`."
            )
    return runs


def _mention(
    store: NotionStore, mention: dict[str, Any], annotations: Any, where: str
) -> dict[str, Any]:
    kind = mention.get("type") or next((k for k in ("user", "page", "date") if k in mention), None)
    target = mention.get(kind) if isinstance(kind, str) else None
    if kind == "user" and isinstance(target, dict) and target.get("id") in store.users:
        user = store.users[target["id"]]
        body: dict[str, Any] = {"type": "user", "user": {"object": "user", "id": user.id}}
        shown_text = f"@{user.name}"
    elif kind == "page" and isinstance(target, dict) and store.page(str(target.get("id"))):
        page = store.page(str(target["id"]))
        assert page is not None
        ds = store.ds_of(page)
        body = {"type": "page", "page": {"id": page.id}}
        shown_text = plain_text(page.values.get(ds.title_property().id, [])) or "Untitled"
    else:
        raise validation(
            f"body failed validation: {where}.mention should be a user or page mention."
        )
    return _run("mention", body, shown_text, annotations)


def _run(kind: str, body: dict[str, Any], plain: str, annotations: Any) -> dict[str, Any]:
    base = text_run(plain, None, annotations)
    return {
        "type": kind,
        kind: body,
        "annotations": base["annotations"],
        "plain_text": plain,
        "href": None,
    }
