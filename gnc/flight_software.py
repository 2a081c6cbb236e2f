"""The flight software under test, one step at a time: navigation, mode logic, guidance, control.

Each base step the harness hands over the sensor samples of that step (a one-row
:class:`gnc.sensor_log.SensorLog` and the leg switches); :func:`fsw_navigate` runs the filter and
:func:`fsw_command` the rest, leaving the actuator commands in ``FswState.vars``. Guidance and the
mode logic run every ``guidance_every`` steps; attitude control, touchdown detection and the
propellant booking every step.

A variant (:data:`VARIANTS`) is a configuration of the same code: which plausibility checks the
filter runs, how it weighs the rangefinder, whether it lets its map's stated error grow along the
track (the terrain walk, given by the map) or trusts the map as exact, which sensors it is
configured to ignore, whether it verifies that configuration against the sensors fitted, and its
mode logic (:mod:`gnc.modes`). ``fixed`` is the corrected software; the ``legacy_*`` variants fly
as the failed missions did.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.control import attitude_torque, engine_commands, mass_flow_kg_s
from gnc.eskf import E_ATT, ERROR_SIZE, QUAT
from gnc.guidance import approach_duration_s, terminal_acceleration, zem_zev_to
from gnc.moon import ground_speeds
from gnc.modes import (APPROACH, BRAKING, CONTRADICTION, FIX_MISSING, FIX_REGAINED, GATE_TIME,
                       GYRO_SATURATION, MODE_EVENT_COLUMNS, RANGEFINDER_ALTITUDE, REALIGNMENT,
                       SHUTDOWN, TERMINAL, TERMINAL_GATE, any_leg_closed, range_cutoff,
                       touchdown_decision)
from gnc.navigation import (RANGEFINDER, STAR_TRACKER, ST_OFFSET, ST_OMEGA, ST_T, VELOCIMETER_RANGE,
                            nav_altitude)
from gnc.plausibility import ACCEPT, DECISIONS, REANCHOR
from gnc.quaternion import rotate_xyz
from gnc.sensor_log import nav_step


class Variant(NamedTuple):
    """A flight-software variant: its checks, its view of the rangefinder, its mode logic."""
    description: str
    checks: dict                  # channel -> check spec (see gnc.nav_config.make_nav_config)
    models_map_error: bool        # lets the map's stated error grow along the track (terrain walk)
    rangefinder: dict             # overrides of the rangefinder's datasheet as the software uses it
    modes: dict                   # overrides of gnc.modes.MODE_DEFAULTS
    ignore: tuple = ()            # channels the filter is configured not to use
    verify_sensors: bool = False  # refuse, before flight, a configuration that ignores a sensor
    slope_sigma_max_m: float = np.inf  # horizontal σ beyond which ranges ignore the map's slope
    map_roughness: bool = False   # ranges' noise includes the map's roughness within that σ
    unscented_ranges: bool = False  # full range updates linearised through unscented points


_AS_FLOWN = dict(plausible_height_m=np.inf, contradiction_s=np.inf, range_cutoff_m=-np.inf,
                 fix_expected_m=0.0, terminal_sigmas=0.0, realign_after_saturation=False)
"""Mode logic without any of the fixed software's defences; each legacy variant adds its flaw."""

SLOPE_SIGMA_MAX_M = 300.0
"""The fixed software's horizontal position 1σ beyond which a range update leaves the map's slope
out and corrects the vertical channel alone, where the map's roughness within that σ outweighs
what the slope explains (craters of a few hundred metres make the height non-linear over that
distance; ispace Mission 2 reached its first range with about 1.5 km of horizontal uncertainty).
The legacy variants always use the slope."""

