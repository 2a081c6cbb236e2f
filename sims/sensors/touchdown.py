"""Touchdown switches on the legs, with the transient a leg deployment can cause (Mars Polar Lander)."""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.moon import rotation_angle_rad
from gnc.quaternion import rotate_xyz
from gnc.terrain import clearance_xyz
from sims.dynamics import POS, QUAT
from gnc.validation import check_keys, check_number, items, vector3


class TouchdownParams(NamedTuple):
    """Leg switches; build with :func:`make_touchdown_switches`."""
    feet_b_m: np.ndarray          # (n_legs, 3) foot positions, body axes
    contact_m: float              # a foot this close to the terrain closes its switch
    deploy_time_s: float          # when the legs deploy (-inf: deployed from the start)
    deploy_transient_s: float     # every switch reads closed this long after deployment


DEFAULTS = dict(feet_b_m=((1.2, 0.0, -1.2), (0.0, 1.2, -1.2), (-1.2, 0.0, -1.2), (0.0, -1.2, -1.2)),
                contact_m=0.02, deploy_time_s=-np.inf, deploy_transient_s=0.0)


def make_touchdown_switches(**overrides):
    """Validated :class:`TouchdownParams` (four legs by default)."""
    check_keys("legs", overrides, DEFAULTS)
    p = {**DEFAULTS, **overrides}
    feet = np.array([vector3("legs", f"feet_b_m[{k}]", f)
                     for k, f in enumerate(items("legs", "feet_b_m", p["feet_b_m"]))])
    if feet.size == 0:
        raise ValueError("legs.feet_b_m: give at least one leg")
    try:
        deploy = float(p["deploy_time_s"])
    except (TypeError, ValueError):
        deploy = np.nan
    if np.isnan(deploy):
        raise ValueError(f"legs.deploy_time_s = {p['deploy_time_s']!r}: must be a time in s "
                         "(or -inf)")
    return TouchdownParams(feet, check_number("legs", "contact_m", p["contact_m"], 0.0), deploy,
                           check_number("legs", "deploy_transient_s", p["deploy_transient_s"], 0.0))


@njit(cache=True, error_model='numpy')
def foot_altitude_m(params, terrain, moon, t_s, x, k):
    """Height (m) of foot ``k`` above the terrain below it (negative: in the ground)."""
    fx, fy, fz = rotate_xyz(x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3],
                            params.feet_b_m[k, 0], params.feet_b_m[k, 1], params.feet_b_m[k, 2])
    a = rotation_angle_rad(moon, t_s)
    c, s = np.cos(a), np.sin(a)
    px, py = x[POS] + fx, x[POS + 1] + fy
    return clearance_xyz(terrain, c * px + s * py, -s * px + c * py, x[POS + 2] + fz)


@njit(cache=True, error_model='numpy')
def lowest_foot_m(params, terrain, moon, t_s, x):
    """Height (m) of the lowest foot above the terrain."""
    lowest = np.inf
    for k in range(params.feet_b_m.shape[0]):
        lowest = min(lowest, foot_altitude_m(params, terrain, moon, t_s, x, k))
    return lowest


@njit(cache=True)
def touchdown_sample(params, terrain, moon, t_s, x, closed):
    """Write 1.0 (closed) or 0.0 per leg into ``closed``: foot on the ground, or deployment transient."""
    in_transient = params.deploy_time_s <= t_s < params.deploy_time_s + params.deploy_transient_s
    for k in range(params.feet_b_m.shape[0]):
        on_ground = foot_altitude_m(params, terrain, moon, t_s, x, k) <= params.contact_m
        closed[k] = 1.0 if (on_ground or in_transient) else 0.0
