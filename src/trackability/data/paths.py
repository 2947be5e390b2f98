"""Where data sets are read from: an explicit path, else ``$TRACKABILITY_DATA``, else a cache dir."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the folder that holds the data sets (one sub-folder per set).
DATA_ENV = "TRACKABILITY_DATA"


def cache_dir() -> Path:
    """Per-user cache folder for data sets (``$XDG_CACHE_HOME/trackability`` or ``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trackability"


def data_dir() -> Path:
    """The data root: ``$TRACKABILITY_DATA`` if set, else :func:`cache_dir`."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else cache_dir()


def resolve_data_path(path: str | os.PathLike | None, default: str, *, what: str) -> Path:
    """Resolve the file or folder of a data set.

    Parameters
    ----------
    path
        Explicit location given by the user; used as is when not None.
    default
        Location relative to :func:`data_dir` (e.g. ``"kang2018/kang2018_pbmc_ifnb.h5ad"``).
    what
        Human name of the data set, for the error message.

    Raises
    ------
    FileNotFoundError
        Naming every place that was looked at and how to point the loader at the file.

    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise FileNotFoundError(f"{what}: no file or folder at {p}.")
        return p
    p = data_dir() / default
    if not p.exists():
        raise FileNotFoundError(
            f"{what} not found at {p}. Pass path=..., or set {DATA_ENV} to the folder that holds "
            f"'{default}' (currently {os.environ.get(DATA_ENV, 'unset')!s})."
        )
    return p
