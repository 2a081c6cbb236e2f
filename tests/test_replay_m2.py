"""ispace Mission 2 replay: no valid range until about 893 m instead of 3 km; the legacy software,
trusting its inertial altitude, arrives too fast and crashes (landing-failures.md §2). The fixed
software flies a slower descent while the fix it expects is missing, and lands."""
import dataclasses

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from gnc.moon import llh_to_mf, mf_to_inertial
from gnc.terrain import height_m
from replay_runs import SEEDS, fly_replay, inside_counts, not_landed
from sims.replay import REPLAYS, ReplayResult, first_range_s
from sims.results import result_of
from sims.run import build_run, fly_flight, run
from sims.scenario import load_scenario

NAME = "resilience-m2"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    return fly_replay(NAME)


@pytest.fixture(scope="module")
def planned():
    """The same descent without the rangefinder fault: the speed profile as planned."""
    scenario = dataclasses.replace(load_scenario(NAME), faults=[])
    return [run(scenario, seed=s) for s in list(SEEDS)[:5]]


def test_legacy_crashes(runs):
    legacy, _ = runs
    for r in legacy:
        assert r.summary["outcome"] == "crashed", r.summary["seed"]


def test_legacy_figures_in_their_published_bands(runs):
    """Guards the measured rates (of 20). The first valid range comes at 844-894 m and the speed
    loss to 192 m is 2.5-2.7 m/s² on every seed; the speed at the first range is 68-93 m/s
    (published 66; 10 of 20 in 55-75) and at 192 m 31-72 m/s (published 42; 10 of 20 in 35-50:
    seed 13 sits on the band's top, 50.04 m/s, 49.99 before the map normal's east baseline
    became 30 m at every latitude).
    The flight's 800 m altitude error is pinned (``initial_error = "altitude_only"``); the
    gravity gradient grows it alike on every seed (to 1,164 m at 700 s, tested below), and the
    accelerometer's bias instability moves it by a seed-dependent -230 to +490 m; and
    with 2.7 m/s² of braking against the published 1.85 the two speeds cannot both sit in their
    bands on one seed unless the first is at its band's top. Even with every accelerometer and
    gyro error zeroed but the calibrated 30 µg turn-on bias, the gravity gradient grows that
    bias alone into a speed at the first range of 72-82 m/s (8 of 20 in band, measured). Issue
    6 wants 20 of 20."""
    counts = inside_counts(NAME, runs[0])
    assert counts["true altitude at the first valid range"] == 20
    assert counts["mean deceleration from first range to 192 m"] == 20
    assert counts["speed at the first valid range"] >= 10
    assert counts["speed at 192 m"] >= 10


def test_the_altitude_error_at_first_range_explains_the_over_speed(runs, planned):
    """At its first valid range the legacy lander flies at the planned speed of the altitude it
    believed, not of the one it had: the navigation altitude error explains at least 60 % of
    the over-speed (measured: 66 % on seed 2, the seed least over-speed, 21.9 m/s over; the
    rest is the drift of the believed altitude along the way)."""
    legacy, _ = runs
    plan = planned[0].telemetry
    order = np.argsort(plan["true_altitude_m"])
    plan_alt = plan["true_altitude_m"][order]
    plan_speed = np.hypot(plan["true_vertical_speed_m_s"], plan["true_horizontal_speed_m_s"])[order]
    for r in legacy:
        tel = r.telemetry
        i = np.searchsorted(tel["t_s"], first_range_s(r)) - 1        # just before the update
        true_alt, nav_alt = tel["true_altitude_m"][i], tel["nav_altitude_m"][i]
        speed = np.hypot(tel["true_vertical_speed_m_s"][i], tel["true_horizontal_speed_m_s"][i])
        assert nav_alt - true_alt > 500.0
        believed = np.interp(nav_alt, plan_alt, plan_speed)
        at_truth = np.interp(true_alt, plan_alt, plan_speed)
        assert abs(speed - believed) < 0.4 * (speed - at_truth), r.summary["seed"]


