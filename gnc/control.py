"""Control: attitude tracking by quaternion feedback, throttle, engine selection, mass accounting.

The flight software knows its vehicle through an :class:`OnboardVehicle` (its datasheet: masses,
thrust limits, specific impulses, inertia, torque limits), never the simulated vehicle itself.

Attitude. The thrust must point along the guidance's acceleration; the body +z axis (the
engine's thrust direction) is turned onto it by the shortest rotation, roll about it left free.
The law is the eigenaxis quaternion feedback of Wie, Weiss and Arapostathis (1989, "Quaternion
feedback regulator for spacecraft eigenaxis rotations", JGCD 12(3)) in its cascaded,
rate-limited form: the attitude error ``θ ê`` gives a wanted body rate ``min(k_θ θ, ω_max) ê``, and
the torque ``I k_ω (ω_wanted − ω)`` drives the gyro-measured rate to it, clamped per axis to the
thrusters' torque limits. Limiting the slew rate keeps large re-pointings (braking to approach)
free of overshoot with torque-limited thrusters.

Throttle. The engine gives the guidance's thrust times ``cos θ`` (no thrust wasted sideways while
the attitude catches up), within its limits; with the error beyond ``cutback_angle_rad`` it idles
at its floor. In the terminal phase the small thrusters take over from the main engine when the
vehicle has them. They have no cut-back (they follow ``cos θ`` down to zero at 90°), because their
floor is zero: a lander tens of metres up that idled them while re-pointing would fall (a dispersed
atlas-nominal landing fell 3.5 s from 66 m that way, and touched down at 3.2 m/s). The guidance's
velocity loop (2 s) is twenty times slower than the engine's lag (0.1 s), so the lag needs no
compensation.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.moon import G0_M_S2
from gnc.quaternion import rotate_xyz
from gnc.validation import check_keys, check_number, vector


class OnboardVehicle(NamedTuple):
    """What the flight software knows of its vehicle."""
    mass_initial_kg: float
    mass_dry_kg: float
    main_thrust_max_n: float
    main_thrust_min_n: float
    main_isp_s: float
    thrusters_force_n: float      # all terminal thrusters together, along body +z
    thrusters_isp_s: float
    inertia_wet_kgm2: tuple       # principal moments (diagonal)
    inertia_dry_kgm2: tuple
    torque_max_nm: tuple
    acs_isp_s: float
    acs_lever_m: float
    leg_height_m: float           # centre of mass above the feet's plane when standing


class ControlParams(NamedTuple):
    """Gains of the attitude loop and the throttle's cut-back; build with :func:`make_control`."""
    attitude_gain_rad_s: float    # k_θ: wanted rate per radian of error
    rate_gain_per_s: float        # k_ω
    max_rate_rad_s: float
    cutback_angle_rad: float


CONTROL_DEFAULTS = dict(attitude_gain_rad_s=0.8, rate_gain_per_s=4.0, max_rate_deg_s=6.0,
                        cutback_angle_deg=30.0)


def make_control(**overrides):
    """Validated :class:`ControlParams` (angles in degrees in the keys)."""
    check_keys("control", overrides, CONTROL_DEFAULTS)
    p = {**CONTROL_DEFAULTS, **overrides}
    for key in CONTROL_DEFAULTS:
        check_number("control", key, p[key], 0.0, 90.0 if key == "cutback_angle_deg" else None,
                     low_open=True)
    return ControlParams(p["attitude_gain_rad_s"], p["rate_gain_per_s"],
                         np.radians(p["max_rate_deg_s"]), np.radians(p["cutback_angle_deg"]))


