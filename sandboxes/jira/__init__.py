"""A local fake of the Jira Cloud / Data Center REST API, driven by the real ``jira`` client."""
