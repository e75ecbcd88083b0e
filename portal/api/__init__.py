"""/api/v1: the JSON API the platform's services call with API keys (see docs/api.md)."""
