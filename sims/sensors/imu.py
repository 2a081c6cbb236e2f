"""Strapdown IMU: accelerometer and gyro triads producing Δv and Δθ increments.

Per triad, the measured rate (angular rate or specific force) is ::

    y = (I + S + M) x_true + b_on + b_gm + n,      clamped to ±range,

with ``S`` a diagonal scale-factor error, ``M`` a small misalignment (off-diagonal), ``b_on``
a constant turn-on bias, ``b_gm`` a first-order Gauss-Markov bias (bias instability) and ``n``
white noise of density ``noise_density`` (angle/velocity random walk). The increment over one
sample interval ``y·dt`` is quantised with the remainder carried to the next sample, as real
IMUs do, so the quantisation error does not accumulate. Scale factors, misalignments and turn-on
biases are drawn once per run (:func:`imu_init`).

The accelerometer senses specific force: thrust and contact, not gravity.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.validation import check_keys, check_number

DEG = np.pi / 180.0
HOUR_S = 3600.0
MICRO_G_M_S2 = 9.80665e-6


class TriadParams(NamedTuple):
    """Error model of one sensor triad, SI units (rad/s for gyros, m/s² for accelerometers)."""
    noise_density: float          # white noise density, unit/√Hz (= angle/velocity random walk)
    bias_sigma: float             # turn-on bias, 1σ per axis
    bias_instability_sigma: float  # steady-state σ of the Gauss-Markov bias
    bias_correlation_s: float     # its correlation time
    scale_factor_sigma: float     # 1σ, dimensionless
    misalignment_sigma_rad: float  # 1σ per off-diagonal element
    quantum: float                # increment resolution (rad or m/s); 0 = none
    range: float                  # saturation of the rate (unit)


class ImuParams(NamedTuple):
    """IMU parameters: sample rate and the two triads."""
    rate_hz: float
    gyro: TriadParams
    accel: TriadParams


DEFAULTS = dict(
    rate_hz=100.0,
    gyro_arw_deg_rt_h=0.07, gyro_bias_deg_h=1.0, gyro_bias_instability_deg_h=0.5,
    gyro_bias_correlation_s=300.0, gyro_scale_factor_ppm=100.0, gyro_misalignment_urad=50.0,
    gyro_quantum_urad=0.0, gyro_range_deg_s=490.0,
    accel_noise_ug_rt_hz=50.0, accel_bias_ug=300.0, accel_bias_instability_ug=50.0,
    accel_bias_correlation_s=300.0, accel_scale_factor_ppm=300.0, accel_misalignment_urad=50.0,
    accel_quantum_mm_s=0.0, accel_range_g=40.0,
)
"""Navigation-grade defaults (LN-200 class: gyro bias ~1 °/h, ARW ~0.07 °/√h, accelerometer bias
~300 µg, noise ~50 µg/√Hz; shared/reference/landing-failures.md). Bias-instability levels,
correlation times, scale factors and misalignments are assumptions of the same class."""


def make_imu(**overrides):
    """Validated :class:`ImuParams` from :data:`DEFAULTS` (datasheet units) and ``overrides``."""
    check_keys("imu", overrides, DEFAULTS)
    p = {**DEFAULTS, **overrides}
    v = {k: check_number("imu", k, p[k], 0.0) for k in p}
    check_number("imu", "rate_hz", v["rate_hz"], 0.0, low_open=True)
    for key in ("gyro_bias_correlation_s", "accel_bias_correlation_s", "gyro_range_deg_s",
                "accel_range_g"):
        check_number("imu", key, v[key], 0.0, low_open=True)
    gyro = TriadParams(v["gyro_arw_deg_rt_h"] * DEG / 60.0, v["gyro_bias_deg_h"] * DEG / HOUR_S,
                       v["gyro_bias_instability_deg_h"] * DEG / HOUR_S, v["gyro_bias_correlation_s"],
                       v["gyro_scale_factor_ppm"] * 1e-6, v["gyro_misalignment_urad"] * 1e-6,
                       v["gyro_quantum_urad"] * 1e-6, v["gyro_range_deg_s"] * DEG)
    accel = TriadParams(v["accel_noise_ug_rt_hz"] * MICRO_G_M_S2, v["accel_bias_ug"] * MICRO_G_M_S2,
                        v["accel_bias_instability_ug"] * MICRO_G_M_S2, v["accel_bias_correlation_s"],
                        v["accel_scale_factor_ppm"] * 1e-6, v["accel_misalignment_urad"] * 1e-6,
                        v["accel_quantum_mm_s"] * 1e-3, v["accel_range_g"] * 9.80665)
    return ImuParams(v["rate_hz"], gyro, accel)


# Layout of one triad's state; the IMU state holds the gyro triad, then the accelerometer triad.
T_BIAS, T_GM, T_MATRIX, T_REMAINDER, TRIAD_STATE_SIZE = 0, 3, 6, 15, 18
GYRO, ACCEL = 0, TRIAD_STATE_SIZE
IMU_STATE_SIZE = 2 * TRIAD_STATE_SIZE


@njit(cache=True)
def _triad_init(p, state, offset, rng):
    for a in range(3):
        state[offset + T_BIAS + a] = p.bias_sigma * rng.standard_normal()
        state[offset + T_GM + a] = p.bias_instability_sigma * rng.standard_normal()
        state[offset + T_REMAINDER + a] = 0.0
    for i in range(3):
        for j in range(3):
            if i == j:
                e = p.scale_factor_sigma * rng.standard_normal()
            else:
                e = p.misalignment_sigma_rad * rng.standard_normal()
            state[offset + T_MATRIX + 3 * i + j] = (1.0 if i == j else 0.0) + e


@njit(cache=True)
def imu_init(params, rng):
    """A new IMU state: this run's turn-on biases, Gauss-Markov biases, error matrices."""
    state = np.empty(IMU_STATE_SIZE)
    _triad_init(params.gyro, state, GYRO, rng)
    _triad_init(params.accel, state, ACCEL, rng)
    return state


