"""Range plausibility over the Atlas east rim: the M1 latch against the corrected checks.

World: truth terrain = the analytic Atlas model (or the LRO DEM when present); on-board map =
the same model with the crater filled to its crest, i.e. no knowledge of the crater's depth (as
HAKUTO-R M1). The lander flies west over the east rim at 4 km, 500 m/s, braking gently.
"""
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from gnc.moon import inertial_to_mf, moon_model
from gnc.nav_config import nav_init
from gnc.navigation import events_table
from gnc.quaternion import rotate
from gnc.sensor_log import replay
from sims.descent_log import (Steering, default_sensors, dispersed_estimate, nav_config_for,
                              od_covariance, record_descent, start_state)
from sims.terrain import ATLAS_CRATER, atlas_terrain, crater_terrain, load_dem, sphere_terrain
from sims.vehicle import make_vehicle

ATLAS_DEM = Path(__file__).resolve().parents[2] / "shared" / "data" / "terrain" / "atlas_crop.npz"
MOON = moon_model()
LEGACY_LRF_SIGMA_M = 150.0
"""The legacy estimator's assumed rangefinder noise: it weighted the LRF lightly (assumed)."""


def _filled_atlas_map():
    filled = dataclasses.replace(ATLAS_CRATER, floor_height_m=ATLAS_CRATER.crest_height_m,
                                 bowl_depth_m=0.0)
    return crater_terrain([filled], base_height_m=atlas_terrain().base_height_m)


def _fly(truth_terrain, onboard, fsw, seed=1, speed=500.0, duration=150.0):
    sensors = default_sensors()
    if fsw == "legacy_m1":
        fsw_sensors = sensors._replace(
            rangefinder=sensors.rangefinder._replace(noise_floor_m=LEGACY_LRF_SIGMA_M))
        cfg = nav_config_for(fsw_sensors, checks={"rangefinder": "legacy_m1"})
    else:
        cfg = nav_config_for(sensors, checks={"rangefinder": "fixed"}, terrain_walk_m_rt_m=3.0)
    x0 = start_state(make_vehicle(), MOON, truth_terrain, 46.735, 46.9, 4000.0, speed, 270.0, -10.0)
    rec = record_descent(truth_terrain, x0, duration, seed=seed, sensors=sensors,
                         steering=Steering(brake_time_s=600.0, descent_rate_m_s=10.0))
    P0 = od_covariance(sensors.imu)
    r, v, q, ba, bg = dispersed_estimate(rec.truth0, P0, np.random.default_rng(seed + 100))
    nav = nav_init(cfg, 0.0, r, v, q, P0, ba, bg)
    _, _, alt, _ = replay(cfg, nav, onboard, rec.log)
    events = events_table(nav)
    rf = events["channel"] == "rangefinder"
    return rec, alt, {k: v[rf] for k, v in events.items()}, sensors


def _footprint_rim_time(rec, sensors):
    """First time the rangefinder's footprint is inside the crater rim."""
    centre = np.radians([ATLAS_CRATER.lat_deg, ATLAS_CRATER.lon_deg])
    u_c = np.array([np.cos(centre[0]) * np.cos(centre[1]), np.cos(centre[0]) * np.sin(centre[1]),
                    np.sin(centre[0])])
    rf = sensors.rangefinder
    for k in np.flatnonzero(rec.log.rangefinder_due):
        rho = rec.true_range_m[k, 0]
        if not np.isfinite(rho):
            continue
        x = rec.state[k]
        p_i = x[0:3] + rotate(x[6:10], np.array(rf.pos_b_m)) + rho * rotate(x[6:10], rf.beams_b[0])
        p = inertial_to_mf(MOON, rec.log.t_s[k], p_i)
        if np.arccos(np.clip(p @ u_c / np.linalg.norm(p), -1, 1)) * MOON.radius_m < ATLAS_CRATER.rim_radius_m:
            return rec.log.t_s[k]
    raise AssertionError("the footprint never crossed the rim")


