"""Mapping rules as written in the config file's ``mapping.rules`` list."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Rule(BaseModel):
    """Link items to one KR: by keys (``epics``), by a source ``query``, or by a ``label``.

    Exactly one selector is given. ``source`` names the item source the rule
    applies to; without it, epics and labels match in every item source, and a
    query needs a source (only a source can evaluate its own query language).
    ``line`` is where the rule stands in the config file, for error messages.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kr: str = Field(min_length=1)
    source: str | None = None
    epics: tuple[str, ...] = ()
    query: str | dict[str, Any] | None = None
    label: str | None = None
    line: int | None = Field(default=None, exclude=True)
    index: int = Field(default=0, exclude=True)

    @model_validator(mode="after")
    def _one_selector(self) -> Rule:
        given = [name for name in ("epics", "query", "label") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "a rule needs exactly one of 'epics', 'query' or 'label'"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.query is not None and self.source is None:
            raise ValueError("a rule with a 'query' needs 'source': the item source that runs it")
        return self

    @property
    def id(self) -> str:
        """A stable id, used to tag items matched by this rule's query."""
        return f"rule-{self.number}"

    @property
    def number(self) -> int:
        """The rule's place in ``mapping.rules``, counted from 1 as people count."""
        return self.index + 1

    def name(self, file: str = "config") -> str:
        """How every message names the rule: ``rule 2 (okr-sync.yaml:31)``.

        One numbering everywhere (``check``, ``plan``/``sync``, ``explain``, logs): from
        1, with the config line. Only a config error's YAML path counts from 0, as paths
        do (``mapping.rules[1].kr`` is rule 2), and it always comes after the same line.
        """
        where = f" ({file}:{self.line})" if self.line else ""
        return f"rule {self.number}{where}"

    def describe(self, file: str = "config") -> str:
        """A one-line human description for provenance and errors."""
        in_source = f" in {self.source}" if self.source else ""
        if self.epics:
            what = f"epics {', '.join(self.epics)}"
        elif self.label:
            what = f"label {self.label}"
        else:
            what = f"query {self.query}"
        return f"{self.name(file)}: {what}{in_source}"