VARIANTS = {
    "fixed": Variant(
        "corrected: chi-square gates that widen as the map ages, terrain re-anchoring, rate and "
        "scatter consistency, never a latch; plausible-altitude touchdown; contradiction recovery; "
        "a slower descent when no altitude fix comes; gyro-saturation re-alignment; checked "
        "rangefinder altitude; sensor configuration verified; ranges linearised over the "
        "position's uncertainty, the map's roughness counted once per patch",
        {}, True, {}, {}, verify_sensors=True, slope_sigma_max_m=SLOPE_SIGMA_MAX_M,
        map_roughness=True, unscented_ranges=True),
    "legacy_m1": Variant(
        "HAKUTO-R Mission 1 as flown: an altitude sensor rejected when |measured - estimated| > "
        "1 km, latched for good; touchdown awaited indefinitely",
        {"rangefinder": ("legacy_m1", {"threshold_m": 1000.0}),
         "velocimeter_range": ("legacy_m1", {"threshold_m": 1000.0})},
        False, {"noise_floor_m": 150.0}, _AS_FLOWN),
    "legacy_mpl": Variant(
        "Mars Polar Lander as flown: a leg indication seen before the touchdown monitor is "
        "enabled (40 m) is latched and cuts the engine once it is",
        {}, True, {}, {**_AS_FLOWN, "monitor_altitude_m": 40.0, "latch_before_monitor": True}),
    "legacy_im1": Variant(
        "IM-1 Odysseus as flown: the velocimeter's ranges ignored by a configuration flag the "
        "patch missed; altitude from the inertial estimate",
        {}, True, {}, _AS_FLOWN, ignore=("velocimeter_range",)),
    "legacy_m2": Variant(
        "ispace Mission 2 as modelled: trusts its inertial altitude until the rangefinder appears",
        {}, True, {}, _AS_FLOWN),
    "legacy_schiaparelli": Variant(
        "Schiaparelli as flown (lunar analogue): integrates a saturated gyro; cuts the engine when "
        "the slant range projected with its attitude says it is down, negative or not",
        {}, True, {}, {**_AS_FLOWN, "range_cutoff_m": 1.0, "range_cutoff_checked": False}),
}
"""Flight-software variants by name."""


def get_variant(name):
    """The :class:`Variant` called ``name``, or a ValueError listing the known ones."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown flight software {name!r}; known: {', '.join(VARIANTS)}") from None


(V_MODE, V_PHASE_END_S, V_MASS_KG, V_ALT_M, V_ALT_SIGMA_M, V_MAIN_N, V_THRUSTERS, V_THROTTLE,
 V_TORQUE, V_ATT_ERR_RAD, V_ACCEL_I, V_LATCHED, V_GROUNDED_S, V_CUTOFF_S, V_MODE_EVENTS,
 V_STEP, V_RANGE_ALT_M, V_FIXES, V_WAIT_FROM_S, V_DEGRADED, V_GYRO_LAST, V_GYRO_STATE,
 V_ST_ACCEPTED, V_FAST_DESCENT, VARS_SIZE) = (0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 18,
                                               19, 20, 21, 22, 23, 24, 27, 28, 29, 30)
"""Layout of ``FswState.vars``: mode, end time of the current ZEM/ZEV phase, booked mass, last
estimated altitude and its σ, main-engine command (N), thrusters' fraction, throttle, torque
command (3), attitude error, guidance's thrust acceleration (inertial, 3), latched leg
indication, time the feet have been estimated on the ground, cut-off time, mode events logged,
steps flown, altitude from the latest rangefinder sample (projected with the estimated
attitude), altitude fixes accepted and the time the estimate passed below the altitude a fix is
expected from, degraded guidance flag, last
unsaturated gyro increment (3), gyro state (:data:`GYRO_OK`, ...), star-tracker acceptances
counted when the saturation ended, terminal descent sped up (after a degraded stretch)."""
GYRO_OK, GYRO_SATURATED, GYRO_SUSPECT = 0.0, 1.0, 2.0
REALIGN_SIGMA_RAD = 0.2
"""1σ per axis the attitude is opened to after a gyro saturation: the error a held rate can build
over a saturation of about a second in a manoeuvre of a few degrees per second, with margin."""
MAX_MODE_EVENTS = 64


class FswConfig(NamedTuple):
    """Everything the flight software is configured with."""
    nav: object                   # gnc.navigation.NavConfig
    vehicle: object               # gnc.control.OnboardVehicle
    guidance: object              # gnc.guidance.GuidanceParams
    control: object               # gnc.control.ControlParams
    modes: object                 # gnc.modes.ModeParams
    guidance_every: int           # base steps per guidance cycle
    gyro_range_rad_s: float       # the gyros' full scale (datasheet): a reading there is saturated


class FswState(NamedTuple):
    """The flight software's memory, and the sensor inputs of the current step."""
    nav: object                   # gnc.navigation.NavState
    vars: np.ndarray              # (VARS_SIZE,) see the V_* layout
    mode_events: np.ndarray       # (MAX_MODE_EVENTS, len(MODE_EVENT_COLUMNS))
    frame: object                 # one-row SensorLog: this step's samples
    legs: np.ndarray              # (n_legs,) leg switches, 1.0 closed


