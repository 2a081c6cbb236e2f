"""Error-state Kalman filter core: strapdown propagation, covariance propagation, update, injection.

Nominal state ``x`` (length :data:`NOMINAL_SIZE`)::

    x[0:3]    r_i    position, Moon-centred inertial (m)
    x[3:6]    v_i    velocity, inertial (m/s)
    x[6:10]   q_bi   attitude, scalar-first, body → inertial
    x[10:13]  b_a    accelerometer bias, body axes (m/s²)
    x[13:16]  b_g    gyro bias, body axes (rad/s)

Error state ``δx`` (length :data:`ERROR_SIZE`): ``δr, δv, δθ, δb_a, δb_g``. The attitude error is
a small rotation in the inertial frame, ``q_true = exp(δθ) ⊗ q_nom`` (the "global" error of
Solà 2017, *Quaternion kinematics for the error-state Kalman filter*, §7), so that with
``C = C(q_nom)`` and ``a_i = C (f̃_b − b_a)`` the continuous error dynamics are ::

    δṙ = δv
    δv̇ = G δr − [a_i×] δθ − C δb_a − C n_a
    δθ̇ = −C δb_g − C n_g
    δḃ_a = n_ba,   δḃ_g = n_bg                      (biases as random walks)

with ``G`` the gravity gradient of a point mass. The transition matrix over ``Δt`` is the
second-order series ``Φ = I + F Δt + F² Δt²/2``; most of its 3×3 blocks are zero or identity, and
:func:`propagate_covariance` multiplies only the others.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.moon import gravity_xyz
from gnc.quaternion import mult_xyz, rotate_xyz, write_dcm

NOMINAL_SIZE = 16
POS, VEL, QUAT, BA, BG = 0, 3, 6, 10, 13
ERROR_SIZE = 15
E_POS, E_VEL, E_ATT, E_BA, E_BG = 0, 3, 6, 9, 12
ERROR_NAMES = ("r_x", "r_y", "r_z", "v_x", "v_y", "v_z", "att_x", "att_y", "att_z",
               "ba_x", "ba_y", "ba_z", "bg_x", "bg_y", "bg_z")
N_BLOCKS = 5
MAX_DIM = 3
"""Largest measurement handled in one update (the star tracker's three angles)."""


class ProcessNoise(NamedTuple):
    """Continuous white-noise densities the filter assumes for its IMU."""
    accel_noise_density: float    # velocity random walk, m/s/√s
    gyro_noise_density: float     # angle random walk, rad/√s
    accel_bias_walk: float        # accelerometer bias random walk, m/s²/√s
    gyro_bias_walk: float         # gyro bias random walk, rad/s/√s


@njit(cache=True, inline='always')
def _cross(ax, ay, az, bx, by, bz):
    return ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx


@njit(cache=True, inline='always')
def _advance_axis(x, a, dv, dt_s):
    v_old = x[VEL + a]
    x[VEL + a] = v_old + dv
    x[POS + a] += 0.5 * dt_s * (v_old + x[VEL + a])


@njit(cache=True, error_model='numpy')
def strapdown(moon, x, dtheta_b, dv_b, dt_s):
    """Advance the nominal state ``x`` in place over one IMU interval.

    ``dtheta_b``, ``dv_b`` are the measured increments; the bias estimates are removed first.
    Attitude: ``q ← q ⊗ exp(Δθ)``. Velocity: the body Δv rotated with the mid-interval attitude
    (``C(q)(Δv + ½ Δθ × Δv)``), plus gravity at the mid-interval position. Position: trapezoid.
    Returns the inertial specific-force increment (a tuple), which the covariance propagation
    averages.
    """
    tx = dtheta_b[0] - x[BG] * dt_s
    ty = dtheta_b[1] - x[BG + 1] * dt_s
    tz = dtheta_b[2] - x[BG + 2] * dt_s
    ux = dv_b[0] - x[BA] * dt_s
    uy = dv_b[1] - x[BA + 1] * dt_s
    uz = dv_b[2] - x[BA + 2] * dt_s
    cx, cy, cz = _cross(tx, ty, tz, ux, uy, uz)
    qw, qx, qy, qz = x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3]
    dvx, dvy, dvz = rotate_xyz(qw, qx, qy, qz, ux + 0.5 * cx, uy + 0.5 * cy, uz + 0.5 * cz)
    gx, gy, gz = gravity_xyz(moon, x[POS] + 0.5 * dt_s * x[VEL], x[POS + 1] + 0.5 * dt_s * x[VEL + 1],
                             x[POS + 2] + 0.5 * dt_s * x[VEL + 2])
    _advance_axis(x, 0, dvx + gx * dt_s, dt_s)
    _advance_axis(x, 1, dvy + gy * dt_s, dt_s)
    _advance_axis(x, 2, dvz + gz * dt_s, dt_s)
    angle = np.sqrt(tx * tx + ty * ty + tz * tz)
    k = 0.5 - angle * angle / 48.0 if angle < 1e-6 else np.sin(0.5 * angle) / angle
    w, qx, qy, qz = mult_xyz(qw, qx, qy, qz, np.cos(0.5 * angle), tx * k, ty * k, tz * k)
    n = 1.0 / np.sqrt(w * w + qx * qx + qy * qy + qz * qz)
    x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3] = w * n, qx * n, qy * n, qz * n
    return dvx, dvy, dvz


