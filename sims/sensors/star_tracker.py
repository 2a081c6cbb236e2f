"""Star tracker: attitude quaternion with noise about each body axis, invalid at high rates."""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.quaternion import mult_xyz
from sims.dynamics import QUAT, RATE
from gnc.validation import check_keys, check_number, vector3


class StarTrackerParams(NamedTuple):
    """Star tracker; build with :func:`make_star_tracker`."""
    rate_hz: float
    noise_rad: tuple              # 1σ about body x, y, z
    max_rate_rad_s: float         # above this body rate the stars smear: no valid solution


DEFAULTS = dict(rate_hz=5.0, noise_arcsec=(10.0, 10.0, 60.0), max_rate_deg_s=2.0)
"""A typical lander star tracker: 10″ across, 60″ about the boresight (body z), valid up to 2 °/s
(assumed figures of the class)."""
ARCSEC = np.pi / 180.0 / 3600.0


def make_star_tracker(**overrides):
    """Validated :class:`StarTrackerParams` (datasheet units: arcsec, deg/s)."""
    check_keys("star_tracker", overrides, DEFAULTS)
    p = {**DEFAULTS, **overrides}
    noise = vector3("star_tracker", "noise_arcsec", p["noise_arcsec"])
    if min(noise) < 0:
        raise ValueError(f"star_tracker.noise_arcsec = {p['noise_arcsec']!r}: must be >= 0 on every axis")
    return StarTrackerParams(check_number("star_tracker", "rate_hz", p["rate_hz"], 0.0, low_open=True),
                             tuple(n * ARCSEC for n in noise),
                             np.radians(check_number("star_tracker", "max_rate_deg_s",
                                                     p["max_rate_deg_s"], 0.0, low_open=True)))


@njit(cache=True)
def star_tracker_sample(params, x, rng, q_out):
    """Measured ``q_bi`` (true attitude rotated by small body-axis noise) into ``q_out``.

    Returns whether the sample is valid (body rate below ``max_rate_rad_s``).
    """
    sx, sy, sz = params.noise_rad
    ax = 0.5 * sx * rng.standard_normal()
    ay = 0.5 * sy * rng.standard_normal()
    az = 0.5 * sz * rng.standard_normal()
    dw = np.sqrt(max(0.0, 1.0 - ax * ax - ay * ay - az * az))
    w, qx, qy, qz = mult_xyz(x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3], dw, ax, ay, az)
    q_out[0], q_out[1], q_out[2], q_out[3] = w, qx, qy, qz
    rate = np.sqrt(x[RATE] ** 2 + x[RATE + 1] ** 2 + x[RATE + 2] ** 2)
    return rate <= params.max_rate_rad_s
