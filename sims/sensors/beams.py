"""Beam sensors: laser rangefinder / radar altimeter and Doppler velocimeter (range and LOS velocity).

Each beam measures, along its boresight from the sensor's mount point, the slant range to the
first intersection with the **truth** terrain and (for a velocimeter) the line-of-sight velocity
relative to the ground, positive when closing on it. A sample is valid when the beam hits terrain
within ``[min_range_m, max_range_m]``. Range noise is ``σ = noise_floor_m + noise_fraction·range``.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.moon import inertial_to_mf, velocity_inertial_to_mf
from gnc.quaternion import rotate_xyz
from gnc.terrain import raycast_xyz
from sims.dynamics import POS, QUAT, RATE, VEL
from gnc.validation import check_keys, check_number, items, unit_vector, vector3


class BeamSensorParams(NamedTuple):
    """A beam sensor; build with :func:`make_rangefinder` or :func:`make_velocimeter`."""
    rate_hz: float
    pos_b_m: tuple
    beams_b: np.ndarray            # (n_beams, 3) unit boresights, body axes
    min_range_m: float
    max_range_m: float
    noise_floor_m: float
    noise_fraction: float
    velocity_noise_m_s: float
    measures_velocity: bool


RANGEFINDER_DEFAULTS = dict(rate_hz=5.0, pos_b_m=(0.0, 0.0, -0.5), beams_b=((0.0, 0.0, -1.0),),
                            min_range_m=25.0, max_range_m=15_000.0, noise_floor_m=0.2,
                            noise_fraction=1.3e-4)
"""Landing laser rangefinder: 25 m to 15 km, 5 Hz, ~1 m 3σ at 1 km (landing-failures.md)."""

_NDL_TILT = np.radians(22.5)
VELOCIMETER_DEFAULTS = dict(
    rate_hz=20.0, pos_b_m=(0.0, 0.3, -0.5),
    beams_b=tuple((np.sin(_NDL_TILT) * np.cos(a), np.sin(_NDL_TILT) * np.sin(a), -np.cos(_NDL_TILT))
                  for a in np.radians([0.0, 120.0, 240.0])),
    min_range_m=5.0, max_range_m=5_000.0, noise_floor_m=1.0, noise_fraction=2e-4,
    velocity_noise_m_s=0.02)
"""Navigation Doppler lidar: 3 beams 22.5° off nadir, valid below 5 km, cm/s and metres
(landing-failures.md; the beam geometry is an assumption of that class)."""


def _make(where, defaults, overrides, measures_velocity):
    check_keys(where, overrides, defaults)
    p = {**defaults, **overrides}
    rate = check_number(where, "rate_hz", p["rate_hz"], 0.0, low_open=True)
    beams = [unit_vector(where, f"beams_b[{k}]", b)
             for k, b in enumerate(items(where, "beams_b", p["beams_b"]))]
    if not beams:
        raise ValueError(f"{where}.beams_b: give at least one beam direction")
    lo = check_number(where, "min_range_m", p["min_range_m"], 0.0)
    hi = check_number(where, "max_range_m", p["max_range_m"], lo, low_open=True)
    return BeamSensorParams(
        rate, vector3(where, "pos_b_m", p["pos_b_m"]), np.array(beams), lo, hi,
        check_number(where, "noise_floor_m", p["noise_floor_m"], 0.0),
        check_number(where, "noise_fraction", p["noise_fraction"], 0.0),
        check_number(where, "velocity_noise_m_s", p.get("velocity_noise_m_s", 0.0), 0.0),
        measures_velocity)


def make_rangefinder(**overrides):
    """Validated laser rangefinder (:data:`RANGEFINDER_DEFAULTS` updated with ``overrides``)."""
    return _make("rangefinder", RANGEFINDER_DEFAULTS, overrides, False)


def make_velocimeter(**overrides):
    """Validated Doppler velocimeter (:data:`VELOCIMETER_DEFAULTS` updated with ``overrides``)."""
    return _make("velocimeter", VELOCIMETER_DEFAULTS, overrides, True)


@njit(cache=True)
def beam_sample(params, terrain, moon, t_s, x, rng, range_m, los_velocity_m_s, valid, true_range_m):
    """Sample every beam at time ``t_s`` and truth state ``x``; write into the output arrays.

    ``true_range_m`` receives the noise-free slant range (``inf`` when nothing is hit), which
    the fault injection uses (late acquisition) and the tests compare against.
    """
    qw, qx, qy, qz = x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3]
    px, py, pz = params.pos_b_m
    lx, ly, lz = rotate_xyz(qw, qx, qy, qz, px, py, pz)
    origin_i = np.array([x[POS] + lx, x[POS + 1] + ly, x[POS + 2] + lz])
    wx, wy, wz = x[RATE], x[RATE + 1], x[RATE + 2]
    # velocity of the mount point: v + R(q)(ω × p)
    ex, ey, ez = rotate_xyz(qw, qx, qy, qz, wy * pz - wz * py, wz * px - wx * pz, wx * py - wy * px)
    velocity_i = np.array([x[VEL] + ex, x[VEL + 1] + ey, x[VEL + 2] + ez])
    origin_mf = inertial_to_mf(moon, t_s, origin_i)
    ground_velocity_mf = velocity_inertial_to_mf(moon, t_s, origin_i, velocity_i)
    for k in range(params.beams_b.shape[0]):
        bx, by, bz = rotate_xyz(qw, qx, qy, qz, params.beams_b[k, 0], params.beams_b[k, 1],
                                params.beams_b[k, 2])
        d_mf = inertial_to_mf(moon, t_s, np.array([bx, by, bz]))
        hit, rng_true = raycast_xyz(terrain, origin_mf[0], origin_mf[1], origin_mf[2],
                                    d_mf[0], d_mf[1], d_mf[2], params.max_range_m)
        true_range_m[k] = rng_true
        valid[k] = hit and rng_true >= params.min_range_m
        sigma = params.noise_floor_m + params.noise_fraction * rng_true if hit else 0.0
        range_m[k] = rng_true + sigma * rng.standard_normal() if hit else np.nan
        if params.measures_velocity:
            closing = (ground_velocity_mf[0] * d_mf[0] + ground_velocity_mf[1] * d_mf[1]
                       + ground_velocity_mf[2] * d_mf[2])
            los_velocity_m_s[k] = closing + params.velocity_noise_m_s * rng.standard_normal()
        else:
            los_velocity_m_s[k] = np.nan
