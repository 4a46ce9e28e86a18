"""What a Jira handler is given: the site, its store, faults, page tokens and renderers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sandboxes.jira.faults import FaultPlan
from sandboxes.jira.http import ApiRequest, ApiResponse, SiteConfig
from sandboxes.jira.page_tokens import PageTokens
from sandboxes.jira.render import Renderer
from sandboxes.jira.store import JiraStore


@dataclass
class ApiContext:
    """Everything a handler may use."""

    site: SiteConfig
    store: JiraStore
    faults: FaultPlan
    tokens: PageTokens
    base_url: str
    make_renderer: Callable[[str], Renderer]

    def renderer(self, req: ApiRequest) -> Renderer:
        """A renderer for the request's REST version."""
        return self.make_renderer(req.version)


Handler = Callable[[ApiContext, ApiRequest], ApiResponse]
