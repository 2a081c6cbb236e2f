"""Mode logic: the descent's phases, touchdown detection, and what the software does when its
sensors contradict each other. Part of each flight-software variant.

Phases: ``braking`` → ``approach`` (at the planned gate time) → ``terminal`` (at the terminal gate
time) → ``shutdown`` (engine cut-off once touchdown is detected). Touchdown is the indication of
any leg switch, taken

- only while the touchdown monitor is enabled, that is below ``monitor_altitude_m`` of estimated
  altitude (Mars Polar Lander enabled it at 40 m);
- if ``latch_before_monitor``, also from an indication seen (and latched) while the monitor was
  still disabled: the Mars Polar Lander flaw;
- only when the estimated height of the feet is plausible, below ``plausible_height_m`` plus
  three sigma of the altitude estimate (the fixed variant; ``inf`` accepts any altitude).

Contradiction: in the terminal phase with the feet estimated on the ground (or below it) for
``contradiction_s`` and no leg indication, the estimate and the world disagree; the fixed software
then clears every sensor's plausibility memory, so a rangefinder judged faulty is heard again.
HAKUTO-R Mission 1's software had no such rule (``contradiction_s = inf``) and waited for
touchdown until its propellant ran out.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.validation import check_keys, check_number

MODES = ("braking", "approach", "terminal", "shutdown")
BRAKING, APPROACH, TERMINAL, SHUTDOWN = range(len(MODES))
REASONS = ("gate_time", "terminal_gate", "touchdown_indication", "contradiction",
           "latched_indication")
GATE_TIME, TERMINAL_GATE, TOUCHDOWN_INDICATION, CONTRADICTION, LATCHED_INDICATION = range(len(REASONS))
MODE_EVENT_COLUMNS = ("t_s", "mode_from", "mode_to", "reason", "altitude_m", "altitude_sigma_m")


class ModeParams(NamedTuple):
    """Touchdown detection and contradiction handling; build with :func:`make_modes`."""
    monitor_altitude_m: float
    latch_before_monitor: bool
    plausible_height_m: float
    contradiction_s: float


MODE_DEFAULTS = dict(monitor_altitude_m=np.inf, latch_before_monitor=False,
                     plausible_height_m=5.0, contradiction_s=15.0)
"""The fixed software's mode logic."""


def make_modes(**overrides):
    """Validated :class:`ModeParams`."""
    check_keys("modes", overrides, MODE_DEFAULTS)
    p = {**MODE_DEFAULTS, **overrides}
    latch = p["latch_before_monitor"]
    if not isinstance(latch, (bool, np.bool_)):
        raise ValueError(f"modes.latch_before_monitor = {latch!r}: must be true or false")
    return ModeParams(
        check_number("modes", "monitor_altitude_m", p["monitor_altitude_m"], 0.0, allow_inf=True),
        bool(latch),
        check_number("modes", "plausible_height_m", p["plausible_height_m"], 0.0, allow_inf=True),
        check_number("modes", "contradiction_s", p["contradiction_s"], 0.0, low_open=True,
                     allow_inf=True))


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
