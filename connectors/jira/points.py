"""Which field holds a project's story points: the one its boards estimate by, as Jira does.

A site often carries two story-point fields: "Story point estimate" (Jira Software's
``jsw-story-points``, used by team-managed projects and newer boards) and "Story Points"
(a number field of company-managed and older setups), and issues may hold a value in
either, or in both. Jira itself shows, per board, the field of the board's estimation
setting (``GET /rest/agile/1.0/board/{id}/configuration`` → ``estimation.field.fieldId``;
the boards of a project come from ``GET /rest/agile/1.0/board?projectKeyOrId=…``, paged
by ``startAt``, 50 per page on Cloud). So, per project, never mixed within it:

1. ``story_points_field`` when the connection sets one (then no board is asked);
2. else the estimation field of the project's boards (boards located in the project
   first), when they name one story-point field;
3. else the one story-point field the project's issues use; issues whose fields
   hold the same value in each agree, any other mix is an error for the source
   (``set story_points_field``): counting one or the other would be a guess.

A board that estimates by something other than a story-point field (time, issue
count) says nothing about points and is passed over. Without Jira Software (the
agile API answers 404) or without the right to see boards (403), there are no boards.
Issues whose other story-point field holds a different value than the chosen one are
listed ("disagree"), for ``check`` and the pull's description.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from connectors.jira.client import get_json
from connectors.jira.issues import estimate
from okr_sync.errors import OkrSyncError, SourceError

if TYPE_CHECKING:
    from connectors.jira.config import JiraAccess

BOARD_PAGE = 50  # the agile API's page cap on Cloud (GET /board?maxResults=1000 echoes 50)
_MAX_BOARD_PAGES = 100


def project_of(key: str) -> str:
    """The project key of an issue key (``PAY-12`` → ``PAY``)."""
    return key.rsplit("-", 1)[0]


@dataclass
class ProjectPoints:
    """The story-point field of one project, and why."""

    project: str
    field_id: str | None
    why: str
    disagree: list[str] = field(default_factory=list)


@dataclass
class BoardField:
    """What a project's boards say: one field id, or none (and why)."""

    field_id: str | None
    why: str


#: An issue's values of the candidate fields, in the order of ``PointsChooser.candidates``.
Values = tuple[float | None, ...]


