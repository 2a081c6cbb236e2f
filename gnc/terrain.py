"""Terrain: height at a point and the first intersection of a ray, compiled.

One type, :class:`Terrain`, serves both the simulated world's truth terrain and the flight
software's on-board map. Its height above the datum sphere is the sum of

- ``base_height_m`` (a constant: the surrounding plains, or a dispersed offset),
- a gridded DEM, bilinear, clamped at its edges (absent when ``dem_height_m`` is empty),
- analytic craters (rows of ``craters``; see :data:`CRATER_COLUMNS`), superposed.

Outside its grid a DEM continues its edge values; ``max_slope`` is a true bound within 1° of the
grid (see :func:`sims.terrain.dem_terrain`), which the scenario validation keeps every sensor
beam inside.

The ray cast marches with steps no longer than ``clearance / (closing rate bound)``, where the
closing-rate bound uses ``max_slope`` (a Lipschitz bound on the terrain height per metre of
ground distance), so it can never step through a ridge; it refines the crossing by bisection to
:data:`RANGE_TOLERANCE_M`.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

CRATER_COLUMNS = ("rim_radius_m", "floor_radius_frac", "floor_height_m", "bowl_depth_m",
                  "crest_height_m", "crest_amplitude_m", "wall_exponent", "ejecta_exponent",
                  "centre_x", "centre_y", "centre_z", "crest_dir_x", "crest_dir_y", "crest_dir_z")
"""Columns of ``Terrain.craters``. Heights are relative to the surrounding terrain. ``centre`` is
the unit vector (Moon-fixed) to the crater's centre and ``crest_dir`` the unit vector along the
surface at the centre towards the azimuth where the crest stands highest. Profile in
``x = distance / rim_radius``: a floor (bowl of extra depth ``bowl_depth_m`` at the centre) out to
``floor_radius_frac``, a wall rising as ``u**wall_exponent`` to the crest, whose height varies
with azimuth as ``crest + amplitude·cos(az − az_crest_dir)`` (``az_crest_dir`` the azimuth
``crest_dir`` points to), and ejecta falling off as
``crest · x**-ejecta_exponent`` outside the rim. Build rows with :meth:`sims.terrain.Crater.row`."""
(C_RIM, C_FLOOR_FRAC, C_FLOOR_H, C_BOWL, C_CREST_H, C_CREST_AMP, C_WALL_EXP, C_EJECTA_EXP,
 C_CENTRE, _, _, C_CREST_DIR, _, _) = range(len(CRATER_COLUMNS))

RANGE_TOLERANCE_M = 0.05
"""Width of the final bisection bracket on slant range (the error is at most half of it)."""
_MIN_STEP_M = 0.05
_STEP_SAFETY = 0.9
"""Steps are 0.9 of the bound. The margin covers what the closing-rate bound leaves out: below the
datum sphere ground distance is R/ρ (≤ 1.003 for lunar relief) times the horizontal motion, and
the ray's vertical and horizontal components change along a step on a sphere (≈ step/ρ)."""


class Terrain(NamedTuple):
    """Terrain model; build with :func:`sphere_terrain`, :func:`crater_terrain`, :func:`dem_terrain`."""
    radius_m: float
    base_height_m: float
    craters: np.ndarray
    dem_height_m: np.ndarray
    dem_lat0_rad: float
    dem_dlat_rad: float
    dem_lon0_rad: float
    dem_dlon_rad: float
    max_slope: float
    max_height_m: float


@njit(cache=True)
def _wrap_pi(a):
    return (a + np.pi) % (2.0 * np.pi) - np.pi


@njit(cache=True)
def crater_height_m(crater, radius_m, ux, uy, uz):
    """Height (m) of one crater row at the Moon-fixed unit vector ``u``, relative to its
    surroundings.

    The distance from the centre ``c`` is the great circle's, ``2 asin(|u − c| / 2)``; with
    ``t`` the crest direction, ``u·t = sin(angle) cos(az − az_t)``, ``az_t`` the azimuth ``t``
    points to.
    """
    ex = ux - crater[C_CENTRE]
    ey = uy - crater[C_CENTRE + 1]
    ez = uz - crater[C_CENTRE + 2]
    chord = np.sqrt(ex * ex + ey * ey + ez * ez)
    x = radius_m * 2.0 * np.arcsin(min(0.5 * chord, 1.0)) / crater[C_RIM]
    xf = crater[C_FLOOR_FRAC]
    floor_h = crater[C_FLOOR_H]
    if x <= xf:
        u = x / xf
        return floor_h + crater[C_BOWL] * (1.0 - u * u)
    crest = crater[C_CREST_H]
    if crater[C_CREST_AMP] != 0.0:           # a crest level all round needs no azimuth
        sin_angle = chord * np.sqrt(max(1.0 - 0.25 * chord * chord, 0.0))
        if sin_angle > 0.0:                  # zero only at the antipode
            along = (ux * crater[C_CREST_DIR] + uy * crater[C_CREST_DIR + 1]
                     + uz * crater[C_CREST_DIR + 2])
            crest += crater[C_CREST_AMP] * along / sin_angle
    if x <= 1.0:
        u = (x - xf) / (1.0 - xf)
        return floor_h + (crest - floor_h) * u ** crater[C_WALL_EXP]
    return crest * x ** (-crater[C_EJECTA_EXP])


