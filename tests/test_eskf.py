"""Error-state filter core against dense numpy restatements, filterpy and closed forms."""
import numpy as np
import pytest
from filterpy.kalman import KalmanFilter

from gnc.eskf import (ProcessNoise, inject, innovation_covariance, joseph_apply, kalman_gain,
                      normalized_innovation_squared, propagate_covariance, strapdown,
                      transition_blocks, update_work)
from gnc.moon import moon_model
from gnc.quaternion import from_rotvec, multiply, rotate, to_dcm

RNG = np.random.default_rng(42)


def _random_nominal():
    x = np.zeros(16)
    x[0:3] = RNG.normal(size=3) * 1e6 + np.array([1.7e6, 0.0, 0.0])
    x[3:6] = RNG.normal(size=3) * 1e3
    x[6:10] = from_rotvec(RNG.normal(size=3))
    x[10:16] = RNG.normal(size=6) * 1e-3
    return x


def _skew(v):
    return np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])


def _dense_phi(moon, x, a_i, dt):
    """Independent statement of Φ = I + FΔt + (FΔt)²/2 from the continuous error model."""
    r = x[0:3]
    n = np.linalg.norm(r)
    G = moon.mu_m3_s2 / n ** 3 * (3 * np.outer(r, r) / n ** 2 - np.eye(3))
    C = to_dcm(x[6:10])
    F = np.zeros((15, 15))
    F[0:3, 3:6] = np.eye(3)
    F[3:6, 0:3] = G
    F[3:6, 6:9] = -_skew(a_i)
    F[3:6, 9:12] = -C
    F[6:9, 12:15] = -C
    return np.eye(15) + F * dt + (F * dt) @ (F * dt) / 2


def _blocks_to_dense(phi):
    dense = np.zeros((15, 15))
    for i in range(5):
        for j in range(5):
            dense[3 * i:3 * i + 3, 3 * j:3 * j + 3] = phi[i, j]
    return dense


@pytest.mark.parametrize("dt", [0.01, 0.1, 1.0])
def test_transition_blocks_equal_the_dense_series(dt):
    moon = moon_model()
    x, a_i = _random_nominal(), RNG.normal(size=3) * 3
    phi = np.empty((5, 5, 3, 3))
    mask = np.empty((5, 5), dtype=bool)
    transition_blocks(moon, x, a_i, dt, phi, mask, np.empty((3, 3)))
    expected = _dense_phi(moon, x, a_i, dt)
    np.testing.assert_allclose(_blocks_to_dense(phi), expected, rtol=0, atol=1e-12)
    # blocks outside the mask are zero
    dense_nonzero = np.array([[np.any(expected[3 * i:3 * i + 3, 3 * j:3 * j + 3] != 0)
                               for j in range(5)] for i in range(5)])
    assert np.all(mask >= dense_nonzero) and mask.sum() == 13


def test_covariance_propagation_equals_dense_products():
    moon = moon_model()
    x, a_i, dt = _random_nominal(), RNG.normal(size=3), 0.1
    A = RNG.normal(size=(15, 15))
    P = A @ A.T + np.eye(15)
    noise = ProcessNoise(5e-4, 2e-5, 1e-6, 1e-8)
    phi = np.empty((5, 5, 3, 3))
    mask = np.empty((5, 5), dtype=bool)
    transition_blocks(moon, x, a_i, dt, phi, mask, np.empty((3, 3)))
    Pc = P.copy()
    propagate_covariance(Pc, phi, mask, np.empty((15, 15)), noise, dt)
    F = _blocks_to_dense(phi)
    Q = np.zeros((15, 15))
    qa = noise.accel_noise_density ** 2
    for a in range(3):
        Q[a, a], Q[a, 3 + a], Q[3 + a, a], Q[3 + a, 3 + a] = qa * dt ** 3 / 3, qa * dt ** 2 / 2, qa * dt ** 2 / 2, qa * dt
        Q[6 + a, 6 + a] = noise.gyro_noise_density ** 2 * dt
        Q[9 + a, 9 + a] = noise.accel_bias_walk ** 2 * dt
        Q[12 + a, 12 + a] = noise.gyro_bias_walk ** 2 * dt
    np.testing.assert_allclose(Pc, F @ P @ F.T + Q, rtol=1e-12, atol=1e-12 * np.abs(P).max())
    assert np.array_equal(Pc, Pc.T)


def _update_problem(m):
    A = RNG.normal(size=(15, 15))
    P = A @ A.T + np.eye(15)
    H = np.zeros((3, 15))
    H[:m] = RNG.normal(size=(m, 15))
    B = RNG.normal(size=(3, 3))
    R = np.zeros((3, 3))
    R[:m, :m] = (B @ B.T + np.eye(3))[:m, :m]
    y = np.zeros(3)
    y[:m] = RNG.normal(size=m)
    return P, H, R, y