class PointsChooser:
    """Chooses and remembers each project's story-point field for one pull or check."""

    def __init__(self, access: JiraAccess, candidates: Sequence[str], explicit: bool,
                 names: Mapping[str, str]) -> None:  # fmt: skip
        self.access = access
        self.candidates = tuple(candidates)
        self.explicit = explicit
        self.names = names
        self._boards: dict[str, BoardField] = {}
        #: project → the decision made this pull
        self.chosen: dict[str, ProjectPoints] = {}

    def name(self, field_id: str | None) -> str:
        """A field as people know it: ``Story Points (customfield_10026)``."""
        if field_id is None:
            return "no field"
        return f"{self.names.get(field_id, field_id)} ({field_id})"

    @property
    def needs_choice(self) -> bool:
        """Whether there is anything to choose (more than one candidate, none configured)."""
        return not self.explicit and len(self.candidates) > 1

    # --- boards ---------------------------------------------------------------------
    def board_field(self, project: str) -> BoardField:
        """The story-point field the project's boards estimate by (asked once per project)."""
        if project not in self._boards:
            self._boards[project] = self._ask_boards(project)
        return self._boards[project]

    def _get(self, what: str, path: str, **params: Any) -> Any:
        session = self.access.connect()
        client = session.client
        url = client.server_url.rstrip("/") + path
        return self.access.caller.call(what, get_json, client._session, url, params=params or None)

    def _ask_boards(self, project: str) -> BoardField:
        boards: list[dict[str, Any]] = []
        try:
            for page in range(_MAX_BOARD_PAGES):
                body = self._get(
                    f"boards of {project}", "/rest/agile/1.0/board",
                    projectKeyOrId=project, startAt=len(boards), maxResults=BOARD_PAGE,
                )  # fmt: skip
                values = body.get("values") if isinstance(body, dict) else None
                if not isinstance(values, list):
                    raise SourceError(self.access.name, f"boards of {project}: malformed answer")
                boards += [b for b in values if isinstance(b, dict)]
                if not values or body.get("isLast", True) or page == _MAX_BOARD_PAGES - 1:
                    break
        except OkrSyncError as exc:
            # No Jira Software (404), no right to see boards (403), or a token without
            # the agile scopes (401): no board to ask.
            if _unreadable(exc):
                return BoardField(None, "no board of the project can be seen")
            raise
        own = [b for b in boards if (b.get("location") or {}).get("projectKey") == project]
        boards = own or boards
        if not boards:
            return BoardField(None, "the project has no board")
        found: dict[str, list[str]] = {}
        for board in boards:
            try:
                config = self._get(
                    f"configuration of board {board.get('id')}",
                    f"/rest/agile/1.0/board/{board.get('id')}/configuration",
                )
            except OkrSyncError as exc:
                # A board listed but not readable (private, or configuration kept to
                # project admins): it cannot decide, the others and the issues still may.
                if _unreadable(exc):
                    continue
                raise
            estimation = config.get("estimation") if isinstance(config, dict) else None
            fid = ((estimation or {}).get("field") or {}).get("fieldId")
            if isinstance(fid, str) and fid in self.candidates:
                found.setdefault(fid, []).append(str(board.get("name") or board.get("id")))
        if len(found) == 1:
            fid, names = next(iter(found.items()))
            return BoardField(fid, f"board {', '.join(map(repr, names))}")
        if found:
            said = "; ".join(f"{', '.join(map(repr, n))}: {self.name(f)}" for f, n in found.items())
            return BoardField(None, f"its boards disagree ({said})")
        return BoardField(None, "no board of the project estimates by story points")

    # --- choosing -----------------------------------------------------------------------
    def known(self, project: str) -> str | Literal[False] | None:
        """The field when it does not depend on issues (configured, or the boards'); else False."""
        if self.explicit or not self.needs_choice:
            return self.candidates[0] if self.candidates else None
        return self.board_field(project).field_id or False

    def _why_known(self, project: str) -> str:
        if self.explicit:
            return "story_points_field"
        if not self.needs_choice:
            return (
                "the site's only story-point field" if self.candidates else "no story-point field"
            )
        return self.board_field(project).why

    def decide(self, project: str, values: Mapping[str, Values],
               keep: str | Literal[False] | None = False) -> ProjectPoints:  # fmt: skip
        """Choose the project's field; ``values``: its issues' candidate values (key → tuple).

        ``keep``: the field an earlier pull chose (cached items were read with it), or
        False. Raises SourceError when the issues leave the choice open.
        """
        known = self.known(project)
        if known is not False:
            chosen = ProjectPoints(project, known or None, self._why_known(project))
        else:
            why = self.board_field(project).why
            used = [
                c
                for i, c in enumerate(self.candidates)
                if any(v[i] is not None for v in values.values())
            ]
            if keep is not False and set(used) <= ({keep} if isinstance(keep, str) else set()):
                chosen = ProjectPoints(project, keep or None, f"its issues; {why}")
            elif not used:
                chosen = ProjectPoints(project, None, f"none of its issues is estimated; {why}")
            elif len(used) == 1 or not self._mixed(values, used):
                chosen = ProjectPoints(project, used[0], f"its issues; {why}")
            else:
                mixed = [k for k, v in sorted(values.items()) if self._differ(v, used)]
                raise SourceError(
                    self.access.name,
                    f"story points of project {project}: {why}, and its issues use both "
                    f"{' and '.join(self.name(c) for c in used)} with different values (e.g. "
                    f"{', '.join(mixed[:5])}); counting either would be a guess. Set "
                    "story_points_field on the connection, or give the project's board an "
                    "estimation field",
                )  # fmt: skip
        chosen.disagree = self.disagreeing(values, chosen.field_id)
        self.chosen[project] = chosen
        return chosen

    def _differ(self, value: Values, used: Sequence[str]) -> bool:
        return len({value[self.candidates.index(c)] for c in used}) > 1

    def _mixed(self, values: Mapping[str, Values], used: Sequence[str]) -> bool:
        """Whether some issue holds different values (or a value and none) in the used fields."""
        return any(self._differ(v, used) for v in values.values())

    def disagreeing(self, values: Mapping[str, Values], chosen: str | None) -> list[str]:
        """Issues whose other story-point field holds a value the chosen one does not."""
        at = self.candidates.index(chosen) if chosen in self.candidates else None
        out = []
        for key, value in sorted(values.items()):
            mine = value[at] if at is not None else None
            if any(v is not None and v != mine for i, v in enumerate(value) if i != at):
                out.append(key)
        return out

    def values_of(self, fields: Mapping[str, Any]) -> Values | None:
        """An issue's candidate values (aligned with ``candidates``), or None when it has none."""
        value = tuple(estimate(fields.get(c)) for c in self.candidates)
        return value if any(v is not None for v in value) else None


def _unreadable(exc: OkrSyncError) -> bool:
    """Whether Jira refused to show a board (401, 403 or 404), rather than failed."""
    return any(f"answered {code}" in str(exc) for code in ("401", "403", "404"))
