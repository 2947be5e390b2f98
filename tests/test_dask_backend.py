"""The Dask backend gives the serial results, in input order, and shuts its cluster down."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("distributed")

from trackability.experiments import phase_transition, run_jobs  # noqa: E402


def _square(v: int) -> int:
    return v * v


def _thread_limit(_: int) -> int:
    from threadpoolctl import threadpool_info

    return max((p["num_threads"] for p in threadpool_info()), default=1)


GRID = {"dims": [3, 6], "gaps": [0.0, 2.0, 30.0], "trials": 2, "n": 20, "random_state": 7}


def test_phase_transition_dask_equals_serial_inprocess_cluster():
    from distributed import Client, LocalCluster

    serial = phase_transition(**GRID, backend="serial")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dask = phase_transition(**GRID, backend="dask", scheduler=client)
        assert len(client.scheduler_info()["workers"]) == 2  # the client was not closed by us
    pd.testing.assert_frame_equal(serial, dask)
    assert serial["recovery"].iloc[0] == 1.0  # gap 0 is recovered exactly


def test_default_local_cluster_order_threads_and_shutdown():
    import distributed

    items = list(range(12))
    out = run_jobs(_square, items, backend="dask", n_jobs=2)
    assert out == [v * v for v in items]  # input order, whatever the completion order
    assert run_jobs(_thread_limit, [0, 1], backend="dask", n_jobs=1) == [1, 1]  # BLAS pinned
    with pytest.raises(ValueError):
        distributed.get_client()  # no client left behind


def test_bad_scheduler():
    with pytest.raises(TypeError, match="scheduler must be None, an address string"):
        run_jobs(_square, [1], backend="dask", scheduler=3.5)
    with pytest.raises(ValueError, match="scheduler must be a Dask scheduler address"):
        run_jobs(_square, [1], backend="dask", scheduler=" ")
    assert run_jobs(_square, [], backend="dask") == []
