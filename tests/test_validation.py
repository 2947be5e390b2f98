"""Input validation at the boundary (``trackability._validation``).

Each check is compared with what the input should become (an explicit float64 array) or with the
error it must raise, whose message must name the argument.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from trackability import _validation as val
from trackability._validation import (
    check_array,
    check_choice,
    check_pair,
    check_positive,
    check_random_state,
)


class TestCheckArray:
    def test_float_array_passes_unchanged_in_value(self, rng):
        x = rng.normal(size=(5, 3))
        out = check_array(x, "x")
        assert out.dtype == np.float64
        assert out.flags.c_contiguous
        np.testing.assert_array_equal(out, x)

    def test_integer_and_bool_input_converted_to_float(self):
        ints = np.arange(12, dtype=np.int32).reshape(4, 3)
        out = check_array(ints, "x")
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, ints.astype(np.float64))
        bools = np.array([[True, False], [False, True]])
        np.testing.assert_array_equal(check_array(bools, "x"), np.eye(2))

    def test_nested_list_and_dataframe(self):
        lst = [[1, 2], [3, 4], [5, 6]]
        np.testing.assert_array_equal(check_array(lst, "x"), np.array(lst, dtype=float))
        df = pd.DataFrame(lst, columns=["a", "b"])
        np.testing.assert_array_equal(check_array(df, "x"), np.array(lst, dtype=float))

    def test_pandas_nullable_dtypes(self):
        """Int64/Float64/boolean columns are numeric; a missing value is reported as NaN."""
        clean = pd.DataFrame({"a": [1, 2], "b": [3, 4]}, dtype="Int64")
        np.testing.assert_array_equal(check_array(clean, "x"), [[1.0, 3.0], [2.0, 4.0]])
        flags = pd.DataFrame({"a": [True, False], "b": [0.5, 1.5]}).astype({"a": "boolean"})
        np.testing.assert_array_equal(check_array(flags, "x"), [[1.0, 0.5], [0.0, 1.5]])
        series = pd.Series([1, 2, 3], dtype="Int64")
        np.testing.assert_array_equal(check_array(series, "x", allow_1d=True), [[1.0], [2.0], [3.0]])
        for dtype in ("Int64", "Float64"):
            missing = pd.DataFrame({"a": [1, None, 3], "b": [1, 2, 3]}, dtype=dtype)
            with pytest.raises(ValueError, match="expr contains 1 NaN.*cell 1, feature 0"):
                check_array(missing, "expr")

    def test_pandas_non_numeric_columns_refused(self):
        for df in (pd.DataFrame({"a": ["1.5", "2"], "b": [1, 2]}),  # numeric-looking strings too
                   pd.DataFrame({"a": ["x", "y"], "b": [1, 2]}).astype({"a": "category"})):
            with pytest.raises(TypeError, match="expr must be numeric"):
                check_array(df, "expr")

    def test_fortran_order_becomes_c_contiguous(self, rng):
        x = np.asfortranarray(rng.normal(size=(6, 4)))
        out = check_array(x, "x")
        assert out.flags.c_contiguous
        np.testing.assert_array_equal(out, x)

    def test_float32_dtype_option(self, rng):
        x = rng.normal(size=(4, 2))
        out = check_array(x, "x", dtype=np.float32)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, x.astype(np.float32))

    def test_input_is_never_modified_and_copy_is_independent(self, rng):
        x = rng.normal(size=(4, 3))
        before = x.copy()
        out = check_array(x, "x", copy=True)
        out[0, 0] = 1e9
        np.testing.assert_array_equal(x, before)
        assert not np.shares_memory(out, x)

    def test_sparse_is_densified(self, rng):
        dense = rng.normal(size=(6, 5))
        dense[dense < 0.3] = 0.0
        for fmt in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array):
            out = check_array(fmt(dense), "x")
            assert isinstance(out, np.ndarray)
            np.testing.assert_array_equal(out, dense)

    def test_sparse_too_large_is_refused_with_size(self, monkeypatch):
        monkeypatch.setattr(val, "MAX_DENSIFY_BYTES", 100)
        x = sp.csr_matrix((20, 20))
        with pytest.raises(ValueError, match=r"counts.*sparse matrix of shape \(20, 20\)"):
            check_array(x, "counts")

    @pytest.mark.parametrize(
        ("bad", "what"),
        [(np.nan, "1 NaN and 0 infinite"), (np.inf, "0 NaN and 1 infinite"),
         (-np.inf, "0 NaN and 1 infinite")],
    )
    def test_nonfinite_rejected_naming_argument_and_position(self, rng, bad, what):
        x = rng.normal(size=(4, 3))
        x[2, 1] = bad
        with pytest.raises(ValueError, match=rf"my_cells contains {what}.*cell 2, feature 1"):
            check_array(x, "my_cells")

    def test_nan_in_sparse_rejected(self):
        x = sp.csr_matrix(np.array([[0.0, np.nan], [1.0, 0.0]]))
        with pytest.raises(ValueError, match="src contains 1 NaN"):
            check_array(x, "src")

    def test_one_d_rejected_with_hint_or_accepted_as_column(self):
        with pytest.raises(ValueError, match=r"vec must be 2-D.*reshape\(-1, 1\)"):
            check_array(np.arange(3.0), "vec")
        out = check_array(np.arange(3.0), "vec", allow_1d=True)
        np.testing.assert_array_equal(out, [[0.0], [1.0], [2.0]])

    def test_three_d_and_scalar_rejected(self):
        with pytest.raises(ValueError, match="cube must be 2-D.*3-D"):
            check_array(np.zeros((2, 2, 2)), "cube")
        with pytest.raises(ValueError, match="s must be 2-D.*0-D"):
            check_array(3.0, "s")

    @pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)])
    def test_empty_rejected(self, shape):
        with pytest.raises(ValueError, match="empty_one is empty"):
            check_array(np.zeros(shape), "empty_one")

    def test_min_samples_and_features(self):
        with pytest.raises(ValueError, match="x has 1 cell.*at least 2"):
            check_array(np.zeros((1, 3)), "x", min_samples=2)
        with pytest.raises(ValueError, match="x has 2 feature.*at least 3"):
            check_array(np.zeros((4, 2)), "x", min_features=3)
        assert check_array(np.zeros((2, 3)), "x", min_samples=2).shape == (2, 3)

    def test_none_strings_objects_complex_rejected_as_type_errors(self):
        with pytest.raises(TypeError, match="arg is None"):
            check_array(None, "arg")
        with pytest.raises(TypeError, match="arg must be numeric.*<U"):
            check_array([["a", "b"], ["c", "d"]], "arg")
        with pytest.raises(TypeError, match="arg must be numeric.*object"):
            check_array(np.array([[1, None]], dtype=object), "arg")
        with pytest.raises(TypeError, match="arg must be real-valued"):
            check_array(np.ones((2, 2), dtype=complex), "arg")


class TestCheckPair:
    def test_returns_both_validated(self, rng):
        a, b = rng.normal(size=(3, 2)), rng.integers(0, 5, size=(4, 2))
        sa, sb = check_pair(a, b)
        np.testing.assert_array_equal(sa, a)
        np.testing.assert_array_equal(sb, b.astype(float))

    def test_mismatched_features_names_both(self):
        with pytest.raises(ValueError, match="control has 3 features but treated has 4"):
            check_pair(np.zeros((2, 3)), np.zeros((2, 4)), source_name="control",
                       target_name="treated")

    def test_bad_second_argument_is_named(self):
        with pytest.raises(ValueError, match="treated contains 1 NaN"):
            check_pair(np.zeros((2, 2)), np.array([[0.0, np.nan]]), target_name="treated")

    def test_min_samples_applies_to_both(self):
        with pytest.raises(ValueError, match="target has 1 cell"):
            check_pair(np.zeros((3, 2)), np.zeros((1, 2)), min_samples=2)


class TestCheckRandomState:
    def test_int_seed_is_reproducible(self):
        a = check_random_state(7).normal(size=5)
        b = check_random_state(7).normal(size=5)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, np.random.default_rng(7).normal(size=5))

    def test_generator_passes_through(self):
        g = np.random.default_rng(0)
        assert check_random_state(g) is g

    def test_seed_sequence_and_legacy_randomstate(self):
        ss = np.random.SeedSequence(3)
        np.testing.assert_array_equal(
            check_random_state(ss).random(3), np.random.default_rng(np.random.SeedSequence(3)).random(3)
        )
        r1 = check_random_state(np.random.RandomState(5)).random(3)
        r2 = check_random_state(np.random.RandomState(5)).random(3)
        np.testing.assert_array_equal(r1, r2)

    def test_none_gives_a_generator(self):
        assert isinstance(check_random_state(None), np.random.Generator)

    def test_bad_values(self):
        with pytest.raises(ValueError, match="random_state must be non-negative"):
            check_random_state(-1)
        with pytest.raises(TypeError, match="random_state must be None, an int.*str"):
            check_random_state("seed")
        with pytest.raises(TypeError, match="random_state"):
            check_random_state(1.5)


class TestScalars:
    def test_check_positive(self):
        assert check_positive(2, "alpha") == 2.0
        assert check_positive(0, "alpha", allow_zero=True) == 0.0
        with pytest.raises(ValueError, match="alpha must be a finite positive number; got 0"):
            check_positive(0, "alpha")
        with pytest.raises(ValueError, match="alpha must be a finite non-negative"):
            check_positive(-1e-9, "alpha", allow_zero=True)
        for bad in (np.nan, np.inf):
            with pytest.raises(ValueError, match="alpha"):
                check_positive(bad, "alpha")
        with pytest.raises(TypeError, match="alpha must be a number"):
            check_positive("big", "alpha")
        with pytest.raises(TypeError, match="alpha must be a number"):
            check_positive(None, "alpha")

    def test_check_choice(self):
        assert check_choice("a", "mode", ("a", "b")) == "a"
        with pytest.raises(ValueError, match="mode must be one of 'a', 'b'; got 'c'"):
            check_choice("c", "mode", ("a", "b"))
