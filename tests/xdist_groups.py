"""The suite's pytest-xdist scheduling: units of work handed out longest first.

``ModuleGroups`` is pytest-xdist's ``loadgroup`` scheduling (a unit of work runs whole
in one process; a process holding at most two units gets another) with the units
drawn from the modules' names: every test of a module listed as sharing a fixture is
one unit, every other test a unit of its own. The units go out in the order the tests
were collected, which ``tests/conftest.py`` sorts longest first — not by unit size,
as loadgroup would by default.

(pytest-xdist's own ``xdist_group`` marks name the group in the test id, which pytest 9
no longer lets a plugin rewrite; the modules' names need no marks.)
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadGroupScheduling


class ModuleGroups(LoadGroupScheduling):
    """loadgroup, grouped by module for the modules named, in collection order."""

    def __init__(self, config: Any, log: Any, modules: frozenset[str]) -> None:
        super().__init__(config, log)
        self.modules = modules
        config.option.loadscopereorder = False  # keep the longest-first order

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        if module in self.modules:
            return module
        return super()._split_scope(nodeid)
