"""Terrain benchmark: the cost of one map lookup and of one beam's ray cast, per terrain.

Every range prediction and every simulated range sample ray-casts a terrain, so the map's cost
sets much of the closed loop's. Each terrain is timed on the same compiled loops, in the same
run, against the bare sphere (the baseline: no relief to sum). The beam is the velocimeter's
kind, 25° off nadir from 2 km above the terrain's target point.

Usage: ``python benchmarks/terrain.py [--json] [--repeat N]``
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnc.terrain import height_m, height_unit_m, raycast_xyz  # noqa: E402
from sims.terrain import atlas_terrain, mare_terrain, sphere_terrain  # noqa: E402

LOOKUPS = 200_000
RAYS = 20_000
BEAM_OFF_NADIR_DEG = 25.0
HEIGHT_ABOVE_M = 2000.0


@njit(cache=True)
def _lookups(terrain, lat, lon, n):
    """Lookups by unit vector, as the ray cast and the range model make them."""
    total = 0.0
    cl, sl, co, so = np.cos(lat), np.sin(lat), np.cos(lon), np.sin(lon)
    for i in range(n):
        e = 1e-7 * (i % 100)
        total += height_unit_m(terrain, cl * co - e * so, cl * so + e * co, sl)
    return total


@njit(cache=True)
def _latlon_lookups(terrain, lat, lon, n):
    """Lookups by latitude and longitude: a cosine and sine of each first."""
    total = 0.0
    for i in range(n):
        total += height_m(terrain, lat + 1e-7 * (i % 100), lon)
    return total


@njit(cache=True)
def _rays(terrain, p, d, n):
    total = 0.0
    for i in range(n):
        hit, rho = raycast_xyz(terrain, p[0] + 0.1 * (i % 100), p[1], p[2], d[0], d[1], d[2], 1e5)
        total += rho if hit else 0.0
    return total


def _beam(terrain, lat_deg, lon_deg):
    """Start point 2 km above the terrain and a beam 25° off nadir, tilted north."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    ground = terrain.radius_m + height_m(terrain, lat, lon)
    p = up * (ground + HEIGHT_ABOVE_M)
    a = np.radians(BEAM_OFF_NADIR_DEG)
    return p, -np.cos(a) * up + np.sin(a) * north


def _seconds_per_call(loop, args, n, repeat):
    """Best of ``repeat`` timings of ``loop(*args, n)``, per call (a short run compiles first)."""
    loop(*args, 10)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        loop(*args, n)
        best = min(best, time.perf_counter() - start)
    return best / n


def run(repeat=5):
    """Measure and return the figures as a dict: ns per lookup and per ray, and ratios to the
    sphere."""
    cases = {"sphere": (sphere_terrain(), 47.5, 44.4),
             "atlas (1 analytic crater)": (atlas_terrain(), 47.5, 44.4),
             "mare (4 analytic craters)": (mare_terrain(60.5, -4.6), 60.5, -4.6)}
    out = {}
    for name, (terrain, lat_deg, lon_deg) in cases.items():
        lat, lon = np.radians(lat_deg), np.radians(lon_deg)
        p, d = _beam(terrain, lat_deg, lon_deg)
        lookup_s = _seconds_per_call(_lookups, (terrain, lat, lon), LOOKUPS, repeat)
        latlon_s = _seconds_per_call(_latlon_lookups, (terrain, lat, lon), LOOKUPS, repeat)
        ray_s = _seconds_per_call(_rays, (terrain, p, d), RAYS, repeat)
        out[name] = {"ns_per_lookup": lookup_s * 1e9, "ns_per_latlon_lookup": latlon_s * 1e9,
                     "ns_per_ray": ray_s * 1e9, "ray_in_lookups": ray_s / lookup_s}
    base = out["sphere"]
    for figures in out.values():
        figures["lookup_vs_sphere"] = figures["ns_per_lookup"] / base["ns_per_lookup"]
        figures["ray_vs_sphere"] = figures["ns_per_ray"] / base["ns_per_ray"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes (best kept)")
    args = parser.parse_args()
    r = run(args.repeat)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(f"terrain: one height lookup (by unit vector; by latitude and longitude), and one ray "
          f"cast {BEAM_OFF_NADIR_DEG:g}° off nadir from {HEIGHT_ABOVE_M:g} m")
    for name, f in r.items():
        print(f"  {name:27s} lookup {f['ns_per_lookup']:5.0f} ns ({f['lookup_vs_sphere']:4.1f}× "
              f"sphere; lat/lon {f['ns_per_latlon_lookup']:4.0f} ns)   ray "
              f"{f['ns_per_ray']:6.0f} ns ({f['ray_vs_sphere']:4.1f}× sphere, "
              f"{f['ray_in_lookups']:.0f} lookups' worth)")


if __name__ == "__main__":
    main()
