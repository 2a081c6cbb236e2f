"""Mode logic: touchdown detection as each variant does it (the Mars Polar Lander latch and its fix)."""
import numpy as np
import pytest

from gnc.flight_software import VARIANTS
from gnc.modes import (LATCHED_INDICATION, TOUCHDOWN_INDICATION, make_modes, range_cutoff,
                       touchdown_decision)

LEGS_OPEN, LEG_CLOSED = np.zeros(4), np.array([0.0, 1.0, 0.0, 0.0])


def test_fixed_logic_needs_an_indication_at_a_plausible_height():
    fixed = make_modes()
    assert touchdown_decision(fixed, LEG_CLOSED, False, 2.0, 0.5) == (True, False, TOUCHDOWN_INDICATION)
    assert touchdown_decision(fixed, LEG_CLOSED, False, 40.0, 1.0)[0] is False   # 40 m > 5 + 3σ
    assert touchdown_decision(fixed, LEGS_OPEN, False, 0.0, 0.5)[0] is False
    # a transient seen high up is never latched
    assert touchdown_decision(fixed, LEG_CLOSED, False, 1500.0, 5.0) == (False, False, -1)


def test_mars_polar_lander_logic_latches_a_transient_and_cuts_off_when_monitoring_starts():
    mpl = make_modes(monitor_altitude_m=40.0, latch_before_monitor=True, plausible_height_m=np.inf)
    down, latched, _ = touchdown_decision(mpl, LEG_CLOSED, False, 1500.0, 5.0)   # leg deployment
    assert not down and latched
    down, latched, _ = touchdown_decision(mpl, LEGS_OPEN, latched, 100.0, 1.0)
    assert not down and latched
    assert touchdown_decision(mpl, LEGS_OPEN, latched, 39.0, 1.0) == (True, True, LATCHED_INDICATION)


def test_schiaparelli_logic_takes_a_negative_rangefinder_altitude_for_the_ground():
    legacy = make_modes(**VARIANTS["legacy_schiaparelli"].modes)
    assert range_cutoff(legacy, -55.0, 0.5, 2400.0, 1.0)
    assert range_cutoff(legacy, 0.8, 0.2, 0.9, 0.1)
    assert not range_cutoff(legacy, 2.0, 0.2, 2.0, 0.1)


def test_fixed_logic_wants_a_possible_altitude_that_agrees_with_the_filter():
    fixed = make_modes()
    assert not range_cutoff(fixed, -55.0, 0.5, 2400.0, 1.0)     # below the ground: impossible
    assert not range_cutoff(fixed, -55.0, 0.5, -55.0, 1.0)
    assert not range_cutoff(fixed, 0.5, 0.2, 30.0, 1.0)         # 3σ apart from the filter
    assert range_cutoff(fixed, 0.5, 0.2, 0.9, 0.2)
    assert range_cutoff(fixed, -0.3, 0.2, 0.0, 0.2)             # noise around the ground


def test_legacy_variants_have_none_of_the_fixed_defences():
    for name, variant in VARIANTS.items():
        if name.startswith("legacy"):
            m = make_modes(**variant.modes)
            assert m.fix_expected_m == 0.0 and not m.realign_after_saturation
            assert m.contradiction_s == np.inf and m.plausible_height_m == np.inf


@pytest.mark.parametrize("overrides, message", [
    (dict(range_cutoff_m=np.nan), r"modes.range_cutoff_m = nan: must be a finite number"),
    (dict(realign_after_saturation=1), r"modes.realign_after_saturation = 1: must be true or false"),
    (dict(fix_timeout_s=-1.0), r"modes.fix_timeout_s = -1.0: must be >= 0"),
    (dict(contradiction_s=0.0), r"modes.contradiction_s = 0.0: must be > 0"),
    (dict(latch_before_monitor="yes"), r"must be true or false"),
    (dict(monitor_altitude=3.0), r"unknown key\(s\) monitor_altitude"),
])
def test_bad_mode_parameters_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        make_modes(**overrides)
