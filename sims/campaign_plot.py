"""A campaign's figures: where the landers came down (on the terrain, by outcome), touchdown
figures against the limits, outcome against each dispersed input, and the range plausibility
gate's ROC curve from a no-fault / fault campaign pair."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402

from gnc.terrain import height_m  # noqa: E402
from sims.campaign_stats import roc_points  # noqa: E402
from sims.run import terrain_named  # noqa: E402
from sims.scenario import load_scenario  # noqa: E402

_OUTCOME_COLOURS = {"landed": "tab:green", "propellant_exhausted": "tab:red",
                    "over_speed": "tab:orange", "tilt": "tab:purple",
                    "engine_cutoff_in_flight": "tab:brown", "timeout": "tab:gray",
                    "numerical_failure": "black"}


def _label(campaign):
    """``outcome`` where landed or not crashed, else the crash reason, per run."""
    outcome, reason = campaign.column("outcome"), campaign.column("crash_reason")
    return np.where(reason == "", outcome, reason).astype(str)


def plot_campaign(campaign, out_dir):
    """Write ``dispersion.png``, ``touchdown.png`` and (with dispersions) ``inputs.png`` to
    ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [plot_dispersion(campaign, out_dir / "dispersion.png"),
             plot_touchdown(campaign, out_dir / "touchdown.png")]
    if campaign.summary["dispersions"]:
        paths.append(plot_inputs(campaign, out_dir / "inputs.png"))
    return paths


def plot_dispersion(campaign, path):
    """Touchdown points on the truth terrain's height map, coloured by outcome."""
    s = campaign.summary
    scenario = load_scenario(s["scenario_file"])
    target = scenario.target["lat_deg"], scenario.target["lon_deg"]
    lat, lon = campaign.column("touchdown_lat_deg"), campaign.column("touchdown_lon_deg")
    label = _label(campaign)
    down = np.isfinite(lat) & np.isfinite(lon)
    lat_all = np.concatenate([lat[down], [target[0]]])
    lon_all = np.concatenate([lon[down], [target[1]]])
    pad = max(0.02, 0.15 * max(np.ptp(lat_all), np.ptp(lon_all)))
    lat_grid = np.linspace(lat_all.min() - pad, lat_all.max() + pad, 120)
    lon_grid = np.linspace(lon_all.min() - pad, lon_all.max() + pad, 120)
    terrain = terrain_named(s["identity"]["dem"] or scenario.terrain["truth"], *target)
    heights = np.array([[height_m(terrain, np.radians(a), np.radians(b)) for b in lon_grid]
                        for a in lat_grid])
    fig, ax = plt.subplots(figsize=(8, 6.5), constrained_layout=True)
    mesh = ax.pcolormesh(lon_grid, lat_grid, heights, cmap="gray", shading="auto")
    fig.colorbar(mesh, ax=ax, label="truth terrain height (m)")
    ax.plot(target[1], target[0], marker="*", color="none", markersize=22, markeredgecolor="gold",
            markeredgewidth=2, linestyle="none", label="target", zorder=1)
    for name in sorted(set(label[down])):
        mine = down & (label == name)
        ax.scatter(lon[mine], lat[mine], s=14, color=_OUTCOME_COLOURS.get(name, "tab:blue"),
                   edgecolors="white", linewidths=0.3, zorder=2, label=f"{name.replace('_', ' ')} ({mine.sum()})")
    missing = int((~down).sum())
    ax.set(xlabel="longitude (deg E)", ylabel="latitude (deg N)",
           title=f"{s['scenario']} / {s['fsw']}: {s['runs']} runs"
                 + (f" ({missing} never touched down)" if missing else ""))
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_touchdown(campaign, path):
    """Histograms of the touchdown speeds and tilt, with the scenario's limits."""
    limits = campaign.summary["limits"]
    panels = (("touchdown_vertical_speed_mps", "vertical speed (m/s)", "touchdown_vertical_m_s"),
              ("touchdown_horizontal_speed_mps", "horizontal speed (m/s)", "touchdown_horizontal_m_s"),
              ("touchdown_tilt_deg", "tilt (deg)", "touchdown_tilt_deg"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    for ax, (column, xlabel, limit) in zip(axes, panels):
        values = campaign.column(column)
        values = values[np.isfinite(values)]
        if values.size:
            ax.hist(values, bins=40, color="tab:blue", alpha=0.8)
        ax.axvline(limits[limit], color="tab:red", lw=2, label=f"limit {limits[limit]:g}")
        ax.set(xlabel=xlabel, ylabel="runs")
        ax.legend(fontsize=8)
    fig.suptitle(f"{campaign.summary['scenario']} / {campaign.summary['fsw']}: touchdown "
                 f"({campaign.summary['runs']} runs)")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_inputs(campaign, path, bins=12):
    """For each dispersed input: its histogram, failures stacked, and the failure rate per bin."""
    dispersions = campaign.summary["dispersions"]
    safe = campaign.column("safe").astype(bool)
    cols = min(3, len(dispersions))
    rows = -(-len(dispersions) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows), squeeze=False,
                             constrained_layout=True)
    for ax, d in zip(axes.flat, dispersions):
        values = campaign.column(d["path"])
        edges = np.histogram_bin_edges(values, bins=bins)
        ax.hist([values[safe], values[~safe]], bins=edges, stacked=True,
                color=["tab:green", "tab:red"], label=["safe", "failed"])
        ax.set(xlabel=f"{d['path']} ({d['unit']})" if d["unit"] else d["path"], ylabel="runs")
        total = np.histogram(values, edges)[0]
        failed = np.histogram(values[~safe], edges)[0]
        rate = np.divide(failed, total, out=np.full(total.shape, np.nan), where=total > 0)
        twin = ax.twinx()
        twin.plot(0.5 * (edges[1:] + edges[:-1]), rate, color="black", marker="o", ms=3)
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("failure rate")
    for ax in list(axes.flat)[len(dispersions):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Outcome against each dispersed input")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_roc(healthy_campaign, faulty_campaign, path):
    """ROC of a range gate on |innovation|/sigma: false rejections of healthy samples (campaign
    without the fault) against missed faulted samples (campaign with it), thresholds swept."""
    healthy = np.sum(np.stack(healthy_campaign.column("range_nis_healthy_hist")), axis=0)
    faulty = np.sum(np.stack(faulty_campaign.column("range_nis_faulty_hist")), axis=0)
    thresholds, false_rejection, missed = roc_points(healthy, faulty)
    fig, ax = plt.subplots(figsize=(6, 5.5), constrained_layout=True)
    ax.plot(false_rejection, missed, color="tab:blue", marker=".", ms=4)
    for tau in (3.0, 10.0, 100.0):
        k = int(np.argmin(np.abs(thresholds - tau)))
        ax.annotate(f"{thresholds[k]:.3g} sigma", (false_rejection[k], missed[k]), fontsize=8,
                    xytext=(5, 5), textcoords="offset points")
    ax.set_xscale("symlog", linthresh=1e-4)
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set(xlabel="healthy samples rejected (fraction)",
           ylabel="faulted samples accepted (fraction)",
           title="Range plausibility gate: threshold sweep")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1.05)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
