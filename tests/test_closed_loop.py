"""The closed loop: guidance on perfect navigation meets its gates; the fixed software lands the
shipped scenarios over many seeds; summary, telemetry and files agree."""
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from gnc.guidance import DEFAULTS as GUIDANCE
from gnc.modes import MODES
from sims.run import run
from sims.scenario import load_scenario

NOMINAL = load_scenario("nominal")
ATLAS = load_scenario("atlas-nominal")


@pytest.fixture(scope="module")
def perfect():
    return run(NOMINAL, seed=3, perfect_navigation=True)


def test_perfect_navigation_meets_the_approach_gate_and_lands_softly_on_target(perfect):
    s, tel = perfect.summary, perfect.telemetry
    assert s["outcome"] == "landed"
    gate = np.searchsorted(tel["t_s"], s["mode_times_s"]["approach"])
    # the braking phase ends within the ZEM/ZEV switch time of the gate: height, speeds, range
    assert abs(tel["true_altitude_m"][gate] - GUIDANCE["gate_height_m"]) < 150.0
    assert abs(tel["true_horizontal_speed_m_s"][gate] - GUIDANCE["gate_speed_m_s"]) < 5.0
    assert abs(-tel["true_vertical_speed_m_s"][gate] - GUIDANCE["gate_descent_m_s"]) < 5.0
    assert abs(tel["distance_to_target_m"][gate] - GUIDANCE["gate_downrange_m"]) < 300.0
    # the approach hands over terminal_gate_tgo_s before its end: on its last seconds at the
    # terminal descent rate, 60 m + 3 m/s x 4 s up (measured 71.7 m); its constant deceleration from
    # the gate speed to rest over 2 x downrange / speed = 200 s leaves 60 x 4 / 200 = 1.2 m/s
    # across (measured 1.12)
    terminal = np.searchsorted(tel["t_s"], s["mode_times_s"]["terminal"])
    tgo_s = GUIDANCE["terminal_gate_tgo_s"]
    handover_m = GUIDANCE["terminal_height_m"] + GUIDANCE["terminal_descent_m_s"] * tgo_s
    assert abs(tel["true_altitude_m"][terminal] - handover_m) < 3.0
    approach_s = 2.0 * GUIDANCE["gate_downrange_m"] / GUIDANCE["gate_speed_m_s"]
    left_m_s = GUIDANCE["gate_speed_m_s"] * tgo_s / approach_s
    assert abs(tel["true_horizontal_speed_m_s"][terminal] - left_m_s) < 0.3
    assert abs(s["touchdown_vertical_speed_mps"] - GUIDANCE["touchdown_rate_m_s"]) < 0.1
    assert s["touchdown_horizontal_speed_mps"] < 0.05
    assert s["touchdown_tilt_deg"] < 0.5
    assert s["landing_error_m"] < 5.0
    assert s["propellant_remaining_kg"] > 100.0


