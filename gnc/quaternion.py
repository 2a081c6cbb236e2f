"""Quaternion algebra, compiled.

Conventions: scalar-first ``[w, x, y, z]``, Hamilton product, ``q_bi`` rotates body-frame
vectors into the inertial frame (``v_i = q_bi ⊗ v_b ⊗ q_bi*``).

Each function allocates its result; hot loops use the scalar kernels
(:func:`rotate_xyz`, :func:`mult_xyz`) that return tuples and allocate nothing.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def mult_xyz(aw, ax, ay, az, bw, bx, by, bz):
    """Hamilton product ``a ⊗ b`` on scalars; returns ``(w, x, y, z)``."""
    return (aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw)


@njit(cache=True)
def rotate_xyz(qw, qx, qy, qz, vx, vy, vz):
    """Rotate vector ``v`` by unit quaternion ``q`` on scalars; returns ``(x, y, z)``."""
    # v' = v + 2 w (u × v) + 2 u × (u × v), u = (qx, qy, qz)
    tx = 2.0 * (qy * vz - qz * vy)
    ty = 2.0 * (qz * vx - qx * vz)
    tz = 2.0 * (qx * vy - qy * vx)
    return (vx + qw * tx + (qy * tz - qz * ty),
            vy + qw * ty + (qz * tx - qx * tz),
            vz + qw * tz + (qx * ty - qy * tx))


@njit(cache=True)
def multiply(a, b):
    """Hamilton product ``a ⊗ b`` of two quaternions."""
    w, x, y, z = mult_xyz(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3])
    return np.array([w, x, y, z])


@njit(cache=True)
def conjugate(q):
    """Conjugate (the inverse of a unit quaternion)."""
    return np.array([q[0], -q[1], -q[2], -q[3]])


@njit(cache=True)
def normalize(q):
    """Unit quaternion with the same direction, sign chosen so that ``w >= 0``."""
    n = np.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    s = 1.0 / n if q[0] >= 0.0 else -1.0 / n
    return np.array([q[0] * s, q[1] * s, q[2] * s, q[3] * s])


@njit(cache=True)
def rotate(q, v):
    """Rotate 3-vector ``v`` by unit quaternion ``q`` (body → inertial for ``q_bi``)."""
    x, y, z = rotate_xyz(q[0], q[1], q[2], q[3], v[0], v[1], v[2])
    return np.array([x, y, z])


@njit(cache=True)
def rotate_inverse(q, v):
    """Rotate 3-vector ``v`` by the inverse of ``q`` (inertial → body for ``q_bi``)."""
    x, y, z = rotate_xyz(q[0], -q[1], -q[2], -q[3], v[0], v[1], v[2])
    return np.array([x, y, z])


@njit(cache=True)
def write_dcm(w, x, y, z, c):
    """Write the direction-cosine matrix of unit quaternion ``(w, x, y, z)`` into ``c`` (3×3)."""
    c[0, 0] = 1.0 - 2.0 * (y * y + z * z)
    c[0, 1] = 2.0 * (x * y - w * z)
    c[0, 2] = 2.0 * (x * z + w * y)
    c[1, 0] = 2.0 * (x * y + w * z)
    c[1, 1] = 1.0 - 2.0 * (x * x + z * z)
    c[1, 2] = 2.0 * (y * z - w * x)
    c[2, 0] = 2.0 * (x * z - w * y)
    c[2, 1] = 2.0 * (y * z + w * x)
    c[2, 2] = 1.0 - 2.0 * (x * x + y * y)


@njit(cache=True)
def to_dcm(q):
    """Direction-cosine matrix ``C`` with ``C @ v == rotate(q, v)``."""
    c = np.empty((3, 3))
    write_dcm(q[0], q[1], q[2], q[3], c)
    return c


@njit(cache=True)
def from_dcm(c):
    """Unit quaternion (``w >= 0``) of a rotation matrix (Shepperd's method)."""
    tr = c[0, 0] + c[1, 1] + c[2, 2]
    q = np.empty(4)
    if tr >= c[0, 0] and tr >= c[1, 1] and tr >= c[2, 2]:
        s = 2.0 * np.sqrt(1.0 + tr)
        q[0] = 0.25 * s
        q[1] = (c[2, 1] - c[1, 2]) / s
        q[2] = (c[0, 2] - c[2, 0]) / s
        q[3] = (c[1, 0] - c[0, 1]) / s
    elif c[0, 0] >= c[1, 1] and c[0, 0] >= c[2, 2]:
        s = 2.0 * np.sqrt(1.0 + c[0, 0] - c[1, 1] - c[2, 2])
        q[0] = (c[2, 1] - c[1, 2]) / s
        q[1] = 0.25 * s
        q[2] = (c[0, 1] + c[1, 0]) / s
        q[3] = (c[0, 2] + c[2, 0]) / s
    elif c[1, 1] >= c[2, 2]:
        s = 2.0 * np.sqrt(1.0 + c[1, 1] - c[0, 0] - c[2, 2])
        q[0] = (c[0, 2] - c[2, 0]) / s
        q[1] = (c[0, 1] + c[1, 0]) / s
        q[2] = 0.25 * s
        q[3] = (c[1, 2] + c[2, 1]) / s
    else:
        s = 2.0 * np.sqrt(1.0 + c[2, 2] - c[0, 0] - c[1, 1])
        q[0] = (c[1, 0] - c[0, 1]) / s
        q[1] = (c[0, 2] + c[2, 0]) / s
        q[2] = (c[1, 2] + c[2, 1]) / s
        q[3] = 0.25 * s
    return normalize(q)


@njit(cache=True)
def from_rotvec(theta):
    """Unit quaternion of the rotation vector ``theta`` (axis × angle, rad)."""
    angle = np.sqrt(theta[0] ** 2 + theta[1] ** 2 + theta[2] ** 2)
    half = 0.5 * angle
    # sin(half)/angle, with its series near zero so small rotations stay exact
    k = 0.5 - angle * angle / 48.0 if angle < 1e-6 else np.sin(half) / angle
    return np.array([np.cos(half), theta[0] * k, theta[1] * k, theta[2] * k])


@njit(cache=True)
def to_rotvec(q):
    """Rotation vector (rad) of a unit quaternion, angle in ``[0, pi]``."""
    w = q[0] if q[0] >= 0.0 else -q[0]
    s = 1.0 if q[0] >= 0.0 else -1.0
    vnorm = np.sqrt(q[1] ** 2 + q[2] ** 2 + q[3] ** 2)
    angle = 2.0 * np.arctan2(vnorm, w)
    k = 2.0 / w if vnorm < 1e-12 else angle / vnorm
    return np.array([s * q[1] * k, s * q[2] * k, s * q[3] * k])
