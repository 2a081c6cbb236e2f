"""Sensor-plausibility checks: the gate every measurement passes before it reaches the filter.

A check is a compiled function with the signature :data:`CHECK_SIGNATURE`::

    decision = check(ctx, params, state)

- ``ctx`` (float64[:], read only): the measurement in context, laid out by the ``CTX_*``
  indices: time, measured and predicted value, innovation, its variance ``H P Hᵀ + R``, the
  noise variance ``R``, the normalised innovation squared and its degrees of freedom, the
  predicted rate of the measured quantity (for ranges: the range rate implied by the estimated
  velocity), the sensor's valid interval, and for ranges the cosine of the beam's incidence on
  the map (1 for other measurements), which turns a slant-range innovation into the vertical
  terrain step ``innovation × cos ι``.
- ``params`` (float64[:]): the check's parameters, built in Python by its ``params`` function.
- ``state`` (float64[:] of :data:`STATE_SIZE`, zeros at start): the check's own memory for
  this sensor beam, which it updates in place.
- returns a decision code: :data:`ACCEPT`, :data:`REANCHOR` (accept, after re-anchoring the
  terrain estimate so the measurement is explained as terrain; on a channel without a terrain
  offset the filter first opens its velocity covariance along the measurement, and over a map
  the fixed software trusts as exact its position covariance, see :mod:`gnc.navigation`) or
  one of the ``REJECT_*`` codes, which say why.
  :func:`accepted` tells the two groups apart; any other value stops the run with an error.

Write a new check with ``@njit(CHECK_SIGNATURE, cache=True)`` and fly it by passing it in the
navigation configuration; the filter is compiled once for every check of this signature, so no
package code changes and nothing recompiles.

Built in: :func:`legacy_m1` (HAKUTO-R Mission 1), :func:`fixed` (the corrected logic),
:func:`chi_square_gate` and :func:`accept_all`. :data:`CHECKS` maps names to them.
"""
import warnings
from typing import Callable, NamedTuple

import numpy as np
from numba import njit, types
from numba.core.errors import NumbaExperimentalFeatureWarning
from scipy.stats import chi2

warnings.filterwarnings("ignore", category=NumbaExperimentalFeatureWarning,
                        message="First-class function type")

CHECK_SIGNATURE = types.int64(types.float64[::1], types.float64[::1], types.float64[::1])
"""Type of every check: ``(ctx, params, state) -> decision``."""

(CTX_T_S, CTX_MEASURED, CTX_PREDICTED, CTX_INNOVATION, CTX_VARIANCE, CTX_NOISE_VARIANCE, CTX_NIS,
 CTX_DOF, CTX_RATE_PREDICTED, CTX_MIN_VALID, CTX_MAX_VALID, CTX_COS_INCIDENCE,
 CONTEXT_SIZE) = range(13)
STATE_SIZE = 520
PARAMS_SIZE = 8

DECISIONS = ("accept", "reanchor", "reject_gate", "reject_latched", "reject_inconsistent",
             "reject_frozen", "reject_limits", "no_prediction")
(ACCEPT, REANCHOR, REJECT_GATE, REJECT_LATCHED, REJECT_INCONSISTENT, REJECT_FROZEN, REJECT_LIMITS,
 NO_PREDICTION) = range(len(DECISIONS))
"""``NO_PREDICTION`` is logged by the filter itself when the map gives no predicted value."""


@njit(cache=True)
def accepted(decision):
    """Whether ``decision`` lets the measurement into the filter."""
    return decision == ACCEPT or decision == REANCHOR


@njit(CHECK_SIGNATURE, cache=True)
def accept_all(ctx, params, state):
    """Accept every measurement (no check at all)."""
    return ACCEPT


@njit(CHECK_SIGNATURE, cache=True)
def chi_square_gate(ctx, params, state):
    """Reject when the normalised innovation squared exceeds ``params[0]``; never latches."""
    return ACCEPT if ctx[CTX_NIS] <= params[0] else REJECT_GATE


@njit(CHECK_SIGNATURE, cache=True)
def legacy_m1(ctx, params, state):
    """HAKUTO-R Mission 1: |measured − predicted| over a fixed threshold ``params[0]`` (m)
    marks the sensor faulty, and a faulty sensor is ignored for good (``state[0]`` latches)."""
    if state[0] > 0.0:
        return REJECT_LATCHED
    if abs(ctx[CTX_INNOVATION]) > params[0]:
        state[0] = 1.0
        return REJECT_GATE
    return ACCEPT


# fixed: parameter and state layout
(F_GATE, F_WINDOW_S, F_MIN_SAMPLES, F_RATE_TOL, F_DRIFT_FRACTION, F_SCATTER_SIGMAS,
 F_FROZEN_SAMPLES) = range(7)
