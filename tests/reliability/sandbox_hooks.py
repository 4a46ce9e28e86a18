"""Run an action around one request a sandbox receives; save and restore what a sandbox holds.

The fault plans' own ``on_request`` hooks fire before a request is handled and
match endpoint templates; the crash and conflict tests also need "after the
service applied it, before the answer left" (a lost answer) and a concrete page
id in the path, so they wrap the server's ``handle`` instead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any


def around_request(
    sandbox: Any,
    method: str,
    action: Callable[[], object],
    *,
    path_part: str = "",
    nth: int = 1,
    answered: bool = False,
) -> Callable[[], None]:
    """Run ``action`` once, at the ``nth`` ``method`` request whose path holds ``path_part``.

    ``answered=False``: before the sandbox handles it; ``True``: after it was
    applied, before the answer is sent. Returns a function that removes the hook.
    Dashes are ignored when matching (Notion ids appear with and without them).
    """
    server = sandbox._server
    original = server.handle
    part = path_part.replace("-", "")
    seen = [0]

    def handle(request: Any) -> Any:
        hit = False
        if request.method == method and part in request.path.replace("-", ""):
            seen[0] += 1
            hit = seen[0] == nth
        if hit and not answered:
            action()
        response = original(request)
        if hit and answered:
            action()
        return response

    server.handle = handle

    def remove() -> None:
        del server.handle  # back to the class's method

    return remove


def on_every_request(sandbox: Any, action: Callable[[], object]) -> Callable[[], None]:
    """Run ``action`` as each request arrives, before it is handled; returns the remover."""
    server = sandbox._server
    original = server.handle

    def handle(request: Any) -> Any:
        action()
        return original(request)

    server.handle = handle

    def remove() -> None:
        del server.handle  # back to the class's method

    return remove


#: What a sandbox's store shares rather than holds: its lock and the clock it reads.
_NOT_STATE = frozenset({"lock", "_clock"})


def sandbox_state(sandbox: Any) -> dict[str, Any]:
    """A copy of everything a Jira or Notion sandbox's store holds (for :func:`restore_sandbox`).

    Issues, pages, comments, history, id counters, the Notion id generator's state:
    the store's attributes, deep-copied under its lock so that no request is half-way.
    """
    store = sandbox.store
    with store.lock:
        return copy.deepcopy({k: v for k, v in vars(store).items() if k not in _NOT_STATE})


def restore_sandbox(sandbox: Any, state: dict[str, Any]) -> None:
    """Put back what :func:`sandbox_state` copied; the sandbox answers as it did then.

    Taking the Jira store's lock moves its version, so no cached search outlives this.
    """
    store = sandbox.store
    with store.lock:
        vars(store).update(copy.deepcopy(state))