def test_summary_telemetry_and_files_agree(perfect, tmp_path):
    s, tel = perfect.summary, perfect.telemetry
    assert s["touchdown_vertical_speed_mps"] == pytest.approx(-tel["true_vertical_speed_m_s"][-1], abs=1e-12)
    assert s["touchdown_horizontal_speed_mps"] == pytest.approx(tel["true_horizontal_speed_m_s"][-1], abs=1e-12)
    assert s["touchdown_tilt_deg"] == pytest.approx(tel["tilt_deg"][-1], abs=1e-9)
    assert s["landing_error_m"] == pytest.approx(tel["distance_to_target_m"][-1], abs=1e-6)
    assert s["simulated_time_s"] == pytest.approx(tel["t_s"][-1])
    assert s["propellant_remaining_kg"] == tel["propellant_kg"][-1]
    ev = perfect.events
    rf = ev["channel"] == "rangefinder"
    assert s["range_samples_accepted"] + s["range_samples_rejected"] == np.sum(
        rf & (ev["decision"] != "no_prediction"))
    out = perfect.save(tmp_path / "run")
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(s))
    table = pq.read_table(out / "telemetry.parquet")
    np.testing.assert_array_equal(table.column("t_s").to_numpy(), tel["t_s"])
    assert (out / "events.csv").read_text().count("\n") == len(ev["t_s"]) + len(perfect.mode_events["t_s"]) + 1
    png = (out / "dashboard.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


def test_runs_are_reproducible_from_their_seed():
    a = run(NOMINAL, seed=11)
    b = run(NOMINAL, seed=11)
    for key, column in a.telemetry.items():
        np.testing.assert_array_equal(column, b.telemetry[key], err_msg=key)
    assert run(NOMINAL, seed=12).telemetry["nav_altitude_m"][-1] != a.telemetry["nav_altitude_m"][-1]


def test_an_empty_fault_schedule_flies_exactly_as_no_fault_machinery():
    """A fault whose window never opens leaves the run bit-identical to no schedule at all."""
    import dataclasses
    never = dataclasses.replace(NOMINAL, faults=[{"sensor": "rangefinder", "kind": "bias_step",
                                                  "start_s": 1e9, "end_s": 2e9, "magnitude": 500.0}])
    a, b = run(NOMINAL, seed=5), run(never, seed=5)
    for key in ("true_altitude_m", "nav_altitude_m", "throttle", "mass_kg"):
        np.testing.assert_array_equal(a.telemetry[key], b.telemetry[key], err_msg=key)


def _longest_healthy_rejection_s(events):
    """Longest time (s) any beam of a range sensor had its valid samples rejected in a row: from
    the first rejection to the next sample used. Samples outside the sensor's valid interval and
    those without a prediction are no verdict on the sensor and do not break or extend a run."""
    longest = 0.0
    for channel in ("rangefinder", "velocimeter_range"):
        judged = ((events["channel"] == channel)
                  & ~np.isin(events["decision"], ("no_prediction", "reject_limits")))
        for beam in np.unique(events["beam"][judged]):
            mine = judged & (events["beam"] == beam)
            t, used = events["t_s"][mine], np.isin(events["decision"][mine], ("accept", "reanchor"))
            start = None
            for t_k, used_k in zip(t, used):
                if not used_k and start is None:
                    start = t_k
                elif used_k and start is not None:
                    longest, start = max(longest, t_k - start), None
            if start is not None:
                longest = max(longest, t[-1] - start)
    return longest


def _fly_seeds(scenario, seeds):
    """Summary and longest healthy-rejection run of each seed (the runs themselves are dropped)."""
    rows = []
    for seed in seeds:
        result = run(scenario, seed=seed)
        rows.append((result.summary, _longest_healthy_rejection_s(result.events)))
    return rows


def _within_limits(summary):
    return summary["outcome"] == "landed"


def _safe(summary):
    return (_within_limits(summary) and summary["touchdown_vertical_speed_mps"] <= 2.0
            and summary["touchdown_horizontal_speed_mps"] <= 1.0
            and summary["touchdown_tilt_deg"] <= 10.0 and summary["propellant_remaining_kg"] > 0
            and summary["landing_error_m"] <= 1000.0)


@pytest.fixture(scope="module")
def nominal_50():
    return _fly_seeds(NOMINAL, range(50))


@pytest.fixture(scope="module")
def atlas_50():
    return _fly_seeds(ATLAS, range(50))


@pytest.mark.slow
def test_fixed_software_lands_the_nominal_mare_on_every_one_of_50_seeds(nominal_50):
    failed = [s["seed"] for s, _ in nominal_50 if not _safe(s)]
    assert not failed


@pytest.mark.slow
def test_fixed_software_over_the_atlas_rim_lands_every_one_of_50_seeds(atlas_50):
    """Issue 5 asks for 50 safe landings of 50: within the touchdown limits and 1 km of the
    target. Measured: every landing within 200 m (largest 182 m, seed 31). Before the range
    updates were linearised over their uncertainty, grazing ranges over the rim left seed 31
    3.3 km off."""
    assert not [s["seed"] for s, _ in atlas_50 if not _safe(s)]


@pytest.mark.slow
def test_no_healthy_range_sample_is_rejected_for_more_than_10_s_on_the_mare(nominal_50):
    """No fault is injected, so every rejection is a healthy sample lost. Issue 6's figure,
    met on the mare: longest 2.4 s (seed 4). It was 22.6 s before the ranges' noise took in the
    map's roughness within the horizontal uncertainty (an innovation σ of 0.2-1 m against the
    ±8-18 m a 180 m horizontal error makes on the small craters), and 5.6 s (seed 11) before
    the roughness was counted once per patch and full updates linearised over the
    uncertainty. Beyond these 50 seeds, see the next test."""
    assert max(longest for _, longest in nominal_50) <= 10.0


@pytest.mark.parametrize("seed", (179, 268, 301, 365, 388))
def test_grazing_ranges_over_the_mare_do_not_lock_the_estimate_onto_the_wrong_ground(seed):
    """The seeds of 50-399 whose landings the filter locked onto the wrong ground, 59-183 m off
    (the 345 others within 19 m), seed 179 after 13.4 s of healthy ranges rejected: ranges up to
    10 km long grazing small craters, linearised through six unscented points that could not see
    the ground between them, took seed 179's horizontal σ from 31 and 86 m to 5 and 12 m in 2 s
    while the error grew from 131 to 238 m. Such ranges now correct the vertical channel alone
    (:mod:`gnc.navigation`): the five land within 1 m, with at most 1.2 s of rejections."""
    result = run(NOMINAL, seed=seed)
    assert _longest_healthy_rejection_s(result.events) <= 10.0
    assert result.summary["landing_error_m"] <= 20.0


def test_a_start_three_sigma_off_across_the_track_does_not_lock_onto_the_wrong_ground():
    """Seed 249 landed 38 m off, the only one of seeds 0-399 beyond 12.4 m. Its horizontal error
    stays at 100-180 m while the first ranges cut the cross-track σ from about 600 to 40 m
    (2.8-3 σ off by 730 s). Then 42 velocimeter samples of one patch, 1.1 km slant at 33°
    incidence, take σ from 6/38 m to 6/6 m in 769-772 s. Their six unscented points leave less
    variance unexplained than their slope explains, so each is a full update, and the patch
    counts about 15 times. Updates through the local slope then finish the collapse to 1.7/3.1 m
    with the error at 96 m (horizontal NEES about 3,300). The 4.95 s of healthy ranges rejected
    from 784 s follow from it; they ended in a re-anchor that shifted the perfect map by -10 m.
    Seeds 248 and 250 collapse the same way, onto the truth. A map trusted as exact now answers
    such a re-anchor by opening the position and taking the range in the vertical channel
    (:mod:`gnc.navigation`): seed 249 lands 3.4 m off."""
    result = run(NOMINAL, seed=249)
    assert result.summary["landing_error_m"] <= 20.0


def test_a_dispersed_atlas_landing_keeps_its_thrust_through_the_terminal_gate():
    """Run 15 of the dispersed atlas-nominal campaign (seed 0) crashed at 3.2 m/s, the one of 60.
    Its navigation was right to 0.3 m and 0.01 m/s, but with the approach flown to 2 s to go
    its ZEM/ZEV gains (6/t_go², 2/t_go) turned a 9 m drift of the horizontal estimate into
    tilts climbing from 11 to 37°; the terminal descent allows 10°, the attitude error peaked
    at 47°, and beyond the 30° cut-back the thrusters were commanded to zero: 3.5 s of free
    fall from 66 m, 3.1 to 8.7 m/s down, which they could not brake in the 45 m left. The
    approach now hands over at 4 s to go (:mod:`gnc.guidance`) and the thrusters have no
    cut-back (:mod:`gnc.control`). Measured: the error peaks at 29.6°, the thrusters never go
    below 60 % through the terminal descent, it never descends faster than 3.4 m/s, and it
    touches down at 1.04 m/s."""
    result = run(ATLAS, seed=0, campaign_index=15)
    summary, tel = result.summary, result.telemetry
    assert summary["outcome"] == "landed", summary["crash_reason"]
    assert summary["touchdown_vertical_speed_mps"] <= 1.5
    terminal = tel["mode"] == MODES.index("terminal")
    assert tel["thrusters_fraction"][terminal].min() > 0.3
    assert -tel["true_vertical_speed_m_s"][terminal].min() < GUIDANCE["terminal_rate_max_m_s"] + 1.0


@pytest.mark.slow
def test_no_healthy_range_sample_over_atlas_is_rejected_for_more_than_10_s(atlas_50):
    """Issue 6's figure over the rim, where the map is exact but 14 km ranges graze the crest:
    longest 4.8 s (seed 45). It was 30.8 s (seed 9) and 21.8 s (seed 31) before the range
    updates were linearised over their uncertainty (and the map's roughness counted once per
    patch): linearised at the estimate, a few grazing ranges collapsed the horizontal σ while
    the error stayed hundreds of metres, and the gate then refused the ranges that disagreed."""
    assert max(longest for _, longest in atlas_50) <= 10.0
