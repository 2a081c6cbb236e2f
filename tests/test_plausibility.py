"""Plausibility checks on synthetic innovation sequences: each rule does what its docstring says."""
import numpy as np
import pytest

from gnc.plausibility import (ACCEPT, CONTEXT_SIZE, CTX_COS_INCIDENCE, CTX_INNOVATION,
                              CTX_MAX_VALID, CTX_MEASURED,
                              CTX_MIN_VALID, CTX_NIS, CTX_NOISE_VARIANCE, CTX_PREDICTED, CTX_T_S,
                              CTX_VARIANCE, REANCHOR, REJECT_FROZEN, REJECT_GATE,
                              REJECT_INCONSISTENT, REJECT_LATCHED, REJECT_LIMITS, STATE_SIZE,
                              chi_square_gate, chi_square_params, fixed, fixed_params, get_check,
                              legacy_m1, legacy_m1_params)

SIGMA = 1.0


def _ctx(t, measured, predicted, variance=SIGMA ** 2, cos_incidence=1.0):
    ctx = np.zeros(CONTEXT_SIZE)
    ctx[CTX_COS_INCIDENCE] = cos_incidence
    ctx[CTX_T_S], ctx[CTX_MEASURED], ctx[CTX_PREDICTED] = t, measured, predicted
    ctx[CTX_INNOVATION] = measured - predicted
    ctx[CTX_VARIANCE], ctx[CTX_NOISE_VARIANCE] = variance, SIGMA ** 2
    ctx[CTX_NIS] = (measured - predicted) ** 2 / variance
    ctx[CTX_MIN_VALID], ctx[CTX_MAX_VALID] = 25.0, 15_000.0
    return ctx


def _sequence(check, params, times, measured, predicted):
    state = np.zeros(STATE_SIZE)
    return np.array([check(_ctx(t, z, p), params, state) for t, z, p in zip(times, measured, predicted)])


T = np.arange(0.0, 30.0, 0.2)                            # 5 Hz
RNG = np.random.default_rng(1)
DESCENT = 5000.0 - 20.0 * T                              # predicted range, descending 20 m/s
NOISE = RNG.normal(0.0, SIGMA, T.size)


def test_legacy_m1_latches_after_one_exceedance():
    measured = DESCENT + NOISE
    measured[50] += 1500.0                               # one spike over the 1 km threshold
    d = _sequence(legacy_m1, legacy_m1_params(), T, measured, DESCENT)
    assert np.all(d[:50] == ACCEPT) and d[50] == REJECT_GATE
    assert np.all(d[51:] == REJECT_LATCHED)              # good data are ignored for good


def test_chi_square_gate_rejects_only_outliers():
    measured = DESCENT + NOISE
    measured[[40, 90]] += 30.0
    d = _sequence(chi_square_gate, chi_square_params(0.9999), T, measured, DESCENT)
    assert set(np.flatnonzero(d != ACCEPT)) == {40, 90}


def test_fixed_reanchors_a_consistent_step_after_the_window():
    measured = DESCENT + NOISE
    measured[T >= 10.0] += 3000.0                        # the ground falls away by 3 km
    d = _sequence(fixed, fixed_params(), T, measured, DESCENT)
    step = np.flatnonzero(T >= 10.0)[0]
    assert np.all(d[:step] == ACCEPT)
    assert np.all(d[step:step + 24] == REJECT_GATE)      # 5 s of rejections (25 samples) ...
    assert d[step + 24] == REANCHOR                      # ... then the step is explained as terrain


def test_fixed_judges_a_slanted_beam_by_the_vertical_step():
    """A 3 km terrain step seen by a beam whose incidence turns from 60° to 50° off the normal:
    the slant innovation 3000 / cos ι drifts by ~1.4 km in 10 s (140 m/s, far past the 3 m/s
    rate test), the vertical step 3000 m does not; the check fits the latter and re-anchors."""
    cos_inc = np.cos(np.radians(60.0 - 1.0 * np.clip(T - 10.0, 0.0, None)))
    measured = DESCENT + NOISE + np.where(T >= 10.0, 3000.0 / cos_inc, 0.0)
    state = np.zeros(STATE_SIZE)
    d = np.array([fixed(_ctx(t, z, p, cos_incidence=c), fixed_params(), state)
                  for t, z, p, c in zip(T, measured, DESCENT, cos_inc)])
    step = np.flatnonzero(T >= 10.0)[0]
    assert np.all(d[step:step + 24] == REJECT_GATE) and d[step + 24] == REANCHOR
    blind = _sequence(fixed, fixed_params(), T, measured, DESCENT)   # the slant innovation itself
    assert not np.any(blind[step:] == REANCHOR)


@pytest.mark.parametrize("period_s", [0.05, 0.06, 0.3, 0.03])
def test_fixed_reanchors_at_any_sample_rate(period_s):
    t = np.arange(0.0, 30.0, period_s)
    predicted = 5000.0 - 20.0 * t
    measured = predicted + RNG.normal(0.0, SIGMA, t.size) + np.where(t >= 10.0, 3000.0, 0.0)
    d = _sequence(fixed, fixed_params(), t, measured, predicted)
    first = np.flatnonzero(d == REANCHOR)
    assert first.size and 4.5 <= t[first[0]] - 10.0 <= 5.5 + period_s


def test_fixed_never_reanchors_a_stuck_sensor_and_reacquires_after():
    measured = DESCENT + NOISE
    stuck = (T >= 5.0) & (T < 20.0)
    measured[stuck] = 4700.0 + RNG.normal(0.0, SIGMA, stuck.sum())   # stuck, but still noisy
    d = _sequence(fixed, fixed_params(frozen_samples=0), T, measured, DESCENT)
    faulty = stuck & (np.abs(measured - DESCENT) > 5.0)
    assert np.all(d[faulty] >= REJECT_GATE)              # includes the window where it passes truth
    assert np.any(d[stuck] == REJECT_INCONSISTENT)
    # re-acquired after one consistent window, never latched
    assert np.all(d[T >= 20.0 + 5.2] == ACCEPT)


def test_fixed_rejects_frozen_output_and_spikes():
    frozen = DESCENT + NOISE
    frozen[T >= 10.0] = 4800.0
    d = _sequence(fixed, fixed_params(frozen_samples=5), T, frozen, DESCENT)
    assert np.all(d[T >= 10.0 + 0.8] == REJECT_FROZEN)
    noisy = DESCENT + NOISE
    noisy[T >= 10.0] += RNG.normal(0.0, 300.0, (T >= 10.0).sum())
    d = _sequence(fixed, fixed_params(), T, noisy, DESCENT)
    assert not np.any(d[(T >= 10.0) & (np.abs(noisy - DESCENT) > 5.0)] <= REANCHOR)


def test_fixed_rejects_values_outside_the_sensor_limits():
    measured = DESCENT + NOISE
    measured[[3, 7]] = [np.nan, 10.0]
    d = _sequence(fixed, fixed_params(), T, measured, DESCENT)
    assert d[3] == REJECT_LIMITS and d[7] == REJECT_LIMITS


def test_every_builtin_check_is_reachable_by_name():
    for name in ("accept_all", "chi_square_gate", "legacy_m1", "fixed"):
        assert get_check(name).params().shape == (8,)
    with pytest.raises(ValueError, match="unknown plausibility check 'legacy'; known: accept_all"):
        get_check("legacy")
    with pytest.raises(ValueError, match="check legacy_m1.threshold_m = -5.0: must be"):
        legacy_m1_params(threshold_m=-5)
