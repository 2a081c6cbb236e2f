"""Mode logic: the descent's phases, touchdown detection, and what the software does when its
sensors fail or contradict each other. Part of each flight-software variant.

Phases: ``braking`` → ``approach`` (at the planned gate time) → ``terminal`` (at the terminal gate
time) → ``shutdown`` (engine cut-off once touchdown is detected). Touchdown is the indication of
any leg switch, taken

- only while the touchdown monitor is enabled, that is below ``monitor_altitude_m`` of estimated
  altitude (Mars Polar Lander enabled it at 40 m);
- if ``latch_before_monitor``, also from an indication seen (and latched) while the monitor was
  still disabled: the Mars Polar Lander flaw. Without it nothing is latched: an indication
  counts only while it is present;
- only when the estimated height of the feet is plausible, below ``plausible_height_m`` plus
  three sigma of the altitude estimate (the fixed variant; ``inf`` accepts any altitude).

The engine is also cut when the rangefinder's slant range, projected on the vertical with the
estimated attitude, puts the feet at or below ``range_cutoff_m`` (:func:`range_cutoff`; ``-inf``:
never). Schiaparelli's software took such an altitude as it came, negative or not; with
``range_cutoff_checked`` the altitude must be physically possible (not below the ground by more
than its noise) and agree with the filter's estimate.

Contradiction: in the terminal phase with the feet estimated on the ground (or below it) for
``contradiction_s`` and no leg indication, the estimate and the world disagree; the fixed software
then clears every sensor's plausibility memory, so a rangefinder judged faulty is heard again.
HAKUTO-R Mission 1's software had no such rule (``contradiction_s = inf``) and waited for
touchdown until its propellant ran out.

Missing altitude fix: once the lowest altitude the estimate allows (``degraded_sigmas``
standard deviations below it, less the height braking the present descent takes) is under
``fix_expected_m``, an altitude sensor (the rangefinder, or the velocimeter's ranges) is
expected to be delivering. When none has delivered a valid sample ``fix_timeout_s`` after that
(a silent sensor; one whose samples are doubted is not missing), braking, approach and the
terminal descent fly as if the ground were that many σ closer than estimated (the approach ends
that much higher; the terminal descent slows as that lowest altitude nears the ground, to no
less than midway between the touchdown rate and its largest), until an altitude sample is
accepted. The terminal descent that follows begins high up, so it may go as fast as the
terminal thrusters can still stop (ispace
Mission 2 flew on its inertial altitude instead: ``fix_expected_m = 0``, never degraded).

Terminal descent: its rate is set by the lowest altitude the estimate allows, ``terminal_sigmas``
standard deviations below it (and by the degraded margin while a fix is missing), so an
estimate that is honest about its doubt meets the ground slowly (the legacy variants: 0).

Gyro saturation: with ``realign_after_saturation``, a gyro channel reading its full-scale value is
taken as saturated: the filter is fed the channel's last unsaturated increment instead, the
attitude is marked uncertain (its covariance opened) once the saturation ends, and the next star-
tracker attitude accepted re-aligns it (Schiaparelli's software integrated the saturated rate).
Until then the beam sensors' samples are held back from the filter: projected with a doubtful
attitude, a range would steer it (the inquiry: never combine inconsistent data).
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.validation import check_keys, check_number

MODES = ("braking", "approach", "terminal", "shutdown")
BRAKING, APPROACH, TERMINAL, SHUTDOWN = range(len(MODES))
REASONS = ("gate_time", "terminal_gate", "touchdown_indication", "contradiction",
           "latched_indication", "rangefinder_altitude", "altitude_fix_missing",
           "altitude_fix_regained", "gyro_saturation", "star_tracker_realignment")
(GATE_TIME, TERMINAL_GATE, TOUCHDOWN_INDICATION, CONTRADICTION, LATCHED_INDICATION,
 RANGEFINDER_ALTITUDE, FIX_MISSING, FIX_REGAINED, GYRO_SATURATION, REALIGNMENT) = range(len(REASONS))
MODE_EVENT_COLUMNS = ("t_s", "mode_from", "mode_to", "reason", "altitude_m", "altitude_sigma_m")


class ModeParams(NamedTuple):
    """Touchdown detection and fault handling; build with :func:`make_modes`."""
    monitor_altitude_m: float
    latch_before_monitor: bool
    plausible_height_m: float
    contradiction_s: float
    range_cutoff_m: float
    range_cutoff_checked: bool
    fix_expected_m: float
    fix_timeout_s: float
    degraded_sigmas: float
    terminal_sigmas: float
    realign_after_saturation: bool


MODE_DEFAULTS = dict(monitor_altitude_m=np.inf, latch_before_monitor=False,
                     plausible_height_m=5.0, contradiction_s=15.0, range_cutoff_m=1.0,
                     range_cutoff_checked=True, fix_expected_m=3000.0, fix_timeout_s=2.0,
                     degraded_sigmas=3.0, terminal_sigmas=3.0, realign_after_saturation=True)
"""The fixed software's mode logic. ``fix_expected_m``: ispace expected valid rangefinder data
from 3 km (landing-failures.md §2)."""


def _flag(p, key):
    value = p[key]
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"modes.{key} = {value!r}: must be true or false")
    return bool(value)


def make_modes(**overrides):
    """Validated :class:`ModeParams`."""
    check_keys("modes", overrides, MODE_DEFAULTS)
    p = {**MODE_DEFAULTS, **overrides}
    cutoff = p["range_cutoff_m"]
    if cutoff != -np.inf:
        cutoff = check_number("modes", "range_cutoff_m", cutoff)
    return ModeParams(
        check_number("modes", "monitor_altitude_m", p["monitor_altitude_m"], 0.0, allow_inf=True),
        _flag(p, "latch_before_monitor"),
        check_number("modes", "plausible_height_m", p["plausible_height_m"], 0.0, allow_inf=True),
        check_number("modes", "contradiction_s", p["contradiction_s"], 0.0, low_open=True,
                     allow_inf=True),
        float(cutoff), _flag(p, "range_cutoff_checked"),
        check_number("modes", "fix_expected_m", p["fix_expected_m"], 0.0, allow_inf=True),
        check_number("modes", "fix_timeout_s", p["fix_timeout_s"], 0.0),
        check_number("modes", "degraded_sigmas", p["degraded_sigmas"], 0.0),
        check_number("modes", "terminal_sigmas", p["terminal_sigmas"], 0.0),
        _flag(p, "realign_after_saturation"))


@njit(cache=True)
def any_leg_closed(legs):
    """Whether any leg switch reads closed."""
    for k in range(legs.size):
        if legs[k] > 0.5:
            return True
    return False


@njit(cache=True, error_model='numpy')
def touchdown_decision(params, legs, latched, feet_height_m, sigma_m):
    """``(touchdown, latched, reason)`` for this step's leg switches.

    ``feet_height_m`` is the estimated height of the feet above the ground; ``latched`` the
    memory of an indication seen before the monitor was enabled.
    """
    indication = any_leg_closed(legs)
    monitoring = feet_height_m <= params.monitor_altitude_m
    if not monitoring:
        return False, latched or (indication and params.latch_before_monitor), -1
    plausible = feet_height_m <= params.plausible_height_m + 3.0 * sigma_m
    if indication and plausible:
        return True, latched, TOUCHDOWN_INDICATION
    if latched and plausible:
        return True, latched, LATCHED_INDICATION
    return False, latched, -1


@njit(cache=True, error_model='numpy')
def range_cutoff(params, range_feet_m, range_sigma_m, nav_feet_m, nav_sigma_m):
    """Whether the rangefinder's altitude says the feet are down: ``range_feet_m`` (its slant
    range projected on the estimated vertical, less the legs) at or below ``range_cutoff_m``,
    and, if ``range_cutoff_checked``, no more than 3σ of its noise below the ground and within
    3σ of the filter's ``nav_feet_m``."""
    if not range_feet_m <= params.range_cutoff_m:
        return False
    if not params.range_cutoff_checked:
        return True
    if range_feet_m < -3.0 * range_sigma_m:
        return False
    return abs(range_feet_m - nav_feet_m) <= 3.0 * np.sqrt(range_sigma_m ** 2 + nav_sigma_m ** 2)