def fsw_init(cfg, nav_state, frame, n_legs):
    """Flight-software state at powered-descent start (braking, full booked mass)."""
    v = np.zeros(VARS_SIZE)
    v[V_MODE] = BRAKING
    v[V_PHASE_END_S] = cfg.guidance.braking_end_s
    v[V_MASS_KG] = cfg.vehicle.mass_initial_kg
    v[V_CUTOFF_S] = np.nan
    v[V_ALT_M] = np.nan
    v[V_RANGE_ALT_M] = np.nan
    v[V_WAIT_FROM_S] = -np.inf
    events = np.full((MAX_MODE_EVENTS, len(MODE_EVENT_COLUMNS)), np.nan)
    return FswState(nav_state, v, events, frame, np.zeros(n_legs))


@njit(cache=True, inline='always')
def fsw_navigate(cfg, st, terrain_map):
    """The navigation filter over this step's samples (with gyro-saturation handling if the
    variant has it)."""
    realign = cfg.modes.realign_after_saturation
    v = st.vars
    if realign:
        _hold_saturated_gyro(cfg, st)
        if v[V_GYRO_STATE] != GYRO_OK:
            # a beam's range and velocity are projected with the attitude: from the saturation
            # until the star tracker has re-aligned it, they would steer it (Schiaparelli)
            st.frame.rangefinder_due[0] = False
            st.frame.velocimeter_due[0] = False
    nav_step(cfg.nav, st.nav, terrain_map, st.frame, 0)
    if realign and v[V_GYRO_STATE] == GYRO_SUSPECT and st.nav.counts[STAR_TRACKER, ACCEPT] > v[V_ST_ACCEPTED]:
        v[V_GYRO_STATE] = GYRO_OK
        _log_mode(st, st.nav.status[ST_T], v[V_MODE], REALIGNMENT)


@njit(cache=True, error_model='numpy')
def _hold_saturated_gyro(cfg, st):
    """Replace a gyro increment at full scale by the channel's last unsaturated one; when the
    saturation ends, open the attitude covariance so the next star-tracker sample re-aligns."""
    v, nav = st.vars, st.nav
    limit = cfg.gyro_range_rad_s * cfg.nav.imu_dt_s * (1.0 - 1e-9)
    saturated = False
    for a in range(3):
        d = st.frame.imu[0, a]
        if abs(d) >= limit:
            saturated = True
            st.frame.imu[0, a] = v[V_GYRO_LAST + a]
        else:
            v[V_GYRO_LAST + a] = d
    t_s = nav.status[ST_T] + cfg.nav.imu_dt_s
    if saturated:
        if v[V_GYRO_STATE] != GYRO_SATURATED:
            _log_mode(st, t_s, v[V_MODE], GYRO_SATURATION)
        v[V_GYRO_STATE] = GYRO_SATURATED
    elif v[V_GYRO_STATE] == GYRO_SATURATED:
        for i in range(ERROR_SIZE):
            for j in range(3):
                nav.P[i, E_ATT + j] = 0.0
                nav.P[E_ATT + j, i] = 0.0
        for j in range(3):
            nav.P[E_ATT + j, E_ATT + j] = REALIGN_SIGMA_RAD ** 2
        nav.check_state[STAR_TRACKER, :, :] = 0.0
        v[V_ST_ACCEPTED] = nav.counts[STAR_TRACKER, ACCEPT]
        v[V_GYRO_STATE] = GYRO_SUSPECT


