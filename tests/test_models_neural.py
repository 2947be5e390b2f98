"""CellOT, CompactCellOT and ScGen: correctness against known answers, seeding, persistence, errors.

Small and quick (a few hundred iterations); every fit runs single-threaded on CPU.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

import torch  # noqa: E402

from trackability.metrics import median_heuristic_gamma, mmd2  # noqa: E402
from trackability.models import (  # noqa: E402
    CellOT,
    CompactCellOT,
    Identity,
    NotFittedError,
    PerturbationModel,
    ScGen,
)
from trackability.models import _torch as torch_utils  # noqa: E402
from trackability.models.scgen import balanced_indices, default_epochs  # noqa: E402

pytestmark = pytest.mark.neural


# -- fixtures: data with a known answer -------------------------------------------------------------
def _sqrtm(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return v @ np.diag(np.sqrt(w)) @ v.T


@pytest.fixture(scope="module")
def gaussian():
    """Source N(0, I), target N(m, S): the OT map is affine, T(x) = m + S^{1/2} x."""
    rng = np.random.default_rng(7)
    a = np.array([[1.5, 0.4], [0.4, 0.7]])
    root = _sqrtm(a @ a.T)
    m = np.array([2.0, -1.0])
    x = rng.normal(size=(800, 2))
    y = rng.normal(size=(800, 2)) @ root + m
    x_test = rng.normal(size=(400, 2))
    return {"x": x, "y": y, "x_test": x_test, "T_test": x_test @ root + m}


@pytest.fixture(scope="module")
def fitted_cellot(gaussian):
    return CellOT(
        max_iter=200, batch_size=64, lr=1e-3, eval_every=50, early_stopping=False, random_state=0
    ).fit(gaussian["x"], gaussian["y"])


@pytest.fixture(scope="module")
def latent_shift():
    """Cells decoded by a fixed nonlinear map from a latent space; treatment shifts the latent."""
    rng = np.random.default_rng(3)
    k, d = 4, 20
    dec = rng.normal(size=(k, d))
    shift = np.array([2.0, -1.5, 0.0, 0.0])

    def cells(n: int, moved: bool) -> np.ndarray:
        z = rng.normal(size=(n, k)) + (shift if moved else 0.0)
        return np.tanh(z @ dec) + 0.05 * rng.normal(size=(n, d))

    return {
        "x": cells(500, False), "y": cells(500, True),
        "x_test": cells(300, False), "y_test": cells(300, True),
    }


def _small_scgen(**kw) -> ScGen:
    params = {"n_hidden": 64, "n_latent": 8, "max_epochs": 30, "early_stopping": False,
              "random_state": 0}
    params.update(kw)
    return ScGen(**params)


# -- CellOT -----------------------------------------------------------------------------------------
def test_cellot_recovers_affine_ot_map(fitted_cellot, gaussian):
    pred = fitted_cellot.predict(gaussian["x_test"])
    err = np.mean(np.sum((pred - gaussian["T_test"]) ** 2, axis=1))
    err_identity = np.mean(np.sum((gaussian["x_test"] - gaussian["T_test"]) ** 2, axis=1))
    assert err_identity > 5.0
    assert err < 0.1 * err_identity


def test_cellot_f_is_convex_after_training(fitted_cellot):
    rng = np.random.default_rng(0)
    a = rng.normal(scale=3.0, size=(2000, 2))
    b = rng.normal(scale=3.0, size=(2000, 2))
    fa, fb = fitted_cellot.potential(a), fitted_cellot.potential(b)
    fmid = fitted_cellot.potential(0.5 * (a + b))
    scale = 1e-5 * (1.0 + np.abs(fa) + np.abs(fb))
    assert np.all(fmid <= 0.5 * (fa + fb) + scale)
    # The convexity-carrying weights were clamped, not merely penalised.
    assert all(bool((w.weight >= 0).all()) for w in fitted_cellot.f_.W)
    # A non-trivial function: strictly convex somewhere (a linear f would satisfy the test too).
    assert np.max(0.5 * (fa + fb) - fmid) > 1e-2


def test_cellot_prediction_is_gradient_of_g(fitted_cellot):
    x = np.random.default_rng(1).normal(size=(5, 2))
    h = 1e-2
    num = np.empty_like(x)
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        num[:, j] = (fitted_cellot.potential(x + e, "g") - fitted_cellot.potential(x - e, "g")) / (2 * h)
    np.testing.assert_allclose(fitted_cellot.predict(x), num, atol=2e-2, rtol=2e-2)


def test_cellot_history_and_checkpoint_selection(fitted_cellot, gaussian):
    h = fitted_cellot.history_
    assert list(h["step"]) == [50, 100, 150, 200]
    assert h["val_mmd2"].notna().all() and h["train_mmd2"].notna().all()
    assert h[["train_loss_g", "train_loss_f", "val_loss_g", "val_loss_f"]].notna().all().all()
    best = int(h["step"][h["val_mmd2"].idxmin()])
    assert fitted_cellot.best_step_ == best
    # The kept weights reproduce the logged validation MMD^2 of the chosen checkpoint.
    vs, vt = fitted_cellot.val_source_index_, fitted_cellot.val_target_index_
    assert len(vs) == 80 and len(vt) == 80
    val = mmd2(fitted_cellot.predict(gaussian["x"][vs]), gaussian["y"][vt], gamma=fitted_cellot.gamma_)
    assert val == pytest.approx(h["val_mmd2"].min(), abs=1e-4)
    # The bandwidth is the median heuristic on the training cells only.
    tr_s = np.setdiff1d(np.arange(800), vs)
    tr_t = np.setdiff1d(np.arange(800), vt)
    assert fitted_cellot.gamma_ == pytest.approx(
        1.0 / np.median(
            np.square(
                np.concatenate([gaussian["x"][tr_s], gaussian["y"][tr_t]])[:, None]
                - np.concatenate([gaussian["x"][tr_s], gaussian["y"][tr_t]])[None]
            ).sum(-1)[np.triu_indices(1440, 1)]
        ),
        rel=1e-6,
    )


def test_cellot_determinism_and_rng_isolation():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(120, 3)), rng.normal(size=(120, 3)) + 1.0
    kw = {"max_iter": 6, "batch_size": 32, "n_inner": 2, "log_every": 3, "eval_every": 3,
          "progress": False}
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    p1 = CompactCellOT(random_state=5, **kw).fit(x, y).predict(x)
    after = torch.rand(3)
    assert torch.equal(before, after), "fit must not consume the caller's torch random stream"
    assert torch.get_num_threads() == threads, "fit must restore the caller's thread setting"
    p2 = CompactCellOT(random_state=5, **kw).fit(x, y).predict(x)
    p3 = CompactCellOT(random_state=6, **kw).fit(x, y).predict(x)
    np.testing.assert_array_equal(p1, p2)
    assert np.max(np.abs(p1 - p3)) > 1e-4


def test_progress_bar_is_silenceable(capsys):
    x = np.random.default_rng(0).normal(size=(40, 2))
    kw = {"max_iter": 2, "n_inner": 1, "batch_size": 16}
    CellOT(progress=True, **kw).fit(x, x + 1)
    assert "CellOT" in capsys.readouterr().err
    CellOT(**kw).fit(x, x + 1)
    ScGen(n_hidden=8, n_latent=2, max_epochs=1).fit(x, x + 1)
    assert capsys.readouterr().err == ""


def test_compact_cellot_architecture():
    m = CompactCellOT(max_iter=2, n_inner=1, batch_size=16, selection="last",
                      early_stopping=False, validation_fraction=0.0)
    x = np.random.default_rng(0).normal(size=(40, 4))
    m.fit(x, x + 1)
    assert [w.weight.shape[0] for w in m.g_.W] == [32, 32, 1]
    assert [a.weight.shape for a in m.g_.A] == [(32, 4), (32, 4), (32, 4), (1, 4)]
    assert m.history_["val_mmd2"].isna().all() and m.best_step_ == 2
    big = CellOT(max_iter=1, n_inner=1, batch_size=16).fit(x, x)
    assert [w.weight.shape[0] for w in big.f_.W] == [64, 64, 64, 1]  # 4 hidden layers: A_0 feeds the first
    assert len(big.f_.A) == 5


def test_icnn_initialisation_matches_paper():
    from trackability.models._icnn import icnn_class

    torch.manual_seed(0)
    net = icnn_class()(5, (64, 64))
    for layer in [*net.A, *net.W]:
        w = layer.weight.detach().numpy()
        assert w.min() >= 0.0 and w.max() <= 0.1 and w.std() > 0.02
    assert all(float(a.bias.detach().abs().max()) == 0.0 for a in net.A)
    assert all(w.bias is None for w in net.W)


def test_cellot_save_load_round_trip(fitted_cellot, gaussian, tmp_path):
    path = fitted_cellot.save(tmp_path / "cellot")
    loaded = PerturbationModel.load(path)
    assert type(loaded) is CellOT
    xt = gaussian["x_test"]
    np.testing.assert_array_equal(loaded.predict(xt), fitted_cellot.predict(xt))
    assert loaded.best_step_ == fitted_cellot.best_step_
    np.testing.assert_allclose(loaded.history_["val_mmd2"], fitted_cellot.history_["val_mmd2"])
    with np.load(path, allow_pickle=False) as data:  # weights stored as plain arrays
        assert any(k.startswith("extra:g.") for k in data.files)


# -- scGen ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_scgen(latent_shift):
    return _small_scgen().fit(latent_shift["x"], latent_shift["y"])


def test_scgen_beats_identity_on_planted_latent_shift(fitted_scgen, latent_shift):
    gamma = median_heuristic_gamma(latent_shift["x"], latent_shift["y"])
    pred = fitted_scgen.predict(latent_shift["x_test"])
    ours = mmd2(pred, latent_shift["y_test"], gamma=gamma)
    ident = mmd2(Identity().fit(latent_shift["x"], latent_shift["y"]).predict(latent_shift["x_test"]),
                 latent_shift["y_test"], gamma=gamma)
    assert ident > 0.1
    assert ours < 0.3 * ident


def test_scgen_history_and_delta(fitted_scgen, latent_shift):
    h = fitted_scgen.history_
    assert list(h.columns[:3]) == ["step", "train_loss", "val_score"]
    assert list(h["step"]) == list(range(1, 31))
    np.testing.assert_array_equal(h["val_score"], h["val_loss"])
    assert not fitted_scgen.stopped_early_ and fitted_scgen.n_iter_ == 30
    assert h["train_loss"].iloc[-1] < h["train_loss"].iloc[0]
    assert h["val_loss"].notna().all()
    assert list(h.index[h["val_mmd2"].notna()]) == [9, 19, 29]
    # delta_ is the difference of the mean latent codes (no labels: one group, equal sizes).
    lat_x = fitted_scgen.latent(latent_shift["x"])
    lat_y = fitted_scgen.latent(latent_shift["y"])
    np.testing.assert_allclose(fitted_scgen.delta_, lat_y.mean(0) - lat_x.mean(0), atol=1e-5)


def test_scgen_cell_type_balancing():
    rng = np.random.default_rng(0)
    labels = np.array(["a"] * 90 + ["b"] * 10)
    idx = balanced_indices(labels, 100, rng)
    assert idx.size == 180
    assert np.sum(labels[idx] == "a") == 90 and np.sum(labels[idx] == "b") == 90
    np.testing.assert_array_equal(balanced_indices(None, 7, rng), np.arange(7))

    # Two cell types, 90/10 in control and 10/90 in treated; treatment adds the same shift to both.
    d = 6
    centre = {"a": np.zeros(d), "b": np.r_[4.0, 4.0, np.zeros(d - 2)]}
    shift = np.r_[0.0, 0.0, 1.5, 0.0, 0.0, 0.0]
    lab_x = np.array(["a"] * 270 + ["b"] * 30)
    lab_y = np.array(["a"] * 30 + ["b"] * 270)
    x = np.stack([centre[c] for c in lab_x]) + 0.3 * rng.normal(size=(300, d))
    y = np.stack([centre[c] for c in lab_y]) + shift + 0.3 * rng.normal(size=(300, d))
    m = _small_scgen(max_epochs=15).fit(x, y, source_labels=lab_x, target_labels=lab_y)
    lx, ly = m.latent(x), m.latent(y)
    per_type = np.mean([ly[lab_y == c].mean(0) - lx[lab_x == c].mean(0) for c in "ab"], axis=0)
    unbalanced = ly.mean(0) - lx.mean(0)
    # Balanced delta = average of per-type shifts (up to resampling noise), not the raw difference.
    assert np.linalg.norm(m.delta_ - per_type) < 0.25 * np.linalg.norm(unbalanced - per_type)


def test_scgen_determinism_and_round_trip(latent_shift, tmp_path):
    x, y = latent_shift["x"][:120], latent_shift["y"][:120]
    p1 = _small_scgen(max_epochs=3, random_state=1).fit(x, y)
    p2 = _small_scgen(max_epochs=3, random_state=1).fit(x, y)
    p3 = _small_scgen(max_epochs=3, random_state=2).fit(x, y)
    np.testing.assert_array_equal(p1.predict(x), p2.predict(x))
    assert np.max(np.abs(p1.predict(x) - p3.predict(x))) > 1e-4
    loaded = PerturbationModel.load(p1.save(tmp_path / "scgen.npz"))
    assert type(loaded) is ScGen
    np.testing.assert_array_equal(loaded.predict(x), p1.predict(x))
    np.testing.assert_array_equal(loaded.delta_, p1.delta_)


def test_scgen_early_stopping_restores_best(latent_shift):
    x, y = latent_shift["x"][:100], latent_shift["y"][:100]
    m = _small_scgen(max_epochs=200, early_stopping=True, patience=3, lr=3e-2).fit(x, y)
    h = m.history_
    assert m.n_epochs_ < 200 and m.n_iter_ == m.n_epochs_
    assert m.stopped_early_ and m.stop_reason_ == "early_stopping"
    assert m.best_epoch_ == int(h["step"][h["val_loss"].idxmin()])
    assert m.n_epochs_ == m.best_epoch_ + 3


def test_scgen_presets_and_epoch_rule():
    assert default_epochs(20000) == 400
    assert default_epochs(40000) == 200
    assert default_epochs(50) == 400
    assert default_epochs(30000) == round(20000 / 30000 * 400)
    p = ScGen.protein_panel(random_state=3).get_params()
    assert (p["n_latent"], p["n_hidden"], p["n_layers"], p["dropout"], p["lr"], p["batch_size"]) == (
        50, 256, 2, 0.2, 5e-4, 64,
    )
    d = ScGen().get_params()
    assert (d["n_latent"], d["n_hidden"], d["kl_weight"], d["batch_size"]) == (100, 800, 5e-5, 128)
    assert (d["lr"], d["weight_decay"], d["adam_eps"]) == (1e-3, 1e-6, 0.01)


# -- errors -----------------------------------------------------------------------------------------
def test_missing_torch_gives_install_hint(monkeypatch):
    def no_torch():
        raise ImportError("No module named 'torch'")

    monkeypatch.setattr(torch_utils, "_import_torch", no_torch)
    x = np.zeros((10, 2))
    for cls in (CellOT, CompactCellOT, ScGen):
        model = cls()  # constructing needs no torch; fitting does
        with pytest.raises(ImportError, match=r'pip install "trackability\[neural\]"') as info:
            model.fit(x, x)
        assert "torch==2.13.0" in str(info.value)


def test_import_models_does_not_import_torch():
    code = "import sys, trackability.models; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("cls", [CellOT, ScGen])
def test_bad_input_errors(cls):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 3))
    model = cls()
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="source contains 1 NaN"):
        model.fit(bad, y)
    with pytest.raises(ValueError, match="source has 3 features but target has 2"):
        model.fit(x, y[:, :2])
    with pytest.raises(ValueError, match="at least 4"):
        model.fit(x[:2], y)
    with pytest.raises(NotFittedError):
        model.predict(x)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"hidden": ()}, "at least one hidden layer"),
        ({"hidden": (64, 0)}, "hidden width"),
        ({"max_iter": 0}, "max_iter"),
        ({"patience": 0}, "patience"),
        ({"min_delta": -1.0}, "min_delta"),
        ({"lr_decay": 1.5}, "lr_decay"),
        ({"selection": "last"}, "early_stopping=True needs"),
        ({"lr": -1.0}, "lr"),
        ({"selection": "test"}, "selection"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"validation_fraction": 0.0}, 'selection="last"'),
        ({"betas": (0.5,)}, "betas"),
        ({"n_threads": 0}, "n_threads"),
    ],
)
def test_cellot_bad_parameters(params, match):
    x = np.random.default_rng(0).normal(size=(40, 2))
    with pytest.raises(ValueError, match=match):
        CellOT(**params).fit(x, x)


def test_cellot_predict_wrong_width(fitted_cellot):
    with pytest.raises(ValueError, match="source has 3 features but CellOT was fitted on 2"):
        fitted_cellot.predict(np.zeros((4, 3)))


def test_scgen_bad_labels_and_parameters(latent_shift):
    x, y = latent_shift["x"][:40], latent_shift["y"][:40]
    m = _small_scgen(max_epochs=1)
    with pytest.raises(ValueError, match="source_labels has 39 labels but there are 40 cells"):
        m.fit(x, y, source_labels=["a"] * 39)
    with pytest.raises(ValueError, match="target_labels contains missing labels"):
        m.fit(x, y, target_labels=["a"] * 39 + [None])
    with pytest.raises(TypeError, match="unexpected keyword"):
        m.fit(x, y, labels=["a"] * 40)
    with pytest.raises(ValueError, match="dropout"):
        _small_scgen(dropout=1.5).fit(x, y)
    with pytest.raises(ValueError, match="early_stopping=True needs validation_fraction"):
        _small_scgen(early_stopping=True, validation_fraction=0.0).fit(x, y)


@pytest.mark.realdata
def test_scgen_protein_panel_on_sachs_beats_identity(real_data_dir):
    """Sachs 2005, CD3/CD28 -> +U0126 (MEK inhibitor): 20 epochs of the protein-panel preset."""
    from trackability.data import load_sachs

    adata = load_sachs(real_data_dir / "sachs2005", transform="log", conditions=[1, 6])
    cond = adata.obs["condition_id"].to_numpy()
    xs = np.asarray(adata.X)
    x_all, y_all = xs[cond == 1], xs[cond == 6]
    rng = np.random.default_rng(0)
    px, py = rng.permutation(len(x_all)), rng.permutation(len(y_all))
    nx, ny = int(0.8 * len(x_all)), int(0.8 * len(y_all))
    mu, sd = x_all[px[:nx]].mean(0), x_all[px[:nx]].std(0)  # standardise with training control
    x, x_test = (x_all[px[:nx]] - mu) / sd, (x_all[px[nx:]] - mu) / sd
    y, y_test = (y_all[py[:ny]] - mu) / sd, (y_all[py[ny:]] - mu) / sd
    gamma = median_heuristic_gamma(x, y)
    model = ScGen.protein_panel(max_epochs=20, early_stopping=False, random_state=0).fit(x, y)
    ours = mmd2(model.predict(x_test), y_test, gamma=gamma)
    ident = mmd2(x_test, y_test, gamma=gamma)
    assert ident > 0.3  # U0126 moves these cells a lot
    assert ours < 0.25 * ident


# -- the analytic ICNN engine against autograd ------------------------------------------------------
def _perturbed_icnns(d, hidden, seed=0):
    from trackability.models._icnn import icnn_class

    torch.manual_seed(seed)
    f, g = icnn_class()(d, hidden), icnn_class()(d, hidden)
    with torch.no_grad():  # leave the initial point: negative W in g so the penalty is active
        for p in g.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for p in f.parameters():
            p.add_(0.05 * torch.randn_like(p))
        f.clamp_w()
    return f, g


def _grads_by_offset(flat_net, module):
    base = flat_net.flat.data_ptr()
    out = {}
    for name, p in module.named_parameters():
        off = (p.data_ptr() - base) // p.element_size()
        out[name] = flat_net.grad[off : off + p.numel()].view_as(p).clone()
    return out


@pytest.mark.parametrize("hidden", [(8, 8, 8, 8), (6, 7, 5), (9,)])
@pytest.mark.parametrize("d", [5, 20])  # both orientations of the A products (_icnn.SMALL_D = 16)
def test_analytic_icnn_gradients_equal_autograd(hidden, d):
    from trackability.models._icnn import FlatICNN

    f, g = _perturbed_icnns(d, hidden)
    x, y = torch.randn(30, d), torch.randn(20, d)  # unequal batches, as when populations differ
    # autograd (double backward), the way the official code computes the g update
    xr = x.clone().requires_grad_(True)
    tx = g.transport(xr, create_graph=True)
    loss_g = (f(tx) - (xr * tx).sum(-1, keepdim=True)).mean() + g.negative_weight_penalty()
    ref_g = torch.autograd.grad(loss_g, list(g.parameters()), allow_unused=True,
                                materialize_grads=True)
    loss_f = f(y).mean() - f(tx.detach()).mean()
    ref_f = torch.autograd.grad(loss_f, list(f.parameters()))
    ref_tx = tx.detach().clone()
    fg, ff = FlatICNN(g), FlatICNN(f)
    assert fg._small is (d == 5)  # the two values of d take the two paths
    with torch.no_grad():
        torch.testing.assert_close(fg.transport(x), ref_tx, rtol=1e-5, atol=1e-5)
        value = fg.transport_loss_gradients(x, ff, 1.0)
        assert value == pytest.approx(float(loss_g), rel=1e-5)
        c = torch.cat([torch.full((20, 1), 1 / 20), torch.full((30, 1), -1 / 30)])
        ff.potential_gradients(torch.cat([y, ref_tx]), c)
    for module, net, ref in ((g, fg, ref_g), (f, ff, ref_f)):
        ours = _grads_by_offset(net, module)
        for (name, _), r in zip(module.named_parameters(), ref, strict=True):
            torch.testing.assert_close(ours[name], r, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("fused", [True, False])
def test_flat_adam_equals_torch_adam(fused):
    """Both paths of FlatAdam (torch's fused kernel, and the tensor-operation fallback) take the
    steps torch.optim.Adam takes, the learning rate changed half-way as lr_decay does."""
    from trackability.models._icnn import FlatAdam, FlatICNN, icnn_class

    torch.manual_seed(3)
    net = FlatICNN(icnn_class()(4, (6, 5)))
    ref = net.flat.clone()
    opt = FlatAdam(net, 1e-2, (0.5, 0.9))
    if not fused:
        opt._fused = None
    ref_opt = torch.optim.Adam([ref], lr=1e-2, betas=(0.5, 0.9))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for step in range(60):
            grad = torch.randn(ref.numel(), generator=gen) * (1 + step % 7)
            if step == 30:
                opt.lr = 2e-3
                ref_opt.param_groups[0]["lr"] = 2e-3
            net.grad.copy_(grad)
            opt.step()
            ref.grad = grad.clone()
            ref_opt.step()
    torch.testing.assert_close(net.flat, ref, rtol=1e-5, atol=1e-6)
    # the transposed copies the passes use follow the flat buffer
    torch.testing.assert_close(net.At, net.A.t())


def _autograd_reference_fit(x, y, *, hidden, max_iter, batch_size, n_inner, lr, random_state):
    """The previous CellOT training loop (torch.autograd with create_graph), same random draws."""
    from trackability._validation import check_random_state
    from trackability.models._icnn import icnn_class

    rng = check_random_state(random_state)
    split = torch_utils.monitoring_split(x, y, 0.0, rng, max_monitor=1000)
    losses = []
    with torch_utils.torch_session(split["seed"], 1):
        f, g = icnn_class()(x.shape[1], hidden), icnn_class()(x.shape[1], hidden)
        opt_f = torch.optim.Adam(f.parameters(), lr=lr, betas=(0.5, 0.9))
        opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.9))
        xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        src = torch_utils.BatchCycler(xt.shape[0], batch_size, rng)
        tgt = torch_utils.BatchCycler(yt.shape[0], batch_size, rng)
        for _ in range(max_iter):
            yb = yt[next(tgt)]
            f.requires_grad_(False)
            for _ in range(n_inner):
                xb = xt[next(src)].requires_grad_(True)
                tx = g.transport(xb, create_graph=True)
                loss_g = (f(tx) - (xb * tx).sum(-1, keepdim=True)).mean()
                loss_g = loss_g + g.negative_weight_penalty()
                opt_g.zero_grad()
                loss_g.backward()
                opt_g.step()
            f.requires_grad_(True)
            xb = xt[next(src)].requires_grad_(True)
            tx = g.transport(xb).detach()
            loss_f = f(yb).mean() - f(tx).mean()
            opt_f.zero_grad()
            loss_f.backward()
            opt_f.step()
            f.clamp_w()
            losses.append((float(loss_g.detach()), float(loss_f.detach())))
        xq = torch.as_tensor(x[:50], dtype=torch.float32).requires_grad_(True)
        pred = g.transport(xq).detach().numpy()
    return np.array(losses), pred


def test_cellot_training_matches_autograd_reference():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(150, 3))
    y = rng.normal(size=(120, 3)) @ np.array([[1.2, 0.3, 0], [0, 0.8, 0.2], [0, 0, 1.1]]) + 1.0
    kw = {"hidden": (16, 16, 16), "max_iter": 25, "batch_size": 64, "n_inner": 3, "lr": 1e-3}
    ref_losses, ref_pred = _autograd_reference_fit(x, y, random_state=9, **kw)
    model = CellOT(selection="last", early_stopping=False, validation_fraction=0.0, log_every=1,
                   eval_every=1000, random_state=9, **kw).fit(x, y)
    h = model.history_
    np.testing.assert_allclose(h["train_loss_g"], ref_losses[:, 0], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(h["train_loss_f"], ref_losses[:, 1], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(model.predict(x[:50]), ref_pred, rtol=1e-3, atol=1e-3)


# -- issue 9: unequal batches, batch_size=1, NaN scores ---------------------------------------------
def test_cellot_populations_smaller_than_a_batch_and_unequal():
    """300 vs 200 cells at batch 256 crashed (size of tensor a (256) must match b (180))."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(200, 2)) + np.array([3.0, -2.0])
    for cls in (CellOT, CompactCellOT):
        m = cls(max_iter=150, lr=1e-3, eval_every=50, early_stopping=False).fit(x, y)
        assert m.n_train_ == [270, 180]
        pred = m.predict(x)
        assert np.isfinite(pred).all()
        # it learned the shift (identity is 13 away in squared distance)
        assert np.mean(np.sum((pred.mean(0) - np.array([3.0, -2.0]) - x.mean(0)) ** 2)) < 1.0


def test_scgen_batch_size_one_is_refused():
    x = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(ValueError, match=r"batch_size must be at least 2.*BatchNorm"):
        ScGen(n_hidden=8, n_latent=2, max_epochs=2, batch_size=1).fit(x, x + 1)
    m = ScGen(n_hidden=8, n_latent=2, max_epochs=3, batch_size=2, early_stopping=False).fit(x, x + 1)
    assert (m.history_["train_loss"] > 0).all()  # it trains (the bug: 0.0 every epoch)


def test_cellot_never_keeps_a_nan_checkpoint(monkeypatch):
    import trackability.models.cellot as cellot_module

    calls = []

    def flaky_mmd2(a, b, **kw):  # every other validation evaluation fails with NaN
        calls.append(1)
        value = mmd2(a, b, **kw)
        return float("nan") if len(calls) % 4 == 0 else value

    monkeypatch.setattr(cellot_module, "mmd2", flaky_mmd2)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 2.0
    m = CellOT(max_iter=400, lr=1e-3, eval_every=50, early_stopping=False, batch_size=64).fit(x, y)
    h = m.history_.dropna(subset=["train_mmd2"])
    assert h["val_score"].isna().sum() == 4
    finite = h.dropna(subset=["val_score"])
    assert m.best_step_ == int(finite["step"][finite["val_score"].idxmin()])


# -- convergence: early stopping on the validation score --------------------------------------------
def test_cellot_early_stopping_restores_best(gaussian):
    m = CellOT(max_iter=5000, batch_size=64, lr=1e-3, eval_every=25, patience=150,
               min_delta=1e-3).fit(gaussian["x"], gaussian["y"])
    h = m.history_.dropna(subset=["val_score"])
    assert m.stopped_early_ and m.stop_reason_ == "early_stopping" and m.n_iter_ < 5000
    assert m.n_iter_ == int(h["step"].iloc[-1])
    assert m.best_step_ == int(h["step"][h["val_score"].idxmin()])
    # no improvement by more than min_delta over the last `patience` iterations
    last_gain = h["step"][h["val_score"] < h["val_score"].cummin().shift(fill_value=np.inf) - 1e-3]
    assert m.n_iter_ - int(last_gain.iloc[-1]) >= 150
    # the restored weights reproduce the best validation score
    vs, vt = m.val_source_index_, m.val_target_index_
    val = mmd2(m.predict(gaussian["x"][vs]), gaussian["y"][vt], gamma=m.gamma_)
    assert val == pytest.approx(h["val_score"].min(), abs=1e-4)


def test_history_columns_and_stop_attributes(fitted_cellot):
    h = fitted_cellot.history_
    assert list(h.columns[:3]) == ["step", "train_loss", "val_score"]
    assert h["step"].dtype.kind == "i"
    np.testing.assert_array_equal(h["train_loss"], h["train_loss_g"])
    np.testing.assert_array_equal(h["val_score"], h["val_mmd2"])
    assert fitted_cellot.n_iter_ == 200 and not fitted_cellot.stopped_early_
    assert fitted_cellot.stop_reason_ == "max_iter"


@pytest.mark.parametrize("cls", [CellOT, CompactCellOT, ScGen])
def test_constructor_stores_parameters_unchanged_and_clone(cls):
    params = {"random_state": np.int64(3), "progress": False}
    params.update({"max_iter": 7} if cls is not ScGen else {"max_epochs": 7})
    model = cls(**params)
    for key, value in params.items():
        assert getattr(model, key) is value
    rebuilt = cls(**model.get_params())
    assert rebuilt.get_params() == model.get_params()
    cls(lr=-1.0, batch_size=0)  # bad values are refused in fit, not in __init__
    sklearn_base = pytest.importorskip("sklearn.base")
    if not isinstance(model, sklearn_base.BaseEstimator):
        pytest.skip("PerturbationModel is not a scikit-learn BaseEstimator in this checkout")
    twin = sklearn_base.clone(model)
    assert type(twin) is cls and twin.get_params() == model.get_params()