@njit(cache=True)
def craters_height_m(terrain, ux, uy, uz):
    """Sum of the craters' heights (m) at the Moon-fixed unit vector ``u``."""
    h = 0.0
    for k in range(terrain.craters.shape[0]):
        h += crater_height_m(terrain.craters[k], terrain.radius_m, ux, uy, uz)
    return h


@njit(cache=True)
def dem_height_m(terrain, lat, lon):
    """Bilinear DEM height (m) at ``(lat, lon)`` rad, clamped to the grid's edge values."""
    h = terrain.dem_height_m
    nrow, ncol = h.shape
    fi = (lat - terrain.dem_lat0_rad) / terrain.dem_dlat_rad
    # wrap about the grid's centre longitude: the seam is on the far side of the Moon
    half_width = 0.5 * (ncol - 1) * terrain.dem_dlon_rad
    fj = (_wrap_pi(lon - terrain.dem_lon0_rad - half_width) + half_width) / terrain.dem_dlon_rad
    fi = min(max(fi, 0.0), nrow - 1.0)
    fj = min(max(fj, 0.0), ncol - 1.0)
    i = min(int(fi), nrow - 2) if nrow > 1 else 0
    j = min(int(fj), ncol - 2) if ncol > 1 else 0
    a = fi - i
    b = fj - j
    i1 = min(i + 1, nrow - 1)
    j1 = min(j + 1, ncol - 1)
    return ((1.0 - a) * ((1.0 - b) * h[i, j] + b * h[i, j1])
            + a * ((1.0 - b) * h[i1, j] + b * h[i1, j1]))


@njit(cache=True)
def height_m(terrain, lat, lon):
    """Terrain height (m) above the datum sphere at latitude/longitude ``(lat, lon)`` rad."""
    h = terrain.base_height_m
    if terrain.dem_height_m.size > 0:
        h += dem_height_m(terrain, lat, lon)
    if terrain.craters.shape[0] > 0:
        cos_lat = np.cos(lat)
        h += craters_height_m(terrain, cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat))
    return h


@njit(cache=True)
def height_unit_m(terrain, ux, uy, uz):
    """Terrain height (m) above the datum sphere under the Moon-fixed unit vector ``u``; only a
    DEM needs its latitude and longitude."""
    h = terrain.base_height_m
    if terrain.dem_height_m.size > 0:
        h += dem_height_m(terrain, np.arctan2(uz, np.sqrt(ux * ux + uy * uy)), np.arctan2(uy, ux))
    if terrain.craters.shape[0] > 0:
        h += craters_height_m(terrain, ux, uy, uz)
    return h


@njit(cache=True)
def clearance_xyz(terrain, x, y, z):
    """Height (m) of Moon-fixed point ``(x, y, z)`` above the terrain below it (negative inside)."""
    rho = np.sqrt(x * x + y * y + z * z)
    return rho - terrain.radius_m - height_unit_m(terrain, x / rho, y / rho, z / rho)


@njit(cache=True)
def altitude_m(terrain, r_mf):
    """Altitude (m) of Moon-fixed position ``r_mf`` above the terrain directly below it."""
    return clearance_xyz(terrain, r_mf[0], r_mf[1], r_mf[2])


@njit(cache=True)
def raycast_xyz(terrain, px, py, pz, dx, dy, dz, max_range_m):
    """First terrain intersection of the ray ``p + t·d`` (Moon-fixed), ``0 <= t <= max_range_m``.

    Returns ``(hit, range_m)``; ``range_m`` is ``inf`` when nothing is hit. A start point at or
    below the terrain is a hit at range 0. Every step advances at least 5 cm, so the march ends;
    grazing rays take many steps but are never declared a miss before ``max_range_m``.
    """
    n = np.sqrt(dx * dx + dy * dy + dz * dz)
    dx, dy, dz = dx / n, dy / n, dz / n
    t = 0.0
    c = clearance_xyz(terrain, px, py, pz)
    if c <= 0.0:
        return True, 0.0
    while True:
        x, y, z = px + t * dx, py + t * dy, pz + t * dz
        rho = np.sqrt(x * x + y * y + z * z)
        d_r = (x * dx + y * dy + z * dz) / rho
        if d_r >= 0.0 and rho - terrain.radius_m > terrain.max_height_m:
            return False, np.inf
        d_h = np.sqrt(max(0.0, 1.0 - d_r * d_r))
        closing = max(-d_r, 0.0) + terrain.max_slope * d_h
        step = _STEP_SAFETY * c / closing if closing > 0.0 else max_range_m
        step = max(step, _MIN_STEP_M)
        t_next = min(t + step, max_range_m)
        c_next = clearance_xyz(terrain, px + t_next * dx, py + t_next * dy, pz + t_next * dz)
        if c_next <= 0.0:
            lo, hi = t, t_next
            while hi - lo > RANGE_TOLERANCE_M:
                mid = 0.5 * (lo + hi)
                if clearance_xyz(terrain, px + mid * dx, py + mid * dy, pz + mid * dz) > 0.0:
                    lo = mid
                else:
                    hi = mid
            return True, 0.5 * (lo + hi)
        if t_next >= max_range_m:
            return False, np.inf
        t, c = t_next, c_next


@njit(cache=True)
def raycast(terrain, p_mf, d_mf, max_range_m):
    """First intersection of a ray from ``p_mf`` along ``d_mf`` (Moon-fixed); ``(hit, range_m)``."""
    return raycast_xyz(terrain, p_mf[0], p_mf[1], p_mf[2], d_mf[0], d_mf[1], d_mf[2],
                       max_range_m)
