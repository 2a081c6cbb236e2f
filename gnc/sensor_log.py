"""A recorded sensor log, and the compiled replay of the navigation filter over it.

The log holds what the flight software received, one row per IMU interval ``k`` ending at
``t_s[k]``; a sensor's ``*_due[k]`` says whether it delivered a sample at that time.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.eskf import ERROR_SIZE, NOMINAL_SIZE
from gnc.navigation import (RANGEFINDER, VELOCIMETER_RANGE, flush_covariance, nav_altitude,
                            nav_propagate,
                            nav_update_los_velocity, nav_update_range, nav_update_star_tracker)


class SensorLog(NamedTuple):
    """Sensor samples as the flight software saw them (after any fault)."""
    t_s: np.ndarray                       # (n,) end of each IMU interval
    imu: np.ndarray                       # (n, 6) Δθ (rad) then Δv (m/s), body axes
    rangefinder_due: np.ndarray           # (n,) bool
    rangefinder_m: np.ndarray             # (n, beams)
    rangefinder_valid: np.ndarray         # (n, beams) bool
    velocimeter_due: np.ndarray           # (n,) bool
    velocimeter_range_m: np.ndarray       # (n, 3)
    velocimeter_range_valid: np.ndarray   # (n, 3) bool
    velocimeter_los_m_s: np.ndarray       # (n, 3)
    velocimeter_los_valid: np.ndarray     # (n, 3) bool
    star_tracker_due: np.ndarray          # (n,) bool
    star_tracker_q: np.ndarray            # (n, 4)
    star_tracker_valid: np.ndarray        # (n,) bool


@njit(cache=True, inline='always')
def nav_step(cfg, nav, terrain, log, k):
    """Feed row ``k`` of ``log`` to the filter: propagate, then the samples due at its end.

    Inlined, with :func:`~gnc.navigation.nav_propagate`: callers take the filter's numpy error
    model (:func:`replay` and :func:`run_filter` guard their own divisions)."""
    nav_propagate(cfg, nav, log.imu[k, 0:3], log.imu[k, 3:6])
    if log.rangefinder_due[k]:
        nav_update_range(cfg, nav, terrain, RANGEFINDER, log.rangefinder_m[k],
                         log.rangefinder_valid[k])
    if log.velocimeter_due[k]:
        nav_update_range(cfg, nav, terrain, VELOCIMETER_RANGE, log.velocimeter_range_m[k],
                         log.velocimeter_range_valid[k])
        nav_update_los_velocity(cfg, nav, log.velocimeter_los_m_s[k], log.velocimeter_los_valid[k])
    if log.star_tracker_due[k]:
        nav_update_star_tracker(cfg, nav, log.star_tracker_q[k], log.star_tracker_valid[k])


@njit(cache=True, error_model='numpy')
def replay(cfg, nav, terrain, log, snapshot_every=0):
    """Run the filter over the whole log.

    Returns ``(x, p_diag, altitude, p_snapshots)``: after each row the nominal state, the
    covariance diagonal (as of its last propagation) and the estimated altitude above the map
    plus terrain offset with its 1σ; and every ``snapshot_every`` rows (0: never) the full
    covariance, propagated to that row first. ``nav`` is advanced in place and keeps the events.
    """
    n = log.t_s.size
    x_out = np.empty((n, NOMINAL_SIZE))
    p_out = np.empty((n, ERROR_SIZE))
    alt_out = np.empty((n, 2))
    n_snap = n // snapshot_every if snapshot_every > 0 else 0
    snaps = np.empty((n_snap, ERROR_SIZE, ERROR_SIZE))
    for k in range(n):
        nav_step(cfg, nav, terrain, log, k)
        if snapshot_every > 0 and (k + 1) % snapshot_every == 0:
            flush_covariance(cfg, nav)
            s = (k + 1) // snapshot_every - 1
            for i in range(ERROR_SIZE):
                for j in range(ERROR_SIZE):
                    snaps[s, i, j] = nav.P[i, j]
        for i in range(NOMINAL_SIZE):
            x_out[k, i] = nav.x[i]
        for i in range(ERROR_SIZE):
            p_out[k, i] = nav.P[i, i]
        alt, sigma = nav_altitude(cfg, nav, terrain)
        alt_out[k, 0] = alt
        alt_out[k, 1] = sigma
    return x_out, p_out, alt_out, snaps


@njit(cache=True, error_model='numpy')
def run_filter(cfg, nav, terrain, log):
    """Run the filter over the whole log, keeping only its own state and events."""
    for k in range(log.t_s.size):
        nav_step(cfg, nav, terrain, log, k)
