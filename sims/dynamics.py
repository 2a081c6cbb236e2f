"""6-DOF rigid-body descent dynamics, compiled: equations of motion, RK4 step, arc propagation.

State vector ``x`` (length :data:`STATE_SIZE`)::

    x[0:3]   r_i       position of the centre of mass, Moon-centred inertial (m)
    x[3:6]   v_i       velocity, inertial (m/s)
    x[6:10]  q_bi      attitude, scalar-first, body → inertial
    x[10:13] omega_b   body angular rate relative to inertial space, body axes (rad/s)
    x[13]    mass_kg
    x[14]    thrust_n  main-engine thrust actually produced (first-order lag state)

Command vector ``u`` (length ``4 + n_thrusters``)::

    u[0]     main-engine thrust command (N); <= 0 is off, otherwise clamped to [min, max]
    u[1:4]   attitude-control torque command, body axes (N·m), clamped per axis
    u[4:]    small-thruster commands, fraction of full force, clamped to [0, 1]

Rotational dynamics are Euler's equations with the current (propellant-dependent) inertia,
``I ω̇ = τ − ω × (I ω)``; the ``İ ω`` and jet-damping terms are neglected (they are of order
``ṁ l² ω`` ≈ 1e-3 of the control torques for a lander of this class). When the mass reaches
the dry mass every engine, thruster and the attitude control stop: propellant exhausted.
"""
import numpy as np
from numba import njit

from gnc.moon import G0_M_S2, gravity_xyz
from gnc.quaternion import mult_xyz, rotate_xyz
from sims.vehicle import THR_DIR, THR_FORCE, THR_ISP, THR_POS

STATE_SIZE = 15
POS, VEL, QUAT, RATE, MASS, THRUST = 0, 3, 6, 10, 13, 14
CMD_THRUST, CMD_TORQUE, CMD_THRUSTERS = 0, 1, 4


def command_size(vehicle):
    """Length of the command vector for ``vehicle``."""
    return CMD_THRUSTERS + vehicle.thrusters.shape[0]


@njit(cache=True)
def propellant_fraction(vehicle, mass_kg):
    """Fraction (0..1) of the propellant load left at ``mass_kg``."""
    span = vehicle.mass_wet_kg - vehicle.mass_dry_kg
    if span <= 0.0:
        return 0.0
    return min(max((mass_kg - vehicle.mass_dry_kg) / span, 0.0), 1.0)


@njit(cache=True)
def main_thrust_command_n(vehicle, command_n, has_propellant):
    """Thrust the engine is driven towards: 0 when off or dry, else clamped to its limits."""
    if command_n <= 0.0 or not has_propellant:
        return 0.0
    return min(max(command_n, vehicle.main_thrust_min_n), vehicle.main_thrust_max_n)


@njit(cache=True, inline='always', error_model='numpy')
def derivatives(vehicle, moon, x, u, dx):
    """Write ``dx/dt`` at state ``x`` under command ``u`` into ``dx``; allocates nothing."""
    derivatives_in_mode(vehicle, moon, x, u, x[MASS] > vehicle.mass_dry_kg, dx)


