"""Fault injection between the sensor models and the flight software, compiled.

A schedule is a list of entries ``{sensor, channel, kind, start_s, end_s, magnitude, period_s}``
(``channel`` is an axis, beam, leg or quaternion component; omitted or -1 means every channel).
:func:`fault_schedule` validates it into a float table; :func:`apply_faults` modifies one sensor
sample in place. Each kind, active for ``start_s <= t < end_s``:

================  ===========================================================================
bias_step         value += magnitude
drift             value += magnitude · (t − start_s)
stuck_value       value = magnitude
stuck_last        value = the last sample before start_s
dropout           no valid sample
spike_train       value += magnitude on the first sample at or after start_s + k·period_s
noise_increase    value += magnitude · N(0, 1) (from the fault generator, not the sensor's)
scale_factor      value *= 1 + magnitude
saturation        value clamped to ±magnitude
delay             the sample (and validity) produced magnitude seconds earlier; invalid if none
late_acquisition  invalid until the true value (range) drops below magnitude (ispace Mission 2)
transient         value = magnitude and valid: a spurious discrete indication (Mars Polar Lander)
================  ===========================================================================

IMU channels are increments (Δθ, Δv); the magnitudes of bias_step, drift, stuck_value and
saturation are given in rate units (rad/s, m/s²) and scaled by the sample interval.

A new kind is one compiled function ``(value, magnitude, elapsed_s, rng) -> value`` added to
:func:`_value_fault` and its name to :data:`KINDS`.
"""
import tomllib
from pathlib import Path

import numpy as np
from numba import njit

SENSORS = ("gyro", "accel", "rangefinder", "velocimeter_range", "velocimeter_velocity",
           "star_tracker", "touchdown")
KINDS = ("bias_step", "drift", "stuck_value", "stuck_last", "dropout", "spike_train",
         "noise_increase", "scale_factor", "saturation", "delay", "late_acquisition", "transient")
(BIAS_STEP, DRIFT, STUCK_VALUE, STUCK_LAST, DROPOUT, SPIKE_TRAIN, NOISE_INCREASE, SCALE_FACTOR,
 SATURATION, DELAY, LATE_ACQUISITION, TRANSIENT) = range(len(KINDS))
F_SENSOR, F_CHANNEL, F_KIND, F_START, F_END, F_MAGNITUDE, F_PERIOD, FAULT_COLUMNS = range(8)
MAX_CHANNELS = 8
DELAY_CAPACITY = 512
"""Samples a delay fault remembers: a delay may span at most this many samples of its sensor."""

_ENTRY_KEYS = ("sensor", "channel", "kind", "start_s", "end_s", "magnitude", "period_s")


def fault_schedule(entries, channels):
    """Validate fault entries into a ``(n, FAULT_COLUMNS)`` table.

    Parameters
    ----------
    entries : sequence of mapping
        Plain data (from Python or TOML), keys as in the module docstring.
    channels : mapping
        Sensor name → number of channels the vehicle provides; a fault on any other sensor
        is rejected.
    """
    table = np.zeros((len(entries), FAULT_COLUMNS))
    for k, entry in enumerate(entries):
        where = f"faults[{k}]"
        if not hasattr(entry, "keys"):
            raise ValueError(f"{where}: must be a table of keys {', '.join(_ENTRY_KEYS)}")
        unknown = sorted(set(entry) - set(_ENTRY_KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_ENTRY_KEYS)}")
        for key in ("sensor", "kind", "start_s", "end_s"):
            if key not in entry:
                raise ValueError(f"{where}.{key}: missing")
        sensor, kind = entry["sensor"], entry["kind"]
        if sensor not in SENSORS:
            raise ValueError(f"{where}.sensor = {sensor!r}: unknown; known: {', '.join(SENSORS)}")
        if sensor not in channels:
            raise ValueError(f"{where}.sensor = {sensor!r}: the vehicle has no such sensor; it has "
                             f"{', '.join(channels) or 'none'}")
        if channels[sensor] > MAX_CHANNELS:
            raise ValueError(f"{where}.sensor = {sensor!r}: {channels[sensor]} channels; fault "
                             f"injection handles at most {MAX_CHANNELS}")
        if kind not in KINDS:
            raise ValueError(f"{where}.kind = {kind!r}: unknown; known: {', '.join(KINDS)}")
        channel = entry.get("channel", -1)
        if not isinstance(channel, (int, np.integer)) or not -1 <= channel < channels[sensor]:
            raise ValueError(f"{where}.channel = {channel!r}: must be an integer in "
                             f"[0, {channels[sensor] - 1}] or -1 (all)")
        start, end = _finite(where, "start_s", entry["start_s"]), _finite(where, "end_s", entry["end_s"], True)
        if end < start:
            raise ValueError(f"{where}.end_s = {end}: must be >= start_s = {start}")
        magnitude = _finite(where, "magnitude", entry.get("magnitude", 0.0))
        period = _finite(where, "period_s", entry.get("period_s", 0.0))
        if kind == "spike_train" and period <= 0:
            raise ValueError(f"{where}.period_s = {period}: a spike train needs a period > 0")
        if kind in ("delay", "saturation", "late_acquisition", "noise_increase") and magnitude < 0:
            raise ValueError(f"{where}.magnitude = {magnitude}: must be >= 0 for {kind}")
        table[k] = (SENSORS.index(sensor), channel, KINDS.index(kind), start, end, magnitude, period)
    return table


