"""Navigation: the compiled error-state Kalman filter with its plausibility checks.

One IMU interval at a time (:func:`nav_propagate`), then the measurements stamped at its end
(:func:`nav_update_range`, :func:`nav_update_los_velocity`, :func:`nav_update_star_tracker`).
Covariance propagation runs every ``cov_every`` IMU steps, and at once before any update, so an
update always sees the covariance of its own time. Every measurement goes through its channel's
plausibility check (:mod:`gnc.plausibility`) first, and each decision is logged as an event row
(:data:`EVENT_COLUMNS`).

Terrain offset. Range predictions use the on-board map shifted by a terrain offset ``o`` (true
ground minus map, positive up), estimated beside the 15 error states by a one-state filter, as
PX4's EKF2 long kept a separate terrain estimator. The map's error is modelled as a random walk
along the ground track, ``σ_o²`` growing by ``terrain_walk² · distance flown``, so the range
gate widens with the distance flown since the map was last confirmed. A range innovation ``y``
with variance ``S = H P Hᵀ + σ_o²/cos²ι + R`` is shared as the joint update of the 16 states
would share it, with their cross-covariance dropped: the 15-state filter takes it with noise
``R + σ_o²/cos²ι``, the offset with gain ``−σ_o²/(cos ι · S)``. When a check answers
:data:`~gnc.plausibility.REANCHOR`, the offset alone takes the whole innovation and its variance
is reset to the measurement's, the way EKF2 resets its terrain estimate to the range finder. With
``terrain_walk = 0`` and no re-anchoring, the map is trusted as exact (see below).

A map whose error is modelled (``terrain_walk > 0``) is not trusted for its shape either: a
range that disagrees with it may be the map's error where the filter would see a horizontal
position error (kilometres of it on a crater wall), a velocity or an attitude error, and the
three velocimeter beams each see a different stretch of ground under one offset. Range updates
then correct only the vertical position (and the offset): every other error state is a Schmidt
"consider" state, its rows of the gain zeroed and the covariance updated in Joseph form (valid
for any gain), so it keeps its covariance and correlations and is left to the sensors that
measure it (velocimeter velocities, star tracker).

A map trusted as exact is still only linear over its features: when the horizontal position
is uncertain beyond ``slope_sigma_max_m`` (after a long flight without ranges, ispace Mission 2),
a range update leaves the map's slope out of its sensitivity (that share of the predicted
range's variance goes into the noise) and corrects only the vertical channel, position and
velocity; the correlations a long unaided flight built would otherwise let one range steer the
horizontal velocity, the attitude and the biases.

Over small craters a range's prediction, linear in the position error, is wrong by more than
its noise once the horizontal position is uncertain by a crater's size: with ``map_roughness``
the map's height variance about its trend within √2 horizontal σ of the footprint
(:func:`~gnc.measurements.map_roughness_m2`) is added to the range's noise, so the gates and
the consistency checks expect it and the update weighs the range less there. That error is
the same for every sample whose footprint stays within the radius (it is the map's shape
between the true and the estimated position), so it is counted once per patch: its variance is
multiplied by the number of samples sharing the patch (:func:`_patch_share`). Counted afresh on
each sample, a burst of ranges over one crater rim collapses the covariance: every update
shrinks the horizontal σ, hence the radius, hence the noise of the next. The vertical
channel alone (above) is corrected only where that roughness is at least the variance the
slope explains: a crater rim's slope still tells the horizontal position, a pocked plain's
does not.

A grazing beam is not linear in the position even where the map is smooth: moved by its
uncertainty, it may pass over a crest and meet ground kilometres further on. With
``unscented_ranges`` a full range update is linearised statistically
(:func:`~gnc.measurements.linearise_range`): the beam is cast from unscented points at ±3σ
of the position, their regression slope replaces the local one, their mean the prediction, and
what the slope leaves unexplained is added to the noise. Over Atlas's east rim, 14 km ranges
grazing it at about 68° otherwise collapsed the horizontal σ while the error stayed hundreds of
metres. Six points cannot see ground that changes between them: where the slope leaves more
of their ranges' variance unexplained than it explains, the range corrects the vertical
channel alone. Without that, ranges up to 10 km long grazing the mare's small craters locked
5 of 350 landings onto the wrong ground (seed 179: the horizontal σ from 31 and 86 m to 5 and
12 m in 2 s while the error grew from 131 to 238 m, one range taken at an innovation of 29 m).

With ``unscented_ranges``, a map trusted as exact is not re-anchored either: there a range's
:data:`~gnc.plausibility.REANCHOR` (a disagreement that stayed consistent through a window of
rejections) means the filter's position is off by more than its σ, below it or across the
ground (locked onto the wrong patch). Its covariance is opened to what would explain the
innovation (:func:`_open_position`: vertically by the innovation's height, horizontally by the
distance over which the map's slope makes it) and the range is taken in the vertical channel
alone, as the local slope of ground the lander may not be over would move the estimate
blindly; the next ranges, linearised over the opened uncertainty, find the ground again. A
start 3 σ off across the track (``nominal`` seed 249), locked 96-110 m off by the
velocimeter's repeated samples of one patch, had re-anchored the perfect map by -10 m and
landed 38 m off.

A :data:`~gnc.plausibility.REANCHOR` on a channel without a terrain offset (a line-of-sight
velocity that stayed consistent through a window of rejections) means the estimate, not the
sensor, is off: the velocity covariance is opened by ``y²`` along the measurement's velocity
direction before the update, so the filter takes the measurement there, as EKF2 resets its
velocity to its aiding source.

The filter's altitude (:func:`nav_altitude`) is its height above the map plus the offset: what
guidance needs to land on the ground actually there.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from gnc.eskf import (BG, E_POS, E_VEL, ERROR_SIZE, MAX_DIM, POS, VEL, ProcessNoise,
                      innovation_covariance, inject, joseph_apply, kalman_gain,
                      normalized_innovation_squared, propagate_covariance, strapdown,
                      transition_blocks, update_work)
from gnc.measurements import (attitude_innovation, footprint_mf, linearise_range,
                              map_roughness_m2, predict_los_velocity, predict_range,
                              star_tracker_model)
from gnc.moon import ground_speeds, rotation_angle_rad
from gnc.plausibility import (CONTEXT_SIZE, CTX_COS_INCIDENCE, CTX_DOF, CTX_INNOVATION,
                              CTX_MAX_VALID, CTX_MEASURED,
                              CTX_MIN_VALID, CTX_NIS, CTX_NOISE_VARIANCE, CTX_PREDICTED,
                              CTX_RATE_PREDICTED, CTX_T_S, CTX_VARIANCE, DECISIONS, NO_PREDICTION,
                              REANCHOR, STATE_SIZE, accepted)
from gnc.terrain import clearance_xyz

CHANNELS = ("rangefinder", "velocimeter_range", "velocimeter_velocity", "star_tracker")
RANGEFINDER, VELOCIMETER_RANGE, VELOCIMETER_VELOCITY, STAR_TRACKER = range(len(CHANNELS))
MAX_BEAMS = 4

EVENT_COLUMNS = ("t_s", "channel", "beam", "decision", "measured", "predicted", "innovation",
                 "innovation_sigma", "nis", "gate")
"""One row per measurement decision; ``channel`` indexes :data:`CHANNELS`, ``decision``
:data:`~gnc.plausibility.DECISIONS`; ``gate`` is the check's first parameter (its threshold)."""
(EV_T, EV_CHANNEL, EV_BEAM, EV_DECISION, EV_MEASURED, EV_PREDICTED, EV_INNOVATION, EV_SIGMA,
 EV_NIS, EV_GATE) = range(len(EVENT_COLUMNS))

