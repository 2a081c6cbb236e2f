"""The closed loop, compiled: world, sensors, faults and flight software, one base step at a time.

One base step (the IMU interval, ``world.dt_s``):

1. the flight software's commands of the previous step drive the engine, thrusters and torques;
2. the 6-DOF state advances by one RK4 step; the IMU integrates the true rate and specific force;
3. every sensor due at the step's end is sampled from the truth (rangefinder, velocimeter, star
   tracker; the leg switches when a foot is within reach of the ground), then faulted;
4. the flight software navigates and commands (:mod:`gnc.flight_software`);
5. the world checks for ground contact, propellant exhaustion, a non-finite state and the time
   limit, and logs telemetry every ``telemetry_every`` steps (and at the end).

:func:`loop_step` is that step; :func:`fly` runs it to the end without returning to Python. The
same compiled step can be driven from Python (the benchmark's baseline). The flight software sees
only its sensor frame; ``world.perfect_navigation`` (a test switch of the harness) overwrites its
estimate with the truth after each filter step.

The helpers called every step with the world and its state, and :func:`loop_step` itself into
:func:`fly`, are inlined (``inline='always'``): a compiled call increments and decrements the
reference count of every array those carry, about 0.5 µs a call. Inlined code takes its
caller's error model, so :func:`fly` has :func:`loop_step`'s (numpy).
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.flight_software import (V_ATT_ERR_RAD, V_CUTOFF_S, V_MAIN_N, V_MODE, V_RANGE_ALT_M,
                                 V_THROTTLE, V_THRUSTERS, V_TORQUE, V_ALT_M, V_ALT_SIGMA_M,
                                 fsw_command, fsw_navigate)
from gnc.moon import ground_speeds, latlon_xyz, rotation_angle_rad
from gnc.navigation import ST_OFFSET
from gnc.quaternion import mult_xyz, rotate_xyz
from gnc.terrain import clearance_xyz, height_m
from sims.dynamics import (CMD_THRUST, CMD_THRUSTERS, CMD_TORQUE, MASS, POS, QUAT, RATE, THRUST,
                           VEL, command_size, rk4_step, rk4_work, specific_force_xyz)
from sims.descent_log import ACCEL_ID, GYRO_ID, RF_ID, ST_ID, VMR_ID, VMV_ID, nominal_truth
from sims.faults import F_END, F_START, MAX_CHANNELS, SENSORS, apply_faults
from sims.sensors.beams import beam_sample
from sims.sensors.imu import imu_sample
from sims.sensors.star_tracker import star_tracker_sample
from sims.sensors.touchdown import lowest_foot_m, touchdown_sample

TD_ID = SENSORS.index("touchdown")

OUTCOMES = ("running", "landed", "crashed", "timeout", "numerical_failure")
RUNNING, LANDED, CRASHED, TIMEOUT, NUMERICAL_FAILURE = range(len(OUTCOMES))
CRASH_REASONS = ("", "propellant_exhausted", "engine_cutoff_in_flight", "over_speed", "tilt")
NO_REASON, PROPELLANT_EXHAUSTED, ENGINE_CUTOFF_IN_FLIGHT, OVER_SPEED, TILT = range(len(CRASH_REASONS))

TELEMETRY_COLUMNS = (
    "t_s", "true_altitude_m", "nav_altitude_m", "nav_altitude_sigma_m", "true_vertical_speed_m_s",
    "nav_vertical_speed_m_s", "true_horizontal_speed_m_s", "nav_horizontal_speed_m_s", "throttle",
    "main_thrust_n", "thrusters_fraction", "mass_kg", "propellant_kg", "attitude_error_deg",
    "tilt_deg", "mode", "faults_active", "nav_position_error_m", "lat_deg", "lon_deg",
    "distance_to_target_m", "footprint_lat_deg", "footprint_lon_deg", "footprint_height_m",
    "rangefinder_altitude_m", "nav_attitude_error_deg")
"""Telemetry columns: speeds over the ground, vertical positive up; ``mode`` indexes
:data:`gnc.modes.MODES`; ``faults_active`` counts the schedule's entries active at ``t_s``;
``footprint_*`` is where the rangefinder's first beam met the true ground at its latest sample,
and the ground's height there (NaN when it hit nothing); ``rangefinder_altitude_m`` the flight
software's altitude from its latest rangefinder sample, the slant range projected with its
attitude estimate; ``nav_attitude_error_deg`` the angle between estimated and true attitude."""
(T_T, T_TRUE_ALT, T_NAV_ALT, T_NAV_SIGMA, T_TRUE_VS, T_NAV_VS, T_TRUE_HS, T_NAV_HS, T_THROTTLE,
 T_MAIN, T_THRUSTERS, T_MASS, T_PROPELLANT, T_ATT_ERR, T_TILT, T_MODE, T_FAULTS, T_NAV_ERR, T_LAT,
 T_LON, T_TARGET, T_FOOT_LAT, T_FOOT_LON, T_FOOT_HEIGHT, T_RANGE_ALT, T_NAV_ATT_ERR) = range(
    len(TELEMETRY_COLUMNS))

(W_T, W_STEPS, W_OUTCOME, W_REASON, W_TD_T, W_TD_VS, W_TD_HS, W_TD_TILT, W_TD_SPEED, W_TD_LAT,
 W_TD_LON, W_TD_TARGET, W_DRY_T, W_NAV_ZERO_TRUE_ALT, W_MAX_NAV_ALT_ERR, W_TRUE_ALT, W_N_TEL,
 W_CUTOFF_ALT, STATUS_SIZE) = range(19)
"""Layout of ``WorldState.status``: time, steps, outcome and crash reason; at first contact the
time, vertical and horizontal speed, tilt (rad), speed, latitude, longitude (rad) and distance to
target; time the propellant ran out; true altitude when the estimate first reached 0; largest
|estimated − true altitude|; last true altitude; telemetry rows; true altitude at engine cut-off."""


class World(NamedTuple):
    """The simulated world of one run (compiled parameters)."""
    vehicle: object
    moon: object
    terrain: object               # truth terrain
    imu: object
    rangefinder: object           # BeamSensorParams (no beams when absent)
    velocimeter: object
    star_tracker: object
    legs: object                  # TouchdownParams
    schedule: np.ndarray          # fault table
    every: tuple                  # base steps per sample: rangefinder, velocimeter, star tracker (0: none)
    telemetry_every: int
    dt_s: float
    max_steps: int
    limits: tuple                 # touchdown: vertical speed, horizontal speed (m/s), tilt (rad)
    target_mf: tuple              # landing target on the truth terrain (m, Moon-fixed)
    perfect_navigation: bool


class WorldState(NamedTuple):
    """The world's memory: truth state, sensor states, generators, scratch and outcome."""
    x: np.ndarray
    u: np.ndarray
    work: tuple                   # RK4 scratch
    scratch: np.ndarray           # (state size,) for the specific force
    imu_state: np.ndarray
    rng: object                   # sensors' generator
    fault_rng: object
    faults: np.ndarray            # fault-injection state
    imu_vectors: np.ndarray       # (4, 3) Δθ, Δv, mean specific force, mean body rate
    imu_valid: np.ndarray         # (3,) bool, always true (faults may clear it)
    no_truth: np.ndarray          # (MAX_CHANNELS,) NaN: the truth for faults on sensors without one
    q_truth: np.ndarray           # (4,) true attitude at a star-tracker sample
    rf_los: np.ndarray            # (rangefinder beams,) unused line-of-sight output
    rf_true: np.ndarray           # (rangefinder beams,) noise-free ranges
    vm_true: np.ndarray
    leg_valid: np.ndarray         # (legs,) bool
    status: np.ndarray            # (STATUS_SIZE,)


