"""Scenario files: the shipped ones load; bad input names the file and the key, and the command
line refuses it with status 2 and writes nothing."""
import re

import numpy as np
import pytest

from sims.cli import main
from sims.run import build_run, run
from sims.scenario import list_scenarios, load_scenario

GOOD = """
name = "t"
[target]
lat_deg = 47.5
lon_deg = 44.4
"""


def test_shipped_scenarios_load_and_describe_themselves():
    shipped = list_scenarios()
    assert {"nominal", "atlas-nominal", "mpl-touchdown-transient", "im1-rangefinder-disabled",
            "resilience-m2", "schiaparelli-imu-saturation"} <= set(shipped)
    assert all(shipped.values())
    sc = load_scenario("atlas-nominal")
    assert sc.fsw == "fixed" and sc.terrain["truth"] == "atlas" and "velocimeter" in sc.sensors


@pytest.mark.parametrize("text, message", [
    (GOOD + "[initial]\naltitde_m = 3.0\n", r"initial.altitde_m: unknown key; allowed: altitude_m"),
    (GOOD + "[initial]\naltitude_m = \"high\"\n", r"initial.altitude_m = 'high': must be a number"),
    (GOOD + "[initial]\nground_speed_m_s = -5.0\n", r"initial.ground_speed_m_s = -5.0: must be > 0"),
    (GOOD + "[terrain]\ntruth = \"nowhere.npz\"\n", r"terrain.truth = 'nowhere.npz': DEM file not found"),
    (GOOD + "[terrain]\ntruth = \"moon\"\n", r"terrain.truth = 'moon': must be one of atlas"),
    (GOOD + "[[faults]]\nsensor = \"velocimeter_range\"\nkind = \"dropout\"\nstart_s = 1.0\nend_s = 2.0\n",
     r"faults\[0\].sensor = 'velocimeter_range': the vehicle has no such sensor"),
    ("fsw = \"better\"\n" + GOOD, r"fsw = 'better': unknown flight software; known: fixed"),
    (GOOD + "[sensors.rangefinder]\nrate_hz = 0.0\n", r": sensors.rangefinder.rate_hz = 0.0: must be > 0"),
    (GOOD + "[sensors.imu]\naccel_bias_ug = -1.0\n", r": sensors.imu.accel_bias_ug = -1.0: must be >= 0"),
    (GOOD + "[sensors.legs]\ncontact_m = -1.0\n", r": sensors.legs.contact_m = -1.0: must be >= 0"),
    (GOOD + "[sensors.legs]\ndeploy_time_s = \"x\"\n",
     r": sensors.legs.deploy_time_s = 'x': must be a time in s"),
    (GOOD + "[sensors.rangefinder]\npos_b_m = [\"a\", 0.0, 0.0]\n",
     r": sensors.rangefinder.pos_b_m = \['a', 0.0, 0.0\]: must be 3 numbers"),
    (GOOD + "[sensors.rangefinder]\nbeams_b = 5\n", r": sensors.rangefinder.beams_b = 5: must be a list"),
    (GOOD + "[vehicle]\nthrusters = 5\n", r": vehicle.thrusters = 5: must be a list"),
    (GOOD + "[vehicle]\nmain_dir_b = \"up\"\n",
     r": vehicle.main_dir_b = 'up': must be numbers, shape \(3,\)"),
    (GOOD + "[rates]\nguidance_hz = 7.0\n", r"rates.guidance_hz = 7.0: must divide base_hz"),
    ("[target]\nlat_deg = 47.5\n", r"target.lon_deg: missing"),
    (GOOD + "[navigation]\naltitude_error_m = \"high\"\n",
     r"navigation.altitude_error_m = 'high': must be a number"),
    (GOOD + "[navigation]\ninitial_error = \"none\"\n",
     r"navigation.initial_error = 'none': must be one of 'drawn', 'altitude_only'"),
    (GOOD + "[navigation]\ninitial_error = \"altitude_only\"\n",
     r"navigation.initial_error = 'altitude_only' needs navigation.altitude_error_m as a number"),
])
def test_bad_scenarios_fail_in_one_line_naming_file_and_key(tmp_path, capsys, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err
    assert re.search(message, err), err
    assert not out.exists()


def test_unknown_scenario_name_lists_the_shipped_ones(capsys):
    assert main(["run", "atlantis"]) == 2
    assert "shipped: atlas-nominal" in capsys.readouterr().err


def test_list_shows_scenarios_and_flight_software(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "atlas-nominal" in out and "legacy_m1" in out and "fixed" in out


def test_run_prints_a_summary_and_writes_the_four_files(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "nominal", "--seed", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "nominal / fixed / seed 2: LANDED" in text
    assert sorted(p.name for p in out.iterdir()) == ["dashboard.png", "events.csv", "summary.json",
                                                     "telemetry.parquet"]
    assert np.isfinite(float(text.split("contact at t = ")[1].split(" s")[0]))


def test_a_replayed_flight_starts_with_its_altitude_error_alone(tmp_path):
    """``initial_error = "altitude_only"``: the estimate starts straight above the truth by
    ``altitude_error_m`` with the true attitude (the drawn errors would put it ~170 m and
    ~0.05 deg off); the filter still believes the scenario's sigmas."""
    path = tmp_path / "replayed.toml"
    path.write_text(GOOD + "[navigation]\ninitial_error = \"altitude_only\"\n"
                    "altitude_error_m = 250.0\n[stop]\nmax_time_s = 2.0\n")
    tel = run(str(path), seed=4).telemetry
    assert tel["nav_altitude_m"][0] - tel["true_altitude_m"][0] == pytest.approx(250.0, abs=0.5)
    assert tel["nav_position_error_m"][0] == pytest.approx(250.0, abs=0.5)
    assert tel["nav_attitude_error_deg"][0] < 1e-3
    assert tel["nav_altitude_sigma_m"][0] == pytest.approx(100.0, rel=0.05)


@pytest.mark.parametrize("seed, index", [(-1, None), (1.5, None), (True, None), ("3", None),
                                         (0, -2)])
def test_a_seed_that_is_not_a_whole_number_is_refused_before_the_run(seed, index):
    """numpy's SeedSequence would refuse -1 without naming it, and ``int()`` would fly 1.5 as
    seed 1."""
    name = "seed" if index is None else "campaign_index"
    with pytest.raises(ValueError, match=f"^{name} = .*: must be an integer >= 0$"):
        build_run("nominal", seed=seed, campaign_index=index)
