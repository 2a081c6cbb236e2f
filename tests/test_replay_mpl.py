"""Mars Polar Lander replay (lunar analogue): the leg-deployment transient latched before the
touchdown monitor is enabled cuts the engine at about 40 m (landing-failures.md §4)."""
import pytest

from replay_runs import cutoff_reason, figures_outside_band, fly_replay, not_landed

NAME = "mpl-touchdown-transient"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    return fly_replay(NAME)


def test_legacy_cuts_the_engine_on_the_latched_transient_and_crashes(runs):
    legacy, _ = runs
    for r in legacy:
        assert r.summary["outcome"] == "crashed", r.summary["seed"]
        assert r.summary["crash_reason"] == "engine_cutoff_in_flight"
        assert cutoff_reason(r) == "latched_indication"


def test_legacy_figures_fall_in_their_published_bands(runs):
    assert figures_outside_band(NAME, runs[0]) == []


def test_fixed_ignores_the_transient_and_lands_on_the_leg_indication(runs):
    _, fixed = runs
    assert not_landed(fixed, max_vertical_m_s=1.5) == []
    assert all(cutoff_reason(r) == "touchdown_indication" for r in fixed)
