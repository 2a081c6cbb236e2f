"""Dispersions: each distribution's draws against scipy's (Kolmogorov-Smirnov, chi-square), the
per-run, per-parameter streams, and bad input (one line naming the file and key)."""
import copy
import tomllib

import numpy as np
import pytest
from scipy import stats

from sims.scenario import SCENARIO_DIR, parse_scenario

N_DRAWS = 2000
P_MIN = 1e-3
"""A correct sampler fails a test at this level once in a thousand seeds; the seeds are fixed."""


@pytest.fixture(scope="module")
def base():
    with open(SCENARIO_DIR / "nominal.toml", "rb") as f:
        return tomllib.load(f)


def _scenario(base, dispersions):
    data = copy.deepcopy(base)
    data["dispersions"] = dispersions
    return parse_scenario(data, "test.toml")


def _draws(scenario, path, n=N_DRAWS, seed=11):
    d = next(d for d in scenario.dispersions if d.path == path)
    return np.array([d.draw(seed, k) for k in range(n)])


def test_continuous_distributions_match_scipy(base):
    sc = _scenario(base, {
        "initial.altitude_m": {"dist": "normal", "mean": 15000.0, "sigma": 150.0},
        "vehicle.main_isp_s": {"dist": "truncnormal", "mean": 320.0, "sigma": 4.0, "low": 315.0,
                               "high": 330.0},
        "terrain.truth_offset_m": {"dist": "uniform", "low": -50.0, "high": 30.0},
        "sensors.imu.accel_bias_ug": {"dist": "loguniform", "low": 100.0, "high": 1000.0}})
    oracles = {
        "initial.altitude_m": stats.norm(15000.0, 150.0),
        "vehicle.main_isp_s": stats.truncnorm(-5 / 4, 10 / 4, loc=320.0, scale=4.0),
        "terrain.truth_offset_m": stats.uniform(-50.0, 80.0),
        "sensors.imu.accel_bias_ug": stats.loguniform(100.0, 1000.0)}
    for path, oracle in oracles.items():
        draws = _draws(sc, path)
        assert stats.kstest(draws, oracle.cdf).pvalue > P_MIN, path
        assert oracle.support()[0] <= draws.min() and draws.max() <= oracle.support()[1]


def test_choice_frequencies_follow_the_weights(base):
    sc = _scenario(base, {"target.lat_deg": {"dist": "choice", "values": [60.4, 60.5, 60.6],
                                             "weights": [1.0, 2.0, 1.0]}})
    draws = _draws(sc, "target.lat_deg")
    observed = [np.sum(draws == v) for v in (60.4, 60.5, 60.6)]
    assert stats.chisquare(observed, N_DRAWS * np.array([0.25, 0.5, 0.25])).pvalue > P_MIN


def test_a_run_draws_the_same_alone_and_adding_a_dispersion_leaves_the_others(base):
    one = _scenario(base, {"initial.altitude_m": {"dist": "normal", "mean": 15000.0, "sigma": 150.0}})
    two = _scenario(base, {"initial.altitude_m": {"dist": "normal", "mean": 15000.0, "sigma": 150.0},
                           "initial.heading_deg": {"dist": "uniform", "low": 260.0, "high": 280.0}})
    values, drawn = two.draw(5, 17)
    assert values["initial.altitude_m"] == one.draw(5, 17)[0]["initial.altitude_m"]
    assert drawn.initial["altitude_m"] == values["initial.altitude_m"]
    assert drawn.initial["heading_deg"] == values["initial.heading_deg"]
    assert two.draw(5, 16)[0] != values and two.draw(6, 17)[0] != values


def test_vector_components_and_sensor_parameters_are_set(base):
    sc = _scenario(base, {"vehicle.main_dir_b.0": {"dist": "normal", "mean": 0.0, "sigma": 0.005},
                          "sensors.rangefinder.noise_floor_m": {"dist": "uniform", "low": 0.5,
                                                                "high": 2.0}})
    values, drawn = sc.draw(0, 3)
    assert drawn.vehicle["main_dir_b"] == [values["vehicle.main_dir_b.0"], 0.0, 1.0]
    assert drawn.sensors["rangefinder"]["noise_floor_m"] == values["sensors.rangefinder.noise_floor_m"]


@pytest.mark.parametrize("dispersions, message", [
    ({"initial.altitud_m": {"dist": "normal", "mean": 1.0, "sigma": 1.0}},
     "dispersions.initial.altitud_m: no such parameter; initial has altitude_m"),
    ({"vehicle.mass_wet": {"dist": "normal", "mean": 1.0, "sigma": 1.0}},
     "dispersions.vehicle.mass_wet: no such parameter"),
    ({"faults.0.start_s": {"dist": "uniform", "low": 1.0, "high": 2.0}},
     "dispersions.faults.0.start_s: no such parameter; faults.K.KEY with K < 0"),
    ({"vehicle.thrusters": {"dist": "uniform", "low": 1.0, "high": 2.0}},
     "dispersions.vehicle.thrusters: thrusters is not a number"),
    ({"initial.altitude_m": {"dist": "gauss", "mean": 1.0, "sigma": 1.0}},
     "dispersions.initial.altitude_m.dist = 'gauss': unknown; allowed: normal, truncnormal"),
    ({"initial.altitude_m": {"dist": "normal", "mean": 15000.0, "sigma": -1.0}},
     "dispersions.initial.altitude_m.sigma = -1.0: must be > 0"),
    ({"initial.altitude_m": {"dist": "uniform", "low": 3.0, "high": 2.0}},
     "dispersions.initial.altitude_m: low = 3.0 must be < high = 2.0"),
    ({"initial.altitude_m": {"dist": "loguniform", "low": 0.0, "high": 2.0}},
     "dispersions.initial.altitude_m.low = 0.0: a log-uniform needs low > 0"),
    ({"initial.altitude_m": {"dist": "normal", "mean": 15000.0}},
     "dispersions.initial.altitude_m.sigma: missing (normal takes mean, sigma)"),
    ({"initial.altitude_m": {"dist": "normal", "mean": 15000.0, "sigma": 1.0, "unit": "km"}},
     "dispersions.initial.altitude_m.unit = 'km': the parameter is in 'm'"),
    ({"initial.altitude_m": {"dist": "normal", "mean": 1000.0, "sigma": 300.0}},
     "dispersions.initial.altitude_m: the normal distribution reaches -500 m, where "
     "initial.altitude_m = -500.0: must be > 0.0"),
    ({"vehicle.main_isp_s": {"dist": "uniform", "low": -10.0, "high": 300.0}},
     "dispersions.vehicle.main_isp_s: the uniform distribution reaches -10 s"),
    ({"target.lat_deg": {"dist": "choice", "values": []}},
     "dispersions.target.lat_deg.values = []: must be a non-empty array of numbers"),
])
def test_bad_dispersions_name_the_file_and_key(base, dispersions, message):
    with pytest.raises(ValueError) as info:
        _scenario(base, dispersions)
    text = str(info.value)
    assert text.startswith("test.toml: ") and message in text and "\n" not in text
