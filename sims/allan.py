"""Allan deviation of rate-sensor records and its analytic value for the IMU error model."""
import numpy as np


def allan_deviation(increments, dt_s, taus_s):
    """Overlapping Allan deviation of a rate sensor from its increments (Δθ or Δv per sample).

    Parameters
    ----------
    increments : array_like, shape (n,)
        Integrated output per sample interval.
    dt_s : float
        Sample interval.
    taus_s : array_like
        Averaging times; each is rounded to a whole number ``m`` of samples, ``1 <= m < n/2``.

    Returns
    -------
    taus_s, adev : ndarray
        The averaging times actually used and the Allan deviation (rate units).
    """
    theta = np.concatenate([[0.0], np.cumsum(np.asarray(increments, dtype=np.float64))])
    n = theta.size - 1
    ms = np.unique(np.clip(np.round(np.asarray(taus_s) / dt_s).astype(int), 1, (n - 1) // 2))
    adev = np.empty(ms.size)
    for k, m in enumerate(ms):
        d = theta[2 * m:] - 2.0 * theta[m:-m] + theta[:-2 * m]
        adev[k] = np.sqrt(np.mean(d * d) / (2.0 * (m * dt_s) ** 2))
    return ms * dt_s, adev


def allan_deviation_model(taus_s, noise_density, gm_sigma, gm_correlation_s):
    """Analytic Allan deviation of white noise plus a first-order Gauss-Markov bias.

    White noise of density ``N`` gives ``N²/τ``; a Gauss-Markov process of standard deviation
    ``σ`` and correlation time ``T`` gives (IEEE Std 952-1997, annex C)
    ``(2σ²T/τ)·[1 − (T/2τ)(3 − 4e^(−τ/T) + e^(−2τ/T))]``.
    """
    tau = np.asarray(taus_s, dtype=np.float64)
    x = tau / gm_correlation_s
    gm = (2.0 * gm_sigma**2 * gm_correlation_s / tau
          * (1.0 - (3.0 - 4.0 * np.exp(-x) + np.exp(-2.0 * x)) / (2.0 * x)))
    return np.sqrt(noise_density**2 / tau + gm)
