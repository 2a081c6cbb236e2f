"""One landing: build the world and the flight software from a scenario, fly it compiled, and
wrap the arrays in a :class:`~sims.results.RunResult`.

>>> from sims.run import run
>>> result = run("nominal", seed=3)             # doctest: +SKIP
>>> result.summary["outcome"], result.plot()    # doctest: +SKIP
"""
import time
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy.spatial.transform import Rotation

from gnc.control import make_control, make_onboard_vehicle
from gnc.flight_software import FswConfig, fsw_init, get_variant
from gnc.guidance import braking_distance_m, make_guidance, plan_braking, zem_zev_to
from gnc.modes import make_modes
from gnc.moon import inertial_to_mf, llh_to_mf, moon_model, velocity_inertial_to_mf
from gnc.nav_config import check_sensor_configuration, nav_init
from gnc.quaternion import from_dcm
from gnc.sensor_log import SensorLog
from gnc.terrain import height_m
from sims.closed_loop import TELEMETRY_COLUMNS, World, fly, new_world_state
from sims.descent_log import (Sensors, dispersed_estimate, nav_config_for, nominal_truth,
                              od_covariance, samples_every, start_state)
from sims.dynamics import MASS, QUAT
from sims.faults import fault_schedule, fault_state
from sims.scenario import Scenario, check_seed, load_scenario
from sims.sensors.beams import make_rangefinder, make_velocimeter
from sims.sensors.imu import imu_init, make_imu
from sims.sensors.star_tracker import make_star_tracker
from sims.sensors.touchdown import make_touchdown_switches
from sims.terrain import (atlas_filled_terrain, atlas_terrain, dem_bounds_deg, filled_bowl_dem,
                          load_dem, mare_terrain, sphere_terrain)
from sims.vehicle import vehicle_preset


class Flight(NamedTuple):
    """Everything one compiled run takes, built and validated (see :func:`build_run`)."""
    scenario: Scenario
    seed: int                     # the run's seed, or the campaign's (see campaign_index)
    campaign_index: object        # the run's index in its campaign, None for a single run
    world: World
    world_state: object
    fsw_config: FswConfig
    fsw_state: object
    onboard_map: object
    telemetry: np.ndarray


@lru_cache(maxsize=8)
def terrain_named(name, lat_deg, lon_deg):
    """A terrain by scenario name (``lat_deg, lon_deg``: the target, for the mare); kept, so a
    worker flying many runs loads a DEM once."""
    if name.endswith(".npz"):
        return load_dem(name)
    if name == "atlas":
        return atlas_terrain()
    if name == "atlas-filled":
        return atlas_filled_terrain()
    if name == "mare":
        return mare_terrain(lat_deg, lon_deg)
    return sphere_terrain()


@lru_cache(maxsize=8)
def _onboard_map(name, truth_name, lat_deg, lon_deg):
    """The flight software's map (kept, like :func:`terrain_named`). ``truth``: the truth terrain
    before any ``truth_offset_m``; ``atlas-filled`` over a DEM is that DEM with the bowl filled:
    the map of the ground flown over, short of the crater's depth."""
    if name == "truth":
        return terrain_named(truth_name, lat_deg, lon_deg)
    if name == "atlas-filled" and truth_name.endswith(".npz"):
        return filled_bowl_dem(terrain_named(truth_name, lat_deg, lon_deg))
    return terrain_named(name, lat_deg, lon_deg)


def _start_point(moon, target, downrange_m, heading_deg):
    """Latitude, longitude (deg) ``downrange_m`` before the target on a great circle arriving
    with ``heading_deg``, and the heading (deg) at that start point."""
    lat2, lon2 = np.radians(target["lat_deg"]), np.radians(target["lon_deg"])
    back = np.radians(heading_deg) + np.pi
    d = downrange_m / moon.radius_m
    lat1 = np.arcsin(np.sin(lat2) * np.cos(d) + np.cos(lat2) * np.sin(d) * np.cos(back))
    lon1 = lon2 + np.arctan2(np.sin(back) * np.sin(d) * np.cos(lat2),
                             np.cos(d) - np.sin(lat2) * np.sin(lat1))
    dlon = lon2 - lon1
    bearing = np.arctan2(np.sin(dlon) * np.cos(lat2),
                         np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon))
    return np.degrees(lat1), np.degrees(lon1), np.degrees(bearing)