# status vector layout
(ST_T, ST_OFFSET, ST_OFFSET_VAR, ST_DISTANCE_M, ST_FOOTPRINT_M, ST_PENDING_S, ST_PENDING_STEPS,
 ST_OMEGA, ST_DV_ACC, ST_EVENTS, ST_EVENTS_DROPPED, ST_PATCH, STATUS_SIZE) = (
    0, 1, 2, 3, 4, 5, 6, 7, 10, 13, 14, 15, 15 + 2 * MAX_BEAMS * 3)
INVALID_COUNT = len(DECISIONS)
"""Column of ``NavState.counts`` that counts samples the sensor itself flagged invalid."""


class BeamGeometry(NamedTuple):
    """What the flight software knows of a beam sensor: mounting, beams and noise model."""
    pos_b_m: tuple
    beams_b: np.ndarray           # (n_beams, 3) unit vectors, body axes
    min_range_m: float
    max_range_m: float
    noise_floor_m: float          # range σ = noise_floor_m + noise_fraction · range
    noise_fraction: float
    velocity_noise_m_s: float


class NavConfig(NamedTuple):
    """Filter configuration; build with :func:`gnc.nav_config.make_nav_config`."""
    moon: object                  # on-board MoonModel
    imu_dt_s: float
    cov_every: int                # covariance propagated every this many IMU steps
    noise: ProcessNoise
    rangefinder: BeamGeometry
    velocimeter: BeamGeometry
    star_tracker_noise_rad: tuple
    terrain_walk_m_rt_m: float    # map error growth, m per √m of ground track
    slope_sigma_max_m: float      # horizontal position σ beyond which ranges ignore the map's slope
    map_roughness: bool           # ranges' noise includes the map's roughness within that σ
    unscented_ranges: bool        # full range updates linearised through unscented points
    use: tuple                    # per channel: does the filter use it
    checks: tuple                 # per channel: plausibility check (CHECK_SIGNATURE)
    check_params: np.ndarray      # (n_channels, PARAMS_SIZE)


