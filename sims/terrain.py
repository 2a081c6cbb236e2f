"""Build terrain models: datum sphere, analytic craters, gridded DEMs, the built-in Atlas model.

Every builder validates its input and returns a :class:`gnc.terrain.Terrain`, the one type the
compiled kernels (:mod:`gnc.terrain`) take, for the truth world and the on-board map alike.
"""
import dataclasses
import zipfile
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from gnc.moon import RADIUS_M
from gnc.terrain import CRATER_COLUMNS, Terrain

DEM_SLOPE_MARGIN_DEG = 1.0
"""A DEM's slope bound (and so the ray cast's guarantee) holds up to this far outside its grid."""
_EMPTY_CRATERS = np.zeros((0, len(CRATER_COLUMNS)))
_EMPTY_DEM = np.zeros((0, 0))


@dataclass(frozen=True)
class Crater:
    """An analytic crater; heights in metres relative to the surrounding terrain.

    See :data:`gnc.terrain.CRATER_COLUMNS` for the profile. ``crest_azimuth_deg`` is where the
    crest stands highest (clockwise from north).
    """
    lat_deg: float
    lon_deg: float
    rim_radius_m: float
    floor_height_m: float
    crest_height_m: float
    floor_radius_frac: float = 0.7
    bowl_depth_m: float = 0.0
    crest_amplitude_m: float = 0.0
    crest_azimuth_deg: float = 90.0
    wall_exponent: float = 2.0
    ejecta_exponent: float = 5.0

    def row(self):
        """The crater as one row of ``Terrain.craters``: its profile, the unit vector to its
        centre and the unit vector along the surface towards its highest crest (Moon-fixed)."""
        lat, lon, az = np.radians([self.lat_deg, self.lon_deg, self.crest_azimuth_deg])
        centre = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
        north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
        east = np.array([-np.sin(lon), np.cos(lon), 0.0])
        profile = [self.rim_radius_m, self.floor_radius_frac, self.floor_height_m,
                   self.bowl_depth_m, self.crest_height_m, self.crest_amplitude_m,
                   self.wall_exponent, self.ejecta_exponent]
        return np.concatenate([profile, centre, np.cos(az) * north + np.sin(az) * east])

    def validate(self, where="crater"):
        """Raise ``ValueError`` naming the first out-of-range field."""
        for name, value in zip(self.__dataclass_fields__, astuple(self)):
            if not np.isfinite(value):
                raise ValueError(f"{where}.{name} = {value}: must be a finite number")
        checks = (("lat_deg", -90 <= self.lat_deg <= 90, "in [-90, 90]"),
                  ("lon_deg", -180 <= self.lon_deg <= 360, "in [-180, 360]"),
                  ("rim_radius_m", self.rim_radius_m > 0, "> 0"),
                  ("floor_radius_frac", 0 < self.floor_radius_frac < 1, "in (0, 1)"),
                  ("wall_exponent", self.wall_exponent >= 1, ">= 1 (finite wall slope)"),
                  ("ejecta_exponent", self.ejecta_exponent > 0, "> 0"),
                  ("crest_amplitude_m", abs(self.crest_amplitude_m) <= abs(self.crest_height_m)
                   + abs(self.floor_height_m), "no larger than |crest| + |floor|"))
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"{where}.{name} = {getattr(self, name)}: must be {allowed}")

    def max_slope(self):
        """Upper bound on |∇height| (m per m of ground distance) anywhere on the crater."""
        r = self.rim_radius_m
        xf = self.floor_radius_frac
        amp = abs(self.crest_amplitude_m)
        crest_span = max(abs(self.crest_height_m + s * amp - self.floor_height_m) for s in (-1, 1))
        floor = 2.0 * abs(self.bowl_depth_m) / (xf * r)
        wall = self.wall_exponent * crest_span / ((1.0 - xf) * r) + amp / (xf * r)
        ejecta = (self.ejecta_exponent * (abs(self.crest_height_m) + amp) + amp) / r
        return max(floor, wall, ejecta)

    def max_height_m(self):
        """Upper bound on the crater's height above its surroundings."""
        return max(0.0, self.crest_height_m + abs(self.crest_amplitude_m),
                   self.floor_height_m + max(self.bowl_depth_m, 0.0))


def sphere_terrain(height_m=0.0, radius_m=RADIUS_M):
    """A datum sphere at ``height_m`` above the reference radius."""
    return crater_terrain([], base_height_m=height_m, radius_m=radius_m)


