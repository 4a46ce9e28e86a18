"""The config file ``okr-sync demo`` writes and runs: the same shape a real setup uses."""

from __future__ import annotations

import datetime as dt

from okr_sync.cli.demo.org import KEY_RESULTS

#: First line of every config the demo writes; the demo only overwrites files that start with it.
MARKER = "# Written by `okr-sync demo`"

TEMPLATE = """{marker}: the config its run used, against the local sandboxes
# (they stop when the demo ends, so these URLs and ids stop working then).
# To use it on your own Jira and Notion, change what the comments marked YOURS
# say, export the two tokens, then run `okr-sync check`, `plan` and `sync`.
version: 1

connections:
  jira:
    type: jira
    url: {jira_url}   # YOURS: https://your-site.atlassian.net
    email: {jira_email}          # YOURS: the account the API token belongs to
    token: "${{JIRA_API_TOKEN}}"   # an environment reference, never the token itself
  notion:
    type: notion
    token: "${{NOTION_TOKEN}}"     # the integration's secret, from the environment
    base_url: {notion_url}   # YOURS: delete this line (the real API is the default)
    # YOURS: database ids or URLs (⋯ → Copy link), each shared with the integration
    objectives: {objectives}
    key_results: {key_results}
    items:
      - database: {initiatives}   # Initiatives: rows related to KRs
        numbers: {{arr: ARR}}        # sum:arr adds up the ARR property
    epics_source: jira             # the KR property "Jira epics" names epics in `jira`

okrs: notion                       # where objectives and key results live
items: [jira, notion]              # where the work lives

cycle: {{start: {start}, end: {end}}}

measures:                          # how each KR's number is computed
  default: issues_done
{measures}

mapping:
  label_prefix: "okr:"             # a Jira issue labelled okr:KR-2 counts for KR-2
  rules:
    - kr: KR-4
      source: jira
      query: "project = PLAT AND labels = customer-bug"
    - kr: KR-5
      source: jira
      query: "project = PLAT AND labels = incident AND statusCategory != Done"

write:
  notion:
    key_results: [progress, current, status, last_synced, forecast, forecast_range, comment]
    objectives: [progress, status, last_synced]
  jira:
    items: [property, remote_link]   # on linked epics: an entity property and a link to the KR

status:
  thresholds: {{at_risk_gap: 0.10, off_track_gap: 0.25, not_started_until: 0.25}}

conflicts: overwrite               # or skip: keep a value a human typed over okr-sync's
state:
  path: .okr-sync/state.db
schedule: {{cron: "*/30 * * * *", jitter_seconds: 60}}   # for `okr-sync schedule`
"""


def demo_config(
    *,
    jira_url: str,
    jira_email: str,
    notion_url: str,
    databases: dict[str, str],
    cycle: tuple[dt.date, dt.date],
) -> str:
    """The demo's config text for sandboxes at these URLs."""
    measures = "\n".join(
        f'  {kr}: "{measure}"'
        for kr, (*_, measure) in KEY_RESULTS.items()
        if measure != "issues_done"
    )
    return TEMPLATE.format(
        marker=MARKER,
        jira_url=jira_url,
        jira_email=jira_email,
        notion_url=notion_url,
        start=cycle[0].isoformat(),
        end=cycle[1].isoformat(),
        measures=measures,
        **databases,
    )
