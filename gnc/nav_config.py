"""Building and validating the navigation filter's configuration and initial state (Python side)."""
import inspect

import numpy as np

from gnc.eskf import BA, BG, ERROR_SIZE, NOMINAL_SIZE, POS, QUAT, VEL, ProcessNoise
from gnc.moon import moon_model
from gnc.navigation import CHANNELS, MAX_BEAMS, BeamGeometry, NavConfig, new_state
from gnc.plausibility import CHECK_SIGNATURE, PARAMS_SIZE, Check, get_check
from gnc.validation import check_number, vector

DEFAULT_CHECKS = {"rangefinder": "fixed", "velocimeter_range": "fixed",
                  "velocimeter_velocity": "fixed", "star_tracker": "chi_square_gate"}
"""The corrected software's checks; a flight-software variant overrides them per channel."""

_BEAM_KEYS = ("pos_b_m", "beams_b", "min_range_m", "max_range_m", "noise_floor_m",
              "noise_fraction", "velocity_noise_m_s")
_NO_BEAMS = BeamGeometry((0.0, 0.0, 0.0), np.zeros((0, 3)), 0.0, 0.0, 0.0, 0.0, 0.0)


def beam_geometry(where, spec):
    """:class:`BeamGeometry` from a mapping with the keys of :data:`_BEAM_KEYS`; ``None`` = absent."""
    if spec is None:
        return _NO_BEAMS
    unknown = sorted(set(spec) - set(_BEAM_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(_BEAM_KEYS)}")
    beams = np.asarray(spec.get("beams_b", ()), dtype=np.float64).reshape(-1, 3)
    if not 1 <= beams.shape[0] <= MAX_BEAMS:
        raise ValueError(f"{where}.beams_b: give 1 to {MAX_BEAMS} beam directions")
    norms = np.linalg.norm(beams, axis=1)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError(f"{where}.beams_b = {beams.tolist()}: every beam must be a non-zero vector")
    lo = check_number(where, "min_range_m", spec.get("min_range_m", 0.0), 0.0)
    return BeamGeometry(
        tuple(vector(where, "pos_b_m", spec.get("pos_b_m", (0.0, 0.0, 0.0)), 3)),
        np.ascontiguousarray(beams / norms[:, None]), lo,
        check_number(where, "max_range_m", spec["max_range_m"], lo, low_open=True),
        check_number(where, "noise_floor_m", spec.get("noise_floor_m", 1.0), 0.0),
        check_number(where, "noise_fraction", spec.get("noise_fraction", 0.0), 0.0),
        check_number(where, "velocity_noise_m_s", spec.get("velocity_noise_m_s", 0.1), 0.0))


def _check(channel, spec):
    """``(function, params)`` from a name, ``(name, {params})``, a Check or ``(Check, {params})``."""
    where = f"navigation.checks.{channel}"
    options = {}
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict):
        spec, options = spec
    check = get_check(spec) if isinstance(spec, str) else spec
    if not isinstance(check, Check):
        raise ValueError(f"{where} = {spec!r}: give a check name, (name, {{params}}) or a "
                         "gnc.plausibility.Check")
    signatures = getattr(check.function, "signatures", ())
    if CHECK_SIGNATURE.args not in [tuple(s) for s in signatures]:
        raise ValueError(f"{where}: the check function must be compiled with "
                         "@njit(gnc.plausibility.CHECK_SIGNATURE)")
    if channel == "star_tracker" and "dof" in inspect.signature(check.params).parameters:
        options = {"dof": 3, **options}
    try:
        params = np.asarray(check.params(**options), dtype=np.float64)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if params.shape != (PARAMS_SIZE,):
        raise ValueError(f"{where}: the parameter builder must return {PARAMS_SIZE} numbers")
    return check.function, params


