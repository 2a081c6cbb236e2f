"""Terrain heights and ray casts against closed forms, the real LRO DEM and a brute-force march."""
import dataclasses
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numba import njit

from gnc.moon import RADIUS_M, llh_to_mf, moon_model
from gnc.terrain import RANGE_TOLERANCE_M, clearance_xyz, height_m, raycast
from sims.profile import nadir_profile
from sims.terrain import (ATLAS_CRATER, Crater, atlas_terrain, crater_terrain, dem_bounds_deg,
                          dem_terrain, filled_bowl_dem, load_dem, sphere_terrain)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "terrain"
ATLAS_DEM = DATA / "atlas_crop.npz"
needs_dem = pytest.mark.skipif(not ATLAS_DEM.exists(), reason=f"LRO DEM not found at {ATLAS_DEM}")
MOON = moon_model()


@pytest.fixture(scope="module")
def real_atlas():
    if not ATLAS_DEM.exists():
        pytest.skip(f"LRO DEM not found at {ATLAS_DEM}")
    return load_dem(ATLAS_DEM)


def _ray_sphere(p, d, radius):
    """Closed-form first intersection of a ray with a sphere centred at the origin."""
    b = p @ d
    disc = b * b - (p @ p - radius * radius)
    if disc < 0:
        return None
    t = -b - np.sqrt(disc)
    return t if t >= 0 else None


def test_ray_sphere_matches_the_closed_form():
    terrain = sphere_terrain(height_m=-1500.0)
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(300):
        p = rng.normal(size=3)
        p *= (RADIUS_M + rng.uniform(10.0, 30e3)) / np.linalg.norm(p)
        d = -p / np.linalg.norm(p) + rng.normal(size=3) * rng.choice([0.05, 0.5, 2.0])
        d /= np.linalg.norm(d)
        expected = _ray_sphere(p, d, RADIUS_M - 1500.0)
        hit, rng_m = raycast(terrain, p, d, 200e3)
        if expected is None or expected > 200e3:
            assert not hit
        else:
            hits += 1
            assert hit and abs(rng_m - expected) < 0.1
    assert hits > 100


def test_dem_heights_at_grid_nodes_equal_the_data(real_atlas):
    with np.load(ATLAS_DEM) as data:
        lat, lon, elevation = data["lat_deg"], data["lon_deg"], data["elevation_m"]
    rng = np.random.default_rng(2)
    for i, j in zip(rng.integers(0, lat.size, 200), rng.integers(0, lon.size, 200)):
        assert height_m(real_atlas, np.radians(lat[i]), np.radians(lon[j])) == pytest.approx(
            float(elevation[i, j]), abs=1e-6)


def test_filled_dem_keeps_the_plains_and_rim_and_fills_the_bowl_to_the_east_crest(real_atlas):
    """README figures: the rim crest tops out at +216 m, east of the centre; the floor lies near
    -3000 m; HAKUTO-R M1's impact point on it at -2897 m."""
    filled = filled_bowl_dem(real_atlas)
    level = filled.dem_height_m.max()
    assert level == pytest.approx(216.0, abs=1.0)
    raised = filled.dem_height_m != real_atlas.dem_height_m
    assert np.all(filled.dem_height_m[raised] == level)
    impact = np.radians(47.581), np.radians(44.094)
    assert height_m(real_atlas, *impact) == pytest.approx(-2897.0, abs=60.0)
    assert height_m(filled, *impact) == pytest.approx(level, abs=1e-6)
    for lat, lon in ((47.5, 47.0), (47.5, 50.0), (45.0, 40.0), (49.5, 44.4)):   # plains, outside
        point = np.radians(lat), np.radians(lon)
        assert height_m(filled, *point) == pytest.approx(height_m(real_atlas, *point), abs=1e-6)