def _sensors(sc):
    s = sc.sensors
    return Sensors(make_imu(**s["imu"]),
                   make_rangefinder(**s["rangefinder"]) if "rangefinder" in s else None,
                   make_velocimeter(**s["velocimeter"]) if "velocimeter" in s else None,
                   make_star_tracker(**s["star_tracker"]) if "star_tracker" in s else None)


def _onboard_vehicle(vehicle, legs, mass_kg):
    thr = vehicle.thrusters
    force_z = float(np.sum(thr[:, 6] * thr[:, 5])) if thr.size else 0.0
    isp = float(np.mean(thr[:, 7])) if thr.size else 1.0
    return make_onboard_vehicle(
        mass_kg, vehicle.mass_dry_kg, vehicle.main_thrust_max_n, vehicle.main_thrust_min_n,
        vehicle.main_isp_s, force_z, isp, np.diag(vehicle.inertia_wet_kgm2),
        np.diag(vehicle.inertia_dry_kgm2), vehicle.acs_torque_max_nm, vehicle.acs_isp_s,
        vehicle.acs_lever_m, float(-np.min(legs.feet_b_m[:, 2]) + vehicle.cm_dry_b_m[2]))


def _check_dem_covers(dem, path, start, target, points=50):
    """Refuse a DEM that does not cover the ground track from ``start`` to ``target`` (deg)."""
    lat_min, lat_max, lon_min, lon_max = dem_bounds_deg(dem)
    track = [_great_circle_point(start, target, f) for f in np.linspace(0.0, 1.0, points)]
    lats, lons = np.array(track).T
    if (lats.min() >= lat_min and lats.max() <= lat_max and lons.min() >= lon_min
            and lons.max() <= lon_max):
        return
    raise ValueError(
        f"DEM {path} covers {lat_min:.2f}..{lat_max:.2f} deg N, {lon_min:.2f}..{lon_max:.2f} deg E; "
        f"the ground track from powered-descent start to the target needs {lats.min():.2f}.."
        f"{lats.max():.2f} deg N, {lons.min():.2f}..{lons.max():.2f} deg E")


def _great_circle_point(a, b, fraction):
    """Latitude, longitude (deg) a ``fraction`` of the way from ``a`` to ``b`` on a great circle."""
    (la1, lo1), (la2, lo2) = np.radians(a), np.radians(b)
    p1 = np.array([np.cos(la1) * np.cos(lo1), np.cos(la1) * np.sin(lo1), np.sin(la1)])
    p2 = np.array([np.cos(la2) * np.cos(lo2), np.cos(la2) * np.sin(lo2), np.sin(la2)])
    angle = np.arccos(np.clip(p1 @ p2, -1.0, 1.0))
    if angle < 1e-12:
        return a
    p = (np.sin((1 - fraction) * angle) * p1 + np.sin(fraction * angle) * p2) / np.sin(angle)
    return np.degrees(np.arcsin(p[2])), np.degrees(np.arctan2(p[1], p[0]))


def _point_engine(moon, guidance, x, est):
    """Attitude with the engine along the guidance's first thrust command (pre-ignition slew)."""
    a = np.array(zem_zev_to(moon, guidance, est, 0.0, guidance.braking_end_s, 0.0,
                            guidance.gate_height_m, guidance.gate_downrange_m,
                            guidance.gate_speed_m_s, guidance.gate_descent_m_s))
    rot, _ = Rotation.align_vectors([a / np.linalg.norm(a)], [[0.0, 0.0, 1.0]])
    x[QUAT:QUAT + 4] = from_dcm(rot.as_matrix())


