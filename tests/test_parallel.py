"""The executor returns results in input order, locally and on Dask."""

from ctcscope.parallel import map_samples


def _square(x, add=0):
    return x * x + add


def test_local_pool_keeps_order():
    items = list(range(20))
    assert map_samples(_square, items, workers=2, quiet=True, add=1) == [x * x + 1 for x in items]
    assert map_samples(_square, items, workers=1, quiet=True) == [x * x for x in items]
    assert map_samples(_square, [], quiet=True) == []


def test_dask_local_cluster_matches_pool():
    import distributed
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as lc:
        with distributed.Client(lc) as client:
            got = map_samples(_square, list(range(10)), scheduler=client, quiet=True, add=2)
    assert got == [x * x + 2 for x in range(10)]
