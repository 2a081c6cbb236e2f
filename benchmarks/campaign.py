"""Campaign throughput: landings per second of atlas-nominal (full closed loop, dispersed) on one
worker and on all cores (processes, and threads of one process), in the same process, and the workers' peak memory for two campaign
sizes (flat memory: a worker holds one run's telemetry at a time, the parent only a tally).

Usage: python benchmarks/campaign.py [--json] [--runs N] [--workers K]
"""
import argparse
import json
import os
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sims.campaign import run_campaign  # noqa: E402
from sims.campaign_executors import warm_up  # noqa: E402
from sims.scenario import load_scenario  # noqa: E402

TARGET_RUNS_PER_S = 30.0
"""The issue's target: 30 landings per second of a 600 s descent on 2 cores."""


def _children_peak_rss_mb():
    """Largest resident set of any finished child process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def _campaign(scenario, runs, workers, folder, parallel="processes"):
    c = run_campaign(scenario, runs, folder, seed=1, workers=workers, parallel=parallel,
                     progress=False, plots=False)
    e = c.summary["execution"]
    simulated_s = float(c.column("simulated_time_s").mean())
    return e["runs_per_s"], simulated_s


def measure(runs=16, workers=None, scenario="atlas-nominal"):
    """Throughput on 1 worker and on ``workers`` (default: all cores), and peak worker memory
    after ``runs`` and after ``2 * runs`` runs on all cores."""
    workers = workers or os.cpu_count() or 1
    sc = load_scenario(scenario)
    warm_up(sc, 1)
    with tempfile.TemporaryDirectory() as tmp:
        one, simulated_s = _campaign(sc, max(2, runs // workers), 1, Path(tmp) / "one")
        parallel, _ = _campaign(sc, runs, workers, Path(tmp) / "all")
        rss_small = _children_peak_rss_mb()
        _campaign(sc, 2 * runs, workers, Path(tmp) / "twice")
        rss_large = _children_peak_rss_mb()
        threads, _ = _campaign(sc, runs, workers, Path(tmp) / "threads", "threads")
    per_600_s = parallel * simulated_s / 600.0
    return {"scenario": scenario, "workers": workers, "runs": runs,
            "mean_simulated_s": simulated_s, "runs_per_s": parallel, "runs_per_s_1worker": one,
            "scaling": parallel / one, "runs_per_s_threads": threads, "runs_per_s_600s_descent": per_600_s,
            "peak_rss_mb": rss_large, "peak_rss_mb_half_the_runs": rss_small,
            "parent_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "target_runs_per_s_600s": TARGET_RUNS_PER_S}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--runs", type=int, default=16, help="runs of the all-core campaign")
    parser.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    args = parser.parse_args()
    r = measure(args.runs, args.workers)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(f"campaign throughput, {r['scenario']} ({r['mean_simulated_s']:.0f} s descents)")
    print(f"  1 worker        {r['runs_per_s_1worker']:6.2f} runs/s")
    print(f"  {r['workers']} processes     {r['runs_per_s']:6.2f} runs/s   scaling {r['scaling']:.2f}")
    print(f"  {r['workers']} threads       {r['runs_per_s_threads']:6.2f} runs/s")
    print(f"  as 600 s descents {r['runs_per_s_600s_descent']:6.2f} runs/s   (target "
          f"{TARGET_RUNS_PER_S:.0f} on 2 cores)")
    print(f"  peak worker memory {r['peak_rss_mb']:.0f} MB after {3 * r['runs']} runs on all "
          f"cores ({r['peak_rss_mb_half_the_runs']:.0f} MB after {r['runs']})")


if __name__ == "__main__":
    main()
