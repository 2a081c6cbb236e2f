"""Monte Carlo campaigns: many dispersed landings of one scenario, in parallel, resumable.

>>> from sims.campaign import run_campaign
>>> c = run_campaign("atlas-nominal", runs=1000, out="runs/atlas-1000")   # doctest: +SKIP
>>> c.summary["success"], c.to_pandas().groupby("outcome").size()         # doctest: +SKIP

Run ``k`` of a campaign seeded ``S`` draws its dispersions and its generators from
``SeedSequence(S)``'s child ``k`` (:func:`sims.run.campaign_run_seed`), so it is bit-identical
alone (``lander-testbed run SCENARIO --campaign-seed S --index k``), in any batch and on any number
of workers. Rows are written as batches finish, each chunk to ``chunks/`` under a temporary name
and renamed; a campaign killed at any moment and started again with the same command flies only
the runs without a row, and its ``runs.parquet`` equals an uninterrupted campaign's.

The output folder holds ``campaign.json`` (what the campaign is), ``chunks/``, and at the end
``runs.parquet``, ``summary.json`` and the figures.
"""
import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

import sims
from gnc._numba_cache import source_digest
from sims.campaign_rows import schema
from sims.campaign_stats import summarize_table
from sims.results import write_atomic
from sims.scenario import Scenario, check_seed, load_scenario

MAX_BATCH = 16
"""Runs per task at most: small enough to spread a campaign over the workers and to lose little
to a kill, large enough to make a task's overhead (pickling, scheduling) negligible."""


@dataclass
class Campaign:
    """A finished campaign: its table, summary and folder."""
    out: Path
    table: pa.Table
    summary: dict

    def to_pandas(self):
        """``runs.parquet`` as a pandas DataFrame (needs pandas)."""
        return self.table.to_pandas()

    def column(self, name):
        """One column as a numpy array."""
        return self.table.column(name).to_numpy(zero_copy_only=False)

    def plot(self, out_dir=None):
        """Write the campaign's figures (default: its folder); returns their paths."""
        from sims.campaign_plot import plot_campaign
        return plot_campaign(self, Path(out_dir) if out_dir else self.out)


def load_campaign(out):
    """A finished campaign from its folder."""
    out = Path(out)
    for name in ("runs.parquet", "summary.json"):
        if not (out / name).is_file():
            raise ValueError(f"{out}: no {name}; not a finished campaign folder")
    return Campaign(out, pq.read_table(out / "runs.parquet"),
                    json.loads((out / "summary.json").read_text()))


def identity(scenario, campaign_seed):
    """What makes two campaigns the same: scenario data, variant, DEM, seed and software."""
    terrain_dem = scenario.terrain["dem"]
    scenario_text = json.dumps(scenario.data, sort_keys=True, default=str)
    dem_hash = hashlib.sha256(Path(terrain_dem).read_bytes()).hexdigest()[:16] if terrain_dem else None
    return {
        "scenario": scenario.name,
        "scenario_sha256": hashlib.sha256(scenario_text.encode()).hexdigest()[:16],
        "fsw": scenario.fsw,
        "dem": terrain_dem,
        "dem_sha256": dem_hash,
        "campaign_seed": int(campaign_seed),
        "software": f"lander-testbed {sims.__version__}, compiled source {source_digest()}",
    }


def _versions():
    import numba
    import scipy
    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "numba": numba.__version__, "pyarrow": pa.__version__, "lander-testbed": sims.__version__}