@njit(cache=True)
def _log_mode(st, t_s, mode_to, reason):
    v = st.vars
    n = int(v[V_MODE_EVENTS])
    if n < st.mode_events.shape[0]:
        row = st.mode_events[n]
        row[0], row[1], row[2], row[3] = t_s, v[V_MODE], mode_to, reason
        row[4], row[5] = v[V_ALT_M], v[V_ALT_SIGMA_M]
        v[V_MODE_EVENTS] = n + 1
    v[V_MODE] = mode_to


@njit(cache=True)
def _gravity_m_s2(cfg, x):
    """Central gravity at the estimated position."""
    return cfg.nav.moon.mu_m3_s2 / (x[0] ** 2 + x[1] ** 2 + x[2] ** 2)


@njit(cache=True, error_model='numpy')
def _stopping_distance_m(cfg, st):
    """Height the vehicle loses braking its present descent at full main-engine thrust."""
    x, vehicle = st.nav.x, cfg.vehicle
    vertical, _ = ground_speeds(cfg.nav.moon, x[0], x[1], x[2], x[3], x[4], x[5])
    braking = vehicle.main_thrust_max_n / st.vars[V_MASS_KG] - _gravity_m_s2(cfg, x)
    if vertical >= 0.0:
        return 0.0
    return vertical * vertical / (2.0 * braking) if braking > 0.0 else np.inf


@njit(cache=True, error_model='numpy')
def _thrusters_rate_max_m_s(cfg, st):
    """The fastest terminal descent the thrusters can stop on the terminal's profile (its
    deceleration, rate / τ) with half of their thrust margin over the vehicle's weight."""
    margin = cfg.vehicle.thrusters_force_n / st.vars[V_MASS_KG] - _gravity_m_s2(cfg, st.nav.x)
    return 0.5 * margin * cfg.guidance.terminal_altitude_tau_s


@njit(cache=True, error_model='numpy')
def _altitude_fix(cfg, st, t_s, alt, sigma):
    """Whether guidance must fly degraded: in braking or approach, no
    altitude sensor has delivered a single valid sample ``fix_timeout_s`` after the lowest
    altitude the estimate allows (``degraded_sigmas`` σ below it), less the height braking the
    present descent takes, passed below the altitude where one is expected; it stays so,
    through the terminal descent too, until a sample is accepted. A sensor that delivers
    samples the filter doubts (a terrain step being re-anchored) is not missing. Logs the
    change either way."""
    v, counts, m = st.vars, st.nav.counts, cfg.modes
    fixes = (counts[RANGEFINDER, ACCEPT] + counts[RANGEFINDER, REANCHOR]
             + counts[VELOCIMETER_RANGE, ACCEPT] + counts[VELOCIMETER_RANGE, REANCHOR])
    delivered = 0.0
    for d in range(len(DECISIONS)):
        delivered += counts[RANGEFINDER, d] + counts[VELOCIMETER_RANGE, d]
    new_fix = fixes != v[V_FIXES]
    v[V_FIXES] = fixes
    if 0.0 < m.fix_expected_m and not np.isfinite(v[V_WAIT_FROM_S]):
        lowest = alt - m.degraded_sigmas * sigma - _stopping_distance_m(cfg, st)
        if lowest < m.fix_expected_m:
            v[V_WAIT_FROM_S] = t_s
    mode = int(v[V_MODE])
    was = v[V_DEGRADED] > 0.0
    if was:                                  # until a fix comes, whatever the estimate says
        degraded = (mode == BRAKING or mode == APPROACH or mode == TERMINAL) and not new_fix
    else:
        degraded = ((mode == BRAKING or mode == APPROACH) and np.isfinite(v[V_WAIT_FROM_S])
                    and delivered == 0.0 and t_s - v[V_WAIT_FROM_S] > m.fix_timeout_s)
    if degraded != was:
        _log_mode(st, t_s, mode, FIX_MISSING if degraded else FIX_REGAINED)
        v[V_DEGRADED] = 1.0 if degraded else 0.0
    return degraded


