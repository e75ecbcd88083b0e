"""WSGI entry point of an installed portal: ``gunicorn portal.wsgi:app``."""
from portal import create_app

app = create_app()
