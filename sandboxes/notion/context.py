"""What a Notion handler is given: the store, the capabilities, faults and renderers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sandboxes.messages import ApiResponse
from sandboxes.notion.faults import NotionFaultPlan
from sandboxes.notion.http import NotionError, NotionRequest
from sandboxes.notion.render import NotionRenderer
from sandboxes.notion.store import NotionStore


@dataclass
class NotionContext:
    """Everything a handler may use."""

    store: NotionStore
    base_url: str
    capabilities: set[str]
    make_renderer: Callable[[str], NotionRenderer]
    faults: NotionFaultPlan | None = None  # paging quirks for query handlers
    max_page_size: int = 100  # a query or comment list page holds at most this many

    def renderer(self, req: NotionRequest) -> NotionRenderer:
        """A renderer for the request's API version."""
        return self.make_renderer(req.version)

    def not_found(self, kind: str, object_id: str) -> NotionError:
        """404 ``object_not_found`` with Notion's "not shared" hint (also for unshared)."""
        bot = self.store.bot
        return NotionError(
            404,
            "object_not_found",
            f"Could not find {kind} with ID: {object_id}. Make sure the relevant pages and "
            f'databases are shared with your integration "{bot.name}".',
            {"integration_id": bot.id},
        )

    def require(self, capability: str) -> None:
        """403 ``restricted_resource`` when the integration lacks ``capability``."""
        if capability not in self.capabilities:
            raise NotionError(
                403,
                "restricted_resource",
                "Insufficient permissions for this endpoint.",
            )


NotionHandler = Callable[[NotionContext, NotionRequest], ApiResponse]
