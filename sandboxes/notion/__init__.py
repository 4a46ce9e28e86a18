"""A local fake of the Notion API (2025-09-03 and 2022-06-28), driven by ``notion-client``."""