def make_nav_config(noise, imu_rate_hz=100.0, cov_rate_hz=10.0, rangefinder=None,
                    velocimeter=None, star_tracker_noise_rad=None, checks=None, ignore=(),
                    moon=None, terrain_walk_m_rt_m=0.0, slope_sigma_max_m=np.inf,
                    map_roughness=False, unscented_ranges=False):
    """Validated :class:`~gnc.navigation.NavConfig`.

    Parameters
    ----------
    noise : ProcessNoise
        The filter's IMU noise model (SI densities).
    imu_rate_hz, cov_rate_hz : float
        IMU rate, and covariance-propagation rate (the IMU rate divided by a whole number).
    rangefinder, velocimeter : mapping or None
        What the software knows of each beam sensor (keys: see :func:`beam_geometry`); None when
        the vehicle has none.
    star_tracker_noise_rad : 3 floats or None
        Star-tracker 1σ about body x, y, z; None when there is none.
    checks : mapping channel → check, optional
        Overrides of :data:`DEFAULT_CHECKS`.
    ignore : iterable of channel names
        Channels the filter is configured not to use although the sensor exists (the IM-1
        mistake, kept possible for replays; :func:`check_sensor_configuration` reports it).
    moon : MoonModel, optional
        On-board gravity and rotation model (default: lunar J2 model).
    terrain_walk_m_rt_m : float
        How fast the on-board map's error grows along the ground track (m/√m): 0 trusts the map
        as exact; about 3 suits a map that knows only the mean level of rough highlands (height
        differences of ~100 m per km).
    slope_sigma_max_m : float
        Horizontal position 1σ beyond which range updates leave the map's slope out (its share
        of the predicted range's variance moves into the noise; see
        :func:`gnc.navigation.drop_slope`); ``inf`` always uses it.
    map_roughness : bool
        Add to each range's noise the map's height variance about its trend within √2
        horizontal σ of the footprint (:func:`gnc.measurements.map_roughness_m2`).
    unscented_ranges : bool
        Linearise each full range update through unscented points of the position
        (:func:`gnc.measurements.linearise_range`) instead of the map's local slope.
    """
    if not isinstance(noise, ProcessNoise):
        raise ValueError("navigation.noise: give a gnc.eskf.ProcessNoise")
    for key, value in noise._asdict().items():
        check_number("navigation.noise", key, value, 0.0)
    imu_rate = check_number("navigation", "imu_rate_hz", imu_rate_hz, 0.0, low_open=True)
    cov_rate = check_number("navigation", "cov_rate_hz", cov_rate_hz, 0.0, low_open=True)
    ratio = imu_rate / cov_rate
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        raise ValueError(f"navigation.cov_rate_hz = {cov_rate_hz}: must divide imu_rate_hz "
                         f"= {imu_rate_hz} a whole number of times")
    unknown = sorted(set(checks or {}) - set(CHANNELS))
    if unknown:
        raise ValueError(f"navigation.checks: unknown channel {unknown[0]!r}; "
                         f"known: {', '.join(CHANNELS)}")
    unknown = sorted(set(ignore) - set(CHANNELS))
    if unknown:
        raise ValueError(f"navigation.ignore: unknown channel {unknown[0]!r}; "
                         f"known: {', '.join(CHANNELS)}")
    chosen = {**DEFAULT_CHECKS, **(checks or {})}
    functions, params = zip(*(_check(c, chosen[c]) for c in CHANNELS))
    rf = beam_geometry("navigation.rangefinder", rangefinder)
    vm = beam_geometry("navigation.velocimeter", velocimeter)
    if star_tracker_noise_rad is None:
        st_noise, has_st = (0.0, 0.0, 0.0), False
    else:
        st_noise = tuple(vector("navigation", "star_tracker_noise_rad", star_tracker_noise_rad, 3))
        has_st = True
        if min(st_noise) <= 0.0:
            raise ValueError("navigation.star_tracker_noise_rad: every axis must be > 0")
    present = (rangefinder is not None, velocimeter is not None, velocimeter is not None, has_st)
    use = tuple(bool(p and c not in ignore) for p, c in zip(present, CHANNELS))
    walk = check_number("navigation", "terrain_walk_m_rt_m", terrain_walk_m_rt_m, 0.0)
    slope_max = check_number("navigation", "slope_sigma_max_m", slope_sigma_max_m, 0.0,
                             low_open=True, allow_inf=True)
    return NavConfig(moon if moon is not None else moon_model(), 1.0 / imu_rate,
                     int(round(ratio)), noise, rf, vm, st_noise, walk, slope_max,
                     bool(map_roughness), bool(unscented_ranges), use, tuple(functions),
                     np.array(params))