def make_onboard_vehicle(mass_initial_kg, mass_dry_kg, main_thrust_max_n, main_thrust_min_n,
                         main_isp_s, thrusters_force_n, thrusters_isp_s, inertia_wet_kgm2,
                         inertia_dry_kgm2, torque_max_nm, acs_isp_s, acs_lever_m, leg_height_m):
    """Validated :class:`OnboardVehicle` (inertias as their three principal moments)."""
    where = "onboard vehicle"
    dry = check_number(where, "mass_dry_kg", mass_dry_kg, 0.0, low_open=True)
    tmax = check_number(where, "main_thrust_max_n", main_thrust_max_n, 0.0, low_open=True)
    return OnboardVehicle(
        check_number(where, "mass_initial_kg", mass_initial_kg, dry), dry, tmax,
        check_number(where, "main_thrust_min_n", main_thrust_min_n, 0.0, tmax),
        check_number(where, "main_isp_s", main_isp_s, 0.0, low_open=True),
        check_number(where, "thrusters_force_n", thrusters_force_n, 0.0),
        check_number(where, "thrusters_isp_s", thrusters_isp_s, 0.0, low_open=True),
        tuple(vector(where, "inertia_wet_kgm2", inertia_wet_kgm2, 3)),
        tuple(vector(where, "inertia_dry_kgm2", inertia_dry_kgm2, 3)),
        tuple(vector(where, "torque_max_nm", torque_max_nm, 3)),
        check_number(where, "acs_isp_s", acs_isp_s, 0.0, low_open=True),
        check_number(where, "acs_lever_m", acs_lever_m, 0.0, low_open=True),
        check_number(where, "leg_height_m", leg_height_m, 0.0))


@njit(cache=True, error_model='numpy')
def attitude_torque(vehicle, params, mass_kg, q_bi, omega_b, dx_i, dy_i, dz_i):
    """Torque (body, N·m) turning body +z onto the unit direction ``d_i``; returns
    ``(tx, ty, tz, error_rad)``. ``omega_b`` is the measured body rate (rad/s)."""
    bx, by, bz = rotate_xyz(q_bi[0], -q_bi[1], -q_bi[2], -q_bi[3], dx_i, dy_i, dz_i)
    # eigenaxis of the shortest rotation from +z to b: z × b, angle atan2(|z × b|, b_z)
    ex, ey = -by, bx
    s = np.sqrt(ex * ex + ey * ey)
    angle = np.arctan2(s, bz)
    wanted = min(params.attitude_gain_rad_s * angle, params.max_rate_rad_s)
    k = wanted / s if s > 1e-12 else 0.0
    span = vehicle.mass_initial_kg - vehicle.mass_dry_kg
    f = min(max((mass_kg - vehicle.mass_dry_kg) / span, 0.0), 1.0) if span > 0.0 else 0.0
    return (_axis_torque(vehicle, params, f, 0, ex * k - omega_b[0]),
            _axis_torque(vehicle, params, f, 1, ey * k - omega_b[1]),
            _axis_torque(vehicle, params, f, 2, -omega_b[2]), angle)


@njit(cache=True, inline='always')
def _axis_torque(vehicle, params, propellant_fraction, axis, rate_error):
    inertia = vehicle.inertia_dry_kgm2[axis] + propellant_fraction * (
        vehicle.inertia_wet_kgm2[axis] - vehicle.inertia_dry_kgm2[axis])
    limit = vehicle.torque_max_nm[axis]
    return min(max(inertia * params.rate_gain_per_s * rate_error, -limit), limit)


@njit(cache=True, error_model='numpy')
def engine_commands(vehicle, params, on_thrusters, thrust_n, error_rad):
    """``(main_n, thrusters_fraction, throttle)`` delivering ``thrust_n`` along the wanted
    direction; ``throttle`` is the fraction of the engine set's maximum that is commanded. The
    main engine idles at its floor beyond ``cutback_angle_rad`` of ``error_rad``; the thrusters
    (``on_thrusters``) give ``thrust_n · cos(error_rad)`` at any error, zero beyond 90°."""
    effective = thrust_n * np.cos(error_rad)
    if on_thrusters and vehicle.thrusters_force_n > 0.0:
        # no cut-back, cos θ down to zero at 90°: their floor is zero, and idling is free fall
        fraction = min(max(effective / vehicle.thrusters_force_n, 0.0), 1.0)
        return 0.0, fraction, fraction
    if error_rad > params.cutback_angle_rad:
        effective = 0.0
    main = min(max(effective, vehicle.main_thrust_min_n), vehicle.main_thrust_max_n)
    return main, 0.0, main / vehicle.main_thrust_max_n


@njit(cache=True, error_model='numpy')
def mass_flow_kg_s(vehicle, main_n, thrusters_fraction, tx, ty, tz):
    """Propellant flow (kg/s) the software books for its own commands."""
    return (main_n / (vehicle.main_isp_s * G0_M_S2)
            + thrusters_fraction * vehicle.thrusters_force_n / (vehicle.thrusters_isp_s * G0_M_S2)
            + (abs(tx) + abs(ty) + abs(tz)) / (vehicle.acs_lever_m * vehicle.acs_isp_s * G0_M_S2))
