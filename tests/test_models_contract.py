"""The estimator contract every model follows, the model registry, and the model file format."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import sklearn.exceptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

import trackability.models as tm
from trackability.models import LAOT, Identity, MeanShift, ModelFileError, NotFittedError, PerturbationModel
from trackability.models.registry import (
    BASELINES,
    get_model,
    make_model,
    model_names,
    model_params,
    register_model,
)

NEURAL = {"cellot", "compact_cellot", "scgen", "flow_matching"}
#: Small budgets (whichever of these a model takes), so that every model fits in seconds.
SMALL = {"n_iters": 5, "max_iter": 5, "max_epochs": 2, "eval_every": 2, "log_every": 1,
         "n_hidden": 16, "n_latent": 4, "progress": False}


def _small(name: str) -> dict:
    valid = model_params(name)
    return {k: v for k, v in SMALL.items() if k in valid}


def _params(name):
    marks = [pytest.mark.neural] if name in NEURAL else []
    return pytest.param(name, marks=marks, id=name)


#: Every built-in model fitted from two populations alone (``external`` reads another tool's files).
ALL = [_params(n) for n in ("identity", "meanshift", "laot", "cellot", "compact_cellot", "scgen",
                            "flow_matching")]


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    return x, x @ np.diag([1.5, 1.0, 0.5]) + 1.0


# -- the contract, on every registered model ------------------------------------------------------
def test_every_builtin_is_covered():
    assert {p.values[0] for p in ALL} <= set(model_names())
    assert set(BASELINES) <= set(model_names())


@pytest.mark.parametrize("name", ALL)
def test_clone_fit_predict(name, pair):
    if name in NEURAL:
        pytest.importorskip("torch")
    x, y = pair
    model = make_model(name, **_small(name))
    assert isinstance(model, BaseEstimator) and isinstance(model, PerturbationModel)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        model.predict(x)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        check_is_fitted(model)
    twin = clone(model)
    assert type(twin) is type(model) and twin is not model
    assert twin.get_params(deep=True) == model.get_params(deep=False)
    pred = twin.fit(x, y).predict(x)
    assert pred.shape == x.shape and np.isfinite(pred).all()
    check_is_fitted(twin)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        model.predict(x)  # the original is untouched by fitting its clone
    # a clone of a fitted model is unfitted, with the same hyper-parameters
    again = clone(twin)
    assert not again.is_fitted and again.get_params() == twin.get_params()
    # same hyper-parameters and seed, same predictions
    np.testing.assert_allclose(again.fit(x, y).predict(x), pred, rtol=1e-6, atol=1e-6)


#: The registered models that train iteratively and log a ``history_``.
ITERATIVE = [p for p in ALL if p.values[0] not in BASELINES]


@pytest.mark.parametrize("name", ITERATIVE)
def test_history_schema_is_shared(name, pair):
    """Every iterative model's ``history_`` starts with step (int), train_loss, val_score (float)."""
    import pandas as pd

    if name in NEURAL:
        pytest.importorskip("torch")
    x, y = pair
    model = make_model(name, **_small(name)).fit(x, y)
    h = model.history_
    assert isinstance(h, pd.DataFrame) and len(h) >= 1
    assert list(h.columns[:3]) == ["step", "train_loss", "val_score"]
    assert h["step"].dtype == np.int64
    assert h["train_loss"].dtype == np.float64 and h["val_score"].dtype == np.float64
    assert np.all(np.diff(h["step"].to_numpy()) > 0)  # one row per logged step, in order
    assert np.isfinite(h["train_loss"].dropna()).all() and h["train_loss"].notna().any()
    if name == "laot":  # no validation score; the objective is the one it reports
        assert h["val_score"].isna().all()
        assert list(h["step"]) == list(range(1, model.n_iter_ + 1))
        assert model.objective_ == pytest.approx(h["train_loss"].min())


@pytest.mark.parametrize("name", ALL)
def test_defaults_follow_the_conventions(name):
    cls = get_model(name)
    model = cls()
    params = model.get_params()
    assert params["random_state"] == 0
    assert params.get("progress", False) is False  # progress bars are off inside library calls
    assert "n_iters" not in params and "n_epochs" not in params  # budgets: max_iter / max_epochs
    # every constructor argument is stored unchanged under its own name (sklearn's rule)
    assert set(params) == set(model_params(name))