@njit(cache=True, error_model='numpy')
def transition_blocks(moon, x, a_i, dt_s, phi, mask, c):
    """Fill the 3×3 blocks of ``Φ = I + FΔt + F²Δt²/2`` (see the module docstring).

    ``a_i`` is the mean inertial specific force over the interval (m/s²). ``mask[i, j]`` says
    which blocks are not zero; identity blocks are stored like the others.
    """
    write_dcm(x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3], c)
    r2 = x[POS] ** 2 + x[POS + 1] ** 2 + x[POS + 2] ** 2
    k = moon.mu_m3_s2 / (r2 * np.sqrt(r2))
    half = 0.5 * dt_s * dt_s
    for i in range(N_BLOCKS):
        for j in range(N_BLOCKS):
            mask[i, j] = i == j
            for p in range(3):
                for q in range(3):
                    phi[i, j, p, q] = 0.0
    for p in range(3):
        for q in range(3):
            eye = 1.0 if p == q else 0.0
            g = k * (3.0 * x[POS + p] * x[POS + q] / r2 - eye)       # gravity gradient
            # A = -[a_i ×]
            a = 0.0
            if p != q:
                s = 3 - p - q
                sign = 1.0 if (p + 1) % 3 == q else -1.0
                a = sign * a_i[s]
            ac = 0.0
            for m in range(3):
                am = 0.0
                if p != m:
                    s = 3 - p - m
                    am = (1.0 if (p + 1) % 3 == m else -1.0) * a_i[s]
                ac += am * c[m, q]
            phi[0, 0, p, q] = eye + g * half
            phi[0, 1, p, q] = eye * dt_s
            phi[0, 2, p, q] = a * half
            phi[0, 3, p, q] = -c[p, q] * half
            phi[1, 0, p, q] = g * dt_s
            phi[1, 1, p, q] = eye + g * half
            phi[1, 2, p, q] = a * dt_s
            phi[1, 3, p, q] = -c[p, q] * dt_s
            phi[1, 4, p, q] = -ac * half
            phi[2, 2, p, q] = eye
            phi[2, 4, p, q] = -c[p, q] * dt_s
            phi[3, 3, p, q] = eye
            phi[4, 4, p, q] = eye
    for i, j in ((0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (1, 3), (1, 4), (2, 4)):
        mask[i, j] = True


@njit(cache=True, error_model='numpy')
def _phi_times(phi, mask, src, dst):
    """``dst = Φ src`` for the block-sparse ``Φ``, skipping zero blocks and zero elements."""
    n = ERROR_SIZE
    for i in range(n):
        for j in range(n):
            dst[i, j] = 0.0
    for bi in range(N_BLOCKS):
        for bj in range(N_BLOCKS):
            if not mask[bi, bj]:
                continue
            for p in range(3):
                for q in range(3):
                    f = phi[bi, bj, p, q]
                    if f == 0.0:
                        continue
                    row_src = 3 * bj + q
                    row_dst = 3 * bi + p
                    for col in range(n):
                        dst[row_dst, col] += f * src[row_src, col]


@njit(cache=True, error_model='numpy')
def propagate_covariance(P, phi, mask, work, noise, dt_s):
    """``P ← Φ P Φᵀ + Q_d`` in place, multiplying only the non-zero blocks of Φ.

    ``Q_d`` is the discretised process noise: for velocity random walk density ``q_a``,
    ``Q_rr = q_a Δt³/3``, ``Q_rv = q_a Δt²/2``, ``Q_vv = q_a Δt`` per axis; ``q_g Δt`` on the
    attitude and the random-walk densities times ``Δt`` on the biases.
    """
    _phi_times(phi, mask, P, work)                # work = Φ P
    _phi_times(phi, mask, work.T, P)              # P = Φ (Φ P)ᵀ = (Φ P Φᵀ)ᵀ, symmetric
    qa = noise.accel_noise_density ** 2
    qg = noise.gyro_noise_density ** 2
    qba = noise.accel_bias_walk ** 2
    qbg = noise.gyro_bias_walk ** 2
    for a in range(3):
        P[E_POS + a, E_POS + a] += qa * dt_s ** 3 / 3.0
        P[E_POS + a, E_VEL + a] += qa * dt_s ** 2 / 2.0
        P[E_VEL + a, E_POS + a] += qa * dt_s ** 2 / 2.0
        P[E_VEL + a, E_VEL + a] += qa * dt_s
        P[E_ATT + a, E_ATT + a] += qg * dt_s
        P[E_BA + a, E_BA + a] += qba * dt_s
        P[E_BG + a, E_BG + a] += qbg * dt_s
    symmetrize(P)


@njit(cache=True)
def symmetrize(P):
    """Replace ``P`` by ``(P + Pᵀ)/2`` in place."""
    n = P.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            m = 0.5 * (P[i, j] + P[j, i])
            P[i, j] = m
            P[j, i] = m


@njit(cache=True)
def update_work():
    """Scratch arrays for :func:`innovation_covariance`, :func:`kalman_gain`, :func:`joseph_apply`."""
    return (np.zeros((ERROR_SIZE, MAX_DIM)), np.zeros((MAX_DIM, MAX_DIM)),
            np.zeros((ERROR_SIZE, MAX_DIM)), np.zeros((ERROR_SIZE, ERROR_SIZE)),
            np.zeros((ERROR_SIZE, MAX_DIM)))


@njit(cache=True)
def _invert_small(S, m, out):
    """Inverse of the symmetric positive definite ``m×m`` (m ≤ 3) leading block of ``S``."""
    if m == 1:
        out[0, 0] = 1.0 / S[0, 0]
        return
    if m == 2:
        det = S[0, 0] * S[1, 1] - S[0, 1] * S[1, 0]
        out[0, 0] = S[1, 1] / det
        out[1, 1] = S[0, 0] / det
        out[0, 1] = -S[0, 1] / det
        out[1, 0] = -S[1, 0] / det
        return
    a, b, c = S[0, 0], S[0, 1], S[0, 2]
    d, e, f = S[1, 0], S[1, 1], S[1, 2]
    g, h, i = S[2, 0], S[2, 1], S[2, 2]
    c00, c01, c02 = e * i - f * h, -(d * i - f * g), d * h - e * g
    det = a * c00 + b * c01 + c * c02
    out[0, 0] = c00 / det
    out[1, 0] = c01 / det
    out[2, 0] = c02 / det
    out[0, 1] = -(b * i - c * h) / det
    out[1, 1] = (a * i - c * g) / det
    out[2, 1] = -(a * h - b * g) / det
    out[0, 2] = (b * f - c * e) / det
    out[1, 2] = -(a * f - c * d) / det
    out[2, 2] = (a * e - b * d) / det


@njit(cache=True)
def innovation_covariance(P, H, R, m, work):
    """``S = H P Hᵀ + R`` for the first ``m`` rows of ``H`` (m×15); returns ``S`` (a work array).

    Leaves ``P Hᵀ`` in ``work[0]`` for :func:`kalman_gain` and :func:`joseph_apply`.
    """
    PHt, S = work[0], work[1]
    n = ERROR_SIZE
    for i in range(n):
        for k in range(m):
            s = 0.0
            for j in range(n):
                s += P[i, j] * H[k, j]
            PHt[i, k] = s
    for k in range(m):
        for l in range(m):
            s = R[k, l]
            for j in range(n):
                s += H[k, j] * PHt[j, l]
            S[k, l] = s
    return S


@njit(cache=True)
def normalized_innovation_squared(S, y, m, S_inv):
    """``yᵀ S⁻¹ y``; leaves ``S⁻¹`` in ``S_inv``."""
    _invert_small(S, m, S_inv)
    nis = 0.0
    for k in range(m):
        for l in range(m):
            nis += y[k] * S_inv[k, l] * y[l]
    return nis


@njit(cache=True)
def kalman_gain(S_inv, m, work):
    """``K = P Hᵀ S⁻¹`` (15×m) into ``work[2]``; returns it.

    Call :func:`innovation_covariance` and :func:`normalized_innovation_squared` first: they
    leave ``P Hᵀ`` in ``work[0]`` and ``S⁻¹`` in ``S_inv``. A caller may change the gain before
    :func:`joseph_apply` (a Schmidt filter zeroes the rows of the states it only considers).
    """
    PHt, K = work[0], work[2]
    for i in range(ERROR_SIZE):
        for k in range(m):
            s = 0.0
            for l in range(m):
                s += PHt[i, l] * S_inv[l, k]
            K[i, k] = s
    return K


@njit(cache=True, error_model='numpy')
def joseph_apply(P, H, R, y, m, work, dx):
    """Kalman update with the gain ``K`` in ``work[2]``, in Joseph form:
    ``P ← (I − KH) P (I − KH)ᵀ + K R Kᵀ``, ``dx ← K y``.

    The Joseph form keeps ``P`` the error's covariance for any gain, the optimal one
    (:func:`kalman_gain`) or not. ``work[0]`` must hold ``P Hᵀ`` (:func:`innovation_covariance`).
    With ``m`` ≤ 3 rows the products cost O(15² m), never a dense 15×15 triple product.
    """
    PHt, K, A, Ah = work[0], work[2], work[3], work[4]
    n = ERROR_SIZE
    for i in range(n):
        s = 0.0
        for k in range(m):
            s += K[i, k] * y[k]
        dx[i] = s
    for i in range(n):                          # A = (I - K H) P = P - K (P Hᵀ)ᵀ
        for j in range(n):
            s = P[i, j]
            for k in range(m):
                s -= K[i, k] * PHt[j, k]
            A[i, j] = s
    for i in range(n):                          # P = A - (A Hᵀ) Kᵀ + K R Kᵀ
        for k in range(m):
            s = 0.0
            for j in range(n):
                s += A[i, j] * H[k, j]
            Ah[i, k] = s
    for i in range(n):
        for j in range(n):
            for k in range(m):
                A[i, j] -= Ah[i, k] * K[j, k]
    for i in range(n):
        for j in range(n):
            s = A[i, j]
            for k in range(m):
                for l in range(m):
                    s += K[i, k] * R[k, l] * K[j, l]
            P[i, j] = s
    symmetrize(P)


@njit(cache=True, error_model='numpy')
def inject(x, dx):
    """Add the error estimate ``dx`` to the nominal state ``x`` (attitude: ``exp(δθ) ⊗ q``).

    The covariance is left as it is: the reset Jacobian ``I + [δθ/2 ×]`` differs from the
    identity by the size of the correction, which the gating keeps small.
    """
    for a in range(3):
        x[POS + a] += dx[E_POS + a]
        x[VEL + a] += dx[E_VEL + a]
        x[BA + a] += dx[E_BA + a]
        x[BG + a] += dx[E_BG + a]
    tx, ty, tz = dx[E_ATT], dx[E_ATT + 1], dx[E_ATT + 2]
    angle = np.sqrt(tx * tx + ty * ty + tz * tz)
    k = 0.5 - angle * angle / 48.0 if angle < 1e-6 else np.sin(0.5 * angle) / angle
    w, qx, qy, qz = mult_xyz(np.cos(0.5 * angle), tx * k, ty * k, tz * k,
                             x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3])
    n = 1.0 / np.sqrt(w * w + qx * qx + qy * qy + qz * qz)
    x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3] = w * n, qx * n, qy * n, qz * n