def test_dem_interpolates_bilinearly_and_clamps_outside():
    terrain = dem_terrain([10.0, 9.0], [20.0, 21.0, 22.0], [[0.0, 10.0, 20.0], [100.0, 110.0, 120.0]])
    assert height_m(terrain, np.radians(9.5), np.radians(20.5)) == pytest.approx(55.0)
    assert height_m(terrain, np.radians(9.75), np.radians(21.0)) == pytest.approx(35.0)
    assert height_m(terrain, np.radians(30.0), np.radians(25.0)) == pytest.approx(20.0)  # NE corner
    assert dem_bounds_deg(terrain) == pytest.approx((9.0, 10.0, 20.0, 22.0))




@needs_dem
def test_nadir_range_steps_by_about_3_km_across_the_east_rim_of_atlas(real_atlas):
    # westward along the centre latitude, from the plains east of Atlas over the east crest
    profile = nadir_profile(real_atlas, (46.735, 47.1), (46.735, 45.8), 1000.0, n=135)
    ranges = np.array([row.range_m for row in profile])
    distance_km = np.array([row.distance_km for row in profile])
    crest = int(np.argmin(ranges))
    beyond = (distance_km > distance_km[crest]) & (distance_km <= distance_km[crest] + 15.0)
    step = ranges[beyond].max() - ranges[crest]
    assert 2800.0 < step < 3600.0                             # README: +123 m crest, ~-3000 m floor
    assert profile[crest].terrain_m > -100.0                  # the crest (+123 m measured)


def test_analytic_atlas_reproduces_the_measured_profile():
    """Published/measured figures: shared/data/terrain/README.md (west-east profile)."""
    measured = {-44: -436, -40: -1688, -30: -2796, -20: -2673, 0: -3070, 20: -3107, 30: -2838,
                38: -1631, 40: -722, 42: 123, 46: -648, 54: -1046}
    terrain = atlas_terrain()
    km_per_deg_lon = RADIUS_M * np.cos(np.radians(46.735)) * np.pi / 180 / 1e3
    model = {km: height_m(terrain, np.radians(46.735), np.radians(44.433 + km / km_per_deg_lon))
             for km in measured}
    errors = np.array([model[km] - measured[km] for km in measured])
    assert np.sqrt(np.mean(errors**2)) < 200.0       # fit: 183 m
    assert np.max(np.abs(errors)) < 400.0            # worst: west crest, the real rim is not round
    assert model[42] - model[30] > 2800.0            # the ~3 km east cliff
    assert abs(model[0] - (-3070)) < 150.0


@needs_dem
def test_analytic_atlas_stays_close_to_the_real_dem():
    with np.load(ATLAS_DEM) as data:
        lat, lon, elevation = np.radians(data["lat_deg"]), np.radians(data["lon_deg"]), data["elevation_m"]
    terrain = atlas_terrain()
    lat0, lon0 = np.radians(ATLAS_CRATER.lat_deg), np.radians(ATLAS_CRATER.lon_deg)
    errors = []
    for i in range(0, lat.size, 4):
        for j in range(0, lon.size, 4):
            cos_angle = (np.sin(lat0) * np.sin(lat[i])
                         + np.cos(lat0) * np.cos(lat[i]) * np.cos(lon[j] - lon0))
            if RADIUS_M * np.arccos(min(cos_angle, 1.0)) < 60e3:
                errors.append(height_m(terrain, lat[i], lon[j]) - elevation[i, j])
    errors = np.array(errors)
    assert np.sqrt(np.mean(errors**2)) < 400.0       # measured 350 m within 60 km of the centre
    assert abs(errors.mean()) < 150.0                # measured -72 m


def _numeric_max_slope(terrain, lat0, lon0, half_width_rad, n=120):
    rng = np.random.default_rng(4)
    worst = 0.0
    step = 5.0 / RADIUS_M
    for lat, lon in zip(lat0 + rng.uniform(-1, 1, n * n) * half_width_rad,
                        lon0 + rng.uniform(-1, 1, n * n) * half_width_rad):
        dn = (height_m(terrain, lat + step, lon) - height_m(terrain, lat - step, lon)) / (2 * step * RADIUS_M)
        de = ((height_m(terrain, lat, lon + step) - height_m(terrain, lat, lon - step))
              / (2 * step * RADIUS_M * np.cos(lat)))
        worst = max(worst, np.hypot(dn, de))
    return worst