@pytest.mark.parametrize("name", ALL)
def test_hyperparameters_are_checked_in_fit_before_the_data(name, pair):
    if name in NEURAL:
        pytest.importorskip("torch")
    cls = get_model(name)
    budget = next((k for k in ("max_iter", "n_iters", "max_epochs") if k in model_params(name)), None)
    if budget is None:
        pytest.skip(f"{name} has no hyper-parameter to get wrong")
    model = cls(**{budget: -3})  # accepted by the constructor ...
    assert getattr(model, budget) == -3
    bad_data = np.full((3, 2), np.nan)
    with pytest.raises(ValueError, match=budget):  # ... refused by fit, before the (bad) data
        model.fit(bad_data, bad_data)


def test_set_params_comes_from_sklearn_and_names_the_valid_ones():
    model = LAOT(max_iter=3)
    assert model.set_params(alpha=2.0, max_iter=4) is model
    assert (model.alpha, model.max_iter) == (2.0, 4)
    with pytest.raises(ValueError, match=r"LAOT has no parameter 'alfa'; valid: \['alpha'"):
        model.set_params(alfa=1.0)
    assert LAOT.get_params.__qualname__ == BaseEstimator.get_params.__qualname__


def test_not_fitted_error_is_sklearns():
    assert issubclass(NotFittedError, sklearn.exceptions.NotFittedError)
    assert tm.NotFittedError is NotFittedError
    with pytest.raises(NotFittedError, match="This MeanShift is not fitted yet"):
        MeanShift().predict(np.zeros((2, 2)))


def test_neural_models_construct_and_clone_without_torch():
    """Naming, constructing, cloning and validating a config need no torch; fit does."""
    code = (
        "import sys\n"
        "class NoTorch:\n"  # torch is not installed: its import fails
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError(\"No module named 'torch'\")\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from sklearn.base import clone\n"
        "from trackability.models.registry import make_model\n"
        "from trackability.experiments.config import ConfigError, validate_config\n"
        "m = clone(make_model('CellOT', batch_size=8)); assert m.batch_size == 8\n"
        "cfg = {'name': 'x', 'tasks': [{'name': 't', 'dataset': 'synthetic'}],\n"
        "       'methods': [{'name': 'identity'}, {'name': 'meanshift'},\n"
        "                   {'name': 'scgen', 'params': {'max_epochs': 2}}]}\n"
        "validate_config(cfg)\n"
        "cfg['methods'][2]['params'] = {'max_epoch': 2}\n"
        "try:\n"
        "    validate_config(cfg)\n"
        "except ConfigError as e:\n"
        "    assert 'max_epoch' in str(e) and 'max_epochs' in str(e), str(e)\n"
        "else:\n"
        "    raise SystemExit('misspelt parameter accepted')\n"
        "try:\n"
        "    m.fit([[0.0, 1.0]] * 8, [[0.0, 1.0]] * 8)\n"
        "except ImportError as e:\n"
        "    assert 'trackability[neural]' in str(e)\n"
        "else:\n"
        "    raise SystemExit('fit without torch did not fail')\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the registry -----------------------------------------------------------------------------------
def test_names_are_case_insensitive():
    assert get_model("LAOT") is get_model("laot") is LAOT
    assert get_model(" MeanShift ") is MeanShift
    assert isinstance(make_model("Identity"), Identity)


def test_module_class_names_and_errors():
    assert get_model("trackability.models.laot:LAOT") is LAOT
    with pytest.raises(ValueError, match=r"unknown model 'lasso'; known: \[.*'laot'"):
        get_model("lasso")
    with pytest.raises(ImportError, match="no_such_pkg"):
        get_model("no_such_pkg.mod:Model")
    with pytest.raises(ImportError, match="has no attribute"):
        get_model("trackability.models.laot:Nope")
    with pytest.raises(TypeError, match="not a model class"):
        get_model("numpy:float64")  # a class, but no fit/predict
    with pytest.raises(TypeError, match="not a model class"):
        get_model("trackability.models.laot:fit_linear_map")
    with pytest.raises(ValueError, match="non-empty string"):
        get_model("")


def test_make_model_rejects_unknown_hyperparameters():
    with pytest.raises(ValueError, match=r"has no hyper-parameter\(s\) \['alfa'\]; valid: \['alpha'"):
        make_model("laot", alfa=1.0)
    assert make_model("laot", alpha=1.0).alpha == 1.0


def test_register_model(monkeypatch):
    from trackability.models import registry

    monkeypatch.setattr(registry, "_REGISTERED", {})

    class Mine(MeanShift):
        pass

    register_model("Mine", Mine)
    assert get_model("MINE") is Mine and "mine" in model_names()
    register_model("lazy", "trackability.models.baselines:Identity")
    assert get_model("lazy") is Identity
    with pytest.raises(ValueError, match="must not contain ':'"):
        register_model("a:b", Mine)
    with pytest.raises(TypeError, match="class or a 'module:Class'"):
        register_model("x", Mine())


# -- the model file ---------------------------------------------------------------------------------
def _fitted_laot(**kw):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(25, 3))
    return LAOT(max_iter=4, **kw).fit(x, x + 0.2), x


def test_save_stores_numpy_integer_seeds_as_int(tmp_path):
    model, x = _fitted_laot(random_state=np.int64(7))
    loaded = PerturbationModel.load(model.save(tmp_path / "m"))
    assert loaded.random_state == 7 and type(loaded.random_state) is int
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize(
    "state",
    [np.random.default_rng(0), np.random.RandomState(0), np.random.SeedSequence(0)],
    ids=["Generator", "RandomState", "SeedSequence"],
)
def test_save_refuses_random_state_objects(tmp_path, state):
    model, _ = _fitted_laot(random_state=state)
    with pytest.raises(TypeError, match=f"random_state is a numpy {type(state).__name__}.*integer"):
        model.save(tmp_path / "m")
    assert not list(tmp_path.iterdir())  # nothing (not even a temporary) is left behind


def test_save_none_path_is_a_clear_error():
    model, _ = _fitted_laot()
    with pytest.raises(TypeError, match="path must be a file path"):
        model.save(None)
    with pytest.raises(TypeError, match="path must be a file path"):
        PerturbationModel.load(None)


def test_load_a_directory_or_foreign_npz(tmp_path):
    with pytest.raises(ModelFileError, match=str(tmp_path)):
        PerturbationModel.load(tmp_path)
    np.savez(tmp_path / "meta.npz", __meta__=np.array('{"format": "trackability-model/1"}'))
    with pytest.raises(ModelFileError, match="no valid 'class' entry"):
        PerturbationModel.load(tmp_path / "meta.npz")
    np.savez(tmp_path / "list.npz", __meta__=np.array("[1, 2]"))
    with pytest.raises(ModelFileError, match="unknown format"):
        PerturbationModel.load(tmp_path / "list.npz")


@pytest.fixture(scope="module")
def saved_laot(tmp_path_factory):
    model, x = _fitted_laot(fit_intercept=True)
    path = model.save(tmp_path_factory.mktemp("model") / "laot")
    return path.read_bytes(), model, x


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupt_or_truncated_files_give_one_error(saved_laot, tmp_path, data):
    raw, model, x = saved_laot
    buf = bytearray(raw)
    if data.draw(st.booleans(), label="truncate"):
        buf = buf[: data.draw(st.integers(0, len(raw) - 1), label="keep")]
    else:
        for _ in range(data.draw(st.integers(1, 4), label="n_flips")):
            i = data.draw(st.integers(0, len(raw) - 1), label="at")
            buf[i] ^= data.draw(st.integers(1, 255), label="mask")
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(buf))
    try:
        loaded = PerturbationModel.load(path)
    except ModelFileError as exc:
        assert str(path) in str(exc)
        return
    # a change the zip format ignores (e.g. in a header's timestamp): the model must be intact
    assert type(loaded) is LAOT and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.W_, model.W_)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.neural
