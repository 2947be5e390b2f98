"""The shared hyper-parameter and label checks of the neural models (models/_torch.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trackability.models._torch import check_hidden, check_label_vector


@pytest.mark.parametrize(("hidden", "expected"), [
    (8, (8,)), (np.int64(3), (3,)), ([4, 5], (4, 5)), ((64, 64, 64), (64, 64, 64)),
])
def test_check_hidden_accepts_widths(hidden, expected):
    out = check_hidden(hidden)
    assert out == expected
    assert all(type(h) is int for h in out)


def test_check_hidden_refuses_bad_widths():
    with pytest.raises(TypeError, match="hidden must be a sequence of layer widths; got True"):
        check_hidden(True)
    with pytest.raises(TypeError, match="hidden must be a sequence of layer widths; got 2.5"):
        check_hidden(2.5)
    with pytest.raises(ValueError, match="hidden must list at least one hidden layer width"):
        check_hidden(())
    with pytest.raises(ValueError, match="hidden width must be an integer >= 1; got 0"):
        check_hidden((4, 0))
    with pytest.raises(ValueError, match="hidden width must be an integer >= 1; got 1.5"):
        check_hidden([1.5])


def test_check_label_vector_shape_only():
    assert check_label_vector(None, 3, "labels", "context label") is None
    out = check_label_vector(pd.Series(["a", "b", None]), 3, "labels", "context label")
    assert isinstance(out, np.ndarray) and out.tolist() == ["a", "b", None]
    np.testing.assert_array_equal(check_label_vector([1.0, np.nan], 2, "x", "tag"), [1.0, np.nan])
    with pytest.raises(ValueError, match=r"labels must be 1-D \(one context label per cell\)"):
        check_label_vector(np.zeros((2, 2)), 2, "labels", "context label")
    with pytest.raises(ValueError, match="source_labels has 2 labels but there are 3 cells"):
        check_label_vector(["a", "b"], 3, "source_labels", "cell-type label")


def test_fitted_models_check_the_features_of_every_input():
    """predict, CellOT.potential and ScGen.latent share one check (named after the argument)."""
    pytest.importorskip("torch")
    from trackability.models import CellOT, ScGen

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 1.0
    bad = np.zeros((3, 3))
    cellot = CellOT(hidden=(8,), max_iter=3, eval_every=1, log_every=1).fit(x, y)
    assert cellot.potential(x).shape == (40,)
    with pytest.raises(ValueError, match="source has 3 features but CellOT was fitted on 2"):
        cellot.predict(bad)
    with pytest.raises(ValueError, match="x has 3 features but CellOT was fitted on 2"):
        cellot.potential(bad)
    scgen = ScGen(n_hidden=8, n_latent=2, max_epochs=1, early_stopping=False).fit(x, y)
    assert scgen.latent(x).shape == (40, 2)
    with pytest.raises(ValueError, match="x has 3 features but ScGen was fitted on 2"):
        scgen.latent(bad)