def _crater_profile_by_spherical_trigonometry(crater, lat, lon):
    """Oracle for one crater's height: haversine distance and initial bearing from its centre."""
    lat0, lon0 = np.radians(crater.lat_deg), np.radians(crater.lon_deg)
    a = (np.sin(0.5 * (lat - lat0)) ** 2
         + np.cos(lat0) * np.cos(lat) * np.sin(0.5 * (lon - lon0)) ** 2)
    x = RADIUS_M * 2.0 * np.arcsin(np.sqrt(a)) / crater.rim_radius_m
    az = np.arctan2(np.sin(lon - lon0) * np.cos(lat),
                    np.cos(lat0) * np.sin(lat) - np.sin(lat0) * np.cos(lat) * np.cos(lon - lon0))
    crest = crater.crest_height_m + crater.crest_amplitude_m * np.cos(
        az - np.radians(crater.crest_azimuth_deg))
    xf, floor = crater.floor_radius_frac, crater.floor_height_m
    wall = np.clip((x - xf) / (1.0 - xf), 0.0, 1.0)
    return np.where(x <= xf, floor + crater.bowl_depth_m * (1.0 - (x / xf) ** 2),
                    np.where(x <= 1.0, floor + (crest - floor) * wall ** crater.wall_exponent,
                             crest * x ** -crater.ejecta_exponent))


TILTED_CRATER = Crater(0.0, 0.0, 500.0, -80.0, 40.0, floor_radius_frac=0.5, bowl_depth_m=-30.0,
                       crest_amplitude_m=25.0, crest_azimuth_deg=30.0, wall_exponent=3.0,
                       ejecta_exponent=8.0)


@pytest.mark.parametrize("crater", [ATLAS_CRATER, TILTED_CRATER,
                                    dataclasses.replace(TILTED_CRATER, lat_deg=-71.0, lon_deg=200.0,
                                                        crest_azimuth_deg=250.0)])
def test_crater_heights_equal_the_spherical_trigonometry_profile(crater):
    """The compiled crater works on unit vectors (chord distance, dot product with the crest's
    direction); the oracle in latitude and longitude agrees to 1e-6 m, from the floor out to
    three rim radii, all round."""
    terrain = crater_terrain([crater])
    rng = np.random.default_rng(7)
    distance_rad = rng.uniform(0.0, 3.0, 4000) * crater.rim_radius_m / RADIUS_M
    bearing = rng.uniform(0.0, 2.0 * np.pi, distance_rad.size)
    lat0, lon0 = np.radians(crater.lat_deg), np.radians(crater.lon_deg)
    lat = np.arcsin(np.sin(lat0) * np.cos(distance_rad)
                    + np.cos(lat0) * np.sin(distance_rad) * np.cos(bearing))
    lon = lon0 + np.arctan2(np.sin(bearing) * np.sin(distance_rad) * np.cos(lat0),
                            np.cos(distance_rad) - np.sin(lat0) * np.sin(lat))
    compiled = np.array([height_m(terrain, a, b) for a, b in zip(lat, lon)])
    oracle = _crater_profile_by_spherical_trigonometry(crater, lat, lon)
    np.testing.assert_allclose(compiled, oracle, rtol=0.0, atol=1e-6)
    up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
    above = [clearance_xyz(terrain, *(RADIUS_M + 100.0) * u) for u in up[:200]]
    np.testing.assert_allclose(above, 100.0 - oracle[:200], rtol=0.0, atol=1e-6)


@pytest.mark.parametrize("crater", [ATLAS_CRATER, TILTED_CRATER])
def test_crater_slope_bound_holds(crater):
    terrain = crater_terrain([crater])
    width = 2.5 * crater.rim_radius_m / RADIUS_M
    measured = _numeric_max_slope(terrain, np.radians(crater.lat_deg), np.radians(crater.lon_deg), width)
    assert measured <= terrain.max_slope
    assert measured > 0.5 * terrain.max_slope        # and it is not uselessly loose


@needs_dem
def test_dem_slope_bound_holds(real_atlas):
    measured = _numeric_max_slope(real_atlas, np.radians(46.9), np.radians(44.5), np.radians(2.5), n=150)
    assert measured <= real_atlas.max_slope


