"""Where a campaign's batches run: this process, a local process pool, or a Dask cluster.

Each executor is a context manager with ``name``, ``workers`` and ``map_batches(scenario, seed,
batches)``, which yields each batch's rows as it finishes (in any order). Before a pool starts,
the closed loop is compiled once here and cached on disk, so workers load it instead of each
compiling it.
"""
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait

from sims.campaign_rows import fly_batch


def executor_for(workers=None, scheduler=None, dask_local=None, parallel="processes"):
    """The executor the command line's options ask for (checked before anything is written);
    ``parallel`` picks local processes or threads (see ``benchmarks/campaign.py``)."""
    if scheduler is not None and dask_local is not None:
        raise ValueError("--scheduler and --dask-local: give one or the other")
    if scheduler is not None or dask_local is not None:
        if dask_local is not None and (isinstance(dask_local, bool) or dask_local < 1):
            raise ValueError(f"--dask-local = {dask_local!r}: must be >= 1 workers")
        return DaskExecutor(scheduler, dask_local)
    if parallel not in LOCAL:
        raise ValueError(f"--parallel = {parallel!r}: must be one of {', '.join(LOCAL)}")
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    return SerialExecutor() if workers == 1 else LOCAL[parallel](workers)


def warm_up(scenario, seed):
    """Compile (or load from the disk cache) the closed loop for this campaign's types."""
    from numba import typeof
    from sims.closed_loop import fly
    from sims.run import build_run
    f = build_run(scenario.draw(seed, 0)[1], seed, campaign_index=0)
    args = (f.world, f.world_state, f.fsw_config, f.fsw_state, f.onboard_map, f.telemetry)
    fly.compile(tuple(typeof(a) for a in args))


class SerialExecutor:
    """Every run in this process, one after another."""
    name, workers = "serial", 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map_batches(self, scenario, seed, batches):
        for batch in batches:
            yield fly_batch(scenario, seed, batch)


class PoolExecutor:
    """A pool of worker processes on this machine (forked where the platform allows, so they
    inherit the compiled closed loop)."""
    name = "processes"

    def __init__(self, workers):
        self.workers = workers
        self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        return False

    def _new_pool(self):
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method))

    def map_batches(self, scenario, seed, batches):
        if not batches:
            return
        warm_up(scenario, seed)
        self._pool = self._new_pool()
        pending = {self._pool.submit(fly_batch, scenario, seed, batch) for batch in batches}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


class ThreadExecutor(PoolExecutor):
    """Threads of this process: the compiled flight releases the GIL, so runs overlap; building
    a run and making its row hold it."""
    name = "threads"

    def _new_pool(self):
        return ThreadPoolExecutor(self.workers)


LOCAL = {"processes": PoolExecutor, "threads": ThreadExecutor}


class DaskExecutor:
    """Batches as tasks on a Dask distributed cluster: a running scheduler, or a local cluster of
    ``local_workers`` processes. Workers import :mod:`sims`, so they load the closed loop from the
    on-disk cache (``NUMBA_CACHE_DIR`` must be one they share for that)."""
    name = "dask"

    def __init__(self, address=None, local_workers=None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("--scheduler/--dask-local need Dask: pip install "
                             "'lander-testbed[dask]'") from None
        self._cluster = None
        try:
            if address is None:
                self._cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1,
                                             processes=True, dashboard_address=None)
                self._client = Client(self._cluster)
            else:
                self._client = Client(address, timeout="5s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"--scheduler {address}: cannot reach the Dask scheduler ({exc})") from None
        self.workers = max(1, len(self._client.scheduler_info()["workers"]))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        return False

    def map_batches(self, scenario, seed, batches):
        from dask.distributed import as_completed
        if not batches:
            return
        warm_up(scenario, seed)
        futures = [self._client.submit(fly_batch, scenario, seed, batch, pure=False)
                   for batch in batches]
        for future in as_completed(futures):
            yield future.result()