@njit(cache=True, error_model='numpy')
def _range_altitude(cfg, st):
    """``(altitude_m, sigma_m)`` of this step's first rangefinder beam: its slant range projected
    on the estimated local vertical with the estimated attitude (NaN without a valid sample)."""
    f, rf, x = st.frame, cfg.nav.rangefinder, st.nav.x
    if not (f.rangefinder_due[0] and rf.beams_b.shape[0] > 0 and f.rangefinder_valid[0, 0]):
        return np.nan, np.nan
    rho = f.rangefinder_m[0, 0]
    qw, qx, qy, qz = x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3]
    dx, dy, dz = rotate_xyz(qw, qx, qy, qz, rf.beams_b[0, 0], rf.beams_b[0, 1], rf.beams_b[0, 2])
    lx, ly, lz = rotate_xyz(qw, qx, qy, qz, rf.pos_b_m[0], rf.pos_b_m[1], rf.pos_b_m[2])
    r = np.sqrt(x[0] ** 2 + x[1] ** 2 + x[2] ** 2)
    ux, uy, uz = x[0] / r, x[1] / r, x[2] / r
    alt = -rho * (dx * ux + dy * uy + dz * uz) - (lx * ux + ly * uy + lz * uz)
    return alt, rf.noise_floor_m + rf.noise_fraction * rho


@njit(cache=True, error_model='numpy')
def _guide(cfg, st, terrain_map, t_s, dt_s):
    """Mode transitions and the guidance's thrust acceleration, once per guidance cycle."""
    v, nav, g = st.vars, st.nav, cfg.guidance
    alt, sigma = nav_altitude(cfg.nav, nav, terrain_map)
    v[V_ALT_M], v[V_ALT_SIGMA_M] = alt, sigma
    offset = nav.status[ST_OFFSET]
    was_degraded = v[V_DEGRADED] > 0.0
    degraded = _altitude_fix(cfg, st, t_s, alt, sigma)
    if degraded:
        # the terminal descent will begin high above the ground: fly it as fast as the
        # terminal thrusters can still stop, not at the planned terminal rate all the way
        # down (a long hover lets the unaided horizontal velocity drift)
        v[V_FAST_DESCENT] = 1.0
    margin = cfg.modes.degraded_sigmas * sigma if degraded else 0.0
    mode = int(v[V_MODE])
    if mode == BRAKING and t_s >= v[V_PHASE_END_S] - g.switch_tgo_s:
        _log_mode(st, t_s, APPROACH, GATE_TIME)
        v[V_PHASE_END_S] = t_s + approach_duration_s(cfg.nav.moon, g, nav.x, alt - margin)
    elif mode == APPROACH and degraded != was_degraded:
        # the altitude believed has changed by the margin: re-plan the approach's duration
        v[V_PHASE_END_S] = t_s + approach_duration_s(cfg.nav.moon, g, nav.x, alt - margin)
    elif mode == APPROACH and t_s >= v[V_PHASE_END_S] - g.terminal_gate_tgo_s:
        _log_mode(st, t_s, TERMINAL, TERMINAL_GATE)
    mode = int(v[V_MODE])
    if mode == TERMINAL:
        if alt - g.leg_height_m <= 0.0 and not any_leg_closed(st.legs):
            v[V_GROUNDED_S] += dt_s
            if v[V_GROUNDED_S] >= cfg.modes.contradiction_s:
                nav.check_state[:] = 0.0
                v[V_GROUNDED_S] = 0.0
                _log_mode(st, t_s, TERMINAL, CONTRADICTION)
        else:
            v[V_GROUNDED_S] = 0.0
    x = nav.x
    if mode == BRAKING:
        a = zem_zev_to(cfg.nav.moon, g, x, t_s, v[V_PHASE_END_S], offset + margin,
                       g.gate_height_m, g.gate_downrange_m, g.gate_speed_m_s, g.gate_descent_m_s)
    elif mode == APPROACH:
        a = zem_zev_to(cfg.nav.moon, g, x, t_s, v[V_PHASE_END_S], offset + margin,
                       g.terminal_height_m, 0.0, 0.0, g.terminal_descent_m_s)
    elif mode == TERMINAL:
        # the descent rate of the lowest altitude the estimate allows, so a ground nearer than
        # estimated is met slowly; degraded, no slower than midway between the touchdown rate
        # and the terminal's largest, or the wait for the fix exhausts the propellant
        low = alt - max(margin, cfg.modes.terminal_sigmas * sigma)
        if degraded:
            low = max(low, g.leg_height_m + g.terminal_altitude_tau_s
                      * 0.5 * (g.touchdown_rate_m_s + g.terminal_rate_max_m_s))
        rate_max = g.terminal_rate_max_m_s
        if v[V_FAST_DESCENT] > 0.0:
            rate_max = max(rate_max, _thrusters_rate_max_m_s(cfg, st))
        a = terminal_acceleration(cfg.nav.moon, g, x, low, rate_max)
    else:
        a = (0.0, 0.0, 0.0)
    v[V_ACCEL_I], v[V_ACCEL_I + 1], v[V_ACCEL_I + 2] = a


