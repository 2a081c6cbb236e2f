"""Failure replays: a real landing failure flown with the flight software as it flew and with the
corrected software, on the same world, the same seed and the same faults.

Each :class:`Replay` names its scenario, its legacy variant, the published figures
(``shared/reference/landing-failures.md``) with the band a faithful reproduction must fall in,
and the event its comparison figure marks (the rim, the fault's onset). Where a failure happened
on Mars, the replay is a lunar analogue and the band is the published figure carried over to the
Moon by the calculation its label gives.

>>> from sims.replay import replay
>>> result = replay("hakuto-r-m1")              # doctest: +SKIP
>>> print(format_replay(result)); result.plot()  # doctest: +SKIP
"""
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from sims.run import run
from sims.scenario import load_scenario


@dataclass(frozen=True)
class PublishedFigure:
    """A published figure, how to measure it on a legacy run, and the band it must fall in."""
    label: str
    published: str
    low: float
    high: float
    measure: Callable            # RunResult -> float (NaN when the run never showed it)
    unit: str = ""


@dataclass(frozen=True)
class Replay:
    """A failure to replay: scenario (of the same name), legacy variant, published outcome and
    figures, marked event."""
    name: str
    title: str
    legacy_fsw: str
    outcome: str                 # what happened, as published
    figures: tuple
    markers: Callable            # ReplayResult -> ((t_s or NaN, label), ...) drawn on the comparison


def rim_crossing_s(result):
    """Time (s) the rangefinder's footprint passed the highest ground it saw: the crater rim."""
    tel = result.telemetry
    height = tel["footprint_height_m"]
    if not np.any(np.isfinite(height)):
        return np.nan
    return float(tel["t_s"][np.nanargmax(height)])


def _summary(key, scale=1.0):
    def measure(result):
        value = result.summary.get(key)
        return np.nan if value is None else float(value) * scale
    return measure


def _rejection_after_rim(result):
    first = result.summary.get("first_range_rejection_s")
    return np.nan if first is None else float(first) - rim_crossing_s(result)


def _waiting_descent_rate(result):
    """Mean descent rate (m/s) in the terminal phase while the engine still had propellant."""
    tel, summary = result.telemetry, result.summary
    start = summary["mode_times_s"].get("terminal")
    end = summary.get("propellant_exhausted_time_s") or summary.get("touchdown_time_s")
    if start is None or end is None:
        return np.nan
    inside = (tel["t_s"] >= start + 30.0) & (tel["t_s"] < end)
    return float(-np.mean(tel["true_vertical_speed_m_s"][inside])) if inside.any() else np.nan


def _free_fall_s(result):
    dry, down = (result.summary.get(k) for k in ("propellant_exhausted_time_s", "touchdown_time_s"))
    return np.nan if dry is None or down is None else float(down) - float(dry)


def _rim_marker(result):
    return ((rim_crossing_s(result.legacy), "rangefinder footprint crosses the rim"),)


def _at(result, t_s, column):
    """Telemetry ``column`` at the first row at or after ``t_s`` (NaN if none)."""
    tel = result.telemetry
    if not np.isfinite(t_s):
        return np.nan
    i = np.searchsorted(tel["t_s"], t_s)
    return float(tel[column][i]) if i < tel["t_s"].size else np.nan


def _speed_at(result, t_s):
    return float(np.hypot(_at(result, t_s, "true_vertical_speed_m_s"),
                          _at(result, t_s, "true_horizontal_speed_m_s")))


# Mars Polar Lander

def leg_deployment_s(result):
    """Time (s) the legs deployed on this run's scenario."""
    return float(load_scenario(result.summary["scenario"]).sensors["legs"].get("deploy_time_s", np.nan))


def _deployment_altitude_km(result):
    return _at(result, leg_deployment_s(result), "true_altitude_m") * 1e-3


def _deployment_marker(result):
    return ((leg_deployment_s(result.legacy), "legs deploy: touchdown switches' transient"),)


# IM-1

def altitude_belief_m(result, window_s=10.0):
    """Mean estimated minus true altitude (m) over the last ``window_s`` before contact."""
    tel, down = result.telemetry, result.summary.get("touchdown_time_s")
    if down is None:
        return np.nan
    inside = (tel["t_s"] >= down - window_s) & (tel["t_s"] < down)
    return float(np.mean(tel["nav_altitude_m"][inside] - tel["true_altitude_m"][inside]))


def first_range_s(result, channel="rangefinder"):
    """Time (s) of the first valid sample of an altitude channel the filter judged (NaN if none)."""
    ev = result.events
    mine = (ev["channel"] == channel) & (ev["decision"] != "no_prediction")
    return float(ev["t_s"][mine][0]) if mine.any() else np.nan


