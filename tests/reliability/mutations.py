"""Hypothesis strategies and helpers shared by the fuzz tests: odd values and mutated documents."""

from __future__ import annotations

import copy
import datetime as dt
import math
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Fuzz tests are derandomized (CI sees the same examples every run) and kept small.
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: Text that trips careless code: RTL, combining marks, emoji, references, long runs.
ODD_TEXT = st.sampled_from(
    ["", " ", "\u200f\u05e9\u05dc\u05d5\u05dd", "e\u0301\u0301\u0301", "🚀🔥", "${UNSET_FUZZ_VAR}",
     "${}", "ntn_" + "a" * 40, "~", "null", "yes", "NaN", "Infinity", "1e999", "-0", "12,5%",
     "*/30 * * * *", "x" * 5_000]
)  # fmt: skip

#: Numbers and empties that trip careless code (a JSON decoder gives NaN, ±inf and 1e999 too).
EDGES = st.sampled_from(
    [math.inf, -math.inf, math.nan, 1e308, -1e308, 10**400, -(10**400), 2**63, -1, 0, -0.0,
     1e-300, "", None, True, False, "🚀", [], {}]
)  # fmt: skip

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    ODD_TEXT,
    EDGES,
)


def documents(keys: st.SearchStrategy[Any], *, dates: bool = False) -> st.SearchStrategy[Any]:
    """Nested dicts and lists of odd scalars (with dates, for YAML)."""
    leaves = st.one_of(SCALARS, st.dates(min_value=dt.date(1, 1, 1))) if dates else SCALARS
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)
        ),
        max_leaves=30,
    )


def paths_of(data: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    out = [at] if at else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += paths_of(value, (*at, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += paths_of(value, (*at, index))
    return out


def scalar_paths(data: Any) -> list[tuple[Any, ...]]:
    """Paths to the values that are neither dicts nor lists."""
    return [p for p in paths_of(data) if not isinstance(value_at(data, p), dict | list)]


def value_at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> None:
    """Drop the value at ``path``, replace it, or insert ``value`` into it (in place)."""
    parent = value_at(data, path[:-1])
    last = path[-1]
    if action == "drop":
        del parent[last]
    elif action == "insert" and isinstance(parent[last], dict):
        parent[last][value if isinstance(value, str) else "extra"] = value
    elif action == "insert" and isinstance(parent[last], list):
        parent[last].append(value)
    else:
        parent[last] = value


@st.composite
def mutated(draw: st.DrawFn, base: Any, values: st.SearchStrategy[Any]) -> Any:
    """``base`` after one to three mutations: a value dropped, replaced or inserted."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = paths_of(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["drop", "replace", "insert"]))
        # A fresh copy: sampled values are shared objects, and inserting into one
        # that is already in the document would make it contain itself.
        mutate(data, path, action, copy.deepcopy(draw(values)))
    return data
