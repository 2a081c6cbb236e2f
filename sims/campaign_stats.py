"""Campaign statistics: success probability with its exact interval, percentiles, the ROC sweep."""
import numpy as np
from scipy import stats

from sims.campaign_rows import NIS_EDGES

TOUCHDOWN_FIGURES = ("touchdown_vertical_speed_mps", "touchdown_horizontal_speed_mps",
                     "touchdown_tilt_deg", "landing_error_m", "propellant_remaining_kg",
                     "max_nav_altitude_error_m", "max_nav_position_error_m")
PERCENTILES = (5, 50, 95, 99)


def clopper_pearson(successes, trials, confidence=0.95):
    """Exact (Clopper-Pearson) interval ``(low, high)`` of a binomial proportion.

    The bounds are the beta quantiles ``B(a/2; k, n-k+1)`` and ``B(1-a/2; k+1, n-k)``, with 0 for
    ``k = 0`` and 1 for ``k = n`` (the oracle is ``scipy.stats.binomtest(...).proportion_ci``).
    """
    k, n = int(successes), int(trials)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"successes = {k}, trials = {n}: need 0 <= successes <= trials, trials >= 1")
    alpha = 1.0 - confidence
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def success(safe):
    """``{k, n, p, ci95}`` of a boolean array of safe landings."""
    safe = np.asarray(safe, bool)
    k, n = int(safe.sum()), int(safe.size)
    low, high = clopper_pearson(k, n)
    return {"k": k, "n": n, "p": k / n, "ci95": [low, high], "method": "Clopper-Pearson"}


def counts(values):
    """``{value: count}`` in first-seen-sorted order, empty strings left out."""
    names, number = np.unique(np.asarray(values, dtype=object).astype(str), return_counts=True)
    return {str(a): int(b) for a, b in zip(names, number) if a}


def percentiles(column):
    """``{p5, p50, p95, p99, max, n}`` of the finite values of a column (None if there are none)."""
    values = np.asarray(column, float)
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    out = {f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES}
    out.update(max=float(values.max()), n=int(values.size))
    return out


def summarize_table(table):
    """Counts per outcome and crash reason, the success probability and touchdown percentiles of
    a campaign table (column name → array); touchdown figures over the runs that touched down."""
    touched = np.isfinite(np.asarray(table["touchdown_time_s"], float))
    return {
        "runs": int(len(table["index"])),
        "outcomes": counts(table["outcome"]),
        "crash_reasons": counts(table["crash_reason"]),
        "success": success(table["safe"]),
        "percentiles": {name: percentiles(np.where(touched, table[name], np.nan)
                                          if name.startswith(("touchdown", "landing")) else table[name])
                        for name in TOUCHDOWN_FIGURES},
    }


def compare_success(a, b):
    """Fisher's exact test p-value that two campaigns' success probabilities are equal
    (``a``, ``b``: their ``success`` entries)."""
    table = [[a["k"], a["n"] - a["k"]], [b["k"], b["n"] - b["k"]]]
    return float(stats.fisher_exact(table).pvalue)


def roc_points(healthy_hist, faulty_hist):
    """The plausibility gate's threshold sweep over normalised range innovations.

    Parameters
    ----------
    healthy_hist, faulty_hist : array_like
        Summed per-run histograms on :data:`~sims.campaign_rows.NIS_EDGES` of healthy samples
        (the no-fault campaign) and of samples under an active fault (the fault campaign).

    Returns
    -------
    thresholds, false_rejection, missed_fault : ndarray
        For a gate rejecting |innovation|/sigma above each threshold (a bin edge): the fraction of
        healthy samples it would reject, and of faulted samples it would accept.
    """
    healthy, faulty = (np.asarray(h, float) for h in (healthy_hist, faulty_hist))
    if healthy.sum() <= 0 or faulty.sum() <= 0:
        raise ValueError(f"the ROC sweep needs healthy and faulted range samples; got "
                         f"{int(healthy.sum())} healthy and {int(faulty.sum())} faulted")
    thresholds = NIS_EDGES[1:-1]
    below_h = np.cumsum(healthy)[:-1] / healthy.sum()
    below_f = np.cumsum(faulty)[:-1] / faulty.sum()
    return thresholds, 1.0 - below_h, below_f