def _initial_estimate(truth_row, P0, nav_seed, initial_error):
    """The initial estimate ``(r_i, v_i, q_bi, b_a, b_g)`` drawn about ``truth_row`` from ``P0``;
    with ``initial_error = "altitude_only"`` its position, velocity and attitude are the truth's
    (the caller adds the replayed flight's altitude error), its IMU biases still drawn."""
    est = dispersed_estimate(truth_row, P0, np.random.default_rng(nav_seed))
    if initial_error == "altitude_only":
        return (truth_row[0:3].copy(), truth_row[3:6].copy(), truth_row[6:10].copy()) + est[3:]
    return est


def _with_altitude_error(estimate, r_true_i, error_m):
    """The initial estimate with its position error along the local vertical set to ``error_m``
    (estimate − truth): a replayed flight's known orbit-determination altitude error in place of
    the random draw's vertical part; ``"drawn"`` keeps the draw."""
    if error_m == "drawn":
        return estimate
    up = r_true_i / np.linalg.norm(r_true_i)
    r_i = estimate[0] + (error_m - np.dot(estimate[0] - r_true_i, up)) * up
    return (r_i,) + tuple(estimate[1:])


def campaign_run_seed(campaign_seed, index):
    """The seed sequence of run ``index`` of a campaign: ``SeedSequence(campaign_seed).spawn``'s
    child ``index`` (its own first child), so a run is the same alone, in any batch, on any
    worker. The run's dispersions draw from its other children (:mod:`sims.dispersions`)."""
    return np.random.SeedSequence(campaign_seed, spawn_key=(int(index), 0))


