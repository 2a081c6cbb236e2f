"""Powered-descent guidance on the navigation estimate: ZEM/ZEV braking and approach, then a
terminal vertical descent at a set rate.

Braking and approach use the zero-effort-miss / zero-effort-velocity feedback law (Ebrahimi,
Roshanian and Bahrami 2008; Guo, Hawkins and Wie 2013, "Applications of generalized ZEM/ZEV
feedback guidance algorithm", JGCD 36(3)), the closed-loop form of the energy-optimal solution
to a fixed-time rendezvous in uniform gravity::

    ZEM = r_f − (r + v·t_go + ½ g t_go²),   ZEV = v_f − (v + g·t_go)
    a_thrust = 6 ZEM / t_go² − 2 ZEV / t_go

re-evaluated every guidance cycle with gravity at the midpoint between the vehicle and its
target, so the Moon's curvature over a braking arc of hundreds of kilometres is absorbed by the
feedback (as Apollo's quadratic guidance re-solved its polynomial each cycle). The targets are
fixed in the Moon-fixed frame, above the landing site on the on-board map raised by the
navigation's terrain offset, so they sit on the ground actually there.

- braking: from the start of powered descent to the approach gate, ``gate_height_m`` above the
  site and ``gate_downrange_m`` short of it, moving at ``gate_speed_m_s`` along the approach and
  ``gate_descent_m_s`` down, at the time :func:`plan_braking` planned;
- approach: towards the terminal gate, ``terminal_height_m`` straight above the site, descending
  at ``terminal_descent_m_s`` with no horizontal velocity, handing over ``terminal_gate_tgo_s``
  before reaching it (below);
- terminal: a velocity loop holds zero horizontal ground velocity and a descent rate that falls
  with altitude to ``touchdown_rate_m_s`` (``<= 1 m/s``) at leg contact, thrust tilted at most
  ``terminal_tilt_max_rad`` from the vertical.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.moon import G0_M_S2, gravity_xyz, ground_speeds, llh_to_mf, rotation_angle_rad
from gnc.terrain import height_m
from gnc.validation import check_keys, check_number


class GuidanceParams(NamedTuple):
    """Guidance targets and gains; build with :func:`make_guidance`."""
    site_mf: tuple                # landing site on the on-board map (m, Moon-fixed)
    up_mf: tuple                  # local vertical at the site
    along_mf: tuple               # horizontal unit vector of the approach direction
    braking_end_s: float          # planned time of the approach gate
    approach_duration_s: float
    gate_height_m: float
    gate_downrange_m: float
    gate_speed_m_s: float
    gate_descent_m_s: float
    terminal_height_m: float
    terminal_descent_m_s: float
    touchdown_rate_m_s: float
    terminal_rate_max_m_s: float
    terminal_altitude_tau_s: float
    velocity_tau_s: float
    terminal_tilt_max_rad: float
    leg_height_m: float           # height of the centre of mass above the feet when standing
    switch_tgo_s: float           # braking ends this close to its final time; ZEM/ZEV's least t_go
    terminal_gate_tgo_s: float    # the approach ends this close to its final time


DEFAULTS = dict(gate_height_m=2000.0, gate_downrange_m=6000.0, gate_speed_m_s=60.0,
                gate_descent_m_s=15.0, terminal_height_m=60.0, terminal_descent_m_s=3.0,
                touchdown_rate_m_s=1.0, terminal_rate_max_m_s=3.0, terminal_altitude_tau_s=8.0,
                velocity_tau_s=2.0, terminal_tilt_max_deg=10.0, braking_throttle=0.8,
                switch_tgo_s=2.0, terminal_gate_tgo_s=4.0)
"""Approach gate, terminal gate and gains. ``braking_throttle`` is the fraction of the engine's
thrust the braking plan may use, the margin ZEM/ZEV keeps for dispersions. ZEM/ZEV's gains grow
as ``6/t_go²`` (position) and ``2/t_go`` (velocity); the approach hands over to the terminal
descent at ``terminal_gate_tgo_s`` = 4 s to go, where a metre of position error asks for
0.375 m/s², so a few metres of estimate drift late in the approach do not become tens of degrees
of tilt that the terminal descent must take back near the ground (at 2 s, 1.5 m/s² per metre)."""


def _site_frame(moon, terrain_map, lat_deg, lon_deg, r0_mf):
    """Site on the map, its vertical, and the approach direction: the great circle from the
    start point, horizontal at the site."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    site = llh_to_mf(moon, lat, lon, height_m(terrain_map, lat, lon))
    up = site / np.linalg.norm(site)
    toward = site - r0_mf
    along = toward - up * np.dot(toward, up)
    norm = np.linalg.norm(along)
    if norm < 1.0:
        raise ValueError("guidance: the descent starts straight above the target; "
                         "powered descent needs a downrange distance to brake over")
    return site, up, along / norm


