"""Ids in a local OKR file that do not fit together, each at the line that names it.

The engine rejects duplicate ids, unknown parents and cycles in any OKR tree,
but it cannot say where they are written. A YAML file can: these checks run
when the file is read, so ``okr-sync validate`` reports them with their lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from okr_sync.errors import Problem
from okr_sync.interfaces import YamlDocument
from okr_sync.models import KeyResult, Objective


def id_problems(
    doc: YamlDocument,
    objectives: Sequence[tuple[int, Objective]],
    key_results: Sequence[tuple[int, KeyResult]],
) -> list[Problem]:
    """Duplicate ids, unknown objectives and parents, and cycles of parents.

    ``objectives`` and ``key_results`` pair each parsed entry with its index in
    the file's list (entries that failed to parse are already reported).
    """
    problems: list[Problem] = []
    first: dict[tuple[str, str], int | None] = {}
    for section, entries in (("objectives", objectives), ("key_results", key_results)):
        what = "objective" if section == "objectives" else "key result"
        for index, entry in entries:
            at = (section, index, "id")
            seen = first.get((section, entry.id), -1)
            if seen != -1:
                where = f" (first at line {seen})" if seen else ""
                problems.append(
                    doc.problem(
                        at, f"{what} id {entry.id!r} appears twice{where}", "ids must be unique"
                    )
                )
            else:
                first[(section, entry.id)] = doc.line_of(at)
    known = {o.id for _, o in objectives}
    listed = ", ".join(sorted(known)) or "none"
    for index, kr in key_results:
        if kr.objective_id and kr.objective_id not in known:
            problems.append(
                doc.problem(
                    ("key_results", index, "objective"),
                    f"no objective {kr.objective_id!r}",
                    f"objectives: {listed}",
                )
            )
    parents = {o.id: o.parent_id for _, o in objectives}
    index_of = {o.id: i for i, o in reversed(objectives)}
    for index, obj in objectives:
        if obj.parent_id and obj.parent_id not in parents:
            problems.append(
                doc.problem(
                    ("objectives", index, "parent"),
                    f"no objective {obj.parent_id!r}",
                    f"objectives: {listed}",
                )
            )
    reported: set[str] = set()
    for start in parents:
        chain: list[str] = []
        node: str | None = start
        while node is not None and node in parents and node not in chain:
            chain.append(node)
            node = parents[node]
        if node is not None and node in chain and node not in reported:
            cycle = chain[chain.index(node) :]
            reported.update(cycle)
            problems.append(
                doc.problem(
                    ("objectives", index_of[cycle[0]], "parent"),
                    "objectives form a cycle of parents: " + " → ".join([*cycle, node]),
                    "an objective cannot be its own ancestor; remove one of these parents",
                )
            )
    return problems
