"""Loaders of the real data sets, each returning an AnnData (cells as rows) with documented obs keys.

Every loader takes ``path`` (the file or its folder); when it is None the file is looked for under
``$TRACKABILITY_DATA`` and then the cache folder (see :mod:`trackability.data.paths`). Files are
validated on read: a missing, truncated or malformed file raises an error naming it and the problem.
anndata and pandas are imported inside the loaders, so importing this module stays light.
"""

from trackability.data.loaders.ap1 import (
    AP1_CONDITIONS,
    AP1_PROTEINS,
    AP1_STUDY_CELL_LINES,
    AP1_STUDY_CONTROL,
    AP1_STUDY_FEATURES,
    AP1_STUDY_TREATED,
    load_ap1,
    parse_time_hours,
)
from trackability.data.loaders.colo858 import COLO858_MARKERS, load_colo858_4i
from trackability.data.loaders.fouri import FOURI_STUDY_DRUGS, FOURI_STUDY_FEATURES, load_4i
from trackability.data.loaders.generic import load_anndata
from trackability.data.loaders.kang import KANG_CELL_TYPES, load_kang
from trackability.data.loaders.nfkb import NFKB_DOSES, NFKB_MINUTES, load_nfkb
from trackability.data.loaders.sachs import (
    SACHS_CELL_COUNTS,
    SACHS_CONDITIONS,
    SACHS_MARKERS,
    SACHS_PAIRS,
    load_sachs,
)
from trackability.data.loaders.sciplex3 import (
    SCIPLEX3_MARKER_KEY,
    SCIPLEX3_STUDY_DRUGS,
    load_sciplex3,
    sciplex3_marker_genes,
)
from trackability.data.loaders.tables import (
    BODENMILLER_PATIENTS,
    load_bodenmiller,
    load_chu,
    load_kang3,
    load_kouno,
    load_serum,
    load_wot2017,
)
from trackability.data.loaders.two_i import (
    TWO_I_CONTROL_DAY,
    TWO_I_TREATED_DAYS,
    dispersion_hvg,
    load_2i,
)
from trackability.data.loaders.weinreb import WEINREB_DAYS, clone_ids, load_weinreb

__all__ = [
    "AP1_CONDITIONS",
    "AP1_PROTEINS",
    "AP1_STUDY_CELL_LINES",
    "AP1_STUDY_CONTROL",
    "AP1_STUDY_FEATURES",
    "AP1_STUDY_TREATED",
    "BODENMILLER_PATIENTS",
    "COLO858_MARKERS",
    "FOURI_STUDY_DRUGS",
    "FOURI_STUDY_FEATURES",
    "KANG_CELL_TYPES",
    "NFKB_DOSES",
    "NFKB_MINUTES",
    "SACHS_CELL_COUNTS",
    "SACHS_CONDITIONS",
    "SACHS_MARKERS",
    "SACHS_PAIRS",
    "SCIPLEX3_MARKER_KEY",
    "SCIPLEX3_STUDY_DRUGS",
    "TWO_I_CONTROL_DAY",
    "TWO_I_TREATED_DAYS",
    "WEINREB_DAYS",
    "clone_ids",
    "dispersion_hvg",
    "load_2i",
    "load_4i",
    "load_anndata",
    "load_ap1",
    "load_bodenmiller",
    "load_chu",
    "load_colo858_4i",
    "load_kang",
    "load_kang3",
    "load_kouno",
    "load_nfkb",
    "load_sachs",
    "load_sciplex3",
    "load_serum",
    "load_weinreb",
    "load_wot2017",
    "parse_time_hours",
    "sciplex3_marker_genes",
]
