"""Navigation benchmark: cost per 100 Hz IMU step of the compiled filter against the filterpy
reference, on the same recorded 300 s descent over the analytic Atlas model, in the same run.

A step is the strapdown propagation plus the updates due at its end (rangefinder 5 Hz, star
tracker 5 Hz, and with ``--velocimeter`` three range and three velocity beams at 20 Hz);
covariance propagation runs at 10 Hz and before every update. The reference is timed over the
first ``--reference-s`` seconds of the log (its per-step cost does not depend on the length).

Usage: ``python benchmarks/navigation.py [--json] [--repeat N] [--velocimeter] [--reference-s S]``
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnc.moon import moon_model  # noqa: E402
from gnc.nav_config import nav_init  # noqa: E402
from gnc.reference_filter import reference_replay  # noqa: E402
from gnc.sensor_log import run_filter  # noqa: E402
from sims.descent_log import (default_sensors, dispersed_estimate, nav_config_for,  # noqa: E402
                              od_covariance, record_descent, start_state)
from sims.terrain import atlas_terrain  # noqa: E402
from sims.vehicle import make_vehicle  # noqa: E402

LOG_S = 300.0
TARGET_US = 2.0
TARGET_RATIO = 30.0


def run(repeat=10, velocimeter=False, reference_s=20.0):
    """Measure and return the benchmark figures as a dict."""
    moon, terrain = moon_model(), atlas_terrain()
    sensors = default_sensors(velocimeter=velocimeter)
    x0 = start_state(make_vehicle(), moon, terrain, 47.3, 44.4, 8000.0, 150.0, 270.0, -20.0)
    rec = record_descent(terrain, x0, LOG_S, seed=1, sensors=sensors)
    cfg = nav_config_for(sensors, terrain_walk_m_rt_m=0.5)
    P0 = od_covariance(sensors.imu)
    r, v, q, ba, bg = dispersed_estimate(rec.truth0, P0, np.random.default_rng(1))
    steps = rec.log.t_s.size

    def fresh():
        return nav_init(cfg, 0.0, r, v, q, P0, ba, bg)

    start = time.perf_counter()
    run_filter(cfg, fresh(), terrain, rec.log)            # first call: load or compile
    compile_s = time.perf_counter() - start
    compiled_s = np.inf
    for _ in range(repeat):
        nav = fresh()
        start = time.perf_counter()
        run_filter(cfg, nav, terrain, rec.log)
        compiled_s = min(compiled_s, time.perf_counter() - start)
    rows = int(round(reference_s / cfg.imu_dt_s))
    x_init = fresh().x.copy()
    start = time.perf_counter()
    reference_replay(cfg, x_init, P0, 0.0, terrain, rec.log, rows=rows)
    reference_s_wall = time.perf_counter() - start
    us_compiled = compiled_s / steps * 1e6
    us_reference = reference_s_wall / rows * 1e6
    return {
        "log_s": LOG_S, "imu_steps": steps, "velocimeter": velocimeter,
        "updates": {c: int(nav.counts[i].sum()) for i, c in
                    enumerate(("rangefinder", "velocimeter_range", "velocimeter_velocity",
                               "star_tracker"))},
        "compile_s": compile_s, "us_per_step_compiled": us_compiled,
        "us_per_step_filterpy": us_reference, "ratio": us_reference / us_compiled,
        "target_us_per_step": TARGET_US, "target_ratio": TARGET_RATIO,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--repeat", type=int, default=10, help="timed compiled runs (best kept)")
    parser.add_argument("--velocimeter", action="store_true", help="add a 3-beam velocimeter")
    parser.add_argument("--reference-s", type=float, default=20.0,
                        help="seconds of log the filterpy reference replays")
    args = parser.parse_args()
    result = run(args.repeat, args.velocimeter, args.reference_s)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"navigation, {result['log_s']:.0f} s log, {result['imu_steps']} IMU steps "
          f"(velocimeter: {result['velocimeter']})")
    print(f"{'':24}{'µs/step':>10}")
    print(f"{'compiled (numba)':24}{result['us_per_step_compiled']:10.2f}"
          f"   target <= {TARGET_US}")
    print(f"{'filterpy reference':24}{result['us_per_step_filterpy']:10.1f}")
    print(f"{'ratio':24}{result['ratio']:10.0f}   target >= {TARGET_RATIO:.0f}")
    print(f"compile/load {result['compile_s']:.2f} s; decisions per channel {result['updates']}")


if __name__ == "__main__":
    main()
