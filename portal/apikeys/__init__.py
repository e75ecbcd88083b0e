"""API密钥: the keys people create for the platform's services to call /api/v1 on their behalf."""