class NavState(NamedTuple):
    """The filter's memory; build with :func:`gnc.nav_config.nav_init`."""
    x: np.ndarray                 # nominal state (gnc.eskf layout)
    P: np.ndarray                 # 15×15 error covariance
    status: np.ndarray            # time, terrain offset, covariance-propagation accumulators ...
    counts: np.ndarray            # (n_channels, len(DECISIONS) + 1) decisions, then invalid
    check_state: np.ndarray       # (n_channels, MAX_BEAMS, STATE_SIZE)
    events: np.ndarray            # (max_events, len(EVENT_COLUMNS))


@njit(cache=True)
def new_state(x0, P0, t0_s, max_events):
    """A filter state at ``t0_s`` from nominal ``x0`` and covariance ``P0`` (not validated)."""
    status = np.zeros(STATUS_SIZE)
    status[ST_T] = t0_s
    return NavState(x0.copy(), P0.copy(), status,
                    np.zeros((len(CHANNELS), len(DECISIONS) + 1), dtype=np.int64),
                    np.zeros((len(CHANNELS), MAX_BEAMS, STATE_SIZE)),
                    np.full((max_events, len(EVENT_COLUMNS)), np.nan))


@njit(cache=True, error_model='numpy', inline='always')
def nav_propagate(cfg, nav, dtheta_b, dv_b):
    """Strapdown over one IMU interval; the covariance every ``cfg.cov_every`` steps.

    Inlined (called every base step): its callers must have the numpy error model."""
    x, status = nav.x, nav.status
    dt = cfg.imu_dt_s
    ax, ay, az = strapdown(cfg.moon, x, dtheta_b, dv_b, dt)
    status[ST_T] += dt
    for a in range(3):
        status[ST_OMEGA + a] = dtheta_b[a] / dt - x[BG + a]
    status[ST_DV_ACC] += ax
    status[ST_DV_ACC + 1] += ay
    status[ST_DV_ACC + 2] += az
    status[ST_PENDING_S] += dt
    status[ST_PENDING_STEPS] += 1.0
    status[ST_DISTANCE_M] += dt * ground_speeds(cfg.moon, x[POS], x[POS + 1], x[POS + 2],
                                                x[VEL], x[VEL + 1], x[VEL + 2])[1]
    if status[ST_PENDING_STEPS] >= cfg.cov_every:
        flush_covariance(cfg, nav)