@njit(cache=True, inline='always')
def _apply_commands(vehicle, v, u):
    u[CMD_THRUST] = v[V_MAIN_N]
    for a in range(3):
        u[CMD_TORQUE + a] = v[V_TORQUE + a]
    for k in range(vehicle.thrusters.shape[0]):
        u[CMD_THRUSTERS + k] = v[V_THRUSTERS]


@njit(cache=True, inline='always')
def _sense(world, ws, frame, t_s):
    """Sample every sensor due at ``t_s`` into the flight software's frame, with faults."""
    k = int(ws.status[W_STEPS])
    x, sched, fst, frng = ws.x, world.schedule, ws.faults, ws.fault_rng
    rf_every, vm_every, st_every = world.every
    frame.t_s[0] = t_s
    frame.rangefinder_due[0] = rf_every > 0 and k % rf_every == 0
    if frame.rangefinder_due[0]:
        beam_sample(world.rangefinder, world.terrain, world.moon, t_s, x, ws.rng,
                    frame.rangefinder_m[0], ws.rf_los, frame.rangefinder_valid[0], ws.rf_true)
        apply_faults(sched, fst, RF_ID, t_s, frame.rangefinder_m[0], frame.rangefinder_valid[0],
                     ws.rf_true, 1.0, frng)
    frame.velocimeter_due[0] = vm_every > 0 and k % vm_every == 0
    if frame.velocimeter_due[0]:
        beam_sample(world.velocimeter, world.terrain, world.moon, t_s, x, ws.rng,
                    frame.velocimeter_range_m[0], frame.velocimeter_los_m_s[0],
                    frame.velocimeter_range_valid[0], ws.vm_true)
        for b in range(ws.vm_true.size):
            frame.velocimeter_los_valid[0, b] = frame.velocimeter_range_valid[0, b]
        apply_faults(sched, fst, VMR_ID, t_s, frame.velocimeter_range_m[0],
                     frame.velocimeter_range_valid[0], ws.vm_true, 1.0, frng)
        apply_faults(sched, fst, VMV_ID, t_s, frame.velocimeter_los_m_s[0],
                     frame.velocimeter_los_valid[0], ws.vm_true, 1.0, frng)
    frame.star_tracker_due[0] = st_every > 0 and k % st_every == 0
    if frame.star_tracker_due[0]:
        q = frame.star_tracker_q[0]
        valid = frame.star_tracker_valid[0:1]
        valid[0] = star_tracker_sample(world.star_tracker, x, ws.rng, q)
        for c in range(4):
            ws.q_truth[c] = x[QUAT + c]
        apply_faults(sched, fst, ST_ID, t_s, q, valid, ws.q_truth, 1.0, frng)
        _normalise(q)