TRUTH_TERRAINS = [
    pytest.param("analytic", id="analytic"),
    pytest.param("dem", id="lro-dem", marks=pytest.mark.skipif(
        not ATLAS_DEM.exists(), reason=f"LRO DEM not found at {ATLAS_DEM}")),
]


@pytest.fixture(scope="module")
def onboard_map():
    return _filled_atlas_map()


def _terrain(spec):
    return load_dem(ATLAS_DEM) if spec == "dem" else atlas_terrain()


@pytest.mark.parametrize("truth", TRUTH_TERRAINS)
def test_legacy_m1_latches_at_the_rim_and_drifts(truth, onboard_map):
    truth = _terrain(truth)
    rec, alt, ev, sensors = _fly(truth, onboard_map, "legacy_m1")
    t_rim = _footprint_rim_time(rec, sensors)
    rejected = ev["decision"] != "accept"
    first = ev["t_s"][np.argmax(rejected)]
    assert rejected.any() and t_rim - 1.0 <= first <= t_rim + 5.0
    assert np.all(rejected[ev["t_s"] >= first]), "legacy_m1 must ignore the sensor for good"
    assert np.all(ev["decision"][ev["t_s"] > first] == "reject_latched")
    err = alt[:, 0] - rec.true_altitude_m
    late = rec.log.t_s >= first + 20.0
    assert np.all(np.abs(err[late]) > 1500.0)             # the crater depth is missing
    sigma = alt[rec.log.t_s >= first + 1.0, 1]
    assert np.all(np.diff(sigma[::100]) > 0.0)            # its uncertainty only grows
    assert sigma[-1] > 2.0 * sigma[0]


@pytest.mark.parametrize("truth", TRUTH_TERRAINS)
def test_fixed_keeps_the_rangefinder_over_the_rim(truth, onboard_map):
    truth = _terrain(truth)
    rec, alt, ev, sensors = _fly(truth, onboard_map, "fixed")
    t_rim = _footprint_rim_time(rec, sensors)
    used = np.isin(ev["decision"], ("accept", "reanchor"))
    t_used = ev["t_s"][used]
    gaps = np.diff(np.concatenate([[t_rim], t_used[t_used >= t_rim]]))
    assert gaps.max() <= 10.0, f"range lost for {gaps.max():.1f} s after the rim"
    err = alt[:, 0] - rec.true_altitude_m
    after = rec.log.t_s >= t_rim + 30.0
    assert np.all(np.abs(err[after]) <= 3.0 * alt[after, 1])


def _cliff_terrain():
    """A 3 km cliff: a crater with an almost vertical wall (it drops within 1 % of its radius)."""
    cliff = dataclasses.replace(ATLAS_CRATER, floor_radius_frac=0.99, crest_height_m=0.0,
                                crest_amplitude_m=0.0, floor_height_m=-3000.0, bowl_depth_m=0.0,
                                wall_exponent=1.0)
    return crater_terrain([cliff], base_height_m=-1776.0)


@pytest.mark.parametrize("fsw", ["legacy_m1", "fixed"])
def test_cliff_step_is_latched_by_legacy_and_reanchored_by_fixed(fsw):
    truth = _cliff_terrain()
    onboard = sphere_terrain(height_m=-1776.0)
    rec, alt, ev, sensors = _fly(truth, onboard, fsw, speed=300.0, duration=100.0)
    t_rim = _footprint_rim_time(rec, sensors)
    rejected = ~np.isin(ev["decision"], ("accept", "reanchor"))
    first = ev["t_s"][np.argmax(rejected)]
    assert t_rim - 0.5 <= first <= t_rim + 1.0            # the step itself is rejected at once
    err = alt[:, 0] - rec.true_altitude_m
    if fsw == "legacy_m1":
        assert np.all(rejected[ev["t_s"] >= first])
        assert np.all(np.abs(err[rec.log.t_s >= first + 20.0]) > 2500.0)   # nadir past the cliff
    else:
        reanchors = ev["t_s"][ev["decision"] == "reanchor"]
        assert reanchors.size >= 1 and reanchors[0] - first <= 10.0
        after = rec.log.t_s >= first + 30.0
        assert np.all(np.abs(err[after]) <= 3.0 * alt[after, 1])