@njit(cache=True, error_model='numpy')
def flush_covariance(cfg, nav):
    """Propagate the covariance over the IMU steps since the last propagation."""
    status = nav.status
    dt = status[ST_PENDING_S]
    if dt <= 0.0:
        return
    a_i = np.empty(3)
    for a in range(3):
        a_i[a] = status[ST_DV_ACC + a] / dt
        status[ST_DV_ACC + a] = 0.0
    phi = np.empty((5, 5, 3, 3))
    mask = np.empty((5, 5), dtype=np.bool_)
    transition_blocks(cfg.moon, nav.x, a_i, dt, phi, mask, np.empty((3, 3)))
    propagate_covariance(nav.P, phi, mask, np.empty((ERROR_SIZE, ERROR_SIZE)), cfg.noise, dt)
    status[ST_PENDING_S] = 0.0
    status[ST_PENDING_STEPS] = 0.0


@njit(cache=True)
def _log(nav, channel, beam, decision, ctx, gate):
    if decision < 0 or decision > NO_PREDICTION:
        raise ValueError("a plausibility check returned a decision code outside "
                         "gnc.plausibility.DECISIONS")
    status = nav.status
    k = int(status[ST_EVENTS])
    nav.counts[channel, decision] += 1
    if k >= nav.events.shape[0]:
        status[ST_EVENTS_DROPPED] += 1.0
        return
    row = nav.events[k]
    row[EV_T] = status[ST_T]
    row[EV_CHANNEL] = channel
    row[EV_BEAM] = beam
    row[EV_DECISION] = decision
    row[EV_MEASURED] = ctx[CTX_MEASURED]
    row[EV_PREDICTED] = ctx[CTX_PREDICTED]
    row[EV_INNOVATION] = ctx[CTX_INNOVATION]
    row[EV_SIGMA] = np.sqrt(ctx[CTX_VARIANCE])
    row[EV_NIS] = ctx[CTX_NIS]
    row[EV_GATE] = gate
    status[ST_EVENTS] = k + 1


@njit(cache=True)
def _context(nav, measured, predicted, innovation, variance, noise_variance, nis, dof, rate,
             lo, hi, cos_incidence):
    ctx = np.empty(CONTEXT_SIZE)
    ctx[CTX_T_S] = nav.status[ST_T]
    ctx[CTX_MEASURED] = measured
    ctx[CTX_PREDICTED] = predicted
    ctx[CTX_INNOVATION] = innovation
    ctx[CTX_VARIANCE] = variance
    ctx[CTX_NOISE_VARIANCE] = noise_variance
    ctx[CTX_NIS] = nis
    ctx[CTX_DOF] = dof
    ctx[CTX_RATE_PREDICTED] = rate
    ctx[CTX_MIN_VALID] = lo
    ctx[CTX_MAX_VALID] = hi
    ctx[CTX_COS_INCIDENCE] = cos_incidence
    return ctx