@njit(cache=True, error_model='numpy', inline='always')
def fsw_command(cfg, st, terrain_map):
    """Mode logic, guidance (every ``guidance_every`` steps), touchdown detection, attitude
    control, engine commands and propellant booking for this step."""
    v, nav = st.vars, st.nav
    t_s = nav.status[ST_T]
    dt_s = cfg.nav.imu_dt_s
    step = int(v[V_STEP])
    v[V_STEP] = step + 1
    if step % cfg.guidance_every == 0:
        _guide(cfg, st, terrain_map, t_s, dt_s * cfg.guidance_every)
    if int(v[V_MODE]) != SHUTDOWN:
        legs_m = cfg.guidance.leg_height_m
        nav_feet_m = v[V_ALT_M] - legs_m
        down, latched, reason = touchdown_decision(cfg.modes, st.legs, v[V_LATCHED] > 0.0,
                                                   nav_feet_m, v[V_ALT_SIGMA_M])
        v[V_LATCHED] = 1.0 if latched else 0.0
        range_alt, range_sigma = _range_altitude(cfg, st)
        if np.isfinite(range_alt):
            v[V_RANGE_ALT_M] = range_alt
            if not down and range_cutoff(cfg.modes, range_alt - legs_m, range_sigma, nav_feet_m,
                                         v[V_ALT_SIGMA_M]):
                down, reason = True, RANGEFINDER_ALTITUDE
        if down:
            _log_mode(st, t_s, SHUTDOWN, reason)
            v[V_CUTOFF_S] = t_s
    if int(v[V_MODE]) == SHUTDOWN:
        for i in range(V_MAIN_N, V_ATT_ERR_RAD + 1):
            v[i] = 0.0
        return
    ax, ay, az = v[V_ACCEL_I], v[V_ACCEL_I + 1], v[V_ACCEL_I + 2]
    a = np.sqrt(ax * ax + ay * ay + az * az)
    if a < 1e-9:
        ax, ay, az, a = nav.x[0], nav.x[1], nav.x[2], 0.0
        norm = np.sqrt(ax * ax + ay * ay + az * az)
        ax, ay, az = ax / norm, ay / norm, az / norm
    else:
        ax, ay, az = ax / a, ay / a, az / a
    x = nav.x
    omega_b = (nav.status[ST_OMEGA], nav.status[ST_OMEGA + 1], nav.status[ST_OMEGA + 2])
    tx, ty, tz, err = attitude_torque(cfg.vehicle, cfg.control, v[V_MASS_KG], x[QUAT:QUAT + 4],
                                      omega_b, ax, ay, az)
    main, thrusters, throttle = engine_commands(cfg.vehicle, cfg.control,
                                                int(v[V_MODE]) == TERMINAL, v[V_MASS_KG] * a, err)
    v[V_MAIN_N], v[V_THRUSTERS], v[V_THROTTLE] = main, thrusters, throttle
    v[V_TORQUE], v[V_TORQUE + 1], v[V_TORQUE + 2] = tx, ty, tz
    v[V_ATT_ERR_RAD] = err
    booked = v[V_MASS_KG] - mass_flow_kg_s(cfg.vehicle, main, thrusters, tx, ty, tz) * dt_s
    v[V_MASS_KG] = max(booked, cfg.vehicle.mass_dry_kg)
