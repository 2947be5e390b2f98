"""Command line: ``trackability demo | phase-transition | diagnose | bench | report``.

Thin by design: each command parses its options, calls the library and prints. Commands live in
their own modules and register themselves on :data:`app`.
"""

from __future__ import annotations

import importlib

from trackability.cli.app import app

#: Modules that define commands (each registers on ``app`` when imported).
COMMAND_MODULES: tuple[str, ...] = ("bench", "demo", "diagnose")

for _name in COMMAND_MODULES:
    importlib.import_module(f"trackability.cli.{_name}")


def main() -> None:
    """Entry point of the ``trackability`` console script."""
    app()


__all__ = ["app", "main"]
