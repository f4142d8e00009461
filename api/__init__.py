"""Guard's HTTP API (FastAPI)."""
