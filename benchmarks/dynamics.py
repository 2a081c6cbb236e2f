"""Dynamics benchmark: 600 s of the powered, rotating reference arc at 100 Hz.

Compiled RK4 (:func:`sims.propagation.propagate`) against :func:`scipy.integrate.solve_ivp`
(RK45, ``max_step`` 0.01 s) on the same equations (:mod:`sims.reference_dynamics`), in the
same run. rtf = simulated seconds per wall second; compile time is excluded from rtf and
reported on its own. scipy's rtf is a rate that does not depend on the arc's length, so it is
measured over the first ``--scipy-arc-s`` seconds (default 60; 600 takes about two minutes).

Usage: ``python benchmarks/dynamics.py [--json] [--repeat N] [--scipy-arc-s S]``
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnc.moon import RADIUS_M, moon_model  # noqa: E402
from sims import reference_dynamics  # noqa: E402
from sims.propagation import initial_state, propagate  # noqa: E402
from sims.vehicle import make_vehicle  # noqa: E402

ARC_S = 600.0
DT_S = 0.01
COMMAND = [3000.0, 0.0, 0.0, 0.0]
TARGET_RTF = 50_000


def reference_arc():
    """Vehicle, Moon and initial state of the issue's powered arc (thrust 3 kN along body +z)."""
    inertia = np.diag([800.0, 800.0, 600.0])
    vehicle = make_vehicle(main_lag_s=0.0, main_pos_b_m=(0, 0, 0),
                           inertia_dry_kgm2=inertia, inertia_wet_kgm2=inertia)
    moon = moon_model()
    x0 = initial_state(vehicle, [RADIUS_M + 15e3, 0, 0], [0, 1700.0, 0],
                       omega_b_rad_s=[0.01, -0.01, 0.005], thrust_n=3000.0)
    return vehicle, moon, x0


def run(repeat=20, scipy_arc_s=60.0):
    """Measure and return the benchmark figures as a dict."""
    vehicle, moon, x0 = reference_arc()
    start = time.perf_counter()
    propagate(vehicle, moon, x0, DT_S, DT_S, schedule_u=COMMAND)   # first call: load or compile
    compile_s = time.perf_counter() - start
    compiled_s = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        arc = propagate(vehicle, moon, x0, ARC_S, DT_S, schedule_u=COMMAND, log_every=100)
        compiled_s = min(compiled_s, time.perf_counter() - start)
    start = time.perf_counter()
    sol = reference_dynamics.solve(vehicle, moon, x0, scipy_arc_s, COMMAND, method="RK45",
                                   rtol=1e-9, atol=1e-9, max_step=DT_S)
    scipy_s = time.perf_counter() - start
    compiled_at = np.searchsorted(arc.t_s, scipy_arc_s)
    return {
        "arc_s": ARC_S, "dt_s": DT_S, "steps": int(round(ARC_S / DT_S)),
        "compile_s": compile_s,
        "wall_compiled_s": compiled_s, "scipy_arc_s": scipy_arc_s, "wall_scipy_s": scipy_s,
        "rtf_compiled": ARC_S / compiled_s, "rtf_scipy": scipy_arc_s / scipy_s,
        "ratio": (scipy_s / scipy_arc_s) / (compiled_s / ARC_S),
        "ns_per_step_compiled": compiled_s / (ARC_S / DT_S) * 1e9,
        "position_difference_m": float(np.linalg.norm(arc.x[compiled_at, :3] - sol.y[:3, -1])),
        "target_rtf_compiled": TARGET_RTF,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=20, help="compiled repetitions (best kept)")
    parser.add_argument("--scipy-arc-s", type=float, default=60.0,
                        help="seconds of the arc integrated by scipy (a multiple of 1 s, <= 600)")
    args = parser.parse_args()
    result = run(args.repeat, args.scipy_arc_s)
    if args.json:
        print(json.dumps(result))
        return
    print(f"600 s powered arc at 100 Hz ({result['steps']} RK4 steps)")
    print(f"{'':22}{'wall (s)':>12}{'rtf':>12}")
    print(f"{'compiled RK4':22}{result['wall_compiled_s']:12.4f}{result['rtf_compiled']:12.0f}")
    print(f"{'scipy RK45 (' + format(result['scipy_arc_s'], '.0f') + ' s)':22}"
          f"{result['wall_scipy_s']:12.4f}{result['rtf_scipy']:12.0f}")
    print(f"ratio {result['ratio']:.0f}x; {result['ns_per_step_compiled']:.0f} ns per step; "
          f"compile/load {result['compile_s']:.2f} s; target rtf >= {TARGET_RTF}; "
          f"position difference at {result['scipy_arc_s']:.0f} s {result['position_difference_m']:.2e} m")


if __name__ == "__main__":
    main()
