"""``python -m okr_sync`` runs the command line."""

from __future__ import annotations

from okr_sync.cli.main import main

if __name__ == "__main__":
    main()
