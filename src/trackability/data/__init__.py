"""Data: synthetic generators, dataset loaders (schema-validated), splits and preprocessing."""

from trackability.data.paths import DATA_ENV, cache_dir, data_dir, resolve_data_path
from trackability.data.synthetic import (
    ORIGINAL_DIMS,
    ORIGINAL_GAPS,
    SyntheticPair,
    near_identity,
    original_seed,
    seed_faithful,
)

__all__ = [
    "DATA_ENV",
    "ORIGINAL_DIMS",
    "ORIGINAL_GAPS",
    "SyntheticPair",
    "cache_dir",
    "data_dir",
    "near_identity",
    "original_seed",
    "resolve_data_path",
    "seed_faithful",
]