def plan_braking(moon, speed_m_s, mass_kg, thrust_n, isp_s, gate_speed_m_s, throttle):
    """Duration (s) of a braking phase from ``speed_m_s`` to ``gate_speed_m_s`` at a constant
    ``throttle`` of ``thrust_n``, the horizontal thrust sharing the engine with the support
    against gravity less the centrifugal relief of the orbital speed; from the rocket equation.
    """
    g = moon.mu_m3_s2 / moon.radius_m ** 2
    mdot = throttle * thrust_n / (isp_s * G0_M_S2)
    dv_h = speed_m_s - gate_speed_m_s
    duration = dv_h / (throttle * thrust_n / mass_kg)
    for _ in range(50):
        mean_v2 = (speed_m_s ** 2 + speed_m_s * gate_speed_m_s + gate_speed_m_s ** 2) / 3.0
        support = max(g - mean_v2 / moon.radius_m, 0.0)
        burnt = min(mdot * duration, 0.95 * mass_kg)
        dv_total = isp_s * G0_M_S2 * np.log(mass_kg / (mass_kg - burnt))
        a_mean = dv_total / duration
        a_h = np.sqrt(max(a_mean ** 2 - support ** 2, 1e-6))
        duration = 0.5 * duration + 0.5 * dv_h / a_h
    return duration


def make_guidance(moon, terrain_map, target_lat_deg, target_lon_deg, t0_s,
                  r0_mf, v0_mf, mass_kg, thrust_n, isp_s, leg_height_m, **overrides):
    """Validated :class:`GuidanceParams` for a landing at the target seen from the estimate at
    powered-descent start (``r0_mf``, ``v0_mf``: Moon-fixed position and ground velocity).

    The braking phase ends at ``t0_s`` plus the :func:`plan_braking` duration; the approach
    lasts as long as a constant deceleration from the gate speed over the gate's downrange.
    """
    check_keys("guidance", overrides, DEFAULTS)
    p = {**DEFAULTS, **overrides}
    for key in DEFAULTS:
        high = 1.0 if key == "braking_throttle" else (89.0 if key.endswith("_deg") else None)
        check_number("guidance", key, p[key], 0.0, high, low_open=True)
    r0 = np.asarray(r0_mf, dtype=np.float64)
    v0 = np.asarray(v0_mf, dtype=np.float64)
    site, up, along = _site_frame(moon, terrain_map, target_lat_deg, target_lon_deg, r0)
    u0 = r0 / np.linalg.norm(r0)
    speed = float(np.linalg.norm(v0 - u0 * np.dot(v0, u0)))
    if speed <= p["gate_speed_m_s"]:
        raise ValueError(f"guidance: ground speed at start {speed:.1f} m/s must exceed "
                         f"gate_speed_m_s = {p['gate_speed_m_s']}")
    braking_s = plan_braking(moon, speed, mass_kg, thrust_n, isp_s, p["gate_speed_m_s"],
                             p["braking_throttle"])
    approach_s = 2.0 * p["gate_downrange_m"] / p["gate_speed_m_s"]
    return GuidanceParams(
        tuple(site), tuple(up), tuple(along), float(t0_s + braking_s), float(approach_s),
        p["gate_height_m"], p["gate_downrange_m"], p["gate_speed_m_s"], p["gate_descent_m_s"],
        p["terminal_height_m"], p["terminal_descent_m_s"], p["touchdown_rate_m_s"],
        max(p["terminal_rate_max_m_s"], p["touchdown_rate_m_s"]), p["terminal_altitude_tau_s"],
        p["velocity_tau_s"], np.radians(p["terminal_tilt_max_deg"]), float(leg_height_m),
        p["switch_tgo_s"], p["terminal_gate_tgo_s"])


def braking_distance_m(speed_m_s, braking_s, gate_speed_m_s, gate_downrange_m):
    """Ground distance (m) from the start of powered descent to the site that a braking phase
    of ``braking_s`` implies (constant deceleration to the gate, then the gate's downrange):
    where a scenario should begin its descent."""
    return 0.5 * (speed_m_s + gate_speed_m_s) * braking_s + gate_downrange_m


@njit(cache=True, error_model='numpy')
def zem_zev_acceleration(rx, ry, rz, vx, vy, vz, gx, gy, gz, rfx, rfy, rfz, vfx, vfy, vfz, tgo):
    """Thrust acceleration of the ZEM/ZEV law (tuple), for constant gravity ``g`` over ``tgo``."""
    k1 = 6.0 / (tgo * tgo)
    k2 = 2.0 / tgo
    h = 0.5 * tgo * tgo
    return (k1 * (rfx - rx - vx * tgo - gx * h) - k2 * (vfx - vx - gx * tgo),
            k1 * (rfy - ry - vy * tgo - gy * h) - k2 * (vfy - vy - gy * tgo),
            k1 * (rfz - rz - vz * tgo - gz * h) - k2 * (vfz - vz - gz * tgo))