@njit(cache=True, error_model='numpy')
def _scalar_update(cfg, nav, channel, beam, h, measured, predicted, noise_variance, rate, lo, hi,
                   h_offset, vertical_channel):
    """Gate and (if accepted) apply one scalar measurement; returns the decision.

    ``h_offset`` is the measurement's sensitivity to the terrain offset (``−1/cos ι`` for a
    range, 0 otherwise); with ``vertical_channel`` (a range only) the map's slope is left out
    and only the vertical position and velocity are corrected.
    """
    work = update_work()
    H = np.zeros((MAX_DIM, ERROR_SIZE))
    R = np.zeros((MAX_DIM, MAX_DIM))
    for j in range(ERROR_SIZE):
        H[0, j] = h[j]
    offset_var = nav.status[ST_OFFSET_VAR]
    map_variance = h_offset * h_offset * offset_var
    R[0, 0] = noise_variance + map_variance
    if vertical_channel:
        _leave_out_slope(nav, h, H, R)
    y = np.zeros(MAX_DIM)
    y[0] = measured - predicted
    S = innovation_covariance(nav.P, H, R, 1, work)
    S_inv = np.empty((MAX_DIM, MAX_DIM))
    nis = normalized_innovation_squared(S, y, 1, S_inv)
    cos_incidence = -1.0 / h_offset if h_offset != 0.0 else 1.0
    ctx = _context(nav, measured, predicted, y[0], S[0, 0], noise_variance, nis, 1.0, rate, lo, hi,
                   cos_incidence)
    decision = cfg.checks[channel](ctx, cfg.check_params[channel], nav.check_state[channel, beam])
    _log(nav, channel, beam, decision, ctx, cfg.check_params[channel, 0])
    if not accepted(decision):
        return decision
    exact_map = cfg.unscented_ranges and cfg.terrain_walk_m_rt_m == 0.0
    if decision == REANCHOR and h_offset != 0.0 and not exact_map:
        # the map's error explains the whole innovation: ρ changes by h_offset · Δo
        nav.status[ST_OFFSET] += y[0] / h_offset
        nav.status[ST_OFFSET_VAR] = noise_variance / (h_offset * h_offset)
        return decision
    if decision == REANCHOR:
        # the estimate is what the consistent rejections contradict: open its covariance so
        # the update takes the measurement
        if h_offset != 0.0:
            # a map trusted as exact has no error to take it: the position is off
            slope = _horizontal_slope(nav.x, h)
            if not vertical_channel:
                _leave_out_slope(nav, h, H, R)
                vertical_channel = True
            _open_position(nav.x, nav.P, y[0], cos_incidence, slope)
        else:
            # no terrain offset to take it: the velocity, along the beam
            _inflate_velocity(nav.P, h, y[0] * y[0])
        S = innovation_covariance(nav.P, H, R, 1, work)
        normalized_innovation_squared(S, y, 1, S_inv)
    if map_variance > 0.0:
        k = offset_var * h_offset / S[0, 0]
        nav.status[ST_OFFSET] += k * y[0]
        nav.status[ST_OFFSET_VAR] = ((1.0 - k * h_offset) ** 2 * offset_var
                                     + k * k * (S[0, 0] - map_variance))
    K = kalman_gain(S_inv, 1, work)
    if h_offset != 0.0 and cfg.terrain_walk_m_rt_m > 0.0:
        _vertical_gain(nav.x, K, False)
    elif vertical_channel:
        _vertical_gain(nav.x, K, True)
    dx = np.empty(ERROR_SIZE)
    joseph_apply(nav.P, H, R, y, 1, work, dx)
    inject(nav.x, dx)
    return decision


SQRT2 = np.sqrt(2.0)


@njit(cache=True, error_model='numpy')
def horizontal_sigma_m(x, P):
    """1σ per horizontal axis of the position estimate (the mean of the two)."""
    r2 = x[POS] ** 2 + x[POS + 1] ** 2 + x[POS + 2] ** 2
    trace, vertical = 0.0, 0.0
    for a in range(3):
        trace += P[E_POS + a, E_POS + a]
        for b in range(3):
            vertical += x[POS + a] * P[E_POS + a, E_POS + b] * x[POS + b]
    return np.sqrt(max(0.5 * (trace - vertical / r2), 0.0))


@njit(cache=True, error_model='numpy')
def _vertical_share(x, h):
    """``s`` with ``s · r`` the part of ``h``'s position sensitivity along the local vertical."""
    s = 0.0
    for a in range(3):
        s += x[POS + a] * h[E_POS + a]
    return s / (x[POS] ** 2 + x[POS + 1] ** 2 + x[POS + 2] ** 2)


@njit(cache=True, error_model='numpy')
def slope_variance_m2(x, P, h):
    """``hₕᵀ P hₕ``: the variance the horizontal part of a range's sensitivity ``h`` (the map's
    slope) gives its prediction."""
    s = _vertical_share(x, h)
    variance = 0.0
    for a in range(3):
        for b in range(3):
            variance += ((h[E_POS + a] - s * x[POS + a]) * P[E_POS + a, E_POS + b]
                         * (h[E_POS + b] - s * x[POS + b]))
    return variance


@njit(cache=True, error_model='numpy')
def drop_slope(x, P, h):
    """Leave the map's slope out of a range's sensitivity ``h``: its position part projected on
    the local vertical. Returns the variance the horizontal part carried (``hₕᵀ P hₕ``), which
    the caller adds to the measurement noise: over a horizontal uncertainty wider than the
    terrain's features the linearised map height is not valid, and a slope there would steer
    the horizontal position and velocity (terrain-relative navigation from one beam)."""
    variance = slope_variance_m2(x, P, h)
    s = _vertical_share(x, h)
    for a in range(3):
        h[E_POS + a] = s * x[POS + a]
    return variance


