"""Running on a schedule.

``cron`` parses 5-field cron expressions with daylight-saving rules; ``scheduler`` is
the foreground loop that ``okr-sync schedule`` runs.
"""
