"""Loaders of the real data sets, each returning an AnnData (cells as rows) with documented obs keys.

Every loader takes ``path`` (the file or its folder); when it is None the file is looked for under
``$TRACKABILITY_DATA`` and then the cache folder (see :mod:`trackability.data.paths`). Files are
validated on read: a missing, truncated or malformed file raises an error naming it and the problem.
anndata and pandas are imported inside the loaders, so importing this module stays light.
"""

from trackability.data.loaders.colo858 import COLO858_MARKERS, load_colo858_4i
from trackability.data.loaders.kang import KANG_CELL_TYPES, load_kang
from trackability.data.loaders.sachs import (
    SACHS_CELL_COUNTS,
    SACHS_CONDITIONS,
    SACHS_MARKERS,
    SACHS_PAIRS,
    load_sachs,
)

__all__ = [
    "COLO858_MARKERS",
    "KANG_CELL_TYPES",
    "SACHS_CELL_COUNTS",
    "SACHS_CONDITIONS",
    "SACHS_MARKERS",
    "SACHS_PAIRS",
    "load_colo858_4i",
    "load_kang",
    "load_sachs",
]
