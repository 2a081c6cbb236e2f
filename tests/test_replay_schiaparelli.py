"""Schiaparelli replay (lunar analogue): a gyro channel at full scale for about 1 s; the attitude
integrated from it turns the slant range into a negative altitude and the legacy software cuts
the engine kilometres up (landing-failures.md §3). The fixed software detects the saturation,
re-aligns on the star tracker and checks that altitude."""
import pytest

from replay_runs import figures_outside_band, fly_replay, not_cut_off_for, not_landed

NAME = "schiaparelli-imu-saturation"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    return fly_replay(NAME)


def test_legacy_cuts_the_engine_on_a_negative_altitude_and_crashes(runs):
    assert not_cut_off_for(runs[0], "rangefinder_altitude") == []


def test_legacy_figures_fall_in_their_published_bands(runs):
    assert figures_outside_band(NAME, runs[0]) == []


def test_fixed_detects_the_saturation_realigns_and_lands(runs):
    _, fixed = runs
    assert not_landed(fixed) == []
    for r in fixed:
        assert "gyro_saturation" in set(r.mode_events["reason"])
        assert r.telemetry["nav_attitude_error_deg"].max() < 10.0
