"""Closed-loop speed: the atlas-nominal descent compiled end to end versus the same compiled step
driven from Python once per base step, in the same process.

Usage: python benchmarks/closed_loop.py [--json] [--repeat N] [--python-s S]
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sims.closed_loop import RUNNING, loop_step  # noqa: E402
from sims.run import build_run, fly_flight  # noqa: E402
from sims.scenario import load_scenario  # noqa: E402

TARGET_RTF = 10_000.0


def measure(repeat=3, python_s=20.0, scenario="atlas-nominal"):
    """Figures of the compiled loop and of the Python-stepped baseline (first ``python_s`` s)."""
    sc = load_scenario(scenario)
    start = time.perf_counter()
    fly_flight(build_run(sc, seed=0))               # first call: load or compile
    compile_s = time.perf_counter() - start
    best, simulated = float("inf"), 0.0
    for _ in range(repeat):
        flight = build_run(sc, seed=0)
        wall = fly_flight(flight)
        simulated = float(flight.world_state.status[0])
        best = min(best, wall)
    flight = build_run(sc, seed=0)
    loop_step(flight.world, flight.world_state, flight.fsw_config, flight.fsw_state,
              flight.onboard_map, flight.telemetry)  # compile the entry for Python calls
    steps = int(round(python_s / flight.world.dt_s))
    start = time.perf_counter()
    for _ in range(steps):
        if loop_step(flight.world, flight.world_state, flight.fsw_config, flight.fsw_state,
                     flight.onboard_map, flight.telemetry) != RUNNING:
            break
    python_wall = time.perf_counter() - start
    python_simulated = float(flight.world_state.status[0])
    rtf_compiled = simulated / best
    rtf_python = python_simulated / python_wall
    return {"scenario": scenario, "simulated_s": simulated, "wall_s": best,
            "rtf_compiled": rtf_compiled, "rtf_python_loop": rtf_python,
            "ratio": rtf_compiled / rtf_python, "compile_s": compile_s,
            "us_per_base_step": best / (simulated / flight.world.dt_s) * 1e6,
            "target_rtf": TARGET_RTF}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--repeat", type=int, default=3, help="timed compiled runs (best kept)")
    parser.add_argument("--python-s", type=float, default=20.0,
                        help="seconds of descent the Python-stepped baseline flies")
    args = parser.parse_args()
    r = measure(args.repeat, args.python_s)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(f"closed loop, {r['scenario']}: {r['simulated_s']:.0f} s of descent")
    print(f"  compiled, one call      real-time factor {r['rtf_compiled']:9,.0f}   "
          f"({r['us_per_base_step']:.2f} µs per 100 Hz step; target >= {TARGET_RTF:,.0f})")
    print(f"  stepped from Python     real-time factor {r['rtf_python_loop']:9,.0f}")
    print(f"  ratio {r['ratio']:.0f}; first call (load or compile) {r['compile_s']:.1f} s")


if __name__ == "__main__":
    main()
