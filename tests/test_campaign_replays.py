"""Campaigns of the HAKUTO-R Mission 1 replay (issue 7): over dispersed runs (initial state, mass,
engine, misalignment, IMU and rangefinder errors, map datum) the legacy software fails as it
flew, and the corrected software lands every run. Oracle: the Clopper-Pearson interval."""
import pytest

from sims.campaign import run_campaign

pytestmark = pytest.mark.slow


def test_legacy_m1_fails_in_at_least_95_percent_of_200_dispersed_runs(tmp_path):
    c = run_campaign("hakuto-r-m1", 200, tmp_path / "legacy", fsw="legacy_m1", progress=False,
                     plots=False)
    success = c.summary["success"]
    assert success["n"] == 200 and success["k"] <= 10
    assert c.summary["crash_reasons"].get("propellant_exhausted", 0) >= 190


def test_fixed_lands_1000_of_1000_dispersed_m1_runs_lower_bound_above_99_6_percent(tmp_path):
    c = run_campaign("hakuto-r-m1", 1000, tmp_path / "fixed", fsw="fixed", progress=False,
                     plots=False)
    success = c.summary["success"]
    assert success["k"] == success["n"] == 1000
    assert success["ci95"][0] >= 0.996
