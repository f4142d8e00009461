"""Authentication: passwords, access and refresh tokens, API keys."""