def _claim(out, ident):
    """Create the folder for campaign ``ident``, or check it already holds that campaign."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "campaign.json"
    if path.is_file():
        held = json.loads(path.read_text())
        differs = [k for k in ident if held.get(k) != ident[k]]
        if differs:
            k = differs[0]
            raise ValueError(f"output folder {out} holds a different campaign ({k} = {held.get(k)!r}, "
                             f"this one has {ident[k]!r}); choose another --out or remove it")
    elif any(out.iterdir()):
        raise ValueError(f"output folder {out} is not empty and holds no campaign.json; choose "
                         "another --out")
    else:
        write_atomic(path, lambda p: p.write_text(json.dumps(ident, indent=2) + "\n"))


def _written(chunks, table_schema, columns=None):
    """The rows already written (every chunk file) as one table, sorted by run index."""
    parts = [pq.read_table(path, schema=table_schema, columns=columns)
             for path in sorted(chunks.glob("runs-*.parquet"))]
    if not parts:
        fields = table_schema if columns is None else [table_schema.field(c) for c in columns]
        return pa.Table.from_pylist([], schema=pa.schema(fields))
    return pa.concat_tables(parts).sort_by("index")


def _write_chunk(chunks, rows, table_schema):
    indices = [r["index"] for r in rows]
    path = chunks / f"runs-{min(indices):07d}-{max(indices):07d}.parquet"
    table = pa.Table.from_pylist(rows, schema=table_schema)
    write_atomic(path, lambda p: pq.write_table(table, p))


def _batches(todo, workers):
    size = max(1, min(MAX_BATCH, -(-len(todo) // (4 * workers))))
    return [todo[i:i + size] for i in range(0, len(todo), size)]


def run_campaign(scenario, runs, out, seed=0, fsw=None, dem=None, workers=None, scheduler=None,
                 dask_local=None, parallel="processes", progress=True, plots=True):
    """Fly (or resume) a campaign of ``runs`` dispersed landings; returns a :class:`Campaign`.

    Parameters
    ----------
    scenario : str or Scenario
        Shipped name, TOML path, or a loaded scenario; its ``[dispersions]`` are drawn per run.
    runs : int
        Number of runs (indices ``0 .. runs-1``).
    out : str or Path
        The campaign's folder; one holding the same campaign is resumed.
    seed : int
        The campaign seed.
    fsw, dem : str, optional
        Flight-software variant and DEM replacing the scenario's.
    workers : int, optional
        Local worker processes (default: all cores; 1 flies in this process).
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://HOST:PORT``) to run the batches on.
    dask_local : int, optional
        Start a local Dask cluster of this many worker processes instead.
    parallel : {"processes", "threads"}
        How local workers run: a process pool (the default, the faster on the benchmark) or
        threads of this process.
    progress, plots : bool
        Show a progress bar; write the figures at the end.
    """
    from sims.campaign_executors import executor_for
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    sc = sc.with_options(fsw=fsw, dem=dem)
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or runs < 1:
        raise ValueError(f"--runs = {runs!r}: must be a whole number >= 1")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"--workers = {workers!r}: must be >= 1")
    check_seed("seed", seed)
    out = Path(out)
    ident = identity(sc, seed)
    table_schema = schema([d.path for d in sc.dispersions])
    executor = executor_for(workers, scheduler, dask_local, parallel)   # fails before anything is written
    _claim(out, ident)
    chunks = out / "chunks"
    chunks.mkdir(exist_ok=True)
    done = _written(chunks, table_schema, ["index", "outcome"]).to_pydict()
    tally = {}
    for k, outcome in zip(done["index"], done["outcome"]):
        if k < runs:
            tally[outcome] = tally.get(outcome, 0) + 1
    todo = sorted(set(range(int(runs))) - set(done["index"]))
    start = time.perf_counter()
    with executor:
        bar = _progress(progress, runs, int(runs) - len(todo))
        for batch_rows in executor.map_batches(sc, seed, _batches(todo, executor.workers)):
            _write_chunk(chunks, batch_rows, table_schema)
            for row in batch_rows:
                tally[row["outcome"]] = tally.get(row["outcome"], 0) + 1
            if bar is not None:
                bar.update(len(batch_rows))
                bar.set_postfix(tally, refresh=False)
        if bar is not None:
            bar.close()
    table = _written(chunks, table_schema)
    table = table.filter(pa.compute.less(table.column("index"), int(runs)))
    write_atomic(out / "runs.parquet", lambda p: pq.write_table(table, p))
    summary = _summary(sc, ident, table, executor, time.perf_counter() - start, len(todo))
    write_atomic(out / "summary.json", lambda p: p.write_text(json.dumps(summary, indent=2) + "\n"))
    campaign = Campaign(out, table, summary)
    if plots:
        campaign.plot()
    return campaign


def _progress(show, total, initial):
    if not show:
        return None
    from tqdm import tqdm
    return tqdm(total=int(total), initial=initial, unit="run", dynamic_ncols=True,
                desc="campaign")


def _summary(sc, ident, table, executor, wall_s, flown):
    columns = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    out = {"scenario": sc.name, "scenario_file": sc.source, "fsw": sc.fsw,
           "campaign_seed": ident["campaign_seed"],
           **summarize_table(columns),
           "dispersions": [{"path": d.path, "dist": d.dist, **d.params, "unit": d.unit}
                           for d in sc.dispersions],
           "limits": sc.limits,
           "identity": ident, "versions": _versions(),
           "execution": {"executor": executor.name, "workers": executor.workers,
                         "runs_flown_this_call": flown, "wall_time_s": wall_s,
                         "runs_per_s": flown / wall_s if flown and wall_s > 0 else None,
                         "host": platform.node(), "pid": os.getpid()}}
    return out