@pytest.mark.parametrize("m", [1, 2, 3])
def test_kalman_gain_and_joseph_apply_match_filterpy(m):
    P, H, R, y = _update_problem(m)
    work = update_work()
    Pc = P.copy()
    S = innovation_covariance(Pc, H, R, m, work)
    S_inv = np.empty((3, 3))
    nis = normalized_innovation_squared(S, y, m, S_inv)
    kalman_gain(S_inv, m, work)
    dx = np.empty(15)
    joseph_apply(Pc, H, R, y, m, work, dx)
    kf = KalmanFilter(dim_x=15, dim_z=m)
    kf.P, kf.x = P.copy(), np.zeros((15, 1))
    kf.update(y[:m].reshape(m, 1), R=R[:m, :m], H=H[:m])
    np.testing.assert_allclose(Pc, kf.P, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, kf.x.ravel(), rtol=1e-10, atol=1e-14)
    assert nis == pytest.approx((kf.y.T @ kf.SI @ kf.y).item(), rel=1e-10)
    assert np.all(np.linalg.eigvalsh(Pc) > 0)


def test_joseph_apply_keeps_the_covariance_of_a_changed_gain():
    """A Schmidt gain (some rows zeroed): P is (I − KH) P (I − KH)ᵀ + K R Kᵀ, the covariance of
    the error after that update, and the zeroed states are left as they were."""
    P, H, R, y = _update_problem(1)
    work = update_work()
    Pc = P.copy()
    S = innovation_covariance(Pc, H, R, 1, work)
    S_inv = np.empty((3, 3))
    normalized_innovation_squared(S, y, 1, S_inv)
    K = kalman_gain(S_inv, 1, work)
    K[0:2, 0] = 0.0
    dx = np.empty(15)
    joseph_apply(Pc, H, R, y, 1, work, dx)
    k = K[:, :1]
    A = np.eye(15) - k @ H[:1]
    np.testing.assert_allclose(Pc, A @ P @ A.T + k @ R[:1, :1] @ k.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(Pc[0:2, 0:2], P[0:2, 0:2], rtol=1e-12)
    assert dx[0] == dx[1] == 0.0


def test_strapdown_closed_form_in_uniform_gravity():
    """Constant body rate and specific force, bias-free, uniform gravity: q(t) = q0 ⊗ exp(ωt);
    with the rate about the force's axis, v(t) = v0 + (C0 f + g) t, r(t) = r0 + v0 t + ½(C0 f + g)t²."""
    g = np.array([0.0, 0.0, -1.62])
    moon = moon_model(mu_m3_s2=0.0, uniform_g_i=tuple(g))
    q0 = from_rotvec(np.array([0.3, -0.2, 0.1]))
    omega, f = np.array([0.0, 0.0, 0.05]), np.array([0.0, 0.0, 3.0])
    x = np.zeros(16)
    x[0:3], x[3:6], x[6:10] = [1.0, 2.0, 3.0], [100.0, -50.0, -20.0], q0
    dt, n = 0.01, 6000
    for _ in range(n):
        strapdown(moon, x, omega * dt, f * dt, dt)
    t = n * dt
    a = rotate(q0, f) + g
    np.testing.assert_allclose(x[3:6], [100.0, -50.0, -20.0] + a * t, atol=1e-9)
    np.testing.assert_allclose(x[0:3], [1.0, 2.0, 3.0] + np.array([100.0, -50.0, -20.0]) * t
                               + 0.5 * a * t * t, atol=1e-6)
    q_expected = multiply(q0, from_rotvec(omega * t))
    assert abs(abs(np.dot(x[6:10], q_expected)) - 1.0) < 1e-12


def test_strapdown_removes_the_estimated_biases():
    moon = moon_model(mu_m3_s2=0.0)
    x = np.zeros(16)
    x[6] = 1.0
    x[10:13] = [0.01, -0.02, 0.03]
    x[13:16] = [1e-4, 2e-4, -3e-4]
    dt = 0.01
    strapdown(moon, x, x[13:16] * dt, x[10:13] * dt, dt)
    np.testing.assert_allclose(x[3:6], 0.0, atol=1e-15)
    np.testing.assert_allclose(x[6:10], [1.0, 0.0, 0.0, 0.0], atol=1e-15)


def test_injection_applies_the_global_attitude_error():
    x = _random_nominal()
    dx = RNG.normal(size=15) * 1e-3
    before = x.copy()
    inject(x, dx)
    np.testing.assert_allclose(x[0:6], before[0:6] + dx[0:6])
    np.testing.assert_allclose(x[10:16], before[10:16] + dx[9:15])
    expected = multiply(from_rotvec(dx[6:9]), before[6:10])
    assert abs(abs(np.dot(x[6:10], expected)) - 1.0) < 1e-14
