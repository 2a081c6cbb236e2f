"""The flight software under test, one step at a time: navigation, mode logic, guidance, control.

Each base step the harness hands over the sensor samples of that step (a one-row
:class:`gnc.sensor_log.SensorLog` and the leg switches); :func:`fsw_navigate` runs the filter and
:func:`fsw_command` the rest, leaving the actuator commands in ``FswState.vars``. Guidance and the
mode logic run every ``guidance_every`` steps; attitude control, touchdown detection and the
propellant booking every step.

A variant (:data:`VARIANTS`) is a configuration of the same code: which plausibility checks the
filter runs, how it weighs the rangefinder, whether it lets its map's stated error grow along the
track (the terrain walk, given by the map) or trusts the map as exact, and its mode logic. ``fixed`` is the corrected software; the ``legacy_*`` variants fly as the failed missions
did.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.control import attitude_torque, engine_commands, mass_flow_kg_s
from gnc.eskf import QUAT
from gnc.guidance import approach_duration_s, terminal_acceleration, zem_zev_to
from gnc.modes import (APPROACH, BRAKING, CONTRADICTION, GATE_TIME, MODE_EVENT_COLUMNS, SHUTDOWN,
                       TERMINAL, TERMINAL_GATE, any_leg_closed, touchdown_decision)
from gnc.navigation import ST_OFFSET, ST_OMEGA, ST_T, nav_altitude
from gnc.sensor_log import nav_step


class Variant(NamedTuple):
    """A flight-software variant: its checks, its view of the rangefinder, its mode logic."""
    description: str
    checks: dict                  # channel -> check spec (see gnc.nav_config.make_nav_config)
    models_map_error: bool        # lets the map's stated error grow along the track (terrain walk)
    rangefinder: dict             # overrides of the rangefinder's datasheet as the software uses it
    modes: dict                   # overrides of gnc.modes.MODE_DEFAULTS
    ignore: tuple = ()            # channels the filter is configured not to use


VARIANTS = {
    "fixed": Variant(
        "corrected: chi-square gates that widen as the map ages, terrain re-anchoring, rate and "
        "scatter consistency, never a latch; plausible-altitude touchdown; contradiction recovery",
        {}, True, {}, {}),
    "legacy_m1": Variant(
        "HAKUTO-R Mission 1 as flown: an altitude sensor rejected when |measured - estimated| > "
        "1 km, latched for good; touchdown awaited indefinitely",
        {"rangefinder": ("legacy_m1", {"threshold_m": 1000.0}),
         "velocimeter_range": ("legacy_m1", {"threshold_m": 1000.0})},
        False, {"noise_floor_m": 150.0},
        {"plausible_height_m": np.inf, "contradiction_s": np.inf}),
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
 V_STEP, VARS_SIZE) = 0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 18, 19, 20
"""Layout of ``FswState.vars``: mode, end time of the current ZEM/ZEV phase, booked mass, last
estimated altitude and its σ, main-engine command (N), thrusters' fraction, throttle, torque
command (3), attitude error, guidance's thrust acceleration (inertial, 3), latched leg
indication, time the feet have been estimated on the ground, cut-off time, mode events logged,
steps flown."""
MAX_MODE_EVENTS = 64


class FswConfig(NamedTuple):
    """Everything the flight software is configured with."""
    nav: object                   # gnc.navigation.NavConfig
    vehicle: object               # gnc.control.OnboardVehicle
    guidance: object              # gnc.guidance.GuidanceParams
    control: object               # gnc.control.ControlParams
    modes: object                 # gnc.modes.ModeParams
    guidance_every: int           # base steps per guidance cycle


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
    events = np.full((MAX_MODE_EVENTS, len(MODE_EVENT_COLUMNS)), np.nan)
    return FswState(nav_state, v, events, frame, np.zeros(n_legs))


@njit(cache=True)
def fsw_navigate(cfg, st, terrain_map):
    """The navigation filter over this step's samples."""
    nav_step(cfg.nav, st.nav, terrain_map, st.frame, 0)


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


@njit(cache=True, error_model='numpy')
def _guide(cfg, st, terrain_map, t_s, dt_s):
    """Mode transitions and the guidance's thrust acceleration, once per guidance cycle."""
    v, nav, g = st.vars, st.nav, cfg.guidance
    alt, sigma = nav_altitude(cfg.nav, nav, terrain_map)
    v[V_ALT_M], v[V_ALT_SIGMA_M] = alt, sigma
    offset = nav.status[ST_OFFSET]
    mode = int(v[V_MODE])
    if mode == BRAKING and t_s >= v[V_PHASE_END_S] - g.switch_tgo_s:
        _log_mode(st, t_s, APPROACH, GATE_TIME)
        v[V_PHASE_END_S] = t_s + approach_duration_s(cfg.nav.moon, g, nav.x, alt)
    elif mode == APPROACH and t_s >= v[V_PHASE_END_S] - g.switch_tgo_s:
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
        a = zem_zev_to(cfg.nav.moon, g, x, t_s, v[V_PHASE_END_S], offset, g.gate_height_m,
                       g.gate_downrange_m, g.gate_speed_m_s, g.gate_descent_m_s)
    elif mode == APPROACH:
        a = zem_zev_to(cfg.nav.moon, g, x, t_s, v[V_PHASE_END_S], offset, g.terminal_height_m,
                       0.0, 0.0, g.terminal_descent_m_s)
    elif mode == TERMINAL:
        a = terminal_acceleration(cfg.nav.moon, g, x, alt)
    else:
        a = (0.0, 0.0, 0.0)
    v[V_ACCEL_I], v[V_ACCEL_I + 1], v[V_ACCEL_I + 2] = a


@njit(cache=True, error_model='numpy')
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
        down, latched, reason = touchdown_decision(
            cfg.modes, st.legs, v[V_LATCHED] > 0.0, v[V_ALT_M] - cfg.guidance.leg_height_m,
            v[V_ALT_SIGMA_M])
        v[V_LATCHED] = 1.0 if latched else 0.0
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