def check_sensor_configuration(cfg, provided):
    """Refuse a filter that uses a sensor the world lacks, or ignores one it has (IM-1).

    ``provided`` is the set of channel names the vehicle's sensors deliver.
    """
    provided = set(provided)
    unknown = sorted(provided - set(CHANNELS))
    if unknown:
        raise ValueError(f"sensors: unknown channel {unknown[0]!r}; known: {', '.join(CHANNELS)}")
    for channel, used in zip(CHANNELS, cfg.use):
        if used and channel not in provided:
            raise ValueError(f"navigation uses {channel}, but the vehicle has no such sensor")
        if channel in provided and not used:
            raise ValueError(f"the vehicle provides {channel}, but the navigation filter ignores "
                             "it (the IM-1 failure); configure the filter to use it")


def initial_covariance(position_m, velocity_m_s, attitude_rad, accel_bias_m_s2, gyro_bias_rad_s):
    """Diagonal 15×15 covariance from 1σ values (each a number or 3 numbers, inertial/body)."""
    sigmas = []
    for key, value in (("position_m", position_m), ("velocity_m_s", velocity_m_s),
                       ("attitude_rad", attitude_rad), ("accel_bias_m_s2", accel_bias_m_s2),
                       ("gyro_bias_rad_s", gyro_bias_rad_s)):
        v = np.broadcast_to(np.asarray(value, dtype=np.float64), (3,))
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            raise ValueError(f"initial covariance: {key} = {value!r}: every σ must be > 0")
        sigmas.extend(v)
    return np.diag(np.square(sigmas))


def validate_covariance(where, P):
    """``P`` as a float 15×15 array, or a ValueError saying why it is not a covariance."""
    P = np.array(P, dtype=np.float64)
    if P.shape != (ERROR_SIZE, ERROR_SIZE):
        raise ValueError(f"{where}: must be {ERROR_SIZE}×{ERROR_SIZE}, got shape {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{where}: contains non-finite values")
    asym = np.max(np.abs(P - P.T))
    if asym > 1e-9 * max(np.max(np.abs(P)), 1e-300):
        raise ValueError(f"{where}: not symmetric (largest |P - Pᵀ| = {asym:.3g})")
    try:
        np.linalg.cholesky(P)
    except np.linalg.LinAlgError:
        raise ValueError(f"{where}: not positive definite (smallest eigenvalue "
                         f"{np.linalg.eigvalsh(P)[0]:.3g})") from None
    return P


def nav_init(cfg, t0_s, r_i, v_i, q_bi, P0, accel_bias=(0.0, 0.0, 0.0),
             gyro_bias=(0.0, 0.0, 0.0), max_events=200_000):
    """Filter state at ``t0_s`` from an orbit-determination solution and its covariance ``P0``."""
    x0 = np.zeros(NOMINAL_SIZE)
    x0[POS:POS + 3] = vector("initial state", "r_i", r_i, 3)
    x0[VEL:VEL + 3] = vector("initial state", "v_i", v_i, 3)
    q = vector("initial state", "q_bi", q_bi, 4)
    if abs(np.linalg.norm(q) - 1.0) > 1e-6:
        raise ValueError(f"initial state.q_bi = {list(q_bi)}: must be a unit quaternion")
    x0[QUAT:QUAT + 4] = q / np.linalg.norm(q)
    x0[BA:BA + 3] = vector("initial state", "accel_bias", accel_bias, 3)
    x0[BG:BG + 3] = vector("initial state", "gyro_bias", gyro_bias, 3)
    P = validate_covariance("initial covariance P0", P0)
    if int(max_events) < 0:
        raise ValueError(f"navigation.max_events = {max_events}: must be >= 0")
    return new_state(x0, P, float(t0_s), int(max_events))

