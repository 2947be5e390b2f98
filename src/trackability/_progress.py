"""Progress bars for long loops (tqdm), silenced with ``progress=False`` or ``TRACKABILITY_PROGRESS=0``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def progress_enabled(progress: bool | None) -> bool:
    """Resolve a ``progress`` argument: an explicit bool wins, else the environment, else on."""
    if progress is not None:
        return bool(progress)
    return os.environ.get("TRACKABILITY_PROGRESS", "1").lower() not in {"0", "false", "no", "off"}


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