@njit(cache=True)
def _normalise(q):
    """Scale the quaternion ``q`` to unit norm in place (a zero ``q`` raises ZeroDivisionError:
    kept out of the inlined :func:`_sense`, which takes the numpy error model of its caller)."""
    norm = np.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2 + q[3] ** 2)
    for c in range(4):
        q[c] /= norm


@njit(cache=True, inline='always')
def _legs(world, ws, legs, t_s):
    """Leg switches: sampled from the truth only when a foot can reach the ground this step."""
    near = ws.status[W_TRUE_ALT] < 20.0
    deploying = (world.legs.deploy_time_s <= t_s
                 < world.legs.deploy_time_s + world.legs.deploy_transient_s)
    if near or deploying:
        touchdown_sample(world.legs, world.terrain, world.moon, t_s, ws.x, legs)
    else:
        legs[:] = 0.0
    apply_faults(world.schedule, ws.faults, TD_ID, t_s, legs, ws.leg_valid, ws.no_truth, 1.0,
                 ws.fault_rng)


@njit(cache=True, error_model='numpy', inline='always')
def _true_altitude(world, x, t_s):
    a = rotation_angle_rad(world.moon, t_s)
    c, s = np.cos(a), np.sin(a)
    px, py = c * x[POS] + s * x[POS + 1], -s * x[POS] + c * x[POS + 1]
    return clearance_xyz(world.terrain, px, py, x[POS + 2]), px, py