def _velocimeter_marker(result):
    return ((first_range_s(result.fixed, "velocimeter_range"),
             f"first velocimeter range ({result.replay.legacy_fsw} ignores it)"),)


# Mission 2

def _speed_at_first_range(result):
    return _speed_at(result, first_range_s(result))


def _altitude_at_first_range(result):
    return _at(result, first_range_s(result), "true_altitude_m")


def crossing_s(result, altitude_m):
    """First time (s) the true altitude fell to ``altitude_m`` (NaN if it never did)."""
    tel = result.telemetry
    below = np.nonzero(tel["true_altitude_m"] <= altitude_m)[0]
    return float(tel["t_s"][below[0]]) if below.size else np.nan


def _speed_at_192_m(result):
    return _speed_at(result, crossing_s(result, 192.0))


def _deceleration(result):
    """Mean loss of speed (m/s²) from the first valid range to 192 m."""
    t0, t1 = first_range_s(result), crossing_s(result, 192.0)
    return (_speed_at(result, t0) - _speed_at(result, t1)) / (t1 - t0)


def _first_range_markers(result):
    """Each variant's first valid range: the fixed software, slowed down without it, meets it
    later."""
    return ((first_range_s(result.legacy), f"{result.replay.legacy_fsw}: first valid range"),
            (first_range_s(result.fixed), "fixed: first valid range"))


# Schiaparelli

def _cutoff(column, scale=1.0):
    def measure(result):
        return _at(result, result.summary.get("engine_cutoff_time_s") or np.nan, column) * scale
    return measure


def _fault_marker(result):
    return ((result.legacy.faults[0]["start_s"] if result.legacy.faults else np.nan,
             "gyro channel at full scale"),)


REPLAYS = {
    "hakuto-r-m1": Replay(
        "hakuto-r-m1", "HAKUTO-R Mission 1, Atlas crater, 25 Apr 2023", "legacy_m1",
        "crash: propellant exhausted about 5 km up, free fall",
        (PublishedFigure("first range rejection after the footprint crosses the rim",
                         "at the rim crossing", -5.0, 5.0, _rejection_after_rim, "s"),
         PublishedFigure("true altitude when the estimate reached 0", "about 5 km", 3.0, 7.0,
                         _summary("true_altitude_when_nav_altitude_zero_m", 1e-3), "km"),
         PublishedFigure("descent rate while waiting for touchdown", "<= 1 m/s (some: a few m/s)",
                         0.0, 3.0, _waiting_descent_rate, "m/s"),
         PublishedFigure("free fall after propellant exhaustion", "about 88 s (AMSAT-DL)", 70.0,
                         100.0, _free_fall_s, "s"),
         PublishedFigure("impact speed", ">= 100 m/s", 100.0, 160.0,
                         _summary("impact_speed_mps"), "m/s")),
        _rim_marker),
    "mpl-touchdown-transient": Replay(
        "mpl-touchdown-transient", "Mars Polar Lander, 3 Dec 1999 (lunar analogue)", "legacy_mpl",
        "crash: engine cut off at about 40 m",
        (PublishedFigure("true altitude of the leg-deployment transient", "about 1.5 km", 1.2, 1.8,
                         _deployment_altitude_km, "km"),
         PublishedFigure("true altitude at engine cut-off", "about 40 m (radar altitude)", 35.0,
                         48.0, _summary("true_altitude_at_cutoff_m"), "m"),
         PublishedFigure("impact speed", "about 22 m/s on Mars; (calc) Moon: 12 m/s", 10.0, 14.0,
                         _summary("impact_speed_mps"), "m/s")),
        _deployment_marker),
    "im1-rangefinder-disabled": Replay(
        "im1-rangefinder-disabled", "IM-1 Odysseus, near Malapert A, 22 Feb 2024", "legacy_im1",
        "hard landing: a leg broke, tipped over",
        (PublishedFigure("estimated minus true altitude before contact", "about 100 m higher",
                         60.0, 140.0, altitude_belief_m, "m"),
         PublishedFigure("vertical speed at contact", "about 3 m/s (planned 1 m/s)", 2.0, 4.5,
                         _summary("touchdown_vertical_speed_mps"), "m/s"),
         PublishedFigure("horizontal speed at contact", "1-2 m/s", 0.5, 3.0,
                         _summary("touchdown_horizontal_speed_mps"), "m/s")),
        _velocimeter_marker),
    "resilience-m2": Replay(
        "resilience-m2", "ispace Mission 2 Resilience, Mare Frigoris, 5 Jun 2025", "legacy_m2",
        "crash: impact crater 16 m across",
        (PublishedFigure("true altitude at the first valid range", "about 893 m", 700.0, 900.0,
                         _altitude_at_first_range, "m"),
         PublishedFigure("speed at the first valid range", "66 m/s (planned 44 m/s)", 55.0, 75.0,
                         _speed_at_first_range, "m/s"),
         PublishedFigure("speed at 192 m", "42 m/s (planned about 30 m/s)", 35.0, 50.0,
                         _speed_at_192_m, "m/s"),
         PublishedFigure("mean deceleration from first range to 192 m", "(calc) 1.85 m/s^2", 1.0,
                         3.0, _deceleration, "m/s^2")),
        _first_range_markers),
    "schiaparelli-imu-saturation": Replay(
        "schiaparelli-imu-saturation", "ESA Schiaparelli, 19 Oct 2016 (lunar analogue)",
        "legacy_schiaparelli", "crash: released kilometres up, free fall",
        (PublishedFigure("altitude from the projected slant range at cut-off",
                         "negative (cosine beyond 90 deg)", -1e5, 0.0,
                         _cutoff("rangefinder_altitude_m"), "m"),
         PublishedFigure("attitude estimate error at cut-off", "beyond 90 deg", 90.0, 180.0,
                         _cutoff("nav_attitude_error_deg"), "deg"),
         PublishedFigure("true altitude at engine cut-off", "3.7 km (planned 1.2 km) on Mars",
                         1.5, 4.0, _summary("true_altitude_at_cutoff_m", 1e-3), "km"),
         PublishedFigure("impact speed", "about 150 m/s on Mars; (calc) Moon: 110-170 m/s",
                         100.0, 180.0, _summary("impact_speed_mps"), "m/s")),
        _fault_marker),
}
"""Replays by name."""