@njit(cache=True)
def _triad_sample(p, state, offset, rng, x, dt_s, out):
    phi = np.exp(-dt_s / p.bias_correlation_s)
    drive = p.bias_instability_sigma * np.sqrt(1.0 - phi * phi)
    white = p.noise_density / np.sqrt(dt_s)
    for i in range(3):
        m = offset + T_MATRIX + 3 * i
        y = state[m] * x[0] + state[m + 1] * x[1] + state[m + 2] * x[2]
        y += state[offset + T_BIAS + i] + state[offset + T_GM + i] + white * rng.standard_normal()
        y = min(max(y, -p.range), p.range)
        increment = y * dt_s + state[offset + T_REMAINDER + i]
        if p.quantum > 0.0:
            quantised = p.quantum * np.floor(increment / p.quantum + 0.5)
            state[offset + T_REMAINDER + i] = increment - quantised
            increment = quantised
        out[i] = increment
        state[offset + T_GM + i] = phi * state[offset + T_GM + i] + drive * rng.standard_normal()


@njit(cache=True)
def imu_sample(params, state, rng, omega_b, specific_force_b, dt_s, dtheta_b, dv_b):
    """One IMU sample over ``dt_s``: write Δθ (rad) and Δv (m/s) into ``dtheta_b``, ``dv_b``.

    ``omega_b`` is the true body rate (rad/s) and ``specific_force_b`` the true non-gravitational
    acceleration (m/s²), both averaged over the interval, in body axes.
    """
    _triad_sample(params.gyro, state, GYRO, rng, omega_b, dt_s, dtheta_b)
    _triad_sample(params.accel, state, ACCEL, rng, specific_force_b, dt_s, dv_b)


@njit(cache=True)
def stationary_record(params, state, rng, omega_b, specific_force_b, n):
    """``n`` samples from an IMU held at constant rate and specific force: ``(n, 6)``, Δθ then Δv."""
    out = np.empty((n, 6))
    dtheta = np.empty(3)
    dv = np.empty(3)
    dt_s = 1.0 / params.rate_hz
    for k in range(n):
        imu_sample(params, state, rng, omega_b, specific_force_b, dt_s, dtheta, dv)
        for a in range(3):
            out[k, a] = dtheta[a]
            out[k, 3 + a] = dv[a]
    return out
