"""Lunar constants, gravity and frames, compiled.

Frames
------
- inertial (``_i``): Moon-centred, non-rotating, z along the Moon's spin axis;
- Moon-fixed (``_mf``): rotates about z at :data:`ROTATION_RATE_RAD_S`; its x axis is at angle
  ``rotation_angle0_rad + ROTATION_RATE_RAD_S * t`` from inertial x;
- latitude/longitude/height: spherical (the Moon is a sphere of radius ``radius_m`` here), height
  above that sphere (``height_above_sphere``), east-positive longitude in ``(-pi, pi]``;
- East-North-Up (``_enu``) at a site on the sphere.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

MU_M3_S2 = 4.9028e12
"""Lunar gravitational parameter (m³/s²)."""
RADIUS_M = 1737.4e3
"""Mean lunar radius, also the reference sphere of the LRO topography (m)."""
ROTATION_RATE_RAD_S = 2.6617e-6
"""Sidereal rotation rate (rad/s)."""
J2 = 2.0323e-4
"""Unnormalised degree-2 zonal harmonic (GRAIL GL0900D, C20 = -9.0881e-5 normalised)."""
G0_M_S2 = 9.80665
"""Standard gravity, for specific impulse (m/s²)."""


class MoonModel(NamedTuple):
    """Gravity and rotation of the Moon, as the world or the flight software models them.

    Build with :func:`moon_model`; ``j2 = 0`` gives point-mass gravity. ``uniform_g_i`` is added to
    the central field (set ``mu_m3_s2 = 0`` and a constant vector for flat-ground test problems).
    Vectors are tuples so that compiled code passes the model by value, without reference counts.
    """
    mu_m3_s2: float
    radius_m: float
    j2: float
    rotation_rate_rad_s: float
    rotation_angle0_rad: float
    uniform_g_i: tuple[float, float, float]


def moon_model(j2=True, mu_m3_s2=MU_M3_S2, radius_m=RADIUS_M,
               rotation_rate_rad_s=ROTATION_RATE_RAD_S, rotation_angle0_rad=0.0,
               uniform_g_i=(0.0, 0.0, 0.0)):
    """Validated :class:`MoonModel`; ``j2`` is ``True`` (lunar J2), ``False`` or a value."""
    j2_value = J2 if j2 is True else (0.0 if j2 is False else float(j2))
    values = {"mu_m3_s2": mu_m3_s2, "radius_m": radius_m, "j2": j2_value,
              "rotation_rate_rad_s": rotation_rate_rad_s,
              "rotation_angle0_rad": rotation_angle0_rad}
    for key, value in values.items():
        if not np.isfinite(value):
            raise ValueError(f"moon.{key} = {value}: must be a finite number")
    if mu_m3_s2 < 0:
        raise ValueError(f"moon.mu_m3_s2 = {mu_m3_s2}: must be >= 0")
    if radius_m <= 0:
        raise ValueError(f"moon.radius_m = {radius_m}: must be > 0")
    g = np.asarray(uniform_g_i, dtype=np.float64)
    if g.shape != (3,) or not np.all(np.isfinite(g)):
        raise ValueError(f"moon.uniform_g_i = {uniform_g_i!r}: must be 3 finite numbers (m/s²)")
    return MoonModel(float(mu_m3_s2), float(radius_m), j2_value, float(rotation_rate_rad_s),
                     float(rotation_angle0_rad), tuple(float(v) for v in g))


@njit(cache=True, error_model='numpy')
def gravity_xyz(moon, x, y, z):
    """Gravitational acceleration (m/s²) at inertial position ``(x, y, z)``; returns a tuple.

    Point mass plus J2 (J2 depends only on the distance to the spin axis and is therefore the
    same in the inertial and the Moon-fixed frame), plus ``moon.uniform_g_i``.
    """
    ax, ay, az = moon.uniform_g_i
    if moon.mu_m3_s2 > 0.0:
        inv_r2 = 1.0 / (x * x + y * y + z * z)
        k = -moon.mu_m3_s2 * inv_r2 * np.sqrt(inv_r2)
        if moon.j2 != 0.0:
            z2r2 = z * z * inv_r2
            c = 1.5 * moon.j2 * moon.radius_m * moon.radius_m * inv_r2
            kxy = k * (1.0 + c * (1.0 - 5.0 * z2r2))
            kz = k * (1.0 + c * (3.0 - 5.0 * z2r2))
        else:
            kxy = k
            kz = k
        ax += kxy * x
        ay += kxy * y
        az += kz * z
    return ax, ay, az


@njit(cache=True)
def gravity_i(moon, r_i):
    """Gravitational acceleration (m/s²) at inertial position ``r_i`` (m)."""
    ax, ay, az = gravity_xyz(moon, r_i[0], r_i[1], r_i[2])
    return np.array([ax, ay, az])


@njit(cache=True)
def rotation_angle_rad(moon, t_s):
    """Angle of the Moon-fixed x axis from inertial x at time ``t_s``."""
    return moon.rotation_angle0_rad + moon.rotation_rate_rad_s * t_s


@njit(cache=True)
def inertial_to_mf(moon, t_s, r_i):
    """Position (or any vector) from the inertial to the Moon-fixed frame at ``t_s``."""
    a = rotation_angle_rad(moon, t_s)
    c, s = np.cos(a), np.sin(a)
    return np.array([c * r_i[0] + s * r_i[1], -s * r_i[0] + c * r_i[1], r_i[2]])


@njit(cache=True)
def mf_to_inertial(moon, t_s, r_mf):
    """Position (or any vector) from the Moon-fixed to the inertial frame at ``t_s``."""
    a = rotation_angle_rad(moon, t_s)
    c, s = np.cos(a), np.sin(a)
    return np.array([c * r_mf[0] - s * r_mf[1], s * r_mf[0] + c * r_mf[1], r_mf[2]])


@njit(cache=True)
def velocity_inertial_to_mf(moon, t_s, r_i, v_i):
    """Velocity relative to the rotating ground, in Moon-fixed axes: ``R (v_i - ω × r_i)``."""
    w = moon.rotation_rate_rad_s
    rel = np.array([v_i[0] + w * r_i[1], v_i[1] - w * r_i[0], v_i[2]])
    return inertial_to_mf(moon, t_s, rel)


@njit(cache=True)
def velocity_mf_to_inertial(moon, t_s, r_mf, v_mf):
    """Inverse of :func:`velocity_inertial_to_mf`: ``v_i = Rᵀ v_mf + ω × r_i``."""
    w = moon.rotation_rate_rad_s
    r_i = mf_to_inertial(moon, t_s, r_mf)
    v_i = mf_to_inertial(moon, t_s, v_mf)
    v_i[0] -= w * r_i[1]
    v_i[1] += w * r_i[0]
    return v_i


@njit(cache=True)
def latlon_xyz(x, y, z):
    """Latitude and longitude (rad) of Moon-fixed ``(x, y, z)``; returns a tuple."""
    return np.arctan2(z, np.sqrt(x * x + y * y)), np.arctan2(y, x)


@njit(cache=True)
def mf_to_llh(moon, r_mf):
    """``[lat_rad, lon_rad, height_above_sphere_m]`` of a Moon-fixed position."""
    lat, lon = latlon_xyz(r_mf[0], r_mf[1], r_mf[2])
    h = np.sqrt(r_mf[0] ** 2 + r_mf[1] ** 2 + r_mf[2] ** 2) - moon.radius_m
    return np.array([lat, lon, h])


@njit(cache=True)
def llh_to_mf(moon, lat_rad, lon_rad, height_above_sphere_m):
    """Moon-fixed position of a latitude, longitude and height above the sphere."""
    r = moon.radius_m + height_above_sphere_m
    cl = np.cos(lat_rad)
    return np.array([r * cl * np.cos(lon_rad), r * cl * np.sin(lon_rad), r * np.sin(lat_rad)])


@njit(cache=True)
def enu_matrix(lat_rad, lon_rad):
    """Rotation from Moon-fixed to East-North-Up axes at a site (rows: E, N, U)."""
    sl, cl = np.sin(lat_rad), np.cos(lat_rad)
    so, co = np.sin(lon_rad), np.cos(lon_rad)
    m = np.empty((3, 3))
    m[0, 0], m[0, 1], m[0, 2] = -so, co, 0.0
    m[1, 0], m[1, 1], m[1, 2] = -sl * co, -sl * so, cl
    m[2, 0], m[2, 1], m[2, 2] = cl * co, cl * so, sl
    return m


@njit(cache=True)
def mf_to_enu(moon, site_llh, r_mf):
    """Position relative to a site ``[lat_rad, lon_rad, h_m]``, in the site's ENU axes."""
    origin = llh_to_mf(moon, site_llh[0], site_llh[1], site_llh[2])
    return enu_matrix(site_llh[0], site_llh[1]) @ (r_mf - origin)


@njit(cache=True)
def enu_to_mf(moon, site_llh, r_enu):
    """Moon-fixed position of a point given in a site's ENU axes."""
    origin = llh_to_mf(moon, site_llh[0], site_llh[1], site_llh[2])
    return origin + enu_matrix(site_llh[0], site_llh[1]).T @ r_enu


@njit(cache=True)
def circular_speed_m_s(moon, radius_m):
    """Circular-orbit speed (point mass) at distance ``radius_m`` from the centre."""
    return np.sqrt(moon.mu_m3_s2 / radius_m)


@njit(cache=True, error_model='numpy')
def ground_speeds(moon, rx, ry, rz, vx, vy, vz):
    """``(vertical, horizontal)`` speed (m/s) over the rotating ground of an inertial state;
    vertical positive up."""
    om = moon.rotation_rate_rad_s
    gx, gy, gz = vx + om * ry, vy - om * rx, vz
    r = np.sqrt(rx * rx + ry * ry + rz * rz)
    vertical = (gx * rx + gy * ry + gz * rz) / r
    return vertical, np.sqrt(max(gx * gx + gy * gy + gz * gz - vertical * vertical, 0.0))
