"""okr-sync: compute key-result progress from Jira and Notion and write it back.

The package, part by part (the README's Architecture section has the rules)::

    okr_sync/models.py, interfaces.py, errors.py, yamlpos.py
                        the domain contract that connectors and plugins import
    okr_sync/log.py     logging and secret redaction
    okr_sync/core/      the pure part: progress, counting, inputs, roll-up, evaluate, plan,
                        provenance, replay (items as they were, for backfill)
    okr_sync/config/    the config file: loading, cross-checks, secrets, registry
    okr_sync/state/     the state store: store, queries, schema, run lock
    okr_sync/schedule/  cron expressions and the scheduler loop
    okr_sync/engine/    one run: engine, pull, apply, runner, preflight; backfill
    okr_sync/cli/       the command line (okr_sync/cli/demo/: the demo;
                        okr_sync/cli/templates/: the starter configs;
                        okr_sync/cli/report/: the HTML report)

The public API: :func:`okr_sync.config.load_config`, :class:`okr_sync.engine.Engine`
and :func:`okr_sync.engine.build_connectors`. Importing this package does no I/O.
"""

from __future__ import annotations

__version__ = "0.1.0"