@njit(cache=True, inline='always', error_model='numpy')
def derivatives_in_mode(vehicle, moon, x, u, has_propellant, dx):
    """:func:`derivatives` with the propellant mode given, as the integrator holds it over a step."""
    m = x[MASS]
    f = propellant_fraction(vehicle, m)
    idry, iwet = vehicle.inertia_dry_kgm2, vehicle.inertia_wet_kgm2
    cdry, cwet = vehicle.cm_dry_b_m, vehicle.cm_wet_b_m
    cmx = cdry[0] + f * (cwet[0] - cdry[0])
    cmy = cdry[1] + f * (cwet[1] - cdry[1])
    cmz = cdry[2] + f * (cwet[2] - cdry[2])

    # forces (body), torques (body) and mass flow
    fx = fy = fz = 0.0
    tx = ty = tz = 0.0
    mdot = 0.0
    if has_propellant:
        thrust = max(x[THRUST], 0.0)
        dmx, dmy, dmz = vehicle.main_dir_b
        fx, fy, fz = thrust * dmx, thrust * dmy, thrust * dmz
        pmx, pmy, pmz = vehicle.main_pos_b_m
        rx, ry, rz = pmx - cmx, pmy - cmy, pmz - cmz
        tx, ty, tz = ry * fz - rz * fy, rz * fx - rx * fz, rx * fy - ry * fx
        mdot = thrust / (vehicle.main_isp_s * G0_M_S2)
        thr = vehicle.thrusters
        for k in range(thr.shape[0]):
            level = min(max(u[CMD_THRUSTERS + k], 0.0), 1.0) * thr[k, THR_FORCE]
            gx = level * thr[k, THR_DIR]
            gy = level * thr[k, THR_DIR + 1]
            gz = level * thr[k, THR_DIR + 2]
            rx = thr[k, THR_POS] - cmx
            ry = thr[k, THR_POS + 1] - cmy
            rz = thr[k, THR_POS + 2] - cmz
            fx += gx
            fy += gy
            fz += gz
            tx += ry * gz - rz * gy
            ty += rz * gx - rx * gz
            tz += rx * gy - ry * gx
            mdot += level / (thr[k, THR_ISP] * G0_M_S2)
        lim_x, lim_y, lim_z = vehicle.acs_torque_max_nm
        tau_x = min(max(u[CMD_TORQUE], -lim_x), lim_x)
        tau_y = min(max(u[CMD_TORQUE + 1], -lim_y), lim_y)
        tau_z = min(max(u[CMD_TORQUE + 2], -lim_z), lim_z)
        tx += tau_x
        ty += tau_y
        tz += tau_z
        mdot += ((abs(tau_x) + abs(tau_y) + abs(tau_z))
                 / (vehicle.acs_lever_m * vehicle.acs_isp_s * G0_M_S2))

    # translation
    qw, qx, qy, qz = x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3]
    fix, fiy, fiz = rotate_xyz(qw, qx, qy, qz, fx, fy, fz)
    gx, gy, gz = gravity_xyz(moon, x[POS], x[POS + 1], x[POS + 2])
    dx[POS] = x[VEL]
    dx[POS + 1] = x[VEL + 1]
    dx[POS + 2] = x[VEL + 2]
    inv_m = 1.0 / m
    dx[VEL] = gx + fix * inv_m
    dx[VEL + 1] = gy + fiy * inv_m
    dx[VEL + 2] = gz + fiz * inv_m

    # attitude kinematics: q̇ = ½ q ⊗ (0, ω)
    wx, wy, wz = x[RATE], x[RATE + 1], x[RATE + 2]
    dw, dqx, dqy, dqz = mult_xyz(qw, qx, qy, qz, 0.0, wx, wy, wz)
    dx[QUAT] = 0.5 * dw
    dx[QUAT + 1] = 0.5 * dqx
    dx[QUAT + 2] = 0.5 * dqy
    dx[QUAT + 3] = 0.5 * dqz

    # Euler's equations with the current inertia (symmetric): I ω̇ = τ − ω × I ω
    a = idry[0][0] + f * (iwet[0][0] - idry[0][0])
    b = idry[1][1] + f * (iwet[1][1] - idry[1][1])
    c = idry[2][2] + f * (iwet[2][2] - idry[2][2])
    d_ = idry[0][1] + f * (iwet[0][1] - idry[0][1])
    e = idry[0][2] + f * (iwet[0][2] - idry[0][2])
    g = idry[1][2] + f * (iwet[1][2] - idry[1][2])
    hx = a * wx + d_ * wy + e * wz
    hy = d_ * wx + b * wy + g * wz
    hz = e * wx + g * wy + c * wz
    rx = tx - (wy * hz - wz * hy)
    ry = ty - (wz * hx - wx * hz)
    rz = tz - (wx * hy - wy * hx)
    # solve the symmetric 3×3 system by its adjugate
    c00 = b * c - g * g
    c01 = e * g - d_ * c
    c02 = d_ * g - b * e
    c11 = a * c - e * e
    c12 = d_ * e - a * g
    c22 = a * b - d_ * d_
    inv_det = 1.0 / (a * c00 + d_ * c01 + e * c02)
    dx[RATE] = (c00 * rx + c01 * ry + c02 * rz) * inv_det
    dx[RATE + 1] = (c01 * rx + c11 * ry + c12 * rz) * inv_det
    dx[RATE + 2] = (c02 * rx + c12 * ry + c22 * rz) * inv_det

    dx[MASS] = -mdot
    if vehicle.main_lag_s > 0.0:
        dx[THRUST] = (main_thrust_command_n(vehicle, u[CMD_THRUST], has_propellant) - x[THRUST]) / vehicle.main_lag_s
    else:
        dx[THRUST] = 0.0


@njit(cache=True, error_model='numpy')
def specific_force_xyz(vehicle, moon, x, u, dx):
    """Non-gravitational acceleration (m/s², body axes, a tuple): what an accelerometer senses.
    ``dx`` is scratch space of the state's length."""
    derivatives(vehicle, moon, x, u, dx)
    gx, gy, gz = gravity_xyz(moon, x[POS], x[POS + 1], x[POS + 2])
    qw, qx, qy, qz = x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3]
    return rotate_xyz(qw, -qx, -qy, -qz, dx[VEL] - gx, dx[VEL + 1] - gy, dx[VEL + 2] - gz)


@njit(cache=True)
def specific_force_b(vehicle, moon, x, u):
    """:func:`specific_force_xyz` as a new array."""
    fx, fy, fz = specific_force_xyz(vehicle, moon, x, u, np.empty(x.size))
    return np.array([fx, fy, fz])