@njit(cache=True, error_model='numpy')
def _tilt_rad(x):
    """Angle between body +z and the local vertical."""
    qw, qx, qy, qz = x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3]
    zx = 2.0 * (qx * qz + qw * qy)
    zy = 2.0 * (qy * qz - qw * qx)
    zz = 1.0 - 2.0 * (qx * qx + qy * qy)
    r = np.sqrt(x[POS] ** 2 + x[POS + 1] ** 2 + x[POS + 2] ** 2)
    c = (zx * x[POS] + zy * x[POS + 1] + zz * x[POS + 2]) / r
    return np.arccos(min(max(c, -1.0), 1.0))


@njit(cache=True, error_model='numpy')
def _distance_to_target_m(world, px, py, pz):
    tx, ty, tz = world.target_mf
    r = np.sqrt(px * px + py * py + pz * pz)
    rt = np.sqrt(tx * tx + ty * ty + tz * tz)
    c = (px * tx + py * ty + pz * tz) / (r * rt)
    return rt * np.arccos(min(max(c, -1.0), 1.0))


@njit(cache=True, error_model='numpy')
def _log_telemetry(world, ws, fs, terrain_map, tel, t_s):
    st = ws.status
    n = int(st[W_N_TEL])
    if n >= tel.shape[0]:
        return
    x, v, nx = ws.x, fs.vars, fs.nav.x
    row = tel[n]
    alt, px, py = _true_altitude(world, x, t_s)
    row[T_T] = t_s
    row[T_TRUE_ALT] = alt
    row[T_NAV_ALT], row[T_NAV_SIGMA] = v[V_ALT_M], v[V_ALT_SIGMA_M]
    row[T_TRUE_VS], row[T_TRUE_HS] = ground_speeds(world.moon, x[POS], x[POS + 1], x[POS + 2],
                                                   x[VEL], x[VEL + 1], x[VEL + 2])
    row[T_NAV_VS], row[T_NAV_HS] = ground_speeds(world.moon, nx[0], nx[1], nx[2], nx[3], nx[4], nx[5])
    row[T_THROTTLE], row[T_MAIN], row[T_THRUSTERS] = v[V_THROTTLE], x[THRUST], v[V_THRUSTERS]
    row[T_MASS] = x[MASS]
    row[T_PROPELLANT] = x[MASS] - world.vehicle.mass_dry_kg
    row[T_ATT_ERR] = np.degrees(v[V_ATT_ERR_RAD])
    row[T_TILT] = np.degrees(_tilt_rad(x))
    row[T_MODE] = v[V_MODE]
    active = 0
    for i in range(world.schedule.shape[0]):
        if world.schedule[i, F_START] <= t_s < world.schedule[i, F_END]:
            active += 1
    row[T_FAULTS] = active
    row[T_NAV_ERR] = np.sqrt((nx[0] - x[POS]) ** 2 + (nx[1] - x[POS + 1]) ** 2
                             + (nx[2] - x[POS + 2]) ** 2)
    lat, lon = latlon_xyz(px, py, x[POS + 2])
    row[T_LAT], row[T_LON] = np.degrees(lat), np.degrees(lon)
    row[T_TARGET] = _distance_to_target_m(world, px, py, x[POS + 2])
    _footprint(world, ws, x, t_s, row)
    row[T_RANGE_ALT] = v[V_RANGE_ALT_M]
    w, _, _, _ = mult_xyz(x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3],
                          nx[6], -nx[7], -nx[8], -nx[9])
    row[T_NAV_ATT_ERR] = np.degrees(2.0 * np.arccos(min(abs(w), 1.0)))
    st[W_N_TEL] = n + 1


