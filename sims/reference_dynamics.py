"""The equations of motion of :mod:`sims.dynamics`, restated in plain NumPy/SciPy.

Written independently of the compiled kernels (matrix algebra, :class:`scipy.spatial.transform.Rotation`,
``np.linalg.solve``) so that integrating it with :func:`scipy.integrate.solve_ivp` is an oracle
for the compiled RK4 core, and a baseline for the dynamics benchmark. Slow by design.
"""
import numpy as np
from scipy.integrate import solve_ivp
from scipy.spatial.transform import Rotation

G0_M_S2 = 9.80665


def gravity(moon, r_i):
    """Point mass + J2 + uniform field, in matrix form."""
    g = np.array(moon.uniform_g_i, dtype=float)
    if moon.mu_m3_s2 > 0:
        r = np.linalg.norm(r_i)
        g = g - moon.mu_m3_s2 * r_i / r**3
        if moon.j2:
            z2 = (r_i[2] / r) ** 2
            k = -1.5 * moon.j2 * moon.mu_m3_s2 * moon.radius_m**2 / r**5
            g = g + k * r_i * np.array([1 - 5 * z2, 1 - 5 * z2, 3 - 5 * z2])
    return g


def rhs(vehicle, moon, x, u):
    """``dx/dt`` for state ``x`` and command ``u`` (layouts of :mod:`sims.dynamics`)."""
    r, v, q, w, m, thrust = x[0:3], x[3:6], x[6:10], x[10:13], x[13], x[14]
    span = vehicle.mass_wet_kg - vehicle.mass_dry_kg
    f = np.clip((m - vehicle.mass_dry_kg) / span, 0, 1) if span > 0 else 0.0
    idry, iwet = np.array(vehicle.inertia_dry_kgm2), np.array(vehicle.inertia_wet_kgm2)
    cdry, cwet = np.array(vehicle.cm_dry_b_m), np.array(vehicle.cm_wet_b_m)
    inertia = idry + f * (iwet - idry)
    cm = cdry + f * (cwet - cdry)
    force, torque, mdot = np.zeros(3), np.zeros(3), 0.0
    burning = m > vehicle.mass_dry_kg
    if burning:
        main = max(thrust, 0.0) * np.array(vehicle.main_dir_b)
        force += main
        torque += np.cross(np.array(vehicle.main_pos_b_m) - cm, main)
        mdot += max(thrust, 0.0) / (vehicle.main_isp_s * G0_M_S2)
        for k, (px, py, pz, dx, dy, dz, full_force, isp) in enumerate(vehicle.thrusters):
            level = np.clip(u[4 + k], 0, 1) * full_force
            fk = level * np.array([dx, dy, dz])
            force += fk
            torque += np.cross(np.array([px, py, pz]) - cm, fk)
            mdot += level / (isp * G0_M_S2)
        limit = np.array(vehicle.acs_torque_max_nm)
        tau = np.clip(u[1:4], -limit, limit)
        torque += tau
        mdot += np.abs(tau).sum() / (vehicle.acs_lever_m * vehicle.acs_isp_s * G0_M_S2)
    rot = Rotation.from_quat(q / np.linalg.norm(q), scalar_first=True)
    acc = gravity(moon, r) + rot.apply(force) / m
    omega_matrix = np.array([[0, -w[0], -w[1], -w[2]],
                             [w[0], 0, w[2], -w[1]],
                             [w[1], -w[2], 0, w[0]],
                             [w[2], w[1], -w[0], 0]])
    qdot = 0.5 * omega_matrix @ q
    wdot = np.linalg.solve(inertia, torque - np.cross(w, inertia @ w))
    cmd = 0.0
    if u[0] > 0 and burning:
        cmd = np.clip(u[0], vehicle.main_thrust_min_n, vehicle.main_thrust_max_n)
    tdot = (cmd - thrust) / vehicle.main_lag_s if vehicle.main_lag_s > 0 else 0.0
    return np.concatenate([v, acc, qdot, wdot, [-mdot, tdot]])


def solve(vehicle, moon, x0, t_end_s, u, method="DOP853", rtol=1e-12, atol=1e-12, **kwargs):
    """Integrate :func:`rhs` under a constant command ``u`` with :func:`scipy.integrate.solve_ivp`."""
    u = np.asarray(u, dtype=float)
    return solve_ivp(lambda t, x: rhs(vehicle, moon, x, u), (0.0, t_end_s),
                     np.asarray(x0, dtype=float), method=method, rtol=rtol, atol=atol, **kwargs)
