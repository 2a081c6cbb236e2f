"""Failure replays: a real landing failure flown with the flight software as it flew and with the
corrected software, on the same world, the same seed and the same faults.

Each :class:`Replay` names its scenario, its legacy variant and the published figures
(``shared/reference/landing-failures.md``) with the band a faithful reproduction must fall in.

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
    """A failure to replay: scenario, legacy variant, published figures, marked event."""
    name: str
    title: str
    legacy_fsw: str
    figures: tuple
    marker: Callable             # RunResult -> (t_s or NaN, label) drawn on the comparison


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
    return rim_crossing_s(result), "rangefinder footprint crosses the rim"


REPLAYS = {
    "hakuto-r-m1": Replay(
        "hakuto-r-m1", "HAKUTO-R Mission 1, Atlas crater, 25 Apr 2023", "legacy_m1",
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
    lines.append(f"{'outcome':58s} {'crash':28s} {_outcome(result.legacy.summary)}")
    lines.append(f"{'outcome with the fixed software':58s} {'':28s} {_outcome(result.fixed.summary)}")
    return "\n".join(lines)
