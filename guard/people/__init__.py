"""People: accounts, roles, status, API keys."""
