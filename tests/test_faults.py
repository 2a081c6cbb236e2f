"""Fault injection: every kind does exactly what its definition says, only inside its window."""
import numpy as np
import pytest

from sims.faults import (KINDS, SENSORS, apply_faults, fault_schedule, fault_state,
                         load_fault_schedule)

CHANNELS = {"rangefinder": 3, "gyro": 3, "touchdown": 4}
RANGEFINDER = SENSORS.index("rangefinder")
DT = 0.1
TIMES = np.round(np.arange(0.0, 10.0, DT), 10)
START, END = 3.0, 6.0


def _clean(t):
    values = np.array([1000.0 - 50.0 * t, 2000.0 - 50.0 * t, 3000.0 - 50.0 * t])
    return values, np.ones(3, dtype=np.bool_), values.copy()


def _run(entries, rate_scale=1.0, seed=0):
    schedule = fault_schedule(entries, CHANNELS)
    state = fault_state(schedule)
    rng = np.random.Generator(np.random.PCG64(seed))
    out_values, out_valid = [], []
    for t in TIMES:
        values, valid, truth = _clean(t)
        apply_faults(schedule, state, RANGEFINDER, t, values, valid, truth, rate_scale, rng)
        out_values.append(values)
        out_valid.append(valid)
    return np.array(out_values), np.array(out_valid)


def _fault(kind, magnitude=0.0, channel=1, **extra):
    return {"sensor": "rangefinder", "channel": channel, "kind": kind, "start_s": START,
            "end_s": END, "magnitude": magnitude, **extra}


CLEAN_VALUES = np.array([_clean(t)[0] for t in TIMES])
INSIDE = (TIMES >= START) & (TIMES < END)


def _expected(kind, magnitude, v, t):
    return {"bias_step": v + magnitude, "drift": v + magnitude * (t - START), "stuck_value": magnitude,
            "scale_factor": v * (1 + magnitude), "saturation": min(max(v, -magnitude), magnitude),
            "transient": magnitude}[kind]


@pytest.mark.parametrize("kind, magnitude", [("bias_step", 3000.0), ("drift", -20.0),
                                             ("stuck_value", 42.0), ("scale_factor", 0.5),
                                             ("saturation", 1500.0), ("transient", 1.0)])
def test_value_faults_follow_their_definition_inside_the_window_only(kind, magnitude):
    values, valid = _run([_fault(kind, magnitude)])
    for k, t in enumerate(TIMES):
        expected = _expected(kind, magnitude, CLEAN_VALUES[k, 1], t) if INSIDE[k] else CLEAN_VALUES[k, 1]
        assert values[k, 1] == expected
    np.testing.assert_array_equal(values[:, [0, 2]], CLEAN_VALUES[:, [0, 2]])   # other channels
    assert valid.all()


def test_stuck_last_holds_the_last_sample_before_the_window():
    values, valid = _run([_fault("stuck_last")])
    last_before = CLEAN_VALUES[TIMES < START][-1, 1]
    assert np.all(values[INSIDE, 1] == last_before)
    np.testing.assert_array_equal(values[~INSIDE, 1], CLEAN_VALUES[~INSIDE, 1])


def test_dropout_invalidates_only_inside_the_window():
    values, valid = _run([_fault("dropout", channel=-1)])
    assert not valid[INSIDE].any() and valid[~INSIDE].all()
    np.testing.assert_array_equal(values, CLEAN_VALUES)


def test_spike_train_hits_one_sample_per_period():
    values, _ = _run([_fault("spike_train", 500.0, period_s=1.0)])
    spiked = np.flatnonzero(values[:, 1] != CLEAN_VALUES[:, 1])
    np.testing.assert_allclose(TIMES[spiked], [3.0, 4.0, 5.0])
    np.testing.assert_allclose(values[spiked, 1] - CLEAN_VALUES[spiked, 1], 500.0)


def test_noise_increase_adds_the_given_sigma_and_uses_its_own_generator():
    values, _ = _run([_fault("noise_increase", 20.0)], seed=5)
    added = values[INSIDE, 1] - CLEAN_VALUES[INSIDE, 1]
    expected = 20.0 * np.random.Generator(np.random.PCG64(5)).standard_normal(INSIDE.sum())
    np.testing.assert_allclose(added, expected, rtol=0, atol=1e-9)   # (v + n) - v rounds at 1e-13
    np.testing.assert_array_equal(values[~INSIDE, 1], CLEAN_VALUES[~INSIDE, 1])


