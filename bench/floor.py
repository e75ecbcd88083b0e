"""The floor of this stack: a bare Flask app that sends the same SQL statements as a Portal page and
renders the same HTML, with nothing of the portal in between (no session, no plugins, no layout).

bench/pages.py records, for each page, the statements the portal sent and the HTML it returned, into
the JSON file named by BENCH_FLOOR_PAGES; this app serves each page by replaying those statements on
the same database (same driver, same pool) and rendering that HTML as a Jinja template.

    BENCH_FLOOR_PAGES=pages.json BENCH_FLOOR_DATABASE_URL=sqlite:///... gunicorn bench.floor:app
"""
from __future__ import annotations

import json
import os

import sqlalchemy as sa
from flask import Flask

app = Flask(__name__)
engine = sa.create_engine(os.environ["BENCH_FLOOR_DATABASE_URL"])
with open(os.environ["BENCH_FLOOR_PAGES"], encoding="utf-8") as file:
    PAGES = json.load(file)
# Compiled once, as Jinja caches a file template: the floor renders, it does not parse per request.
TEMPLATES = {path: app.jinja_env.from_string("{% raw %}" + page["html"] + "{% endraw %}")
             for path, page in PAGES.items()}


def serve(path: str):
    with engine.connect() as connection:
        for statement, parameters in PAGES[path]["statements"]:
            cursor = connection.exec_driver_sql(statement, tuple(parameters) if isinstance(parameters, list)
                                                else parameters)
            if cursor.returns_rows:
                cursor.fetchall()
    return TEMPLATES[path].render()


for index, path in enumerate(PAGES):
    app.add_url_rule(path, f"page{index}", lambda path=path: serve(path))