def build_run(scenario, seed=0, perfect_navigation=False, campaign_index=None):
    """Build and validate everything one run takes; raises ValueError naming the scenario file
    and key on bad input, before anything is flown or written.

    With ``campaign_index`` the run is that run of the campaign seeded ``seed``: the scenario's
    dispersions are drawn for it and its generators come from :func:`campaign_run_seed`.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    check_seed("seed", seed)
    if campaign_index is not None:
        check_seed("campaign_index", campaign_index)
    seq = np.random.SeedSequence(int(seed))
    if campaign_index is not None:
        sc = sc.draw(int(seed), int(campaign_index))[1]
        seq = campaign_run_seed(seed, campaign_index)
    try:
        return _build(sc, seq, bool(perfect_navigation))._replace(seed=int(seed),
                                                                  campaign_index=campaign_index)
    except ValueError as exc:
        message = str(exc)
        raise ValueError(message if message.startswith(sc.source) else f"{sc.source}: {message}") from None


def _build(sc, seq, perfect_navigation):
    variant = get_variant(sc.fsw)
    vehicle = vehicle_preset(sc.vehicle.get("preset", "hakuto-r"),
                             **{k: v for k, v in sc.vehicle.items() if k != "preset"})
    moon = moon_model()
    truth_name = sc.terrain["dem"] or sc.terrain["truth"]
    target_deg = (sc.target["lat_deg"], sc.target["lon_deg"])
    mapped = terrain_named(truth_name, *target_deg)
    offset_m = sc.terrain["truth_offset_m"]
    truth = mapped._replace(base_height_m=mapped.base_height_m + offset_m,
                            max_height_m=mapped.max_height_m + offset_m)
    onboard = _onboard_map(sc.terrain["onboard"], truth_name, *target_deg)
    sensors = _sensors(sc)
    legs = make_touchdown_switches(**sc.sensors["legs"])
    base_hz = sc.rates["base_hz"]
    if abs(sensors.imu.rate_hz - base_hz) > 1e-9:
        raise ValueError(f"sensors.imu.rate_hz = {sensors.imu.rate_hz}: the IMU samples every base "
                         f"step; must equal rates.base_hz = {base_hz}")
    every = tuple(samples_every(f"sensors.{n}", base_hz, p) for n, p in
                  (("rangefinder", sensors.rangefinder), ("velocimeter", sensors.velocimeter),
                   ("star_tracker", sensors.star_tracker)))
    n_rf = 0 if sensors.rangefinder is None else sensors.rangefinder.beams_b.shape[0]
    n_vm = 0 if sensors.velocimeter is None else sensors.velocimeter.beams_b.shape[0]
    channels = {"gyro": 3, "accel": 3, "touchdown": legs.feet_b_m.shape[0]}
    if n_rf:
        channels["rangefinder"] = n_rf
    if n_vm:
        channels["velocimeter_range"] = channels["velocimeter_velocity"] = n_vm
    if sensors.star_tracker is not None:
        channels["star_tracker"] = 4
    schedule = fault_schedule(sc.faults, channels)

    ini, tgt = sc.initial, sc.target
    mass0 = vehicle.mass_wet_kg if ini["mass_kg"] == "wet" else float(ini["mass_kg"])
    if not vehicle.mass_dry_kg < mass0 <= vehicle.mass_wet_kg:
        raise ValueError(f"initial.mass_kg = {mass0}: must be in ({vehicle.mass_dry_kg}, "
                         f"{vehicle.mass_wet_kg}] (dry..wet)")
    gate_speed = sc.guidance.get("gate_speed_m_s", 60.0)
    throttle = sc.guidance.get("braking_throttle", 0.8)
    downrange = ini["downrange_m"]
    if downrange == "planned":
        braking_s = plan_braking(moon, ini["ground_speed_m_s"], mass0, vehicle.main_thrust_max_n,
                                 vehicle.main_isp_s, gate_speed, throttle)
        downrange = braking_distance_m(ini["ground_speed_m_s"], braking_s, gate_speed,
                                       sc.guidance.get("gate_downrange_m", 6000.0))
    lat0, lon0, heading0 = _start_point(moon, tgt, downrange, ini["heading_deg"])
    if truth_name.endswith(".npz"):
        _check_dem_covers(truth, truth_name, (lat0, lon0), (tgt["lat_deg"], tgt["lon_deg"]))
    x0 = start_state(vehicle, moon, truth, lat0, lon0, ini["altitude_m"], ini["ground_speed_m_s"],
                     heading0, ini["vertical_speed_m_s"])
    x0[MASS] = mass0

    sensor_seed, fault_seed, nav_seed = seq.spawn(3)
    rng = np.random.Generator(np.random.PCG64(sensor_seed))
    imu_state = imu_init(sensors.imu, rng)
    walk = sc.terrain["onboard_error_m_rt_m"] if variant.models_map_error else 0.0
    cfg = nav_config_for(sensors, moon, sc.navigation["cov_rate_hz"], variant.checks, variant.ignore,
                         walk, variant.rangefinder, variant.slope_sigma_max_m,
                         variant.map_roughness, variant.unscented_ranges)
    if variant.verify_sensors:
        check_sensor_configuration(cfg, [c for c in channels if c not in ("gyro", "accel", "touchdown")])
    nav_cfg = sc.navigation
    P0 = od_covariance(sensors.imu, nav_cfg["position_sigma_m"], nav_cfg["velocity_sigma_m_s"],
                       np.radians(nav_cfg["attitude_sigma_deg"]))
    truth0 = np.empty(16)
    nominal_truth(x0, imu_state, truth0)
    est = _with_altitude_error(_initial_estimate(truth0, P0, nav_seed, nav_cfg["initial_error"]),
                               truth0[0:3], nav_cfg["altitude_error_m"])
    onboard_vehicle = _onboard_vehicle(vehicle, legs, mass0)
    r_mf = inertial_to_mf(moon, 0.0, est[0])
    guidance = make_guidance(moon, onboard, tgt["lat_deg"], tgt["lon_deg"], 0.0, r_mf,
                             velocity_inertial_to_mf(moon, 0.0, est[0], est[1]), mass0,
                             vehicle.main_thrust_max_n, vehicle.main_isp_s,
                             onboard_vehicle.leg_height_m, **sc.guidance)
    _point_engine(moon, guidance, x0, np.concatenate([est[0], est[1]]))
    # the same error draw about the re-pointed truth: only the attitude estimate changes
    nominal_truth(x0, imu_state, truth0)
    q_est = _initial_estimate(truth0, P0, nav_seed, nav_cfg["initial_error"])[2]
    rates = sc.rates
    max_time = sc.stop["max_time_s"]
    per_s = sum(p.rate_hz * b for p, b in ((sensors.rangefinder, n_rf), (sensors.velocimeter, 2 * n_vm))
                if p is not None) + (sensors.star_tracker.rate_hz if sensors.star_tracker else 0.0)
    nav = nav_init(cfg, 0.0, est[0], est[1], q_est, P0, est[3], est[4],
                   max_events=int(per_s * max_time) + 16)
    fcfg = FswConfig(cfg, onboard_vehicle, guidance, make_control(**sc.control),
                     make_modes(**variant.modes), int(round(base_hz / rates["guidance_hz"])),
                     sensors.imu.gyro.range)
    frame = SensorLog(np.zeros(1), np.zeros((1, 6)), np.zeros(1, bool), np.full((1, n_rf), np.nan),
                      np.zeros((1, n_rf), bool), np.zeros(1, bool), np.full((1, n_vm), np.nan),
                      np.zeros((1, n_vm), bool), np.full((1, n_vm), np.nan), np.zeros((1, n_vm), bool),
                      np.zeros(1, bool), np.full((1, 4), np.nan), np.zeros(1, bool))
    fs = fsw_init(fcfg, nav, frame, legs.feet_b_m.shape[0])
    lat_t, lon_t = np.radians(tgt["lat_deg"]), np.radians(tgt["lon_deg"])
    target_mf = llh_to_mf(moon, lat_t, lon_t, height_m(truth, lat_t, lon_t))
    no_beams = make_rangefinder()._replace(beams_b=np.zeros((0, 3)))
    max_steps = int(round(max_time * base_hz))
    telemetry_every = int(round(base_hz / rates["telemetry_hz"]))
    world = World(vehicle, moon, truth, sensors.imu, sensors.rangefinder or no_beams,
                  sensors.velocimeter or no_beams, sensors.star_tracker or make_star_tracker(),
                  legs, schedule, every, telemetry_every, 1.0 / base_hz, max_steps,
                  (sc.limits["touchdown_vertical_m_s"], sc.limits["touchdown_horizontal_m_s"],
                   np.radians(sc.limits["touchdown_tilt_deg"])), tuple(target_mf),
                  perfect_navigation)
    ws = new_world_state(world, x0, imu_state, rng,
                         np.random.Generator(np.random.PCG64(fault_seed)), fault_state(schedule))
    telemetry = np.full((max_steps // telemetry_every + 2, len(TELEMETRY_COLUMNS)), np.nan)
    return Flight(sc, None, None, world, ws, fcfg, fs, onboard, telemetry)


def fly_flight(flight):
    """Fly a built :class:`Flight` to its outcome in one compiled call; returns the wall time (s)."""
    start = time.perf_counter()
    fly(flight.world, flight.world_state, flight.fsw_config, flight.fsw_state, flight.onboard_map,
        flight.telemetry)
    return time.perf_counter() - start


def run(scenario, fsw=None, seed=0, dem=None, perfect_navigation=False, campaign_index=None):
    """Fly one landing; returns a :class:`~sims.results.RunResult`.

    Parameters
    ----------
    scenario : str or Scenario
        A shipped scenario's name, a TOML path, or a loaded :class:`~sims.scenario.Scenario`.
    fsw : str, optional
        Flight-software variant replacing the scenario's.
    seed : int
        The run's seed: sensor noise, IMU errors, fault noise and the initial estimate's error.
    dem : str, optional
        A DEM ``.npz`` to use as truth terrain.
    perfect_navigation : bool
        Test switch: the flight software's estimate is replaced by the truth after every filter
        step (guidance and control then act on the truth).
    campaign_index : int, optional
        Fly run ``campaign_index`` of the campaign seeded ``seed`` (its dispersions drawn),
        exactly as the campaign flew it.
    """
    from sims.results import result_of
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    sc = sc.with_options(fsw=fsw, dem=dem)
    flight = build_run(sc, seed, perfect_navigation, campaign_index)
    wall_s = fly_flight(flight)
    return result_of(flight, wall_s)

