"""Monte Carlo campaigns: the same table on 1 worker, 2 processes and a 2-worker Dask cluster; a
campaign killed mid-way resumes to the uninterrupted table; a run re-flown alone equals its row;
the statistics against scipy; bad input."""
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats

from sims.campaign import load_campaign, run_campaign
from sims.campaign_rows import NIS_EDGES, _range_samples
from sims.campaign_stats import clopper_pearson, roc_points
from sims.cli import main
from sims.run import run

ROOT = Path(__file__).resolve().parents[1]
SHORT = """
name = "short"
description = "nominal's first 150 s, dispersed: a quick campaign for the tests"
[target]
lat_deg = 60.5
lon_deg = -4.6
[terrain]
truth = "mare"
[sensors]
fitted = ["rangefinder", "velocimeter", "star_tracker"]
[stop]
max_time_s = 150.0
[dispersions]
"initial.altitude_m" = { dist = "normal", mean = 15000.0, sigma = 150.0 }
"sensors.imu.accel_bias_ug" = { dist = "loguniform", low = 100.0, high = 1000.0 }
"vehicle.main_dir_b.0" = { dist = "normal", mean = 0.0, sigma = 0.005 }
"""
RUNS = 12


def _rows(path):
    return pq.read_table(path).to_pylist()


def _same(a, b):
    """Rows equal value for value (NaN equal to NaN)."""
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for key in ra:
            x, y = ra[key], rb[key]
            assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), (ra["index"], key)


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenario") / "short.toml"
    path.write_text(SHORT)
    return path


@pytest.fixture(scope="module")
def serial(short, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "c"
    return run_campaign(short, RUNS, out, seed=4, workers=1, progress=False)


def test_same_table_on_one_worker_two_processes_two_threads_and_dask(serial, short, tmp_path):
    for parallel in ("processes", "threads"):
        _same(_rows(serial.out / "runs.parquet"), _rows(
            run_campaign(short, RUNS, tmp_path / parallel, seed=4, workers=2, parallel=parallel,
                         progress=False, plots=False).out / "runs.parquet"))
    pytest.importorskip("dask.distributed")
    _same(_rows(serial.out / "runs.parquet"), _rows(
        run_campaign(short, RUNS, tmp_path / "dask", seed=4, dask_local=2, progress=False,
                     plots=False).out / "runs.parquet"))


def test_table_holds_every_run_once_with_its_inputs_and_the_summary_agrees(serial):
    rows = _rows(serial.out / "runs.parquet")
    assert [r["index"] for r in rows] == list(range(RUNS))
    altitudes = np.array([r["initial.altitude_m"] for r in rows])
    assert np.all(np.abs(altitudes - 15000.0) < 5 * 150.0) and np.unique(altitudes).size == RUNS
    s = serial.summary
    outcomes = {o: sum(r["outcome"] == o for r in rows) for o in {r["outcome"] for r in rows}}
    assert s["outcomes"] == outcomes and s["runs"] == RUNS
    assert s["success"]["k"] == sum(r["safe"] for r in rows)
    assert s["identity"]["campaign_seed"] == 4 and len(s["identity"]["scenario_sha256"]) == 16
    assert {"numpy", "numba", "scipy", "lander-testbed"} <= set(s["versions"])
    for name in ("dispersion.png", "touchdown.png", "inputs.png"):
        assert (serial.out / name).stat().st_size > 20_000


def test_a_run_flown_alone_equals_its_row(serial, short):
    row = _rows(serial.out / "runs.parquet")[7]
    alone = run(short, seed=4, campaign_index=7).summary
    for key in ("simulated_time_s", "max_nav_altitude_error_m", "range_samples_accepted",
                "propellant_remaining_kg", "landing_error_m"):
        assert alone[key] == row[key], key


def _kill_mid_way(short, out):
    """Start the command-line campaign, SIGKILL it (and its workers) once a chunk is written."""
    command = [sys.executable, "-m", "sims", "campaign", str(short), "--runs", str(RUNS), "--seed",
               "4", "--workers", "2", "--out", str(out), "--no-progress", "--no-plots"]
    proc = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "chunks").glob("runs-*.parquet"))) >= 1:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    return proc, command


def test_a_killed_campaign_resumes_to_the_uninterrupted_table(serial, short, tmp_path):
    out = tmp_path / "killed"
    proc, command = _kill_mid_way(short, out)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    written = sorted((out / "chunks").glob("runs-*.parquet"))
    done = sum(pq.read_metadata(p).num_rows for p in written)
    assert 1 <= done < RUNS and not (out / "runs.parquet").exists()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    rows = _rows(out / "runs.parquet")
    assert [r["index"] for r in rows] == list(range(RUNS))
    _same(rows, _rows(serial.out / "runs.parquet"))
    assert load_campaign(out).summary["execution"]["runs_flown_this_call"] == RUNS - done