@njit(cache=True, error_model='numpy')
def _footprint(world, ws, x, t_s, row):
    """Where the rangefinder's first beam met the true ground at its latest sample."""
    rf = world.rangefinder
    if rf.beams_b.shape[0] == 0 or not np.isfinite(ws.rf_true[0]):
        row[T_FOOT_LAT] = row[T_FOOT_LON] = row[T_FOOT_HEIGHT] = np.nan
        return
    qw, qx, qy, qz = x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3]
    lx, ly, lz = rotate_xyz(qw, qx, qy, qz, rf.pos_b_m[0], rf.pos_b_m[1], rf.pos_b_m[2])
    bx, by, bz = rotate_xyz(qw, qx, qy, qz, rf.beams_b[0, 0], rf.beams_b[0, 1], rf.beams_b[0, 2])
    rho = ws.rf_true[0]
    hx, hy, hz = x[POS] + lx + rho * bx, x[POS + 1] + ly + rho * by, x[POS + 2] + lz + rho * bz
    a = rotation_angle_rad(world.moon, t_s)
    c, s = np.cos(a), np.sin(a)
    lat, lon = latlon_xyz(c * hx + s * hy, -s * hx + c * hy, hz)
    row[T_FOOT_LAT], row[T_FOOT_LON] = np.degrees(lat), np.degrees(lon)
    row[T_FOOT_HEIGHT] = height_m(world.terrain, lat, lon)


@njit(cache=True, error_model='numpy')
def _touchdown(world, ws, fs, t_s):
    """Record the state at first ground contact and judge it."""
    st, x = ws.status, ws.x
    vs, hs = ground_speeds(world.moon, x[POS], x[POS + 1], x[POS + 2], x[VEL], x[VEL + 1],
                           x[VEL + 2])
    tilt = _tilt_rad(x)
    _, px, py = _true_altitude(world, x, t_s)
    lat, lon = latlon_xyz(px, py, x[POS + 2])
    st[W_TD_T], st[W_TD_VS], st[W_TD_HS], st[W_TD_TILT] = t_s, -vs, hs, tilt
    st[W_TD_SPEED] = np.sqrt(vs * vs + hs * hs)
    st[W_TD_LAT], st[W_TD_LON] = lat, lon
    st[W_TD_TARGET] = _distance_to_target_m(world, px, py, x[POS + 2])
    max_vs, max_hs, max_tilt = world.limits
    if -vs <= max_vs and hs <= max_hs and tilt <= max_tilt:
        st[W_OUTCOME] = LANDED
        return
    st[W_OUTCOME] = CRASHED
    if not np.isnan(st[W_DRY_T]):
        st[W_REASON] = PROPELLANT_EXHAUSTED
    elif st[W_CUTOFF_ALT] > -world.legs.feet_b_m[:, 2].min() + 0.5:
        st[W_REASON] = ENGINE_CUTOFF_IN_FLIGHT
    elif -vs > max_vs or hs > max_hs:
        st[W_REASON] = OVER_SPEED
    else:
        st[W_REASON] = TILT