def crater_terrain(craters, base_height_m=0.0, radius_m=RADIUS_M, dem=None):
    """Analytic craters superposed on a constant ``base_height_m`` (and on ``dem``, if given).

    Parameters
    ----------
    craters : sequence of Crater
    base_height_m : float
        Height of the surrounding plains above the datum sphere (m).
    radius_m : float
        Datum sphere radius (m).
    dem : Terrain, optional
        A DEM terrain (from :func:`dem_terrain`) to add the craters onto.
    """
    for name, value in (("base_height_m", base_height_m), ("radius_m", radius_m)):
        if not np.isfinite(value):
            raise ValueError(f"terrain.{name} = {value}: must be a finite number")
    if radius_m <= 0:
        raise ValueError(f"terrain.radius_m = {radius_m}: must be > 0")
    for k, crater in enumerate(craters):
        crater.validate(f"craters[{k}]")
    rows = np.array([c.row() for c in craters]) if craters else _EMPTY_CRATERS
    slope = sum(c.max_slope() for c in craters)
    top = base_height_m + sum(c.max_height_m() for c in craters)
    if dem is None:
        return Terrain(float(radius_m), float(base_height_m), rows, _EMPTY_DEM,
                       0.0, 1.0, 0.0, 1.0, float(slope), float(top))
    return dem._replace(base_height_m=dem.base_height_m + base_height_m,
                        craters=np.vstack([dem.craters, rows]),
                        max_slope=dem.max_slope + slope,
                        max_height_m=dem.max_height_m + top)


def _uniform_axis(values, name, where):
    axis = np.asarray(values, dtype=np.float64)
    if axis.ndim != 1 or axis.size < 2:
        raise ValueError(f"{where}: {name} must be a 1-D array of at least 2 values, "
                         f"got shape {axis.shape}")
    if not np.all(np.isfinite(axis)):
        raise ValueError(f"{where}: {name} holds non-finite values")
    step = np.diff(axis)
    if not (np.all(step > 0) or np.all(step < 0)):
        raise ValueError(f"{where}: {name} must be strictly monotonic (increasing or decreasing)")
    if np.ptp(step) > 1e-6 * abs(step[0]):
        raise ValueError(f"{where}: {name} must be uniformly spaced (steps range "
                         f"{step.min():.9g}..{step.max():.9g})")
    return axis


def dem_terrain(lat_deg, lon_deg, height_m, radius_m=RADIUS_M, where="dem"):
    """A gridded DEM on a uniform latitude/longitude grid, interpolated bilinearly.

    Parameters
    ----------
    lat_deg, lon_deg : array_like, 1-D
        Pixel-centre coordinates (deg), strictly monotonic and uniformly spaced (either order).
    height_m : array_like, shape (len(lat_deg), len(lon_deg))
        Heights above the datum sphere (m).
    radius_m : float
        Datum sphere radius (m).
    where : str
        Names the source in error messages (a file path, for instance).
    """
    lat = _uniform_axis(lat_deg, "lat_deg", where)
    lon = _uniform_axis(lon_deg, "lon_deg", where)
    h = np.asarray(height_m, dtype=np.float64)
    if h.shape != (lat.size, lon.size):
        raise ValueError(f"{where}: elevation shape {h.shape} does not match the axes "
                         f"(len(lat_deg), len(lon_deg)) = ({lat.size}, {lon.size})")
    if not np.all(np.isfinite(h)):
        raise ValueError(f"{where}: elevation holds non-finite values")
    if np.any(np.abs(lat) > 90):
        raise ValueError(f"{where}: lat_deg must lie in [-90, 90]")
    if not np.isfinite(radius_m) or radius_m <= 0:
        raise ValueError(f"{where}: reference radius {radius_m} must be > 0")
    dlat = np.radians(lat[1] - lat[0])
    dlon = np.radians(lon[1] - lon[0])
    # Lipschitz bound of the bilinear surface: the largest edge gradient along each axis, with
    # the east-west spacing taken 1° poleward of the grid (outside it the edge rows continue,
    # so their east-west spacing keeps shrinking towards the pole).
    dy_m = radius_m * abs(dlat)
    poleward_deg = min(np.max(np.abs(lat)) + DEM_SLOPE_MARGIN_DEG, 89.0)
    dx_m = radius_m * abs(dlon) * np.cos(np.radians(poleward_deg))
    gy = np.max(np.abs(np.diff(h, axis=0))) / dy_m
    gx = np.max(np.abs(np.diff(h, axis=1))) / dx_m
    return Terrain(float(radius_m), 0.0, _EMPTY_CRATERS, np.ascontiguousarray(h),
                   float(np.radians(lat[0])), float(dlat), float(np.radians(lon[0])), float(dlon),
                   float(np.hypot(gx, gy)), float(h.max()))