def test_the_same_command_on_a_finished_campaign_flies_nothing(serial, short):
    again = run_campaign(short, RUNS, serial.out, seed=4, workers=1, progress=False, plots=False)
    assert again.summary["execution"]["runs_flown_this_call"] == 0
    _same(again.table.to_pylist(), serial.table.to_pylist())


@pytest.mark.parametrize("k, n", [(0, 1), (0, 20), (3, 20), (19, 20), (20, 20), (995, 1000),
                                  (1000, 1000), (1, 100_000)])
def test_clopper_pearson_matches_scipy(k, n):
    ours = clopper_pearson(k, n)
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    assert ours == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_roc_sweep_equals_counting_the_samples():
    rng = np.random.default_rng(0)
    healthy = np.abs(rng.normal(0.0, 1.0, 5000))
    faulty = np.abs(rng.normal(0.0, 1.0, 3000)) + 6.0
    h, f = (np.histogram(x, NIS_EDGES)[0] for x in (healthy, faulty))
    thresholds, false_rejection, missed = roc_points(h, f)
    for k in (10, 25, 40):
        assert false_rejection[k] == pytest.approx(np.mean(healthy >= thresholds[k]), abs=1e-12)
        assert missed[k] == pytest.approx(np.mean(faulty < thresholds[k]), abs=1e-12)
    assert np.all(np.diff(false_rejection) <= 0) and np.all(np.diff(missed) >= 0)


def test_range_samples_split_by_fault_window_and_rejection_streaks():
    t = np.arange(0.0, 30.0, 0.2)
    events = {"t_s": t, "channel": np.array(["rangefinder"] * t.size, dtype=object),
              "beam": np.zeros(t.size, int), "innovation": np.full(t.size, 2.0),
              "innovation_sigma": np.ones(t.size),
              "decision": np.where((t >= 10.0) & (t < 22.0), "reject_gate", "accept").astype(object)}
    faults = [{"sensor": "rangefinder", "kind": "bias_step", "start_s": 10.0, "end_s": 20.0}]
    healthy, faulty, streak_s = _range_samples(events, faults)
    assert sum(faulty) == 50 and sum(healthy) == t.size - 50
    assert streak_s == pytest.approx(12.0)


def _cli(args, capsys):
    status = main(args)
    return status, capsys.readouterr().err


def test_bad_campaign_input_is_one_line_and_status_2(short, serial, tmp_path, capsys):
    cases = [
        (["campaign", str(short), "--runs", "0", "--out", str(tmp_path / "a")], "--runs = 0"),
        (["campaign", str(short), "--runs", "3", "--seed", "5", "--out", str(serial.out)],
         "holds a different campaign (campaign_seed = 4, this one has 5)"),
        (["campaign", str(short), "--runs", "3", "--fsw", "legacy_m1", "--out", str(serial.out)],
         "holds a different campaign (fsw = 'fixed', this one has 'legacy_m1')"),
        (["campaign", str(short), "--runs", "3", "--out", str(tmp_path / "c"),
          "--scheduler", "tcp://127.0.0.1:9"], "--scheduler tcp://127.0.0.1:9: cannot reach"),
        (["run", str(short), "--index", "3"], "--campaign-seed and --index: give both"),
    ]
    for args, message in cases:
        status, err = _cli(args, capsys)
        assert status == 2 and message in err and err.count("\n") == 1, (args, err)
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text(SHORT.replace("initial.altitude_m", "initial.altitud_m"))
    status, err = _cli(["campaign", str(bad), "--runs", "2", "--out", str(tmp_path / "d")], capsys)
    assert status == 2 and "dispersions.initial.altitud_m: no such parameter" in err


@pytest.mark.parametrize("seed", [-1, 1.5])
def test_a_campaign_with_a_bad_seed_is_refused_before_its_folder_is_written(short, tmp_path,
                                                                             seed):
    """From Python too: numpy's SeedSequence refused -1 unnamed, 1.5 raised a TypeError, and
    both had already written campaign.json (1.5 as campaign seed 1)."""
    out = tmp_path / "campaign"
    with pytest.raises(ValueError, match=r"^seed = .*: must be an integer >= 0$"):
        run_campaign(short, 2, out, seed=seed, workers=1, progress=False, plots=False)
    assert not out.exists()
