"""The comparison figure of a failure replay: true and estimated altitude with the legacy and
with the fixed software, the replay's event marked, and the vertical speed below."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_comparison(result, path=None):
    """Draw the comparison of a :class:`~sims.replay.ReplayResult`; save it to ``path`` if given.

    Returns the matplotlib figure.
    """
    fig, (ax_alt, ax_vs) = plt.subplots(2, 1, figsize=(11, 8), sharex=True,
                                        gridspec_kw={"height_ratios": [2, 1]})
    for run, name, colour in ((result.legacy, result.replay.legacy_fsw, "tab:red"),
                              (result.fixed, "fixed", "tab:blue")):
        tel = run.telemetry
        t = tel["t_s"]
        ax_alt.plot(t, tel["true_altitude_m"] / 1e3, color=colour, lw=1.8,
                    label=f"{name}: true altitude")
        ax_alt.plot(t, tel["nav_altitude_m"] / 1e3, color=colour, lw=1.2, ls="--",
                    label=f"{name}: estimated altitude")
        ax_vs.plot(t, tel["true_vertical_speed_m_s"], color=colour, lw=1.2, label=name)
    for k, (t_mark, label) in enumerate(result.replay.markers(result)):
        if not np.isfinite(t_mark):
            continue
        for ax in (ax_alt, ax_vs):
            ax.axvline(t_mark, color="k", lw=1.0, ls=":")
        ax_alt.annotate(label, (t_mark, ax_alt.get_ylim()[1]), xytext=(4, -14 - 12 * k),
                        textcoords="offset points", fontsize=9)
    legacy = result.legacy.summary
    zero_alt = legacy.get("true_altitude_when_nav_altitude_zero_m")
    if zero_alt is not None and zero_alt > 100.0:
        ax_alt.annotate(f"{result.replay.legacy_fsw} believes it is down: still {zero_alt / 1e3:.1f} km up",
                        (_time_nav_zero(result.legacy), zero_alt / 1e3), xytext=(10, 20),
                        textcoords="offset points", fontsize=9, arrowprops=dict(arrowstyle="->"))
    ax_alt.axhline(0.0, color="0.5", lw=0.8)
    ax_alt.set_ylabel("altitude above the ground (km)")
    ax_alt.legend(fontsize=8, loc="best")
    ax_alt.set_title(f"{result.replay.title}: {result.replay.legacy_fsw} "
                     f"({legacy['outcome']}) vs fixed ({result.fixed.summary['outcome']})")
    ax_vs.set_ylabel("vertical speed (m/s)")
    ax_vs.set_xlabel("time since powered-descent start (s)")
    ax_vs.legend(fontsize=8)
    for ax in (ax_alt, ax_vs):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def _time_nav_zero(run):
    tel = run.telemetry
    below = np.nonzero(tel["nav_altitude_m"] <= 0.0)[0]
    return float(tel["t_s"][below[0]]) if below.size else float(tel["t_s"][-1])
