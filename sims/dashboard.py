"""The dashboard of one run: altitude (true, estimated, measured; rejected samples marked), speeds,
throttle, propellant, attitude, and the mode timeline, with fault windows shaded."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402

from gnc.modes import MODES  # noqa: E402

_MODE_COLOURS = ("#dde8f5", "#e4f2de", "#fbeed5", "#eeeeee")


def _shade(ax, result):
    """Fault windows in red across every panel."""
    t_end = result.telemetry["t_s"][-1] if len(result.telemetry["t_s"]) else 0.0
    for fault in result.faults:
        start, end = fault["start_s"], min(fault.get("end_s", np.inf), t_end)
        if start < t_end:
            ax.axvspan(start, end, color="tab:red", alpha=0.12, lw=0)


def _modes(ax, tel):
    t, mode = tel["t_s"], tel["mode"]
    if not len(t):
        return
    edges = np.flatnonzero(np.diff(mode)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(t) - 1]])
    for a, b in zip(starts, ends):
        m = int(mode[a])
        ax.axvspan(t[a], t[b], color=_MODE_COLOURS[m], lw=0)
        ax.text(0.5 * (t[a] + t[b]), 0.5, MODES[m], ha="center", va="center", fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(t[0], t[-1])


def plot_dashboard(result, path=None):
    """Figure of one run (saved to ``path`` if given)."""
    tel, ev, s = result.telemetry, result.events, result.summary
    t = tel["t_s"]
    fig, axes = plt.subplots(4, 2, figsize=(13, 11), sharex=True,
                             gridspec_kw={"height_ratios": [3, 2, 2, 0.5]})
    title = f"{s['scenario']} / {s['fsw']} / seed {s['seed']}: {s['outcome']}"
    if s["crash_reason"]:
        title += f" ({s['crash_reason'].replace('_', ' ')})"
    fig.suptitle(title, fontsize=13)

    ax = axes[0, 0]
    ax.plot(t, tel["true_altitude_m"] / 1e3, color="k", lw=1.5, label="true")
    ax.plot(t, tel["nav_altitude_m"] / 1e3, color="tab:blue", lw=1.2, label="estimated")
    band = 3.0 * tel["nav_altitude_sigma_m"]
    ax.fill_between(t, (tel["nav_altitude_m"] - band) / 1e3, (tel["nav_altitude_m"] + band) / 1e3,
                    color="tab:blue", alpha=0.15, lw=0, label="estimate ±3σ")
    rf = ev["channel"] == "rangefinder"
    ok = rf & np.isin(ev["decision"], ("accept", "reanchor"))
    bad = rf & ~ok
    ax.plot(ev["t_s"][ok], ev["measured"][ok] / 1e3, ".", color="tab:green", ms=2,
            label="rangefinder (slant), accepted")
    ax.plot(ev["t_s"][bad], ev["measured"][bad] / 1e3, "x", color="tab:red", ms=3,
            label="rangefinder, rejected")
    ax.set_ylabel("altitude (km)")
    ax.set_ylim(bottom=min(0.0, np.nanmin(tel["nav_altitude_m"]) / 1e3 if len(t) else 0.0))
    ax.legend(fontsize=8, loc="upper right")

    ax = axes[0, 1]
    ax.plot(t, tel["true_vertical_speed_m_s"], color="k", label="vertical, true")
    ax.plot(t, tel["nav_vertical_speed_m_s"], "--", color="tab:blue", label="vertical, estimated")
    ax.plot(t, tel["true_horizontal_speed_m_s"], color="tab:orange", label="horizontal, true")
    ax.plot(t, tel["nav_horizontal_speed_m_s"], "--", color="tab:purple", label="horizontal, estimated")
    ax.set_yscale("symlog", linthresh=10.0)
    ax.set_ylabel("speed over ground (m/s)")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    ax.plot(t, tel["throttle"], color="tab:red", label="throttle (commanded)")
    ax.plot(t, tel["thrusters_fraction"], color="tab:brown", label="terminal thrusters")
    ax.set_ylabel("fraction of maximum")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    ax.plot(t, tel["propellant_kg"], color="tab:green")
    ax.set_ylabel("propellant (kg)")
    ax.set_ylim(bottom=0.0)

    ax = axes[2, 0]
    ax.plot(t, tel["attitude_error_deg"], color="tab:purple", label="attitude error")
    ax.plot(t, tel["tilt_deg"], color="tab:gray", label="tilt from vertical")
    ax.set_ylabel("deg")
    ax.legend(fontsize=8)

    ax = axes[2, 1]
    ax.plot(t, np.abs(tel["nav_altitude_m"] - tel["true_altitude_m"]), color="tab:blue",
            label="|altitude error|")
    ax.plot(t, tel["nav_altitude_sigma_m"], ":", color="tab:blue", label="altitude σ")
    ax.plot(t, tel["nav_position_error_m"], color="tab:orange", label="position error")
    ax.set_yscale("log")
    ax.set_ylabel("navigation error (m)")
    ax.legend(fontsize=8)

    for ax in axes[:3].flat:
        _shade(ax, result)
        ax.grid(alpha=0.3)
    for ax in axes[3]:
        _modes(ax, tel)
        ax.set_xlabel("time since powered-descent start (s)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110, format="png")
        plt.close(fig)
    return fig