S_LAST, S_FROZEN, S_COUNT, S_HEAD, S_SUSPECT, S_RING = 0, 1, 2, 3, 4, 8
RING_CAPACITY = (STATE_SIZE - S_RING) // 2


@njit(cache=True)
def _window_consistency(ctx, params, state):
    """Add this sample's innovation to the sliding window; fit a line once the window is full.

    Returns ``(full, rate_ok, scatter_ok)``.
    """
    t = ctx[CTX_T_S]
    count = int(state[S_COUNT])
    head = int(state[S_HEAD])
    if count == RING_CAPACITY:                 # full: overwrite the oldest
        head = (head + 1) % RING_CAPACITY
        count -= 1
    slot = (head + count) % RING_CAPACITY
    scale = ctx[CTX_COS_INCIDENCE]
    state[S_RING + 2 * slot] = t
    state[S_RING + 2 * slot + 1] = ctx[CTX_INNOVATION] * scale
    count += 1
    window = params[F_WINDOW_S]
    while count > 1 and t - state[S_RING + 2 * head] > window + 1e-9:
        head = (head + 1) % RING_CAPACITY
        count -= 1
    state[S_COUNT] = count
    state[S_HEAD] = head
    t0 = state[S_RING + 2 * head]
    # full once the samples span the window, give or take one sampling interval (or the ring is
    # full: above RING_CAPACITY / window_s samples per second the window is shorter)
    spacing = (t - t0) / (count - 1) if count > 1 else 0.0
    full = t - t0 + spacing >= window - 1e-9 or count == RING_CAPACITY
    if count < params[F_MIN_SAMPLES] or not full:
        return False, False, False
    st = 0.0
    sy = 0.0
    for k in range(count):
        i = (head + k) % RING_CAPACITY
        st += state[S_RING + 2 * i] - t0
        sy += state[S_RING + 2 * i + 1]
    t_mean = st / count
    y_mean = sy / count
    stt = 0.0
    sty = 0.0
    for k in range(count):
        i = (head + k) % RING_CAPACITY
        dt = state[S_RING + 2 * i] - t0 - t_mean
        stt += dt * dt
        sty += dt * (state[S_RING + 2 * i + 1] - y_mean)
    slope = sty / stt if stt > 0.0 else 0.0
    ss = 0.0
    for k in range(count):
        i = (head + k) % RING_CAPACITY
        r = state[S_RING + 2 * i + 1] - y_mean - slope * (state[S_RING + 2 * i] - t0 - t_mean)
        ss += r * r
    scatter = np.sqrt(ss / count)
    allowance = params[F_DRIFT_FRACTION] * abs(y_mean)
    rate_ok = abs(slope) <= params[F_RATE_TOL]
    scatter_ok = scatter <= max(params[F_SCATTER_SIGMAS] * np.sqrt(ctx[CTX_NOISE_VARIANCE]) * scale,
                                allowance)
    return True, rate_ok, scatter_ok


@njit(CHECK_SIGNATURE, cache=True)
def fixed(ctx, params, state):
    """The corrected range check: gate, terrain explanation, rate consistency, limits, no latch.

    1. Limits: a value outside the sensor's valid interval, or not finite, is rejected.
    2. Frozen output: ``params[F_FROZEN_SAMPLES]`` bit-identical samples in a row are rejected
       (a live sensor always has noise).
    3. Chi-square gate on the covariance-scaled innovation (``NIS ≤ params[F_GATE]``); the
       variance grows with the estimate's age, so the gate widens while no sample is accepted.
       An accepted sample clears the memory of rejections.
    4. A rejected sample joins a sliding window of rejections. Once the window spans
       ``params[F_WINDOW_S]`` with at least ``params[F_MIN_SAMPLES]`` samples, the innovation
       times ``cos ι`` (for a range: the vertical terrain step, which stays constant while a
       turning lander sweeps a slanted beam's incidence; otherwise the innovation itself) is
       fitted by a straight line. If it is *self-consistent* — its drift rate (measured range
       rate minus the rate implied by the estimated velocity) is within ``params[F_RATE_TOL]``
       m/s, and its scatter about the line within ``params[F_SCATTER_SIGMAS]`` noise σ or
       ``params[F_DRIFT_FRACTION]`` of its mean (rough ground under a map error) — the step is terrain
       the map lacks: :data:`REANCHOR`, as PX4's EKF2 resets its terrain estimate after ~5 s of
       consistent range rejections. A stuck sensor fails the rate test (its innovation drifts at
       the descent rate), spikes and noise fail the scatter test: they stay rejected.
    5. A sensor that failed tests 2 or 4 is suspect: even samples inside the gate (a stuck value
       passing the truth) are accepted only once a full window of them is consistent again. The
       window slides on, so the sensor is re-acquired as soon as it makes sense again.
    """
    z = ctx[CTX_MEASURED]
    if not (np.isfinite(z) and ctx[CTX_MIN_VALID] <= z <= ctx[CTX_MAX_VALID]):
        return REJECT_LIMITS
    if z == state[S_LAST]:
        state[S_FROZEN] += 1.0
    else:
        state[S_FROZEN] = 0.0
    state[S_LAST] = z
    if params[F_FROZEN_SAMPLES] > 0 and state[S_FROZEN] + 1.0 >= params[F_FROZEN_SAMPLES]:
        state[S_COUNT] = 0.0
        state[S_SUSPECT] = 1.0
        return REJECT_FROZEN
    gate_ok = ctx[CTX_NIS] <= params[F_GATE]
    if gate_ok and state[S_SUSPECT] == 0.0:
        state[S_COUNT] = 0.0
        return ACCEPT
    full, rate_ok, scatter_ok = _window_consistency(ctx, params, state)
    if not full:
        return REJECT_INCONSISTENT if gate_ok else REJECT_GATE
    if rate_ok and scatter_ok:
        state[S_COUNT] = 0.0
        state[S_SUSPECT] = 0.0
        return ACCEPT if gate_ok else REANCHOR
    state[S_SUSPECT] = 1.0
    return REJECT_INCONSISTENT