def get_replay(name):
    """The :class:`Replay` called ``name``, or a ValueError listing the known ones."""
    try:
        return REPLAYS[name]
    except KeyError:
        raise ValueError(f"unknown replay {name!r}; known: {', '.join(REPLAYS)}") from None


class ReplayResult(NamedTuple):
    """A replay flown: both runs and the figure table."""
    replay: Replay
    legacy: object               # RunResult with the legacy software
    fixed: object                # RunResult with the corrected software
    rows: list                   # dicts: label, published, low, high, simulated, unit, inside

    def plot(self, path=None):
        """The comparison figure (see :func:`plot_comparison`)."""
        from sims.replay_plot import plot_comparison
        return plot_comparison(self, path)


def replay(name, seed=0, dem=None):
    """Fly replay ``name`` with its legacy and with the fixed software; returns a
    :class:`ReplayResult`. ``dem``: a DEM ``.npz`` as truth terrain."""
    spec = get_replay(name)
    scenario = load_scenario(spec.name)
    legacy = run(scenario, fsw=spec.legacy_fsw, seed=seed, dem=dem)
    fixed = run(scenario, fsw="fixed", seed=seed, dem=dem)
    rows = []
    for figure in spec.figures:
        value = figure.measure(legacy)
        rows.append(dict(label=figure.label, published=figure.published, low=figure.low,
                         high=figure.high, simulated=value, unit=figure.unit,
                         inside=bool(figure.low <= value <= figure.high)))
    return ReplayResult(spec, legacy, fixed, rows)


def _outcome(summary):
    text = summary["outcome"]
    if summary.get("crash_reason"):
        text += f" ({summary['crash_reason']})"
    if summary.get("touchdown_vertical_speed_mps") is not None:
        text += (f", {summary['touchdown_vertical_speed_mps']:.1f} m/s down, "
                 f"{summary['touchdown_horizontal_speed_mps']:.1f} m/s across")
    return text


def format_replay(result):
    """The side-by-side table: published figure, simulated legacy figure, band, and outcomes."""
    spec = result.replay
    lines = [f"{spec.title}: {spec.legacy_fsw} vs fixed (seed {result.legacy.summary['seed']})",
             f"{'figure':58s} {'published':28s} {'legacy':>10s} {'band':>13s}"]
    for row in result.rows:
        value = "-" if not np.isfinite(row["simulated"]) else f"{row['simulated']:.1f} {row['unit']}"
        band = f"[{row['low']:g}, {row['high']:g}]"
        mark = "ok" if row["inside"] else "OUT"
        lines.append(f"{row['label']:58s} {row['published']:28s} {value:>10s} {band:>13s} {mark}")
    lines.append(f"{'outcome':58s} {spec.outcome[:28]:28s} {_outcome(result.legacy.summary)}")
    lines.append(f"{'outcome with the fixed software':58s} {'':28s} {_outcome(result.fixed.summary)}")
    return "\n".join(lines)
