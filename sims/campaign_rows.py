"""One campaign run as one table row: its drawn inputs and what came of them.

The columns (:func:`schema`) are fixed for a campaign, so chunks written by different workers at
different times concatenate into one table, and a resumed campaign's table equals an
uninterrupted one's. Nothing about wall time goes into a row: a row depends on the scenario, the
campaign seed and the run's index only.
"""
import numpy as np
import pyarrow as pa

from sims.run import run

RANGE_CHANNELS = ("rangefinder", "velocimeter_range")
NIS_EDGES = np.concatenate([[0.0], np.logspace(-2.0, 4.0, 61), [np.inf]])
"""Bin edges of the range samples' normalised innovation |innovation| / sigma, kept per run as
two histograms (healthy samples, samples under an active fault) for the threshold sweep behind
the ROC curve (:func:`sims.campaign_stats.roc_points`)."""

FLOAT_COLUMNS = (
    "touchdown_time_s", "touchdown_vertical_speed_mps", "touchdown_horizontal_speed_mps",
    "touchdown_tilt_deg", "impact_speed_mps", "landing_error_m", "touchdown_lat_deg",
    "touchdown_lon_deg", "propellant_remaining_kg", "propellant_exhausted_time_s",
    "engine_cutoff_time_s", "true_altitude_when_nav_altitude_zero_m", "max_nav_altitude_error_m",
    "max_nav_position_error_m", "first_range_rejection_s", "longest_range_rejection_s",
    "simulated_time_s")
INT_COLUMNS = ("range_samples_rejected", "range_samples_accepted", "range_samples_invalid")


def schema(input_paths):
    """The table's columns: index, seed, one per dispersed input (its path), then the outputs."""
    fields = [pa.field("index", pa.int64()), pa.field("seed", pa.int64())]
    fields += [pa.field(path, pa.float64()) for path in input_paths]
    fields += [pa.field("outcome", pa.string()), pa.field("crash_reason", pa.string()),
               pa.field("safe", pa.bool_())]
    fields += [pa.field(name, pa.float64()) for name in FLOAT_COLUMNS]
    fields += [pa.field(name, pa.int64()) for name in INT_COLUMNS]
    fields += [pa.field("fault_windows", pa.string()),
               pa.field("range_nis_healthy_hist", pa.list_(pa.int64())),
               pa.field("range_nis_faulty_hist", pa.list_(pa.int64()))]
    return pa.schema(fields)


def fly_row(scenario, campaign_seed, index):
    """Fly run ``index`` of the campaign and return its row (a dict of the schema's columns)."""
    values, drawn = scenario.draw(campaign_seed, index)
    result = run(drawn, seed=campaign_seed, campaign_index=index)
    s = result.summary
    row = {"index": int(index), "seed": int(campaign_seed), **values,
           "outcome": s["outcome"], "crash_reason": s["crash_reason"] or "",
           "safe": s["outcome"] == "landed"}
    for name in FLOAT_COLUMNS:
        row[name] = np.nan if s.get(name) is None else float(s[name])
    for name in INT_COLUMNS:
        row[name] = int(s[name])
    nav_error = result.telemetry["nav_position_error_m"]
    row["max_nav_position_error_m"] = float(np.nanmax(nav_error)) if np.isfinite(nav_error).any() else np.nan
    healthy, faulty, streak_s = _range_samples(result.events, drawn.faults)
    row["longest_range_rejection_s"] = streak_s
    row["fault_windows"] = "; ".join(
        f"{f['sensor']}{'' if f.get('channel', -1) == -1 else '[' + str(f['channel']) + ']'} "
        f"{f['kind']} {f['start_s']:g}-{f['end_s']:g} s" for f in drawn.faults)
    row["range_nis_healthy_hist"], row["range_nis_faulty_hist"] = healthy, faulty
    return row


def fly_batch(scenario, campaign_seed, indices):
    """Rows of the runs ``indices`` (a worker's task)."""
    return [fly_row(scenario, campaign_seed, k) for k in indices]


def _range_samples(events, faults):
    """Histograms of |innovation| / sigma for healthy and faulted range samples, and the longest
    run of consecutive rejections of one range channel (s)."""
    channel = events["channel"]
    is_range = np.isin(channel, RANGE_CHANNELS)
    t_s = events["t_s"][is_range]
    beam = events["beam"][is_range]
    names = channel[is_range]
    normalised = np.abs(events["innovation"][is_range]) / events["innovation_sigma"][is_range]
    faulted = np.zeros(t_s.shape, bool)
    for f in faults:
        if f["sensor"] in RANGE_CHANNELS:
            on = (names == f["sensor"]) & (t_s >= f["start_s"]) & (t_s < f["end_s"])
            if f.get("channel", -1) != -1:
                on &= beam == f["channel"]
            faulted |= on
    finite = np.isfinite(normalised)
    healthy = np.histogram(normalised[finite & ~faulted], NIS_EDGES)[0].tolist()
    faulty = np.histogram(normalised[finite & faulted], NIS_EDGES)[0].tolist()
    rejected = np.char.startswith(events["decision"][is_range].astype(str), "reject")
    return healthy, faulty, _longest_rejection_s(t_s, names, beam, rejected)


def _longest_rejection_s(t_s, names, beams, rejected):
    """Longest span (s) of consecutive rejections of one beam of one range channel: from the
    first rejection to the sample that ends the streak (or the last sample)."""
    longest = 0.0
    for name in RANGE_CHANNELS:
        for beam in np.unique(beams[names == name]):
            mine = (names == name) & (beams == beam)
            times = t_s[mine]
            edges = np.diff(np.concatenate([[0], rejected[mine].astype(np.int8), [0]]))
            starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            if starts.size:
                spans = times[np.minimum(ends, times.size - 1)] - times[starts]
                longest = max(longest, float(spans.max()))
    return longest