@njit(cache=True)
def _leave_out_slope(nav, h, H, R):
    """:func:`drop_slope` on a scalar update's sensitivity ``h`` and its row of ``H``, the
    slope's variance added to the noise ``R``."""
    R[0, 0] += drop_slope(nav.x, nav.P, h)
    for a in range(3):
        H[0, E_POS + a] = h[E_POS + a]


@njit(cache=True, error_model='numpy')
def _vertical_gain(x, K, with_velocity):
    """Keep of the gain ``K`` (its first column) only the vertical position, and the vertical
    velocity if ``with_velocity``: every other error state becomes a Schmidt "consider" state
    of the update."""
    r2 = x[POS] ** 2 + x[POS + 1] ** 2 + x[POS + 2] ** 2
    s_pos, s_vel = 0.0, 0.0
    for a in range(3):
        s_pos += x[POS + a] * K[E_POS + a, 0]
        s_vel += x[POS + a] * K[E_VEL + a, 0]
    for i in range(ERROR_SIZE):
        K[i, 0] = 0.0
    for a in range(3):
        K[E_POS + a, 0] = s_pos * x[POS + a] / r2
        if with_velocity:
            K[E_VEL + a, 0] = s_vel * x[POS + a] / r2


MIN_OPENING_SLOPE = 0.05
"""Least map slope (range per metre across the ground) :func:`_open_position` sizes the
horizontal opening with: it opens the horizontal σ to at most 20 times the innovation, where
the slope is flatter or was already left out of the update (the vertical channel)."""


@njit(cache=True)
def _horizontal_slope(x, h):
    """``|hₕ|``: the horizontal part of a range's position sensitivity ``h`` (its map slope)."""
    s = _vertical_share(x, h)
    slope2 = 0.0
    for a in range(3):
        slope2 += (h[E_POS + a] - s * x[POS + a]) ** 2
    return np.sqrt(slope2)


@njit(cache=True)
def _open_position(x, P, innovation_m, cos_incidence, slope):
    """Open the position covariance to what would explain a range's ``innovation_m``: by
    ``(innovation · cos ι)²`` along the local vertical, and by ``(innovation / slope)²`` in
    the horizontal plane, the distance over which the map's slope makes it (``slope`` at
    least :data:`MIN_OPENING_SLOPE`)."""
    vertical = (innovation_m * cos_incidence) ** 2
    horizontal = (innovation_m / max(slope, MIN_OPENING_SLOPE)) ** 2
    r2 = x[POS] ** 2 + x[POS + 1] ** 2 + x[POS + 2] ** 2
    for a in range(3):
        for b in range(3):
            along = x[POS + a] * x[POS + b] / r2
            across = (1.0 if a == b else 0.0) - along
            P[E_POS + a, E_POS + b] += vertical * along + horizontal * across


@njit(cache=True)
def _inflate_velocity(P, h, variance):
    """``P_vv += variance · d dᵀ`` along the measurement's velocity direction ``d`` (``h``'s
    velocity part, a unit beam for a line-of-sight velocity)."""
    for i in range(3):
        for j in range(3):
            P[E_VEL + i, E_VEL + j] += variance * h[E_VEL + i] * h[E_VEL + j]


@njit(cache=True)
def _omega(nav):
    return (nav.status[ST_OMEGA], nav.status[ST_OMEGA + 1], nav.status[ST_OMEGA + 2])


PATCH_SHARE_MAX = 50.0
"""Most samples one patch of map is shared by (assumed): a beam hovering over one patch still
gains one sample's worth of the map's roughness per 50 samples."""


@njit(cache=True, error_model='numpy')
def _patch_share(nav, channel, beam, px, py, pz, radius_m):
    """How many samples of this beam see the same patch of map: the roughness radius over the
    distance its Moon-fixed footprint ``p`` moved since the beam's previous sample (1 to
    :data:`PATCH_SHARE_MAX`). Records ``p`` for the next sample."""
    slot = ST_PATCH + 3 * (channel * MAX_BEAMS + beam)
    moved = np.sqrt((px - nav.status[slot]) ** 2 + (py - nav.status[slot + 1]) ** 2
                    + (pz - nav.status[slot + 2]) ** 2)
    nav.status[slot], nav.status[slot + 1], nav.status[slot + 2] = px, py, pz
    return min(max(radius_m / max(moved, 1e-9), 1.0), PATCH_SHARE_MAX)


