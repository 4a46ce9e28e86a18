"""Run an action around one request a sandbox receives, before it is handled or after.

The fault plans' own ``on_request`` hooks fire before a request is handled and
match endpoint templates; the crash and conflict tests also need "after the
service applied it, before the answer left" (a lost answer) and a concrete page
id in the path, so they wrap the server's ``handle`` instead.
"""

from __future__ import annotations

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
