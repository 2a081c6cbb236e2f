"""Measurement models: predicted values against geometry, Jacobians against finite differences."""
import numpy as np
import pytest

from gnc.eskf import inject
from gnc.measurements import (SIGMA_POINT_SPREAD, attitude_innovation, linearise_range,
                              predict_los_velocity, predict_range, star_tracker_model)
from gnc.moon import llh_to_mf, mf_to_inertial, moon_model
from gnc.quaternion import conjugate, from_rotvec, multiply, rotate
from sims.terrain import Crater, crater_terrain, sphere_terrain

MOON = moon_model()
HILLY = crater_terrain([Crater(10.02, 20.0, 3000.0, -400.0, 200.0, crest_amplitude_m=50.0)])
POLAR = crater_terrain([Crater(-89.93, 20.0, 3000.0, -400.0, 200.0, crest_amplitude_m=50.0)])
"""A crater 2 km from the south pole; the site below lies 1.7 km from the pole."""
BEAM = np.array([0.2, -0.1, -1.0]) / np.linalg.norm([0.2, -0.1, -1.0])
LEVER = (0.3, 0.1, -0.6)
OMEGA = (0.01, -0.02, 0.005)


def _nominal(height_m=3000.0, t_s=100.0, lat_deg=10.0, lon_deg=20.0):
    x = np.zeros(16)
    x[0:3] = mf_to_inertial(MOON, t_s, llh_to_mf(MOON, np.radians(lat_deg), np.radians(lon_deg),
                                                 height_m))
    x[3:6] = [30.0, -80.0, 20.0]
    x[6:10] = multiply(from_rotvec(np.array([0.1, -0.3, 0.2])),
                       from_rotvec(np.radians(20.0) * np.array([0.0, 1.0, 0.0])))
    # point body -z roughly down: rotate body z onto the local vertical
    up = x[0:3] / np.linalg.norm(x[0:3])
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, up)
    angle = np.arccos(up @ z)
    x[6:10] = multiply(from_rotvec(axis / np.linalg.norm(axis) * angle), from_rotvec(np.array([0.05, -0.03, 0.4])))
    return x


def _numeric_jacobian(f, x, steps):
    h = np.empty(15)
    for i in range(15):
        dx = np.zeros(15)
        dx[i] = steps[i]
        xp, xm = x.copy(), x.copy()
        inject(xp, dx)
        inject(xm, -dx)
        h[i] = (f(xp) - f(xm)) / (2 * steps[i])
    return h


STEPS = np.array([0.5] * 3 + [0.01] * 3 + [1e-5] * 3 + [1e-3] * 6)


def test_range_on_a_sphere_is_the_closed_form():
    terrain = sphere_terrain(height_m=-1000.0)
    x = _nominal()
    h = np.empty(15)
    ok, rho, rate, cos_inc, footprint = predict_range(terrain, MOON, 100.0, x, OMEGA, LEVER,
                                                      BEAM, 20_000.0, 0.0, h)
    p = x[0:3] + rotate(x[6:10], np.array(LEVER))
    d = rotate(x[6:10], BEAM)
    R = MOON.radius_m - 1000.0
    b = p @ d
    expected = -b - np.sqrt(b * b - (p @ p - R * R))
    assert ok and rho == pytest.approx(expected, abs=1e-3)
    n = (p + expected * d) / R
    assert cos_inc == pytest.approx(-(n @ d), abs=1e-6)
    # a terrain offset of +100 m (ground higher than the map) shortens the range by 100/cos ι
    ok, rho_off, *_ = predict_range(terrain, MOON, 100.0, x, OMEGA, LEVER, BEAM, 20_000.0, 100.0, h)
    assert rho_off == pytest.approx(expected - 100.0 / cos_inc, abs=1e-3)


@pytest.mark.parametrize("terrain, lat_deg", [(HILLY, 10.0), (POLAR, -89.95)])
def test_range_jacobian_matches_finite_differences_on_sloped_ground(terrain, lat_deg):
    """Also 1.7 km from a pole, where a step in longitude spans almost no ground: the map's
    normal is differenced along great circles, over 30 m at every latitude."""
    x = _nominal(lat_deg=lat_deg)
    h = np.empty(15)

    def f(xx):
        return predict_range(terrain, MOON, 100.0, xx, OMEGA, LEVER, BEAM, 20_000.0, 0.0,
                             np.empty(15))[1]

    ok, rho, rate, cos_inc, _ = predict_range(terrain, MOON, 100.0, x, OMEGA, LEVER, BEAM,
                                              20_000.0, 0.0, h)
    assert ok and cos_inc < 0.99                       # the beam meets a slope
    numeric = _numeric_jacobian(f, x, STEPS)
    np.testing.assert_allclose(h, numeric, rtol=2e-3, atol=2e-4)
    # predicted range rate = the range's change along the ground-relative motion
    dt = 0.01
    x2 = x.copy()
    om = MOON.rotation_rate_rad_s
    x2[0:3] += dt * (x[3:6])
    from gnc.moon import ROTATION_RATE_RAD_S
    assert om == ROTATION_RATE_RAD_S
    rho2 = predict_range(terrain, MOON, 100.0 + dt, x2, OMEGA, LEVER, BEAM, 20_000.0, 0.0,
                         np.empty(15))[1]
    assert rate == pytest.approx((rho2 - rho) / dt, rel=2e-2, abs=0.05)