@njit(cache=True, error_model='numpy')
def target_inertial(moon, guidance, offset_m, t_f, height_m_, downrange_m, speed_m_s, descent_m_s):
    """Inertial position and velocity (6-tuple) at time ``t_f`` of a point ``height_m_`` above the
    site (raised by the terrain ``offset_m``) and ``downrange_m`` short of it, moving over the
    ground at ``speed_m_s`` along the approach and ``descent_m_s`` down."""
    sx, sy, sz = guidance.site_mf
    ux, uy, uz = guidance.up_mf
    ax, ay, az = guidance.along_mf
    up = height_m_ + offset_m
    px = sx + ux * up - ax * downrange_m
    py = sy + uy * up - ay * downrange_m
    pz = sz + uz * up - az * downrange_m
    wx = ax * speed_m_s - ux * descent_m_s
    wy = ay * speed_m_s - uy * descent_m_s
    wz = az * speed_m_s - uz * descent_m_s
    angle = rotation_angle_rad(moon, t_f)
    c, s = np.cos(angle), np.sin(angle)
    om = moon.rotation_rate_rad_s
    rx, ry = c * px - s * py, s * px + c * py
    vx, vy = c * wx - s * wy - om * ry, s * wx + c * wy + om * rx
    return rx, ry, pz, vx, vy, wz


@njit(cache=True, error_model='numpy')
def zem_zev_to(moon, guidance, x, t_s, t_f, offset_m, height_m_, downrange_m, speed_m_s,
               descent_m_s):
    """Thrust acceleration (inertial tuple) that takes the estimate ``x`` (r, v first) to the
    target point at ``t_f``; gravity at the midpoint of the two positions."""
    tgo = max(t_f - t_s, guidance.switch_tgo_s)
    rfx, rfy, rfz, vfx, vfy, vfz = target_inertial(moon, guidance, offset_m, t_s + tgo, height_m_,
                                                   downrange_m, speed_m_s, descent_m_s)
    gx, gy, gz = gravity_xyz(moon, 0.5 * (x[0] + rfx), 0.5 * (x[1] + rfy), 0.5 * (x[2] + rfz))
    return zem_zev_acceleration(x[0], x[1], x[2], x[3], x[4], x[5], gx, gy, gz,
                                rfx, rfy, rfz, vfx, vfy, vfz, tgo)


@njit(cache=True, error_model='numpy')
def approach_duration_s(moon, guidance, x, altitude_m):
    """Time-to-go of the approach, decided at the gate from the estimate: the planned duration,
    shortened so the vertical profile of the ZEM/ZEV cubic cannot dip below the terminal gate.

    A cubic from height ``Δh`` at descent rate ``w`` is monotone when ``w·t_go <= 3 Δh``
    (Fritsch and Carlson 1980); the approach keeps ``w·t_go <= 2.5 Δh``. It lasts at least
    twice its handover time ``terminal_gate_tgo_s`` (and four ZEM/ZEV switch times), so it is
    flown before the terminal descent takes over.
    """
    vertical, _ = ground_speeds(moon, x[0], x[1], x[2], x[3], x[4], x[5])
    drop = max(altitude_m - guidance.terminal_height_m, 1.0)
    tgo = guidance.approach_duration_s
    if vertical < 0.0:
        tgo = min(tgo, 2.5 * drop / -vertical)
    return max(tgo, 4.0 * guidance.switch_tgo_s, 2.0 * guidance.terminal_gate_tgo_s)


@njit(cache=True, error_model='numpy')
def terminal_acceleration(moon, guidance, x, altitude_m, rate_max_m_s):
    """Thrust acceleration (inertial tuple) of the terminal vertical descent.

    The wanted descent rate is ``(altitude − leg height) / τ`` limited to
    ``[touchdown_rate, rate_max_m_s]`` (``terminal_rate_max_m_s`` as planned); horizontal ground
    velocity is nulled; the thrust's tilt from the local vertical is limited.
    """
    rx, ry, rz = x[0], x[1], x[2]
    r = np.sqrt(rx * rx + ry * ry + rz * rz)
    ux, uy, uz = rx / r, ry / r, rz / r
    om = moon.rotation_rate_rad_s
    # velocity over the ground
    gvx, gvy, gvz = x[3] + om * ry, x[4] - om * rx, x[5]
    rate = min(max((altitude_m - guidance.leg_height_m) / guidance.terminal_altitude_tau_s,
                   guidance.touchdown_rate_m_s), rate_max_m_s)
    tau = guidance.velocity_tau_s
    gx, gy, gz = gravity_xyz(moon, rx, ry, rz)
    ax = (-rate * ux - gvx) / tau - gx
    ay = (-rate * uy - gvy) / tau - gy
    az = (-rate * uz - gvz) / tau - gz
    vertical = ax * ux + ay * uy + az * uz
    hx, hy, hz = ax - vertical * ux, ay - vertical * uy, az - vertical * uz
    horizontal = np.sqrt(hx * hx + hy * hy + hz * hz)
    vertical = max(vertical, 0.0)
    limit = np.tan(guidance.terminal_tilt_max_rad) * vertical
    scale = limit / horizontal if horizontal > limit else 1.0
    return (vertical * ux + scale * hx, vertical * uy + scale * hy, vertical * uz + scale * hz)
