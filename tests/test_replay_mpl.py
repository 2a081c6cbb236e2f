"""Mars Polar Lander replay (lunar analogue): the leg-deployment transient latched before the
touchdown monitor is enabled cuts the engine at about 40 m (landing-failures.md §4)."""
import pytest

from replay_runs import (cutoff_reason, figures_outside_band, fly_replay, not_cut_off_for,
                         not_landed)

NAME = "mpl-touchdown-transient"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    return fly_replay(NAME)


def test_legacy_cuts_the_engine_on_the_latched_transient_and_crashes(runs):
    assert not_cut_off_for(runs[0], "latched_indication") == []


def test_legacy_figures_fall_in_their_published_bands(runs):
    assert figures_outside_band(NAME, runs[0]) == []


def test_fixed_ignores_the_transient_and_lands_on_the_leg_indication(runs):
    _, fixed = runs
    assert not_landed(fixed, max_vertical_m_s=1.5) == []
    assert all(cutoff_reason(r) == "touchdown_indication" for r in fixed)