def _finite(where, key, value, allow_inf=False):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}.{key} = {value!r}: must be a number") from None
    if np.isnan(value) or (np.isinf(value) and not allow_inf):
        raise ValueError(f"{where}.{key} = {value}: must be a finite number")
    return value


def load_fault_schedule(path, channels):
    """Read ``[[fault]]`` tables from a TOML file and validate them (see :func:`fault_schedule`)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"fault file {path}: {exc}") from None
    try:
        return fault_schedule(data.get("fault", []), channels)
    except ValueError as exc:
        raise ValueError(f"fault file {path}: {exc}") from None


def fault_state(schedule):
    """Memory of each fault: held values (stuck_last), spike timer, delay ring buffer."""
    n = schedule.shape[0]
    held = np.full((n, 2 * MAX_CHANNELS), np.nan)
    spike_next_s = schedule[:, F_START].copy()
    ring = np.full((n, DELAY_CAPACITY, 1 + 2 * MAX_CHANNELS), np.nan)
    ring_count = np.zeros(n, dtype=np.int64)
    return held, spike_next_s, ring, ring_count


@njit(cache=True)
def _value_fault(kind, value, magnitude, elapsed_s, rng):
    if kind == BIAS_STEP:
        return value + magnitude
    if kind == DRIFT:
        return value + magnitude * elapsed_s
    if kind == STUCK_VALUE or kind == TRANSIENT:
        return magnitude
    if kind == NOISE_INCREASE:
        return value + magnitude * rng.standard_normal()
    if kind == SCALE_FACTOR:
        return value * (1.0 + magnitude)
    if kind == SATURATION:
        return min(max(value, -magnitude), magnitude)
    return value


@njit(cache=True, inline='always')
def apply_faults(schedule, state, sensor, t_s, values, valid, truth, rate_scale, rng):
    """Apply every fault on ``sensor`` to one sample in place.

    Inlined into its callers to look for a fault on ``sensor`` first: a sensor a run does not
    fault (every sensor, in most runs) skips the call, whose arguments alone cost about 0.13 µs.

    Parameters
    ----------
    schedule : (n, FAULT_COLUMNS) array from :func:`fault_schedule`
    state : tuple from :func:`fault_state`
    sensor : int, index into :data:`SENSORS`
    values, valid, truth : per-channel sample, validity (bool), noise-free value
    rate_scale : float
        Multiplies rate-unit magnitudes (the sample interval for IMU increments, else 1).
    rng : numpy.random.Generator
        The fault generator, separate from the sensors' so a fault does not shift their noise.
    """
    for f in range(schedule.shape[0]):
        if int(schedule[f, F_SENSOR]) == sensor:
            _apply_faults(schedule, state, sensor, t_s, values, valid, truth, rate_scale, rng)
            return


@njit(cache=True)
def _apply_faults(schedule, state, sensor, t_s, values, valid, truth, rate_scale, rng):
    """:func:`apply_faults` on a sensor with a fault in ``schedule``."""
    held, spike_next_s, ring, ring_count = state
    n_ch = values.size
    for f in range(schedule.shape[0]):
        if int(schedule[f, F_SENSOR]) != sensor:
            continue
        kind = int(schedule[f, F_KIND])
        start, end = schedule[f, F_START], schedule[f, F_END]
        magnitude = schedule[f, F_MAGNITUDE]
        lo = int(schedule[f, F_CHANNEL])
        hi = n_ch if lo < 0 else lo + 1
        lo = max(lo, 0)
        active = start <= t_s < end
        if kind == STUCK_LAST:
            if t_s < start:
                for c in range(lo, hi):
                    held[f, c] = values[c]
                    held[f, MAX_CHANNELS + c] = 1.0 if valid[c] else 0.0
            elif active:
                for c in range(lo, hi):
                    values[c] = held[f, c]
                    valid[c] = held[f, MAX_CHANNELS + c] > 0.5
        elif kind == DELAY:
            slot = ring_count[f] % DELAY_CAPACITY
            ring[f, slot, 0] = t_s
            for c in range(n_ch):
                ring[f, slot, 1 + c] = values[c]
                ring[f, slot, 1 + MAX_CHANNELS + c] = 1.0 if valid[c] else 0.0
            ring_count[f] += 1
            if active:
                found = -1
                for back in range(min(ring_count[f], DELAY_CAPACITY)):
                    s = (ring_count[f] - 1 - back) % DELAY_CAPACITY
                    if ring[f, s, 0] <= t_s - magnitude + 1e-9:
                        found = s
                        break
                for c in range(lo, hi):
                    if found >= 0:
                        values[c] = ring[f, found, 1 + c]
                        valid[c] = ring[f, found, 1 + MAX_CHANNELS + c] > 0.5
                    else:
                        valid[c] = False
        elif not active:
            continue
        elif kind == DROPOUT:
            for c in range(lo, hi):
                valid[c] = False
        elif kind == LATE_ACQUISITION:
            for c in range(lo, hi):
                if not truth[c] < magnitude:
                    valid[c] = False
        elif kind == SPIKE_TRAIN:
            if t_s >= spike_next_s[f]:
                for c in range(lo, hi):
                    values[c] += magnitude * rate_scale
                while spike_next_s[f] <= t_s:
                    spike_next_s[f] += schedule[f, F_PERIOD]
        else:
            scale = rate_scale if kind in (BIAS_STEP, DRIFT, STUCK_VALUE, SATURATION) else 1.0
            for c in range(lo, hi):
                values[c] = _value_fault(kind, values[c], magnitude * scale, t_s - start, rng)
                if kind == TRANSIENT:
                    valid[c] = True
