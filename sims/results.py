"""The result of one run: summary, telemetry, events, the dashboard, and writing them to a folder."""
import csv
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gnc.modes import MODE_EVENT_COLUMNS, MODES, REASONS
from gnc.navigation import CHANNELS, INVALID_COUNT, RANGEFINDER, events_table
from gnc.plausibility import ACCEPT, DECISIONS, REANCHOR
from gnc.flight_software import V_CUTOFF_S, V_MODE_EVENTS
from sims.closed_loop import (CRASH_REASONS, OUTCOMES, TELEMETRY_COLUMNS, W_CUTOFF_ALT, W_DRY_T,
                              W_MAX_NAV_ALT_ERR, W_N_TEL, W_NAV_ZERO_TRUE_ALT, W_OUTCOME, W_REASON,
                              W_T, W_TD_HS, W_TD_LAT, W_TD_LON, W_TD_SPEED, W_TD_T, W_TD_TARGET,
                              W_TD_TILT, W_TD_VS)

SUMMARY_KEYS = (
    "scenario", "fsw", "seed", "campaign_index", "outcome", "crash_reason", "touchdown_time_s",
    "touchdown_vertical_speed_mps", "touchdown_horizontal_speed_mps", "touchdown_tilt_deg",
    "impact_speed_mps", "landing_error_m", "touchdown_lat_deg", "touchdown_lon_deg",
    "propellant_remaining_kg", "propellant_exhausted_time_s", "engine_cutoff_time_s",
    "true_altitude_at_cutoff_m", "true_altitude_when_nav_altitude_zero_m",
    "range_samples_rejected", "range_samples_accepted", "range_samples_invalid",
    "first_range_rejection_s", "max_nav_altitude_error_m", "mode_times_s", "wall_time_s",
    "simulated_time_s", "real_time_factor")


def _none(value, digits=None):
    """A JSON-friendly number: None for NaN, optionally rounded."""
    value = float(value)
    if not np.isfinite(value):
        return None
    return round(value, digits) if digits is not None else value


@dataclass
class RunResult:
    """One landing: ``summary`` (dict), ``telemetry`` (column → array, :data:`TELEMETRY_COLUMNS`),
    ``events`` (the filter's measurement decisions, column → array), ``mode_events`` (phase
    changes and contradictions) and the fault schedule flown."""
    summary: dict
    telemetry: dict
    events: dict
    mode_events: dict
    faults: list = field(default_factory=list)

    def plot(self, path=None):
        """The dashboard figure (saved to ``path`` if given); see :mod:`sims.dashboard`."""
        from sims.dashboard import plot_dashboard
        return plot_dashboard(self, path)

    def save(self, out_dir, plot=True):
        """Write ``summary.json``, ``telemetry.parquet``, ``events.csv`` and ``dashboard.png``.

        Each file is written to a temporary name and renamed, so a failure (say, in plotting)
        never leaves a half-written file, and the files written before it stay.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "summary.json", lambda p: p.write_text(json.dumps(self.summary, indent=2) + "\n"))
        write_atomic(out / "telemetry.parquet", lambda p: _write_parquet(self.telemetry, p))
        write_atomic(out / "events.csv", lambda p: _write_events(self, p))
        if plot:
            write_atomic(out / "dashboard.png", lambda p: self.plot(p))
        return out

    def __repr__(self):
        s = self.summary
        return f"RunResult({s['scenario']!r}, fsw={s['fsw']!r}, seed={s['seed']}, outcome={s['outcome']!r})"


def write_atomic(path, write):
    """Write ``path`` with ``write(tmp_path)`` through a temporary name and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_parquet(columns, path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table(columns), path)


def _write_events(result, path):
    """Measurement decisions and mode events in one time-ordered CSV."""
    rows = []
    ev = result.events
    for i in range(len(ev["t_s"])):
        rows.append((ev["t_s"][i], "navigation", ev["decision"][i], ev["channel"][i], ev["beam"][i],
                     ev["measured"][i], ev["predicted"][i], ev["innovation"][i],
                     ev["innovation_sigma"][i], ev["nis"][i], ""))
    me = result.mode_events
    for i in range(len(me["t_s"])):
        rows.append((me["t_s"][i], "modes", me["reason"][i], "", "", "", "", "", "", "",
                     f"{me['mode_from'][i]} -> {me['mode_to'][i]}"))
    rows.sort(key=lambda r: r[0])
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("t_s", "source", "kind", "channel", "beam", "measured", "predicted",
                         "innovation", "innovation_sigma", "nis", "detail"))
        for r in rows:
            writer.writerow(tuple(f"{v:.6g}" if isinstance(v, float) else v for v in r))


def _mode_events(fs):
    n = int(fs.vars[V_MODE_EVENTS])
    rows = fs.mode_events[:n]
    table = {name: rows[:, k].copy() for k, name in enumerate(MODE_EVENT_COLUMNS)}
    for key, names in (("mode_from", MODES), ("mode_to", MODES), ("reason", REASONS)):
        table[key] = np.array([names[int(v)] for v in rows[:, MODE_EVENT_COLUMNS.index(key)]],
                              dtype=object)
    return table