@njit
def _brute_force_first_crossing(terrain, p, d, max_range_m, step_m):
    t = 0.0
    while t <= max_range_m:
        if clearance_xyz(terrain, p[0] + t * d[0], p[1] + t * d[1], p[2] + t * d[2]) <= 0.0:
            return t
        t += step_m
    return -1.0


RIDGES = crater_terrain(
    [Crater(0.0, 0.0, 300.0, -20.0, 40.0, floor_radius_frac=0.9, wall_exponent=4.0,
            ejecta_exponent=30.0),                    # a rim ridge a few metres wide
     Crater(0.002, 0.003, 150.0, -5.0, 25.0, floor_radius_frac=0.95, crest_amplitude_m=10.0,
            wall_exponent=6.0, ejecta_exponent=40.0)],
    base_height_m=0.0)
BRUTE_STEP_M = 0.25


@example(lat=0.0, lon=0.0, h=1.0, azimuth=0.0, depression=1 / 3)   # clips a 10 cm ridge tip
@settings(max_examples=150, deadline=None)
@given(lat=st.floats(-0.003, 0.004), lon=st.floats(-0.003, 0.005), h=st.floats(1.0, 300.0),
       azimuth=st.floats(0, 2 * np.pi), depression=st.floats(0.001, 1.5))
def test_ray_cast_never_steps_through_a_ridge(lat, lon, h, azimuth, depression):
    p = llh_to_mf(MOON, lat, lon, h + 60.0)
    if clearance_xyz(RIDGES, p[0], p[1], p[2]) <= 0:
        return
    up = p / np.linalg.norm(p)
    east = np.cross([0, 0, 1.0], up)
    east /= np.linalg.norm(east)
    north = np.cross(up, east)
    d = np.cos(depression) * (np.sin(azimuth) * east + np.cos(azimuth) * north) - np.sin(depression) * up
    max_range = 3000.0
    hit, rng_m = raycast(RIDGES, p, d, max_range)
    truth = _brute_force_first_crossing(RIDGES, p, d, max_range, BRUTE_STEP_M)
    if hit and (truth < 0 or rng_m < truth - BRUTE_STEP_M - RANGE_TOLERANCE_M):
        # an earlier hit than the 25 cm march saw must be a real crossing it stepped over:
        # the ray clips a ridge tip thinner than the march step (found by hypothesis)
        fine = _brute_force_first_crossing(RIDGES, p + (rng_m - RANGE_TOLERANCE_M) * d, d,
                                           2.0 * RANGE_TOLERANCE_M, 1e-4)
        assert fine >= 0.0, f"reported hit at {rng_m:.3f} m, but the ray is clear there"
    elif truth < 0:
        assert not hit
    else:
        assert hit
        assert truth - BRUTE_STEP_M - RANGE_TOLERANCE_M <= rng_m <= truth + RANGE_TOLERANCE_M


def test_ray_from_below_the_ground_hits_at_zero_and_upward_rays_escape():
    terrain = atlas_terrain()
    below = llh_to_mf(MOON, np.radians(46.7), np.radians(44.4), -4000.0)
    assert raycast(terrain, below, -below, 1e4) == (True, 0.0)
    above = llh_to_mf(MOON, np.radians(46.7), np.radians(44.4), 1000.0)
    hit, rng_m = raycast(terrain, above, above, 1e6)
    assert not hit and np.isinf(rng_m)


def test_craters_add_onto_a_dem():
    flat = dem_terrain([1.0, -1.0], [-1.0, 1.0], np.full((2, 2), -500.0))
    bumped = crater_terrain([Crater(0.0, 0.0, 2000.0, -100.0, 50.0)], base_height_m=10.0, dem=flat)
    assert height_m(bumped, 0.0, 0.0) == pytest.approx(-500.0 + 10.0 - 100.0)
    assert bumped.max_height_m >= -500.0 + 10.0 + 50.0


