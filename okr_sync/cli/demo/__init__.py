"""``okr-sync demo``: a demo organisation on the Jira and Notion sandboxes, synced end to end.

``command`` is the click command; ``org``, ``config`` and ``run`` load the sandboxes and
are imported only when the demo runs.
"""
