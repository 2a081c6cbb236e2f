"""What a nadir range sensor sees along a ground track: terrain height and slant range."""
from typing import NamedTuple

import numpy as np

from gnc.moon import llh_to_mf, moon_model
from gnc.terrain import height_m, raycast


class ProfileRow(NamedTuple):
    """One sample of a ground-track profile."""
    distance_km: float
    lat_deg: float
    lon_deg: float
    terrain_m: float
    range_m: float


def great_circle_track(start_deg, end_deg, n):
    """``n`` points (lat, lon in rad) evenly spaced on the great circle from start to end."""
    moon = moon_model()
    a = llh_to_mf(moon, *np.radians(start_deg), 0.0)
    b = llh_to_mf(moon, *np.radians(end_deg), 0.0)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    angle = np.arccos(np.clip(a @ b, -1.0, 1.0))
    fractions = np.linspace(0.0, 1.0, n)
    if angle < 1e-12:
        points = np.repeat(a[None, :], n, axis=0)
    else:
        points = (np.sin((1 - fractions) * angle)[:, None] * a
                  + np.sin(fractions * angle)[:, None] * b) / np.sin(angle)
    lat = np.arcsin(np.clip(points[:, 2], -1.0, 1.0))
    lon = np.arctan2(points[:, 1], points[:, 0])
    return lat, lon, fractions * angle * moon.radius_m


def nadir_profile(terrain, start_deg, end_deg, sensor_height_m, n=25, max_range_m=50_000.0):
    """Terrain height and nadir range from ``sensor_height_m`` above the sphere along a track."""
    lat, lon, distance_m = great_circle_track(start_deg, end_deg, n)
    moon = moon_model(radius_m=terrain.radius_m)
    rows = []
    for la, lo, d in zip(lat, lon, distance_m):
        r_mf = llh_to_mf(moon, la, lo, sensor_height_m)
        hit, rng = raycast(terrain, r_mf, -r_mf, max_range_m)
        rows.append(ProfileRow(d / 1e3, np.degrees(la), np.degrees(lo), height_m(terrain, la, lo),
                               rng if hit else np.nan))
    return rows


def plot_profile(rows, path, title="Nadir range along the track"):
    """Save a two-panel figure (terrain and sensor height; nadir range) to ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    d = [r.distance_km for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 5))
    top.fill_between(d, [r.terrain_m for r in rows], min(r.terrain_m for r in rows) - 200,
                     color="0.6", label="terrain")
    top.set_ylabel("height above 1737.4 km (m)")
    top.legend()
    bottom.plot(d, [r.range_m for r in rows], ".-")
    bottom.set_ylabel("nadir range (m)")
    bottom.set_xlabel("distance along track (km)")
    top.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
