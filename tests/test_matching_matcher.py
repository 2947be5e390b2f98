"""The stateful Matcher: options validated once, warm start exact, LAOT keeps one across iterations."""

from __future__ import annotations

import numpy as np
import pytest

from trackability.data.synthetic import near_identity
from trackability.matching import Matcher, assign
from trackability.models import LAOT


def test_options_validated_at_construction():
    with pytest.raises(TypeError, match="unknown option"):
        Matcher(method="sparse", kk=3)
    with pytest.raises(ValueError, match="method must be one of"):
        Matcher(method="hungarian")
    with pytest.raises(TypeError, match="max_memory must be a number of bytes"):
        Matcher(max_memory=[1])
    with pytest.raises(TypeError, match="unknown option"):
        Matcher(method="sparse", warm_start_state=1)


@pytest.mark.parametrize("knn", ["sklearn", "faiss"])
def test_warm_start_reuses_the_index_and_stays_exact(knn):
    if knn == "faiss":
        pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    y = rng.normal(size=(600, 6))
    matcher = Matcher(method="sparse", knn=knn)
    x = y[rng.permutation(600)] + 0.3 * rng.normal(size=y.shape)
    for step in range(3):
        xs = x + 0.05 * step  # the source moves, the target stays (as in LAOT)
        warm = matcher.match(xs, y)
        cold = assign(xs, y, method="sparse", knn=knn)
        dense = assign(xs, y)
        assert warm.certified is True
        assert warm.same_pairs(dense) and cold.same_pairs(dense)
        assert warm.total_cost == pytest.approx(dense.total_cost, rel=1e-12)
        ws = warm.info["warm_start"]
        assert ws["index_builds"] == 1 and ws["index_reused"] is (step > 0)
        if step == 0:
            assert ws["previous_edges_added"] == 0
    other = matcher.match(x, y + 1.0)  # a different target: the index is rebuilt
    assert other.info["warm_start"]["index_builds"] == 2
    assert other.same_pairs(assign(x, y + 1.0))


def test_laot_keeps_one_matcher_and_matches_the_dense_fit(monkeypatch):
    import trackability.matching.sparse as sparse_mod

    builds, reverse = [], []  # indices over the target; reverse kNN indices over the sources
    real, real_knn = sparse_mod.build_index, sparse_mod.knn_graph

    def counting(*args, **kwargs):
        builds.append(1)
        return real(*args, **kwargs)

    def counting_knn(*args, **kwargs):
        reverse.append(1)
        return real_knn(*args, **kwargs)

    monkeypatch.setattr(sparse_mod, "build_index", counting)
    monkeypatch.setattr(sparse_mod, "knn_graph", counting_knn)
    pair = near_identity(1500, 10, 4.0, noise=0.05, random_state=3)
    dense = LAOT(matching={"method": "dense"}).fit(pair.control, pair.treated)
    sparse = LAOT(matching={"method": "sparse", "knn": "sklearn"}).fit(pair.control, pair.treated)
    assert sparse.matching_.same_pairs(dense.matching_)
    np.testing.assert_allclose(sparse.W_, dense.W_, atol=1e-10)
    # every LAOT iteration plus the one that found the fixed point: one index for all of them
    assert sparse.n_iter_ + int(sparse.converged_) >= 2
    assert len(builds) - len(reverse) == 1
    cold = LAOT(matching={"method": "sparse", "knn": "sklearn", "warm_start": False})
    builds.clear()
    reverse.clear()
    cold.fit(pair.control, pair.treated)
    assert len(builds) - len(reverse) == sparse.n_iter_ + int(sparse.converged_)
    assert cold.matching_.same_pairs(dense.matching_)


def test_laot_default_method_is_auto():
    pair = near_identity(200, 5, 1.0, random_state=1)
    model = LAOT().fit(pair.control, pair.treated)
    assert model.matching_.info["auto"]["method"] == "dense"
    again = LAOT(matching={"method": "dense"}).fit(pair.control, pair.treated)
    assert model.matching_.same_pairs(again.matching_)
