"""Builds the ``portal`` distribution (metadata in setup.cfg).

The design keeps the page templates and the Alembic migrations in top-level ``templates/`` and
``migrations/``; a built package must carry them, with the compiled translations, or an installed
portal could neither render a page nor migrate. ``build_py`` copies them into the package as
``portal/templates`` and ``portal/migrations`` and compiles every ``.po`` into its ``.mo``.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLED_FOLDERS = ("templates", "migrations")


class BuildWithResources(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "portal"
        for folder in BUNDLED_FOLDERS:
            for source in sorted((HERE / folder).rglob("*")):
                if source.is_file() and "__pycache__" not in source.parts:
                    destination = target / folder / source.relative_to(HERE / folder)
                    self.mkpath(str(destination.parent))
                    self.copy_file(str(source), str(destination))
        self._compile_translations(target / "translations")

    def _compile_translations(self, translations: Path) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po_path in sorted((HERE / "portal" / "translations").glob("*/LC_MESSAGES/*.po")):
            relative = po_path.relative_to(HERE / "portal" / "translations")
            mo_path = translations / relative.with_suffix(".mo")
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file)
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog, use_fuzzy=True)


setup(cmdclass={"build_py": BuildWithResources})