def test_corrupt_neural_files_give_one_error(tmp_path):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    model = make_model("compact_cellot", **_small("compact_cellot")).fit(x, x + 1)
    raw = model.save(tmp_path / "c").read_bytes()
    gen = np.random.default_rng(5)
    for k in range(40):
        buf = bytearray(raw)
        if k % 2:
            buf = buf[: int(gen.integers(0, len(raw)))]
        else:
            buf[int(gen.integers(0, len(raw)))] ^= int(gen.integers(1, 256))
        path = tmp_path / f"bad{k}.npz"
        path.write_bytes(bytes(buf))
        try:
            loaded = PerturbationModel.load(path)
        except ModelFileError:
            continue
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_history_frame_schema():
    from trackability.models.base import HISTORY_COLUMNS, history_frame

    df = history_frame([{"step": 1, "train_loss": 2, "n_changed": 5},
                        {"step": 2, "train_loss": 1.5, "val_score": 0.25, "n_changed": 0}])
    assert tuple(df.columns) == (*HISTORY_COLUMNS, "n_changed")
    assert df["step"].dtype == np.int64 and df["train_loss"].dtype == np.float64
    assert np.isnan(df["val_score"].iloc[0]) and df["val_score"].iloc[1] == 0.25
    assert list(df["n_changed"]) == [5, 0]
    assert list(history_frame([]).columns) == list(HISTORY_COLUMNS)
    with pytest.raises(ValueError, match=r"history row 0 lacks \['train_loss'\]"):
        history_frame([{"step": 1}])
