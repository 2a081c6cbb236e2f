"""Friendly entry point to the compiled dynamics: build a state, propagate an arc.

Inputs are validated here, in Python, so a bad value raises a ``ValueError`` naming it before
anything is compiled or run.
"""
from typing import NamedTuple

import numpy as np

from sims.dynamics import STATE_SIZE, command_size, propagate_arc


class Arc(NamedTuple):
    """Samples of a propagated arc: times ``t_s`` (n,) and states ``x`` (n, STATE_SIZE)."""
    t_s: np.ndarray
    x: np.ndarray


def _vector(name, value, size):
    arr = np.array(value, dtype=np.float64).reshape(-1)
    if arr.size != size:
        raise ValueError(f"state.{name}: expected {size} numbers, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"state.{name} = {value!r}: must hold finite numbers (no NaN or inf)")
    return arr


def initial_state(vehicle, r_i_m, v_i_m_s, q_bi=(1.0, 0.0, 0.0, 0.0), omega_b_rad_s=(0.0, 0.0, 0.0),
                  mass_kg=None, thrust_n=0.0):
    """State vector (see :mod:`sims.dynamics`) checked against ``vehicle``.

    ``mass_kg`` defaults to the wet mass and must lie in ``[mass_dry_kg, mass_wet_kg]``; the
    quaternion is normalised.
    """
    q = _vector("q_bi", q_bi, 4)
    norm = np.linalg.norm(q)
    if norm < 1e-9:
        raise ValueError("state.q_bi: a quaternion of zero length has no attitude")
    mass = vehicle.mass_wet_kg if mass_kg is None else float(mass_kg)
    if not (vehicle.mass_dry_kg <= mass <= vehicle.mass_wet_kg):
        raise ValueError(f"state.mass_kg = {mass}: must be in [{vehicle.mass_dry_kg}, "
                         f"{vehicle.mass_wet_kg}] (dry..wet)")
    thrust = float(thrust_n)
    if not (np.isfinite(thrust) and thrust >= 0):
        raise ValueError(f"state.thrust_n = {thrust_n}: must be a finite number >= 0")
    return np.concatenate([_vector("r_i_m", r_i_m, 3), _vector("v_i_m_s", v_i_m_s, 3), q / norm,
                           _vector("omega_b_rad_s", omega_b_rad_s, 3), [mass, thrust]])


def propagate(vehicle, moon, x0, t_end_s, dt_s, schedule_t_s=(0.0,), schedule_u=None,
              t0_s=0.0, log_every=1):
    """Propagate ``x0`` from ``t0_s`` to ``t_end_s`` in compiled code.

    Parameters
    ----------
    vehicle : VehicleParams
    moon : MoonModel
    x0 : array_like, shape (STATE_SIZE,)
    t_end_s, dt_s : float
        End time and fixed RK4 step (s); the last step is shortened to end exactly at ``t_end_s``.
    schedule_t_s : array_like, shape (k,)
        Non-decreasing times at which each command row starts; the first must be <= ``t0_s``.
    schedule_u : array_like, shape (k, 4 + n_thrusters), optional
        Command rows (see :mod:`sims.dynamics`); default all zero (coasting).
    t0_s : float
    log_every : int
        Keep every ``log_every``-th step (plus the first and last state).

    Returns
    -------
    Arc
    """
    x0 = np.ascontiguousarray(x0, dtype=np.float64)
    if x0.shape != (STATE_SIZE,) or not np.all(np.isfinite(x0)):
        raise ValueError(f"propagate: x0 must be {STATE_SIZE} finite numbers")
    for name, value in (("t0_s", t0_s), ("t_end_s", t_end_s), ("dt_s", dt_s)):
        if not np.isfinite(value):
            raise ValueError(f"propagate: {name} = {value} must be finite")
    if dt_s <= 0:
        raise ValueError(f"propagate: dt_s = {dt_s} must be > 0")
    if t_end_s < t0_s:
        raise ValueError(f"propagate: t_end_s = {t_end_s} must be >= t0_s = {t0_s}")
    if int(log_every) < 1:
        raise ValueError(f"propagate: log_every = {log_every} must be an integer >= 1")
    times = np.ascontiguousarray(schedule_t_s, dtype=np.float64).reshape(-1)
    ncmd = command_size(vehicle)
    u = (np.zeros((times.size, ncmd)) if schedule_u is None
         else np.ascontiguousarray(schedule_u, dtype=np.float64))
    if u.ndim == 1:
        u = u.reshape(1, -1)
    if u.shape != (times.size, ncmd):
        raise ValueError(f"propagate: schedule_u has shape {u.shape}, expected "
                         f"({times.size}, {ncmd}) = (len(schedule_t_s), 4 + n_thrusters)")
    if times.size == 0 or not np.all(np.isfinite(times)) or not np.all(np.isfinite(u)):
        raise ValueError("propagate: the schedule must hold at least one row of finite numbers")
    if np.any(np.diff(times) < 0) or times[0] > t0_s:
        raise ValueError(f"propagate: schedule_t_s must be non-decreasing and start at or before "
                         f"t0_s = {t0_s}")
    t, x = propagate_arc(vehicle, moon, x0, float(t0_s), float(t_end_s), float(dt_s), times, u,
                         int(log_every))
    return Arc(t, x)