@njit(cache=True, error_model='numpy')
def nav_update_range(cfg, nav, terrain, channel, ranges_m, valid):
    """Slant-range samples of a beam sensor (``RANGEFINDER`` or ``VELOCIMETER_RANGE``)."""
    if not cfg.use[channel]:
        return
    geometry = cfg.rangefinder if channel == RANGEFINDER else cfg.velocimeter
    h = np.empty(ERROR_SIZE)
    flushed = False
    for k in range(geometry.beams_b.shape[0]):
        if not valid[k]:
            nav.counts[channel, INVALID_COUNT] += 1
            continue
        if not flushed:
            flush_covariance(cfg, nav)
            nav.status[ST_OFFSET_VAR] += cfg.terrain_walk_m_rt_m ** 2 * nav.status[ST_DISTANCE_M]
            nav.status[ST_DISTANCE_M] = 0.0
            flushed = True
        ok, predicted, rate, cos_inc, footprint_m = predict_range(
            terrain, cfg.moon, nav.status[ST_T], nav.x, _omega(nav), geometry.pos_b_m,
            geometry.beams_b[k], geometry.max_range_m * 1.5, nav.status[ST_OFFSET], h)
        if not ok:
            ctx = _context(nav, ranges_m[k], np.nan, np.nan, np.nan, np.nan, np.nan, 1.0, np.nan,
                           geometry.min_range_m, geometry.max_range_m, np.nan)
            _log(nav, channel, k, NO_PREDICTION, ctx, np.nan)
            continue
        if channel == RANGEFINDER and k == 0:
            nav.status[ST_FOOTPRINT_M] = footprint_m
        sigma = geometry.noise_floor_m + geometry.noise_fraction * predicted
        sigma_h = horizontal_sigma_m(nav.x, nav.P)
        roughness = 0.0
        if cfg.map_roughness:
            px, py, pz = footprint_mf(cfg.moon, nav.status[ST_T], nav.x, geometry.pos_b_m,
                                      geometry.beams_b[k], predicted)
            radius_m = SQRT2 * sigma_h
            roughness = (map_roughness_m2(terrain, px, py, pz, radius_m) / (cos_inc * cos_inc)
                         * _patch_share(nav, channel, k, px, py, pz, radius_m))
        vertical_channel = (sigma_h > cfg.slope_sigma_max_m
                            and slope_variance_m2(nav.x, nav.P, h) <= roughness)
        nonlinear = 0.0
        if cfg.unscented_ranges and not vertical_channel:
            shift, nonlinear = linearise_range(terrain, cfg.moon, nav.status[ST_T], nav.x, nav.P,
                                               geometry.pos_b_m, geometry.beams_b[k],
                                               geometry.max_range_m * 1.5,
                                               predicted + nav.status[ST_OFFSET] / cos_inc, h)
            predicted += shift
            vertical_channel = nonlinear > slope_variance_m2(nav.x, nav.P, h)
        _scalar_update(cfg, nav, channel, k, h, ranges_m[k], predicted,
                       sigma * sigma + roughness + nonlinear, rate, geometry.min_range_m,
                       geometry.max_range_m, -1.0 / cos_inc, vertical_channel)


@njit(cache=True, error_model='numpy')
def nav_update_los_velocity(cfg, nav, los_m_s, valid):
    """Line-of-sight velocity samples of the velocimeter's beams."""
    channel = VELOCIMETER_VELOCITY
    if not cfg.use[channel]:
        return
    geometry = cfg.velocimeter
    h = np.empty(ERROR_SIZE)
    flushed = False
    for k in range(geometry.beams_b.shape[0]):
        if not valid[k]:
            nav.counts[channel, INVALID_COUNT] += 1
            continue
        if not flushed:
            flush_covariance(cfg, nav)
            flushed = True
        predicted = predict_los_velocity(cfg.moon, nav.x, _omega(nav), geometry.pos_b_m,
                                         geometry.beams_b[k], h)
        _scalar_update(cfg, nav, channel, k, h, los_m_s[k], predicted,
                       geometry.velocity_noise_m_s ** 2, 0.0, -np.inf, np.inf, 0.0, False)


