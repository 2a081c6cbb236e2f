"""Lunar frames (round trips, closed forms) and gravity (against the gradient of its potential)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnc import moon as m

MOON = m.moon_model(rotation_angle0_rad=0.3)


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-89.9, 89.9), lon=st.floats(-179.9, 179.9), h=st.floats(-10e3, 200e3),
       t=st.floats(0.0, 1e6))
def test_inertial_mf_llh_round_trip(lat, lon, h, t):
    lat, lon = np.radians(lat), np.radians(lon)
    r_mf = m.llh_to_mf(MOON, lat, lon, h)
    r_i = m.mf_to_inertial(MOON, t, r_mf)
    back = m.mf_to_llh(MOON, m.inertial_to_mf(MOON, t, r_i))
    r_again = m.mf_to_inertial(MOON, t, m.llh_to_mf(MOON, back[0], back[1], back[2]))
    assert np.linalg.norm(r_again - r_i) < 1e-6
    assert abs(back[2] - h) < 1e-6


def test_moon_fixed_frame_rotates_at_the_sidereal_rate():
    r_mf = m.llh_to_mf(MOON, 0.2, 0.5, 0.0)
    day = 2 * np.pi / m.ROTATION_RATE_RAD_S
    np.testing.assert_allclose(m.mf_to_inertial(MOON, day, r_mf), m.mf_to_inertial(MOON, 0.0, r_mf),
                               atol=1e-6)
    quarter = m.mf_to_inertial(MOON, day / 4, r_mf) - m.mf_to_inertial(MOON, 0.0, r_mf)
    assert abs(np.linalg.norm(quarter) - np.sqrt(2) * np.hypot(r_mf[0], r_mf[1])) < 1e-6


def test_ground_velocity_of_a_point_fixed_to_the_moon_is_zero():
    r_mf = m.llh_to_mf(MOON, 0.4, -1.0, 100.0)
    r_i = m.mf_to_inertial(MOON, 50.0, r_mf)
    v_i = np.cross([0, 0, m.ROTATION_RATE_RAD_S], r_i)
    np.testing.assert_allclose(m.velocity_inertial_to_mf(MOON, 50.0, r_i, v_i), 0, atol=1e-12)
    v_mf = np.array([3.0, -2.0, 1.0])
    v_back = m.velocity_inertial_to_mf(MOON, 50.0, r_i, m.velocity_mf_to_inertial(MOON, 50.0, r_mf, v_mf))
    np.testing.assert_allclose(v_back, v_mf, atol=1e-12)


def test_enu_axes():
    lat, lon = np.radians(47.5), np.radians(44.4)
    e, n, u = m.enu_matrix(lat, lon)
    r = m.llh_to_mf(MOON, lat, lon, 0.0)
    np.testing.assert_allclose(u, r / np.linalg.norm(r), atol=1e-15)
    np.testing.assert_allclose(np.cross(e, n), u, atol=1e-15)
    assert n[2] > 0 and abs(e[2]) < 1e-15
    site = np.array([lat, lon, -2900.0])
    above = m.llh_to_mf(MOON, lat, lon, -2900.0 + 1234.0)
    np.testing.assert_allclose(m.mf_to_enu(MOON, site, above), [0, 0, 1234.0], atol=1e-8)
    np.testing.assert_allclose(m.enu_to_mf(MOON, site, np.array([0, 0, 1234.0])), above, atol=1e-8)


def _potential(moon, r):
    rn = np.linalg.norm(r)
    s = r[2] / rn
    return moon.mu_m3_s2 / rn * (1 - moon.j2 * (moon.radius_m / rn) ** 2 * (1.5 * s * s - 0.5))


@pytest.mark.parametrize("j2", [False, True])
def test_gravity_is_the_gradient_of_the_potential(j2):
    moon = m.moon_model(j2=j2)
    rng = np.random.default_rng(3)
    for _ in range(20):
        r = rng.normal(size=3)
        r *= (m.RADIUS_M + rng.uniform(0, 100e3)) / np.linalg.norm(r)
        step = 1.0
        grad = np.array([(_potential(moon, r + step * e) - _potential(moon, r - step * e)) / (2 * step)
                         for e in np.eye(3)])
        np.testing.assert_allclose(m.gravity_i(moon, r), grad, rtol=1e-8)


def test_surface_gravity_and_circular_speed():
    moon = m.moon_model(j2=False)
    g = np.linalg.norm(m.gravity_i(moon, np.array([m.RADIUS_M, 0, 0])))
    assert abs(g - 1.6242) < 1e-3          # published mean surface gravity 1.62 m/s²
    assert abs(m.circular_speed_m_s(moon, m.RADIUS_M + 100e3) - 1633.0) < 1.0


def test_moon_model_rejects_bad_values():
    with pytest.raises(ValueError, match="moon.radius_m"):
        m.moon_model(radius_m=-1.0)
    with pytest.raises(ValueError, match="moon.mu_m3_s2"):
        m.moon_model(mu_m3_s2=float("nan"))
    with pytest.raises(ValueError, match="uniform_g_i"):
        m.moon_model(uniform_g_i=(0.0, 1.0))
