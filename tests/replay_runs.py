"""Shared by the replay tests: fly a replay's scenario with its legacy and the fixed software over
seeds, and check its published figures (oracle: shared/reference/landing-failures.md)."""
import numpy as np

from sims.replay import REPLAYS
from sims.run import run
from sims.scenario import load_scenario

SEEDS = range(20)


def fly_replay(name, seeds=SEEDS):
    """``(legacy runs, fixed runs)`` of replay ``name`` over ``seeds``."""
    spec = REPLAYS[name]
    scenario = load_scenario(name)
    return ([run(scenario, fsw=spec.legacy_fsw, seed=s) for s in seeds],
            [run(scenario, fsw="fixed", seed=s) for s in seeds])


def figures_outside_band(name, runs):
    """``[(seed, label, value, band)]`` of every published figure outside its band."""
    out = []
    for r in runs:
        for f in REPLAYS[name].figures:
            value = f.measure(r)
            if not f.low <= value <= f.high:
                out.append((r.summary["seed"], f.label, value, (f.low, f.high)))
    return out


def inside_counts(name, runs):
    """``{label: number of runs inside the band}`` of every published figure."""
    return {f.label: sum(f.low <= f.measure(r) <= f.high for r in runs)
            for f in REPLAYS[name].figures}


def not_landed(runs, max_vertical_m_s=None):
    """Seeds of the runs that did not land (or touched down faster than ``max_vertical_m_s``)."""
    limit = np.inf if max_vertical_m_s is None else max_vertical_m_s
    return [r.summary["seed"] for r in runs if r.summary["outcome"] != "landed"
            or r.summary["touchdown_vertical_speed_mps"] > limit]


def cutoff_reason(run_result):
    """Why the engine was cut: the reason of the mode event into ``shutdown`` (None if none)."""
    me = run_result.mode_events
    into = np.nonzero(me["mode_to"] == "shutdown")[0]
    return str(me["reason"][into[0]]) if into.size else None


def not_cut_off_for(runs, reason):
    """Seeds of the runs that did not crash by an in-flight engine cut-off for ``reason``."""
    return [r.summary["seed"] for r in runs
            if r.summary["outcome"] != "crashed"
            or r.summary["crash_reason"] != "engine_cutoff_in_flight"
            or cutoff_reason(r) != reason]
