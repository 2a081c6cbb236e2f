"""Quaternion kernels against scipy.spatial.transform.Rotation (the oracle)."""
import numpy as np
from scipy.spatial.transform import Rotation

from gnc import quaternion as quat

RNG = np.random.default_rng(7)
ROTATIONS = Rotation.random(50, random_state=11)


def test_rotate_matches_scipy():
    for r in ROTATIONS:
        q = r.as_quat(scalar_first=True)
        v = RNG.normal(size=3)
        np.testing.assert_allclose(quat.rotate(q, v), r.apply(v), atol=1e-14)
        np.testing.assert_allclose(quat.rotate_inverse(q, v), r.inv().apply(v), atol=1e-14)


def test_hamilton_product_composes_rotations():
    for a, b in zip(ROTATIONS[:25], ROTATIONS[25:]):
        qa, qb = a.as_quat(scalar_first=True), b.as_quat(scalar_first=True)
        expected = (a * b).as_quat(scalar_first=True)
        got = quat.multiply(qa, qb)
        assert min(np.abs(got - expected).max(), np.abs(got + expected).max()) < 1e-14


def test_dcm_round_trip_and_scipy():
    for r in ROTATIONS:
        q = quat.normalize(r.as_quat(scalar_first=True))
        np.testing.assert_allclose(quat.to_dcm(q), r.as_matrix(), atol=1e-14)
        np.testing.assert_allclose(quat.from_dcm(quat.to_dcm(q)), q, atol=1e-13)


def test_rotvec_round_trip_and_scipy():
    for r in ROTATIONS:
        theta = r.as_rotvec()
        q = quat.from_rotvec(theta)
        expected = r.as_quat(scalar_first=True)
        assert min(np.abs(q - expected).max(), np.abs(q + expected).max()) < 1e-14
        np.testing.assert_allclose(quat.to_rotvec(q), theta, atol=1e-12)


def test_small_rotation_is_exact_to_first_order():
    theta = np.array([1e-9, -2e-9, 3e-9])
    q = quat.from_rotvec(theta)
    np.testing.assert_allclose(q[1:], theta / 2, rtol=1e-12)
    np.testing.assert_allclose(quat.to_rotvec(q), theta, rtol=1e-9)


def test_normalize_and_conjugate():
    q = np.array([-2.0, 0.0, 0.0, 2.0])
    n = quat.normalize(q)
    assert n[0] > 0 and abs(np.linalg.norm(n) - 1) < 1e-15
    np.testing.assert_allclose(quat.multiply(n, quat.conjugate(n)), [1, 0, 0, 0], atol=1e-15)
