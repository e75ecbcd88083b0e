"""WSGI entry point in a checkout: ``gunicorn wsgi:app`` or ``flask --app wsgi run``."""
from portal.wsgi import app  # noqa: F401