class Check(NamedTuple):
    """A named check: its compiled function and the builder of its parameter vector."""
    function: Callable
    params: Callable
    description: str


def _param_vector(name, values):
    out = np.zeros(PARAMS_SIZE)
    for k, (key, value, low) in enumerate(values):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"check {name}.{key} = {value!r}: must be a number") from None
        if not np.isfinite(value) or value < low:
            raise ValueError(f"check {name}.{key} = {value}: must be a finite number >= {low}")
        out[k] = value
    return out


def no_params(name):
    """Parameter builder for a check that takes no parameters (use it in your own :class:`Check`)."""
    def build(**overrides):
        if overrides:
            raise ValueError(f"check {name}: takes no parameters, got {', '.join(overrides)}")
        return np.zeros(PARAMS_SIZE)
    return build


def chi_square_params(probability=0.9999, dof=1):
    """Parameters of :func:`chi_square_gate`: the gate at ``probability`` for ``dof`` dimensions."""
    if not 0.0 < probability < 1.0:
        raise ValueError(f"check chi_square_gate.probability = {probability}: must be in (0, 1)")
    return _param_vector("chi_square_gate", [("gate", chi2.ppf(probability, dof), 0.0)])


def legacy_m1_params(threshold_m=1000.0):
    """Parameters of :func:`legacy_m1`. The flown threshold is not published; 1 km (assumed)
    passes the relief of the plains and any plausible navigation drift, not the 3 km rim step."""
    return _param_vector("legacy_m1", [("threshold_m", threshold_m, 0.0)])


def fixed_params(probability=0.9999, window_s=5.0, min_samples=10, rate_tol_m_s=3.0,
                 drift_fraction=0.25, scatter_sigmas=4.0, frozen_samples=5, dof=1):
    """Parameters of :func:`fixed` (see its docstring); ``frozen_samples = 0`` disables that test."""
    if frozen_samples == 1:
        raise ValueError("check fixed.frozen_samples = 1: must be 0 (off) or >= 2; one sample "
                         "cannot repeat itself")
    if not window_s > 0:
        raise ValueError(f"check fixed.window_s = {window_s}: must be > 0")
    return _param_vector("fixed", [
        ("gate", chi2.ppf(probability, dof), 0.0), ("window_s", window_s, 0.0),
        ("min_samples", min_samples, 2.0), ("rate_tol_m_s", rate_tol_m_s, 0.0),
        ("drift_fraction", drift_fraction, 0.0), ("scatter_sigmas", scatter_sigmas, 0.0),
        ("frozen_samples", frozen_samples, 0.0)])


CHECKS = {
    "accept_all": Check(accept_all, no_params("accept_all"), "accept every measurement"),
    "chi_square_gate": Check(chi_square_gate, chi_square_params,
                             "covariance-scaled chi-square gate, never latched"),
    "legacy_m1": Check(legacy_m1, legacy_m1_params,
                       "fixed threshold on |measured - predicted|, latched for good (HAKUTO-R M1)"),
    "fixed": Check(fixed, fixed_params,
                   "chi-square gate, terrain re-anchoring, rate and scatter consistency, no latch"),
}
"""Built-in checks by name."""


def get_check(name):
    """The :class:`Check` called ``name``, or a ValueError listing the known ones."""
    try:
        return CHECKS[name]
    except KeyError:
        raise ValueError(f"unknown plausibility check {name!r}; known: {', '.join(CHECKS)}") from None
