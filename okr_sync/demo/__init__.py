"""``okr-sync demo``: a demo organisation on the Jira and Notion sandboxes, synced end to end."""

from okr_sync.demo.run import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