def _write_dem(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("arrays, message", [
    (dict(lat_deg=[1.0, 2.0, 1.5], lon_deg=[0.0, 1.0], elevation_m=np.zeros((3, 2))), "lat_deg must be strictly monotonic"),
    (dict(lat_deg=[1.0, 2.0, 4.0], lon_deg=[0.0, 1.0], elevation_m=np.zeros((3, 2))), "lat_deg must be uniformly spaced"),
    (dict(lat_deg=[1.0, 2.0, 3.0], lon_deg=[0.0, 1.0], elevation_m=np.zeros((2, 3))), "does not match the axes"),
    (dict(lat_deg=[1.0, 2.0], lon_deg=[0.0, 1.0], elevation_m=[[0.0, np.nan], [0.0, 0.0]]), "non-finite"),
    (dict(lat_deg=[1.0, 2.0], elevation_m=np.zeros((2, 2))), "missing key.*lon_deg"),
])
def test_bad_dem_files_are_rejected_with_the_file_and_the_key(tmp_path, arrays, message):
    path = _write_dem(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message) as err:
        load_dem(path)
    assert str(path) in str(err.value)


def test_missing_or_unreadable_dem_file(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_dem(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    one_array = tmp_path / "one-array.npz"          # numpy.save's .npy format under an .npz name
    with one_array.open("wb") as f:
        np.save(f, np.zeros((3, 3)))
    for path in (junk, one_array):
        with pytest.raises(ValueError, match=re.escape(f"DEM file {path}: not an .npz archive")):
            load_dem(path)
    damaged = tmp_path / "damaged.npz"               # a zip whose arrays are not .npy data
    with zipfile.ZipFile(damaged, "w") as archive:
        for key in ("elevation_m", "lat_deg", "lon_deg"):
            archive.writestr(f"{key}.npy", "not an array")
    with pytest.raises(ValueError, match=re.escape(f"DEM file {damaged}: not a readable .npz")):
        load_dem(damaged)


@pytest.mark.parametrize("field, value, message", [
    ("rim_radius_m", -1.0, "rim_radius_m = -1.0: must be > 0"),
    ("floor_radius_frac", 1.0, "floor_radius_frac = 1.0: must be in \\(0, 1\\)"),
    ("wall_exponent", 0.5, "wall_exponent"),
    ("crest_height_m", np.nan, "crest_height_m = nan: must be a finite number"),
])
def test_bad_craters_are_rejected(field, value, message):
    spec = {**ATLAS_CRATER.__dict__, field: value}
    with pytest.raises(ValueError, match=message):
        crater_terrain([Crater(**spec)])


def test_grazing_ray_needing_many_steps_is_not_declared_a_miss():
    """Reviewer's case: 9.5e-5 rad incidence over a steep crater field took > 20,000 steps."""
    terrain = crater_terrain([Crater(-60, -100, 100, -20, 10)])
    b = 3e-3
    c0 = 0.999 * b * b * RADIUS_M / 2
    p = np.array([RADIUS_M + c0, 0.0, 0.0])
    d = np.array([-np.sin(b), np.cos(b), 0.0])
    hit, rng_m = raycast(terrain, p, d, 1e6)
    truth = _brute_force_first_crossing(terrain, p, d, 6000.0, 0.5)
    assert hit and truth - 0.5 - RANGE_TOLERANCE_M <= rng_m <= truth + RANGE_TOLERANCE_M


def test_dem_slope_bound_holds_just_outside_the_grid_and_has_no_seam():
    ridge = np.zeros((9, 9))
    ridge[4, :] = 100.0
    terrain = dem_terrain(np.linspace(80.0, 78.0, 9), np.linspace(10.0, 12.0, 9), ridge)
    measured = _numeric_max_slope(terrain, np.radians(80.5), np.radians(11.0), np.radians(0.5), n=60)
    assert measured <= terrain.max_slope
    # the longitude seam lies opposite the grid's centre, far from it
    east, west = np.radians(11.0 + 179.0), np.radians(11.0 - 179.0)
    assert height_m(terrain, np.radians(79.0), east) == height_m(terrain, np.radians(79.0), np.radians(12.0))
    assert height_m(terrain, np.radians(79.0), west) == height_m(terrain, np.radians(79.0), np.radians(10.0))