@njit(cache=True, error_model='numpy')
def nav_update_star_tracker(cfg, nav, q_meas, valid):
    """One star-tracker attitude sample (three angles, one decision)."""
    channel = STAR_TRACKER
    if not cfg.use[channel]:
        return
    if not valid:
        nav.counts[channel, INVALID_COUNT] += 1
        return
    flush_covariance(cfg, nav)
    work = update_work()
    H = np.zeros((MAX_DIM, ERROR_SIZE))
    R = np.zeros((MAX_DIM, MAX_DIM))
    star_tracker_model(nav.x, cfg.star_tracker_noise_rad, H, R)
    y = np.zeros(MAX_DIM)
    angle = attitude_innovation(nav.x, q_meas, y)
    S = innovation_covariance(nav.P, H, R, 3, work)
    S_inv = np.empty((MAX_DIM, MAX_DIM))
    nis = normalized_innovation_squared(S, y, 3, S_inv)
    ctx = _context(nav, angle, 0.0, angle, (S[0, 0] + S[1, 1] + S[2, 2]) / 3.0,
                   (R[0, 0] + R[1, 1] + R[2, 2]) / 3.0, nis, 3.0, 0.0, 0.0, np.pi, 1.0)
    decision = cfg.checks[channel](ctx, cfg.check_params[channel], nav.check_state[channel, 0])
    _log(nav, channel, 0, decision, ctx, cfg.check_params[channel, 0])
    if accepted(decision):
        kalman_gain(S_inv, 3, work)
        dx = np.empty(ERROR_SIZE)
        joseph_apply(nav.P, H, R, y, 3, work, dx)
        inject(nav.x, dx)


@njit(cache=True, error_model='numpy')
def nav_altitude(cfg, nav, terrain):
    """``(altitude_m, sigma_m)``: the estimate's height above the map plus the terrain offset,
    and its 1σ: the position's along the local vertical, the offset's, and the map's random
    walk between the rangefinder's footprint and the point below."""
    x = nav.x
    a = rotation_angle_rad(cfg.moon, nav.status[ST_T])
    c, s = np.cos(a), np.sin(a)
    px, py, pz = c * x[POS] + s * x[POS + 1], -s * x[POS] + c * x[POS + 1], x[POS + 2]
    alt = clearance_xyz(terrain, px, py, pz) - nav.status[ST_OFFSET]
    r = np.sqrt(x[POS] ** 2 + x[POS + 1] ** 2 + x[POS + 2] ** 2)
    var = 0.0
    for i in range(3):
        for j in range(3):
            var += x[POS + i] * nav.P[i, j] * x[POS + j]
    var = (var / (r * r) + nav.status[ST_OFFSET_VAR]
           + cfg.terrain_walk_m_rt_m ** 2 * (nav.status[ST_DISTANCE_M] + nav.status[ST_FOOTPRINT_M]))
    return alt, np.sqrt(var)


@njit(cache=True, error_model='numpy')
def nav_vertical_speed(nav):
    """Radial velocity component of the estimate (m/s, positive up; inertial)."""
    x = nav.x
    r = np.sqrt(x[POS] ** 2 + x[POS + 1] ** 2 + x[POS + 2] ** 2)
    return (x[POS] * x[VEL] + x[POS + 1] * x[VEL + 1] + x[POS + 2] * x[VEL + 2]) / r


def events_table(nav):
    """The logged events as a dict of named columns (decision and channel as names)."""
    n = int(nav.status[ST_EVENTS])
    rows = nav.events[:n]
    table = {name: rows[:, k].copy() for k, name in enumerate(EVENT_COLUMNS)}
    table["channel"] = np.array([CHANNELS[int(c)] for c in rows[:, EV_CHANNEL]], dtype=object)
    table["decision"] = np.array([DECISIONS[int(d)] for d in rows[:, EV_DECISION]], dtype=object)
    table["beam"] = rows[:, EV_BEAM].astype(int)
    return table

