"""Progress bars for long loops (tqdm).

Inside library calls progress is off unless asked for (``progress=True`` or
``TRACKABILITY_PROGRESS=1``); the command line turns it on unless ``--no-progress`` or
``TRACKABILITY_PROGRESS=0``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def progress_enabled(progress: bool | None, default: bool = False) -> bool:
    """Resolve a ``progress`` argument.

    An explicit bool wins; else ``TRACKABILITY_PROGRESS`` where it is set (``0``, ``false``,
    ``no``, ``off``: off; anything else: on); else ``default`` (off in library calls, on in the
    command line).
    """
    if progress is not None:
        return bool(progress)
    env = os.environ.get("TRACKABILITY_PROGRESS")
    if env is None or not env.strip():
        return bool(default)
    return env.strip().lower() not in {"0", "false", "no", "off"}


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    progress: bool | None = None,
    **kwargs: Any,
):
    """Wrap ``iterable`` in a tqdm bar (or return a bar to update manually when it is None)."""
    from tqdm.auto import tqdm

    return tqdm(
        iterable, total=total, desc=desc, disable=not progress_enabled(progress), leave=False, **kwargs
    )