def test_delay_replays_the_sample_from_magnitude_seconds_earlier():
    values, valid = _run([_fault("delay", 0.5)])
    for k in np.flatnonzero(INSIDE):
        assert values[k, 1] == CLEAN_VALUES[k - 5, 1]
    np.testing.assert_array_equal(values[~INSIDE, 1], CLEAN_VALUES[~INSIDE, 1])
    assert valid.all()


def test_late_acquisition_is_invalid_until_the_true_range_drops_below_the_threshold():
    entry = _fault("late_acquisition", 893.0, channel=0)
    entry.update(start_s=0.0, end_s=np.inf)
    _, valid = _run([entry])
    truth = CLEAN_VALUES[:, 0]
    np.testing.assert_array_equal(valid[:, 0], truth < 893.0)
    assert valid[:, 1:].all()


def test_imu_rate_magnitudes_scale_by_the_sample_interval():
    values, _ = _run([_fault("bias_step", 2.0)], rate_scale=0.01)
    np.testing.assert_allclose(values[INSIDE, 1] - CLEAN_VALUES[INSIDE, 1], 0.02, rtol=1e-12)


def test_faults_on_another_sensor_leave_this_one_alone():
    values, valid = _run([{"sensor": "gyro", "kind": "stuck_value", "start_s": 0.0, "end_s": 99.0,
                           "magnitude": 1.0}])
    np.testing.assert_array_equal(values, CLEAN_VALUES)
    assert valid.all()


def test_an_empty_schedule_is_bit_identical_to_no_fault_machinery():
    values, valid = _run([])
    np.testing.assert_array_equal(values, CLEAN_VALUES)
    assert valid.all()


def test_every_kind_is_covered_by_a_test():
    tested = {"bias_step", "drift", "stuck_value", "scale_factor", "saturation", "transient",
              "stuck_last", "dropout", "spike_train", "noise_increase", "delay", "late_acquisition"}
    assert tested == set(KINDS)


@pytest.mark.parametrize("entry, message", [
    ({"sensor": "lidar", "kind": "dropout", "start_s": 0, "end_s": 1}, r"faults\[0\].sensor = 'lidar': unknown"),
    ({"sensor": "star_tracker", "kind": "dropout", "start_s": 0, "end_s": 1}, r"faults\[0\].sensor = 'star_tracker': the vehicle has no such sensor"),
    ({"sensor": "gyro", "kind": "explode", "start_s": 0, "end_s": 1}, r"faults\[0\].kind = 'explode': unknown; known: bias_step"),
    ({"sensor": "gyro", "channel": 3, "kind": "dropout", "start_s": 0, "end_s": 1}, r"faults\[0\].channel = 3: must be an integer in \[0, 2\]"),
    ({"sensor": "gyro", "kind": "dropout", "start_s": 5, "end_s": 1}, r"faults\[0\].end_s = 1.0: must be >= start_s = 5.0"),
    ({"sensor": "gyro", "kind": "spike_train", "start_s": 0, "end_s": 1}, r"period_s = 0.0: a spike train needs a period > 0"),
    ({"sensor": "gyro", "kind": "dropout", "start_s": 0, "end_s": 1, "when": 3}, r"unknown key\(s\) when"),
    ({"sensor": "gyro", "kind": "dropout", "end_s": 1}, r"faults\[0\].start_s: missing"),
])
def test_bad_schedule_entries_are_named(entry, message):
    with pytest.raises(ValueError, match=message):
        fault_schedule([entry], CHANNELS)


def test_schedules_load_from_toml(tmp_path):
    path = tmp_path / "faults.toml"
    path.write_text('[[fault]]\nsensor = "rangefinder"\nkind = "late_acquisition"\nstart_s = 0.0\n'
                    'end_s = inf\nmagnitude = 893.0\n')
    table = load_fault_schedule(path, CHANNELS)
    assert table.shape == (1, 7) and table[0, 5] == 893.0
    path.write_text('[[fault]]\nsensor = "rangefinder"\nkind = "sideways"\nstart_s = 0\nend_s = 1\n')
    with pytest.raises(ValueError, match=rf"fault file {path}: faults\[0\].kind = 'sideways'"):
        load_fault_schedule(path, CHANNELS)