def test_the_unaided_altitude_error_grows_as_the_gravity_gradient_carries_it():
    """Where the over-speed's altitude error comes from: with a perfect accelerometer the legacy
    estimate's position error is the flight's 800 m initial altitude error carried along the flown
    trajectory by the gravity gradient, ``δr̈ = μ/r³ (3 r̂r̂ᵀ − I) δr`` (oracle: scipy's RK45 on
    that equation along the true path): 800 m has grown to 1,164 m at 700 s (measured on seeds
    0, 1 and 3: 1,162.7, 1,164.2 and 1,164.5 m; oracle 1,163.9). With the scenario's
    accelerometer the error at 700 s is 897-1,697 m over seeds 0-7; its bias instability alone
    (50 µg, 300 s correlation; the other accelerometer errors zeroed) moves seeds 1, 2, 3 and 7
    by +490, -230, -140 and +150 m. That spread is why the speed bands hold on only half the
    seeds."""
    base = load_scenario(NAME)
    perfect = {"accel_scale_factor_ppm": 0.0, "accel_misalignment_urad": 0.0,
               "accel_bias_ug": 0.01, "accel_bias_instability_ug": 0.01,
               "accel_noise_ug_rt_hz": 0.01}
    scenario = dataclasses.replace(base, sensors={**base.sensors, "imu": {**base.sensors["imu"],
                                                                         **perfect}},
                                   stop={**base.stop, "max_time_s": 700.0})
    flight = build_run(scenario.with_options(fsw="legacy_m2"), seed=3)
    tel = result_of(flight, fly_flight(flight)).telemetry
    moon, terrain = flight.world.moon, flight.world.terrain
    lat, lon = np.radians(tel["lat_deg"]), np.radians(tel["lon_deg"])
    r_i = np.array([mf_to_inertial(moon, t, llh_to_mf(moon, la, lo, height_m(terrain, la, lo) + h))
                    for t, la, lo, h in zip(tel["t_s"], lat, lon, tel["true_altitude_m"])])

    def error_dynamics(t, y):
        r = np.array([np.interp(t, tel["t_s"], r_i[:, a]) for a in range(3)])
        u = r / np.linalg.norm(r)
        gradient = moon.mu_m3_s2 / np.linalg.norm(r) ** 3 * (3.0 * np.outer(u, u) - np.eye(3))
        return np.concatenate([y[3:], gradient @ y[:3]])

    up0 = r_i[0] / np.linalg.norm(r_i[0])
    error0 = base.navigation["altitude_error_m"] * up0
    oracle = solve_ivp(error_dynamics, (tel["t_s"][0], tel["t_s"][-1]),
                       np.concatenate([error0, np.zeros(3)]), rtol=1e-8, atol=1e-6)
    grown = np.linalg.norm(oracle.y[:3, -1])
    assert grown > 1.4 * base.navigation["altitude_error_m"]
    # linearisation (|δr|/r < 1e-3) and the 10 Hz path's interpolation: well under 1 %
    assert tel["nav_position_error_m"][-1] == pytest.approx(grown, rel=0.01)


def test_fixed_slows_down_without_its_fix(runs):
    """Every fixed run finds its rangefinder silent where it could already be within 3 km of the
    ground (3 σ and the stopping distance below its estimate), slows down, and meets the first
    valid range slowly: at most 30 m/s where the legacy software flew at 68-93 m/s. It lands
    on 19 of 20 seeds (measured); seed 15 touches down at 1.62 m/s across (limit 1.5)."""
    _, fixed = runs
    for r in fixed:
        assert "altitude_fix_missing" in set(r.mode_events["reason"]), r.summary["seed"]
        assert inside_counts(NAME, [r])["true altitude at the first valid range"] == 1
    speeds = [f.measure(r) for r in fixed for f in REPLAYS[NAME].figures
              if f.label == "speed at the first valid range"]
    assert max(speeds) < 30.0
    assert len(not_landed(fixed)) <= 1


def test_the_fixed_misses_are_the_accelerometers_bias_instability():
    """Why fixed runs touch down too fast across: their horizontal velocity is already 0.9-1.4
    m/s wrong when the terminal descent starts at 850 s, and no sensor on this lander observes
    it again. The accelerometer's bias instability (50 µg, 300 s correlation) is most of it:
    with it, seeds 11 and 15 touch down at 1.40 and 1.62 m/s across (seed 15 beyond the 1.5
    limit); zeroed, at 0.71 and 0.54, and both land. (Zeroing the scale factor instead left
    seed 15 at 1.58, measured before ranges the unscented points cannot linearise were taken in
    the vertical channel alone.)"""
    base = load_scenario(NAME)
    steady = dataclasses.replace(base, sensors={**base.sensors, "imu": {
        **base.sensors["imu"], "accel_bias_instability_ug": 0.01}})
    for seed in (11, 15):
        summary = run(steady, fsw="fixed", seed=seed).summary
        assert summary["outcome"] == "landed", seed
        assert summary["touchdown_horizontal_speed_mps"] < 1.0, seed


def test_the_comparison_marks_each_variants_first_range(runs, tmp_path):
    """The fixed software, slowed down without its fix, meets its first range later: the figure
    marks both times (seed 0: 743 and 974 s)."""
    result = ReplayResult(REPLAYS[NAME], runs[0][0], runs[1][0], [])
    (t_legacy, legacy_label), (t_fixed, fixed_label) = REPLAYS[NAME].markers(result)
    assert t_legacy == first_range_s(result.legacy) and legacy_label.startswith("legacy_m2")
    assert t_fixed == first_range_s(result.fixed) > t_legacy + 60.0
    assert fixed_label.startswith("fixed")
    result.plot(tmp_path / "comparison.png")
    assert (tmp_path / "comparison.png").stat().st_size > 30_000


@pytest.mark.xfail(strict=True, reason="out of reach (issue 6 wants 20 of 20): 19 land; seed "
                   "15 touches down at 1.62 m/s across (limit 1.5): the horizontal velocity, "
                   "unaided by any sensor for 1,200 s, drifts to 1.2-1.6 m/s on the worst seeds, "
                   "mostly by the accelerometer's bias instability (see the test above)")
def test_fixed_lands_on_every_seed(runs):
    _, fixed = runs
    assert not_landed(fixed) == []