DEM_KEYS = ("elevation_m", "lat_deg", "lon_deg")
"""Arrays a DEM ``.npz`` must hold (``reference_radius_m`` is optional)."""


def load_dem(path):
    """Load a DEM ``.npz`` (keys ``elevation_m``, ``lat_deg``, ``lon_deg``, optional
    ``reference_radius_m``), the format of the LRO crops in ``shared/data/terrain``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"DEM file {path}: not found")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"DEM file {path}: not an .npz archive (the zip of named arrays "
                         "numpy.savez writes)")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = data.files
            arrays = {k: data[k] for k in names if k in (*DEM_KEYS, "reference_radius_m")}
    except Exception as exc:  # numpy raises several types for a damaged archive or member
        raise ValueError(f"DEM file {path}: not a readable .npz archive ({exc})") from None
    for key, value in arrays.items():      # numpy hands back the bytes of a non-.npy member
        if not isinstance(value, np.ndarray):
            raise ValueError(f"DEM file {path}: not a readable .npz archive ({key} is not a "
                             "numpy array)")
    missing = [k for k in DEM_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"DEM file {path}: missing key(s) {', '.join(missing)} "
                         f"(has {', '.join(names)})")
    radius = float(arrays.get("reference_radius_m", RADIUS_M))
    return dem_terrain(arrays["lat_deg"], arrays["lon_deg"], arrays["elevation_m"], radius,
                       where=f"DEM file {path}")


def dem_bounds_deg(terrain):
    """``(lat_min, lat_max, lon_min, lon_max)`` in degrees of pixel centres a DEM terrain covers."""
    nrow, ncol = terrain.dem_height_m.shape
    lats = np.degrees([terrain.dem_lat0_rad, terrain.dem_lat0_rad + (nrow - 1) * terrain.dem_dlat_rad])
    lons = np.degrees([terrain.dem_lon0_rad, terrain.dem_lon0_rad + (ncol - 1) * terrain.dem_dlon_rad])
    return lats.min(), lats.max(), lons.min(), lons.max()


ATLAS_PLAINS_HEIGHT_M = -1776.0
"""Median height of the plains around Atlas (LRO GLD100, see shared/data/terrain/README.md)."""
ATLAS_CRATER = Crater(lat_deg=46.735, lon_deg=44.433, rim_radius_m=42_100.0,
                      floor_height_m=-970.0, crest_height_m=1575.0, floor_radius_frac=0.76,
                      bowl_depth_m=-240.0, crest_amplitude_m=355.0, crest_azimuth_deg=90.0,
                      wall_exponent=1.9, ejecta_exponent=4.23)
"""Analytic Atlas, least-squares fit (centre and plains fixed to the measured figures) to the
measured west-east profile through the centre and the medians of crest (-232 m) and floor
(-2823 m) in shared/data/terrain/README.md. Absolute heights: east crest +78 m (measured +123),
floor -2894 m beside it, centre -2987 m (measured -3070), west crest -761 m (measured -436 at
44 km: the real rim is not circular). The crest stands highest to the east, the ~3 km cliff that
HAKUTO-R Mission 1 flew over."""


def atlas_terrain():
    """The built-in analytic Atlas crater (the default truth terrain when no DEM is given)."""
    return crater_terrain([ATLAS_CRATER], base_height_m=ATLAS_PLAINS_HEIGHT_M)


def atlas_filled_terrain():
    """Atlas as a map that knows the plains and the rim but not the crater's depth: the bowl filled
    level with the east crest, the rim HAKUTO-R Mission 1 crossed (its on-board view, as a map)."""
    crest_m = ATLAS_CRATER.crest_height_m + abs(ATLAS_CRATER.crest_amplitude_m)
    filled = dataclasses.replace(ATLAS_CRATER, floor_height_m=crest_m, bowl_depth_m=0.0)
    return crater_terrain([filled], base_height_m=ATLAS_PLAINS_HEIGHT_M)


def filled_bowl_dem(dem, crater=ATLAS_CRATER, crest_sector_deg=30.0, search_m=(30_000.0, 60_000.0)):
    """A DEM terrain with ``crater``'s bowl filled level with its crest where it stands highest:
    an on-board map from the same topography that knows the plains and the rim but not the
    crater's depth (the DEM counterpart of :func:`atlas_filled_terrain`).

    Along each whole-degree azimuth from the crater's centre the crest is the highest DEM point
    between ``search_m`` of range; the fill level is the highest crest within
    ``crest_sector_deg`` of ``crater.crest_azimuth_deg``; every point inside the crest line is
    raised to at least that level.
    """
    h = dem.dem_height_m
    nrow, ncol = h.shape
    lat = dem.dem_lat0_rad + np.arange(nrow) * dem.dem_dlat_rad
    lon = dem.dem_lon0_rad + np.arange(ncol) * dem.dem_dlon_rad
    lat, lon = np.meshgrid(lat, lon, indexing="ij")
    lat0, lon0 = np.radians(crater.lat_deg), np.radians(crater.lon_deg)
    cos_d = (np.sin(lat0) * np.sin(lat) + np.cos(lat0) * np.cos(lat) * np.cos(lon - lon0))
    dist_m = dem.radius_m * np.arccos(np.clip(cos_d, -1.0, 1.0))
    azimuth = np.degrees(np.arctan2(np.sin(lon - lon0) * np.cos(lat),
                                    np.cos(lat0) * np.sin(lat) - np.sin(lat0) * np.cos(lat)
                                    * np.cos(lon - lon0))) % 360.0
    sector = np.floor(azimuth).astype(int)
    ring = (dist_m >= search_m[0]) & (dist_m <= search_m[1])
    crest_m = np.full(360, np.inf)
    crest_height = np.full(360, -np.inf)
    for a in range(360):
        cells = ring & (sector == a)
        if cells.any():
            k = np.argmax(np.where(cells, h, -np.inf))
            crest_m[a], crest_height[a] = dist_m.flat[k], h.flat[k]
    off = (np.arange(360) - crater.crest_azimuth_deg + 180.0) % 360.0 - 180.0
    level = np.max(crest_height[np.abs(off) <= crest_sector_deg])
    inside = dist_m < crest_m[sector]
    filled = np.where(inside, np.maximum(h, level), h)
    return dem_terrain(np.degrees(lat[:, 0]), np.degrees(lon[0]), filled, dem.radius_m,
                       where="filled DEM")


FRIGORIS_PLAINS_HEIGHT_M = -2470.0
"""Median height of Mare Frigoris within 0.5° of 60.5° N 4.6° W (LRO GLD100; its σ there is 54 m)."""


def mare_terrain(lat_deg, lon_deg, base_height_m=FRIGORIS_PLAINS_HEIGHT_M, craters=4,
                 radius_km=3.0, seed=0):
    """A flat-ish mare: plains at ``base_height_m`` with ``craters`` degraded craters (rim radius
    200-800 m, depth about 5 % of the diameter, low rims, walls under 12°) within ``radius_km``
    of the given point; deterministic for a given ``seed``.

    Gentle walls keep the terrain's slope bound, and so the ray cast's step count, low."""
    rng = np.random.default_rng(seed)
    lat0, lon0 = np.radians(lat_deg), np.radians(lon_deg)
    pits = []
    for _ in range(int(craters)):
        d = radius_km * 1e3 * np.sqrt(rng.uniform()) / RADIUS_M
        az = rng.uniform(0.0, 2.0 * np.pi)
        lat = np.arcsin(np.sin(lat0) * np.cos(d) + np.cos(lat0) * np.sin(d) * np.cos(az))
        lon = lon0 + np.arctan2(np.sin(az) * np.sin(d) * np.cos(lat0),
                                np.cos(d) - np.sin(lat0) * np.sin(lat))
        rim = float(np.exp(rng.uniform(np.log(200.0), np.log(800.0))))
        pits.append(Crater(float(np.degrees(lat)), float(np.degrees(lon)), rim,
                           floor_height_m=-0.08 * rim, crest_height_m=0.02 * rim,
                           floor_radius_frac=0.5, bowl_depth_m=-0.02 * rim, wall_exponent=1.5))
    return crater_terrain(pits, base_height_m=base_height_m)