@njit(cache=True, error_model='numpy', inline='always')
def loop_step(world, ws, fcfg, fs, terrain_map, tel):
    """Advance the closed loop by one base step; returns the outcome code (``RUNNING`` = go on)."""
    st, x, u, vec = ws.status, ws.x, ws.u, ws.imu_vectors
    dt = world.dt_s
    _apply_commands(world.vehicle, fs.vars, u)
    dtheta, dv, f_avg, w_avg = vec[0], vec[1], vec[2], vec[3]
    fx, fy, fz = specific_force_xyz(world.vehicle, world.moon, x, u, ws.scratch)
    for a in range(3):
        w_avg[a] = x[RATE + a]
    rk4_step(world.vehicle, world.moon, x, u, dt, ws.work)
    gx, gy, gz = specific_force_xyz(world.vehicle, world.moon, x, u, ws.scratch)
    f_avg[0], f_avg[1], f_avg[2] = 0.5 * (fx + gx), 0.5 * (fy + gy), 0.5 * (fz + gz)
    for a in range(3):
        w_avg[a] = 0.5 * (w_avg[a] + x[RATE + a])
    imu_sample(world.imu, ws.imu_state, ws.rng, w_avg, f_avg, dt, dtheta, dv)
    st[W_STEPS] += 1.0
    t = st[W_STEPS] * dt
    st[W_T] = t
    apply_faults(world.schedule, ws.faults, GYRO_ID, t, dtheta, ws.imu_valid, ws.no_truth, dt,
                 ws.fault_rng)
    apply_faults(world.schedule, ws.faults, ACCEL_ID, t, dv, ws.imu_valid, ws.no_truth, dt,
                 ws.fault_rng)
    frame = fs.frame
    for a in range(3):
        frame.imu[0, a] = dtheta[a]
        frame.imu[0, 3 + a] = dv[a]
    _sense(world, ws, frame, t)
    _legs(world, ws, fs.legs, t)

    fsw_navigate(fcfg, fs, terrain_map)
    if world.perfect_navigation:
        nominal_truth(x, ws.imu_state, fs.nav.x)
        fs.nav.status[ST_OFFSET] = 0.0
    fsw_command(fcfg, fs, terrain_map)
    if x[MASS] <= world.vehicle.mass_dry_kg and np.isnan(st[W_DRY_T]):
        st[W_DRY_T] = t

    alt, _, _ = _true_altitude(world, x, t)
    st[W_TRUE_ALT] = alt
    if not (np.isfinite(alt) and np.isfinite(fs.nav.x[0]) and np.isfinite(x[VEL])):
        st[W_OUTCOME] = NUMERICAL_FAILURE
    if np.isnan(st[W_CUTOFF_ALT]) and not np.isnan(fs.vars[V_CUTOFF_S]):
        st[W_CUTOFF_ALT] = alt
    nav_alt = fs.vars[V_ALT_M]
    if nav_alt <= 0.0 and np.isnan(st[W_NAV_ZERO_TRUE_ALT]):
        st[W_NAV_ZERO_TRUE_ALT] = alt
    k = int(st[W_STEPS])
    if k % world.telemetry_every == 0 and np.isfinite(nav_alt):
        st[W_MAX_NAV_ALT_ERR] = max(st[W_MAX_NAV_ALT_ERR], abs(nav_alt - alt))
    if st[W_OUTCOME] == RUNNING and alt < 20.0:
        if lowest_foot_m(world.legs, world.terrain, world.moon, t, x) <= 0.0:
            _touchdown(world, ws, fs, t)
    if st[W_OUTCOME] == RUNNING and k >= world.max_steps:
        st[W_OUTCOME] = TIMEOUT
    if st[W_OUTCOME] != RUNNING or k % world.telemetry_every == 0:
        _log_telemetry(world, ws, fs, terrain_map, tel, t)
    return int(st[W_OUTCOME])


@njit(cache=True, error_model='numpy', nogil=True)
def fly(world, ws, fcfg, fs, terrain_map, tel):
    """Run :func:`loop_step` until the outcome is decided; returns it. Releases the GIL: runs
    in separate threads fly in parallel (each with its own state and generators)."""
    outcome = RUNNING
    while outcome == RUNNING:
        outcome = loop_step(world, ws, fcfg, fs, terrain_map, tel)
    return outcome


def new_world_state(world, x0, imu_state, rng, fault_rng, faults):
    """A world state at t = 0 from truth ``x0`` (dynamics layout)."""
    status = np.zeros(STATUS_SIZE)
    for key in (W_TD_T, W_TD_VS, W_TD_HS, W_TD_TILT, W_TD_SPEED, W_TD_LAT, W_TD_LON, W_TD_TARGET,
                W_DRY_T, W_NAV_ZERO_TRUE_ALT, W_CUTOFF_ALT):
        status[key] = np.nan
    status[W_TRUE_ALT] = np.inf
    x0 = np.array(x0, dtype=np.float64)
    n_rf = world.rangefinder.beams_b.shape[0]
    return WorldState(x0, np.zeros(command_size(world.vehicle)), rk4_work(x0.size),
                      np.empty(x0.size), imu_state, rng, fault_rng, faults, np.zeros((4, 3)),
                      np.ones(3, dtype=np.bool_), np.full(MAX_CHANNELS, np.nan), np.zeros(4),
                      np.empty(n_rf), np.empty(n_rf), np.empty(world.velocimeter.beams_b.shape[0]),
                      np.ones(world.legs.feet_b_m.shape[0], dtype=np.bool_), status)
