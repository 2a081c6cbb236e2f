"""Campaign results as text: one campaign's summary, two campaigns side by side."""
from sims.campaign_stats import compare_success


def _probability(success):
    low, high = success["ci95"]
    return (f"{success['k']}/{success['n']} safe = {100 * success['p']:.2f} % "
            f"(95 % interval {100 * low:.2f}-{100 * high:.2f} %, Clopper-Pearson)")


def format_campaign(summary):
    """A few human lines about a finished campaign."""
    s = summary
    lines = [f"{s['scenario']} / {s['fsw']} / campaign seed {s['campaign_seed']}: {s['runs']} runs",
             f"  {_probability(s['success'])}",
             "  outcomes: " + ", ".join(f"{k} {v}" for k, v in s["outcomes"].items())]
    if s["crash_reasons"]:
        lines.append("  crash reasons: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                                     for k, v in s["crash_reasons"].items()))
    for name, label, unit in (("touchdown_vertical_speed_mps", "vertical speed", "m/s"),
                              ("touchdown_horizontal_speed_mps", "horizontal speed", "m/s"),
                              ("landing_error_m", "landing error", "m")):
        p = s["percentiles"][name]
        if p:
            lines.append(f"  {label}: median {p['p50']:.2f}, 95th {p['p95']:.2f}, 99th "
                         f"{p['p99']:.2f}, max {p['max']:.2f} {unit}")
    e = s["execution"]
    if e["runs_per_s"]:
        lines.append(f"  {e['runs_flown_this_call']} runs flown in {e['wall_time_s']:.1f} s on "
                     f"{e['workers']} {e['executor']} worker(s): {e['runs_per_s']:.2f} runs/s")
    return "\n".join(lines)


def format_comparison(a, b):
    """Two campaigns' success probabilities with their intervals, and Fisher's exact test."""
    lines = []
    for tag, c in (("A", a), ("B", b)):
        s = c.summary
        lines.append(f"{tag}: {c.out}  ({s['scenario']} / {s['fsw']} / seed {s['campaign_seed']})")
        lines.append(f"   {_probability(s['success'])}")
    p = compare_success(a.summary["success"], b.summary["success"])
    lines.append(f"difference: {100 * (b.summary['success']['p'] - a.summary['success']['p']):+.2f} "
                 f"points (B - A); Fisher's exact test p = {p:.3g}")
    return "\n".join(lines)