def _position_covariance(sigmas_m):
    """15×15 covariance whose position block is ``diag(σ²)``: its Cholesky columns, hence the
    unscented points, lie along the inertial axes."""
    P = np.eye(15) * 1e-6
    P[0:3, 0:3] = np.diag(np.square(sigmas_m))
    return P


def test_unscented_range_over_a_sphere_is_the_quadratic_closed_form():
    """Analytic: a nadir beam moved δ across the track meets a sphere of radius R
    ``R − √(R² − δ²) ≈ δ²/2R`` further down. With points at ±3σ along one axis the unscented
    mean of that quadratic is exact, ``σ²/2R``, and its variance 4 × ``2(σ²/2R)²`` (see
    :data:`SIGMA_POINT_SPREAD`); the regression slope is the vertical's, 1, as the local one."""
    terrain = sphere_terrain(height_m=-1000.0)
    x = _nominal()
    x[0:3] = [MOON.radius_m + 5000.0, 0.0, 0.0]          # up is +x, across the track +y
    sigma_m = 3000.0
    P = _position_covariance((10.0, sigma_m, 1.0))
    down_b = rotate(conjugate(x[6:10]), np.array([-1.0, 0.0, 0.0]))
    h = np.empty(15)
    ok, rho, *_ = predict_range(terrain, MOON, 100.0, x, OMEGA, (0.0, 0.0, 0.0), down_b,
                                20_000.0, 0.0, h)
    assert ok and rho == pytest.approx(6000.0, abs=1e-3)
    shift, residual = linearise_range(terrain, MOON, 100.0, x, P, (0.0, 0.0, 0.0), down_b,
                                      20_000.0, rho, h)
    quadratic = sigma_m ** 2 / (2.0 * (MOON.radius_m - 1000.0))          # 2.6 m
    assert SIGMA_POINT_SPREAD == 3.0
    assert shift == pytest.approx(quadratic, rel=1e-3)
    assert residual == pytest.approx(8.0 * quadratic ** 2, rel=1e-2)
    np.testing.assert_allclose(h[0:3], [1.0, 0.0, 0.0], atol=1e-6)


def test_unscented_range_over_a_small_uncertainty_is_the_local_linearisation():
    """Over a crater wall with 10 m of position doubt per axis the points see a plane: the
    regression slope is the analytic Jacobian (itself checked against finite differences
    above), the mean the prediction to centimetres (the wall's curvature over ±30 m) and
    nothing more is left unexplained; with 1.5 km of doubt across the rim the beam's range is
    kilometres from any line. Within the 30 m baseline of the map's normal it is left alone."""
    x = _nominal()
    h = np.empty(15)
    ok, rho, *_ = predict_range(HILLY, MOON, 100.0, x, OMEGA, LEVER, BEAM, 20_000.0, 0.0, h)
    assert ok
    slope = h.copy()
    shift, residual = linearise_range(HILLY, MOON, 100.0, x, _position_covariance((10.0,) * 3),
                                      LEVER, BEAM, 20_000.0, rho, slope)
    np.testing.assert_allclose(slope[0:3], h[0:3], atol=2e-3 * np.linalg.norm(h[0:3]))
    np.testing.assert_array_equal(slope[3:], h[3:])
    assert abs(shift) < 0.1 and residual < 0.1
    slope = h.copy()
    assert linearise_range(HILLY, MOON, 100.0, x, _position_covariance((5.0,) * 3), LEVER, BEAM,
                           20_000.0, rho, slope) == (0.0, 0.0)
    np.testing.assert_array_equal(slope, h)
    shift, residual = linearise_range(HILLY, MOON, 100.0, x, _position_covariance((1500.0,) * 3),
                                      LEVER, BEAM, 20_000.0, rho, h.copy())
    assert residual > 100.0 ** 2


def test_los_velocity_and_jacobian():
    x = _nominal()
    h = np.empty(15)
    v = predict_los_velocity(MOON, x, OMEGA, LEVER, BEAM, h)
    numeric = _numeric_jacobian(lambda xx: predict_los_velocity(MOON, xx, OMEGA, LEVER, BEAM, np.empty(15)),
                                x, STEPS)
    np.testing.assert_allclose(h, numeric, rtol=1e-5, atol=1e-8)
    om = np.array([0.0, 0.0, MOON.rotation_rate_rad_s])
    p = x[0:3] + rotate(x[6:10], np.array(LEVER))
    v_mount = x[3:6] + rotate(x[6:10], np.cross(OMEGA, LEVER)) - np.cross(om, p)
    assert v == pytest.approx(v_mount @ rotate(x[6:10], BEAM), abs=1e-9)


def test_star_tracker_innovation_and_noise():
    x = _nominal()
    theta = np.array([2e-4, -1e-4, 3e-4])
    q_meas = multiply(from_rotvec(theta), x[6:10])
    y = np.empty(3)
    angle = attitude_innovation(x, -q_meas, y)            # sign of q must not matter
    np.testing.assert_allclose(y, theta, atol=1e-12)
    assert angle == pytest.approx(np.linalg.norm(theta))
    H, R = np.empty((3, 15)), np.empty((3, 3))
    star_tracker_model(x, (1e-5, 2e-5, 3e-4), H, R)
    from gnc.quaternion import to_dcm
    C = to_dcm(x[6:10])
    np.testing.assert_allclose(R, C @ np.diag([1e-10, 4e-10, 9e-8]) @ C.T, atol=1e-20)
    assert np.array_equal(H[:, 6:9], np.eye(3)) and not H[:, :6].any() and not H[:, 9:].any()