def result_of(flight, wall_s):
    """Assemble the :class:`RunResult` of a flown :class:`~sims.run.Flight`."""
    st = flight.world_state.status
    fs = flight.fsw_state
    n_tel = int(st[W_N_TEL])
    telemetry = {name: flight.telemetry[:n_tel, k].copy() for k, name in enumerate(TELEMETRY_COLUMNS)}
    events = events_table(fs.nav)
    mode_events = _mode_events(fs)
    counts = fs.nav.counts[RANGEFINDER]
    accepted = int(counts[ACCEPT] + counts[REANCHOR])
    rejected = int(sum(counts[d] for d, name in enumerate(DECISIONS) if name.startswith("reject")))
    rf = (events["channel"] == CHANNELS[RANGEFINDER]) & np.char.startswith(
        events["decision"].astype(str), "reject")
    outcome = OUTCOMES[int(st[W_OUTCOME])]
    touched = np.isfinite(st[W_TD_T])
    mode_times = {str(to): float(t) for t, frm, to in zip(mode_events["t_s"], mode_events["mode_from"],
                                                          mode_events["mode_to"])
                  if frm != to}
    sim_s = float(st[W_T])
    summary = {
        "scenario": flight.scenario.name, "fsw": flight.scenario.fsw, "seed": flight.seed,
        "campaign_index": flight.campaign_index,
        "outcome": outcome,
        "crash_reason": CRASH_REASONS[int(st[W_REASON])] or None,
        "touchdown_time_s": _none(st[W_TD_T]),
        "touchdown_vertical_speed_mps": _none(st[W_TD_VS]),
        "touchdown_horizontal_speed_mps": _none(st[W_TD_HS]),
        "touchdown_tilt_deg": _none(np.degrees(st[W_TD_TILT])),
        "impact_speed_mps": _none(st[W_TD_SPEED]),
        "landing_error_m": _none(st[W_TD_TARGET] if touched else telemetry["distance_to_target_m"][-1]),
        "touchdown_lat_deg": _none(np.degrees(st[W_TD_LAT])),
        "touchdown_lon_deg": _none(np.degrees(st[W_TD_LON])),
        "propellant_remaining_kg": _none(telemetry["propellant_kg"][-1]),
        "propellant_exhausted_time_s": _none(st[W_DRY_T]),
        "engine_cutoff_time_s": _none(fs.vars[V_CUTOFF_S]),
        "true_altitude_at_cutoff_m": _none(st[W_CUTOFF_ALT]),
        "true_altitude_when_nav_altitude_zero_m": _none(st[W_NAV_ZERO_TRUE_ALT]),
        "range_samples_rejected": rejected,
        "range_samples_accepted": accepted,
        "range_samples_invalid": int(counts[INVALID_COUNT]),
        "first_range_rejection_s": _none(events["t_s"][rf][0]) if rf.any() else None,
        "max_nav_altitude_error_m": _none(st[W_MAX_NAV_ALT_ERR]),
        "mode_times_s": mode_times,
        "wall_time_s": wall_s,
        "simulated_time_s": sim_s,
        "real_time_factor": sim_s / wall_s if wall_s > 0 else None,
    }
    faults = [dict(f) for f in flight.scenario.faults]
    return RunResult(summary, telemetry, events, mode_events, faults)


def format_summary(summary):
    """A few human lines about a run."""
    s = summary
    run = f"campaign seed {s['seed']} run {s['campaign_index']}" if s.get("campaign_index") is not None \
        else f"seed {s['seed']}"
    head = f"{s['scenario']} / {s['fsw']} / {run}: {s['outcome'].upper()}"
    if s["crash_reason"]:
        head += f" ({s['crash_reason'].replace('_', ' ')})"
    lines = [head]
    if s["touchdown_time_s"] is not None:
        lines.append(f"  contact at t = {s['touchdown_time_s']:.1f} s: vertical "
                     f"{s['touchdown_vertical_speed_mps']:.2f} m/s, horizontal "
                     f"{s['touchdown_horizontal_speed_mps']:.2f} m/s, tilt "
                     f"{s['touchdown_tilt_deg']:.1f} deg, {s['landing_error_m']:.0f} m from target")
    lines.append(f"  propellant left {s['propellant_remaining_kg']:.1f} kg; rangefinder samples "
                 f"accepted {s['range_samples_accepted']}, rejected {s['range_samples_rejected']}; "
                 f"largest altitude error {s['max_nav_altitude_error_m'] or 0:.0f} m")
    if s["true_altitude_when_nav_altitude_zero_m"] is not None and s["outcome"] != "landed":
        lines.append(f"  navigation altitude reached 0 with the lander "
                     f"{s['true_altitude_when_nav_altitude_zero_m']:.0f} m above the ground")
    rtf = s["real_time_factor"]
    lines.append(f"  {s['simulated_time_s']:.0f} s simulated in {s['wall_time_s']:.2f} s"
                 + (f" (real-time factor {rtf:,.0f})" if rtf else ""))
    return "\n".join(lines)