@njit(cache=True)
def rk4_work(n):
    """Scratch arrays for :func:`rk4_step` on a state of length ``n``."""
    return (np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n))


@njit(cache=True, inline='always', error_model='numpy')
def _rk4_stages(vehicle, moon, x, u, dt_s, work, k1_ready):
    k1, k2, k3, k4, tmp = work
    n = x.size
    burning = x[MASS] > vehicle.mass_dry_kg
    if not k1_ready:
        derivatives_in_mode(vehicle, moon, x, u, burning, k1)
    for i in range(n):
        tmp[i] = x[i] + 0.5 * dt_s * k1[i]
    derivatives_in_mode(vehicle, moon, tmp, u, burning, k2)
    for i in range(n):
        tmp[i] = x[i] + 0.5 * dt_s * k2[i]
    derivatives_in_mode(vehicle, moon, tmp, u, burning, k3)
    for i in range(n):
        tmp[i] = x[i] + dt_s * k3[i]
    derivatives_in_mode(vehicle, moon, tmp, u, burning, k4)
    for i in range(n):
        x[i] += dt_s / 6.0 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i])
    inv_qn = 1.0 / np.sqrt(x[QUAT] ** 2 + x[QUAT + 1] ** 2 + x[QUAT + 2] ** 2 + x[QUAT + 3] ** 2)
    for i in range(QUAT, QUAT + 4):
        x[i] *= inv_qn
    if x[MASS] < vehicle.mass_dry_kg:
        x[MASS] = vehicle.mass_dry_kg


@njit(cache=True, inline='always', error_model='numpy')
def rk4_step(vehicle, moon, x, u, dt_s, work):
    """Advance ``x`` in place by one RK4 step of ``dt_s`` under constant command ``u``.

    ``work`` holds scratch arrays (see :func:`rk4_work`). A step in which the propellant runs
    out is split at the estimated exhaustion time, so the last burn gives no free Δv. Afterwards
    the quaternion is renormalised and the mass is kept at or above the dry mass. With
    ``main_lag_s = 0`` the thrust state follows the command at once.
    """
    if vehicle.main_lag_s <= 0.0:
        x[THRUST] = main_thrust_command_n(vehicle, u[CMD_THRUST], x[MASS] > vehicle.mass_dry_kg)
    k1 = work[0]
    derivatives(vehicle, moon, x, u, k1)
    propellant_kg = x[MASS] - vehicle.mass_dry_kg
    if propellant_kg > 0.0 and propellant_kg + dt_s * k1[MASS] < 0.0:
        burn_s = -propellant_kg / k1[MASS]
        _rk4_stages(vehicle, moon, x, u, burn_s, work, True)
        x[MASS] = vehicle.mass_dry_kg
        if vehicle.main_lag_s <= 0.0:
            x[THRUST] = 0.0
        _rk4_stages(vehicle, moon, x, u, dt_s - burn_s, work, False)
    else:
        _rk4_stages(vehicle, moon, x, u, dt_s, work, True)


@njit(cache=True, error_model='numpy')
def propagate_arc(vehicle, moon, x0, t0_s, t_end_s, dt_s, schedule_t_s, schedule_u, log_every):
    """Propagate from ``t0_s`` to ``t_end_s`` with fixed RK4 steps (the last one shortened).

    The command is held from each ``schedule_t_s[k]`` to the next (zero-order hold, sampled at
    the start of each step). Returns ``(t_log, x_log)``: every ``log_every``-th step, plus the
    initial and the final state.
    """
    span = t_end_s - t0_s
    n_steps = int(np.ceil(span / dt_s - 1e-9)) if span > 0.0 else 0
    n_log = n_steps // log_every + 2
    t_log = np.empty(n_log)
    x_log = np.empty((n_log, x0.size))
    work = rk4_work(x0.size)
    u = np.empty(schedule_u.shape[1])
    x = x0.copy()
    t_log[0] = t0_s
    for i in range(x.size):
        x_log[0, i] = x[i]
    k_log = 1
    k_cmd = -1
    until_log = log_every
    t = t0_s
    for step in range(n_steps):
        k_now = max(k_cmd, 0)
        while k_now + 1 < schedule_t_s.size and schedule_t_s[k_now + 1] <= t + 1e-12:
            k_now += 1
        if k_now != k_cmd:
            k_cmd = k_now
            for i in range(u.size):
                u[i] = schedule_u[k_cmd, i]
        h = min(dt_s, t_end_s - t)
        rk4_step(vehicle, moon, x, u, h, work)
        t = t0_s + (step + 1) * dt_s if step + 1 < n_steps else t_end_s
        until_log -= 1
        if until_log == 0 or step + 1 == n_steps:
            until_log = log_every
            t_log[k_log] = t
            for i in range(x.size):
                x_log[k_log, i] = x[i]
            k_log += 1
    return t_log[:k_log], x_log[:k_log]
