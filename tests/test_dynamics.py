"""6-DOF dynamics against analytic solutions and an independent scipy integration."""
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.spatial.transform import Rotation

from gnc.moon import G0_M_S2, RADIUS_M, moon_model
from gnc.quaternion import rotate
from sims import reference_dynamics as ref
from sims.dynamics import MASS, POS, QUAT, RATE, THRUST, VEL, derivatives
from sims.propagation import initial_state, propagate
from sims.vehicle import make_vehicle

POINT_MASS = moon_model(j2=False)
FREE_SPACE = moon_model(mu_m3_s2=0.0)


def _inertial_angular_momentum(x, inertia):
    return rotate(x[QUAT:QUAT + 4], inertia @ x[RATE:RATE + 3])


def test_unpowered_orbit_conserves_energy_and_momentum_and_closes():
    vehicle = make_vehicle()
    a = RADIUS_M + 100e3
    v = np.sqrt(POINT_MASS.mu_m3_s2 / a)
    inc = np.radians(60.0)
    x0 = initial_state(vehicle, [a, 0, 0], [0, v * np.cos(inc), v * np.sin(inc)])
    period = 2 * np.pi * np.sqrt(a**3 / POINT_MASS.mu_m3_s2)
    arc = propagate(vehicle, POINT_MASS, x0, period, 1.0, log_every=100)
    r, vel = arc.x[:, POS:POS + 3], arc.x[:, VEL:VEL + 3]
    energy = 0.5 * np.sum(vel**2, axis=1) - POINT_MASS.mu_m3_s2 / np.linalg.norm(r, axis=1)
    h = np.cross(r, vel)
    assert np.max(np.abs(energy / energy[0] - 1)) <= 1e-9
    assert np.max(np.linalg.norm(h - h[0], axis=1)) / np.linalg.norm(h[0]) <= 1e-9
    assert np.linalg.norm(r[-1] - r[0]) < 1.0
    assert arc.t_s[-1] == period


def test_j2_orbit_conserves_energy_and_polar_momentum():
    moon = moon_model(j2=True)
    vehicle = make_vehicle()
    a = RADIUS_M + 50e3
    v = np.sqrt(moon.mu_m3_s2 / a)
    x0 = initial_state(vehicle, [a, 0, 0], [0, v * np.cos(1.0), v * np.sin(1.0)])
    arc = propagate(vehicle, moon, x0, 7000.0, 1.0, log_every=50)
    r, vel = arc.x[:, POS:POS + 3], arc.x[:, VEL:VEL + 3]
    rn = np.linalg.norm(r, axis=1)
    s = r[:, 2] / rn
    potential = -moon.mu_m3_s2 / rn * (1 - moon.j2 * (RADIUS_M / rn) ** 2 * (1.5 * s * s - 0.5))
    energy = 0.5 * np.sum(vel**2, axis=1) + potential
    hz = np.cross(r, vel)[:, 2]
    assert np.max(np.abs(energy / energy[0] - 1)) <= 1e-9
    assert np.max(np.abs(hz / hz[0] - 1)) <= 1e-9
    h = np.cross(r, vel)
    assert np.linalg.norm(h[-1] - h[0]) / np.linalg.norm(h[0]) > 1e-5   # J2 does precess the plane


def test_torque_free_asymmetric_body_conserves_momentum_and_energy():
    inertia = np.array([[800.0, 20.0, -10.0], [20.0, 600.0, 15.0], [-10.0, 15.0, 450.0]])
    vehicle = make_vehicle(inertia_dry_kgm2=inertia, inertia_wet_kgm2=inertia)
    q0 = Rotation.from_rotvec([0.3, -0.2, 0.9]).as_quat(scalar_first=True)
    x0 = initial_state(vehicle, [RADIUS_M, 0, 0], [0, 0, 0], q_bi=q0, omega_b_rad_s=[0.1, 0.02, -0.05])
    arc = propagate(vehicle, FREE_SPACE, x0, 600.0, 0.01, log_every=100)
    momenta = np.array([_inertial_angular_momentum(x, inertia) for x in arc.x])
    energy = np.array([0.5 * x[RATE:RATE + 3] @ inertia @ x[RATE:RATE + 3] for x in arc.x])
    assert np.max(np.linalg.norm(momenta - momenta[0], axis=1)) / np.linalg.norm(momenta[0]) <= 1e-9
    assert np.max(np.abs(energy / energy[0] - 1)) <= 1e-9
    assert np.ptp(arc.x[:, RATE]) > 0.01   # the body really tumbles


def test_axisymmetric_body_precesses_at_the_analytic_rates():
    i_t, i_a = 800.0, 600.0
    inertia = np.diag([i_t, i_t, i_a])
    vehicle = make_vehicle(inertia_dry_kgm2=inertia, inertia_wet_kgm2=inertia)
    w = np.array([0.05, 0.0, 0.5])
    x0 = initial_state(vehicle, [RADIUS_M, 0, 0], [0, 0, 0], omega_b_rad_s=w)
    arc = propagate(vehicle, FREE_SPACE, x0, 100.0, 0.01, log_every=10)
    # body frame: the transverse rate turns about the symmetry axis at (I_a - I_t)/I_t * w_z
    body_rate = (i_a - i_t) / i_t * w[2]
    phase = np.unwrap(np.arctan2(arc.x[:, RATE + 1], arc.x[:, RATE]))
    assert abs(np.polyfit(arc.t_s, phase, 1)[0] / body_rate - 1) < 1e-9
    # inertial frame: the symmetry axis cones about the angular momentum at |L| / I_t
    momentum = inertia @ w
    axis_rate = np.linalg.norm(momentum) / i_t
    l_hat = momentum / np.linalg.norm(momentum)   # inertial L at t = 0 (q = identity)
    e1 = np.cross(l_hat, [0, 1, 0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(l_hat, e1)
    z_axis = np.array([rotate(x[QUAT:QUAT + 4], np.array([0.0, 0.0, 1.0])) for x in arc.x])
    cone = np.unwrap(np.arctan2(z_axis @ e2, z_axis @ e1))
    assert abs(np.polyfit(arc.t_s, cone, 1)[0] / axis_rate - 1) < 1e-9


def _burn_vehicle(**extra):
    return make_vehicle(main_pos_b_m=(0, 0, 0), **{"main_lag_s": 0.0, **extra})


def test_vertical_burn_in_uniform_gravity_matches_the_rocket_equation():
    g = 1.625
    moon = moon_model(mu_m3_s2=0.0, uniform_g_i=(0.0, 0.0, -g))
    vehicle = _burn_vehicle()
    x0 = initial_state(vehicle, [0, 0, 0], [0, 0, 0], thrust_n=3000.0)
    burn_s = 300.0
    arc = propagate(vehicle, moon, x0, burn_s, 0.01, schedule_u=[3000.0, 0, 0, 0], log_every=1000)
    m1 = arc.x[-1, MASS]
    c = vehicle.main_isp_s * G0_M_S2
    assert abs(m1 - (1000.0 - 3000.0 / c * burn_s)) < 1e-9
    dv_expected = c * np.log(1000.0 / m1) - g * burn_s
    assert abs(arc.x[-1, VEL + 2] / dv_expected - 1) <= 1e-6


def test_engine_lag_follows_a_first_order_response():
    tau = 0.5
    vehicle = _burn_vehicle(main_lag_s=tau)
    x0 = initial_state(vehicle, [0, 0, 0], [0, 0, 0], thrust_n=0.0)
    arc = propagate(vehicle, FREE_SPACE, x0, 5.0, 0.001, schedule_u=[3000.0, 0, 0, 0], log_every=100)
    expected_thrust = 3000.0 * (1 - np.exp(-arc.t_s / tau))
    np.testing.assert_allclose(arc.x[:, THRUST], expected_thrust, atol=1e-6)
    c = vehicle.main_isp_s * G0_M_S2

    def mass(t):
        return 1000.0 - 3000.0 / c * (t - tau * (1 - np.exp(-t / tau)))

    dv = quad(lambda t: 3000.0 * (1 - np.exp(-t / tau)) / mass(t), 0, 5.0, epsabs=1e-13)[0]
    assert abs(arc.x[-1, MASS] - mass(5.0)) < 1e-9
    assert abs(arc.x[-1, VEL + 2] / dv - 1) < 1e-9


def test_powered_rotating_arc_agrees_with_solve_ivp():
    inertia = np.diag([800.0, 800.0, 600.0])
    vehicle = make_vehicle(mass_dry_kg=340.0, mass_wet_kg=1000.0, main_thrust_max_n=3000.0,
                           main_isp_s=320.0, main_lag_s=0.0, main_pos_b_m=(0, 0, 0),
                           inertia_dry_kgm2=inertia, inertia_wet_kgm2=inertia)
    moon = moon_model()
    x0 = initial_state(vehicle, [RADIUS_M + 15e3, 0, 0], [0, 1700.0, 0],
                       omega_b_rad_s=[0.01, -0.01, 0.005], thrust_n=3000.0)
    u = [3000.0, 0.0, 0.0, 0.0]
    arc = propagate(vehicle, moon, x0, 600.0, 0.01, schedule_u=u, log_every=60000)
    oracle = ref.solve(vehicle, moon, x0, 600.0, u)
    assert oracle.success
    final, expected = arc.x[-1], oracle.y[:, -1]
    assert np.linalg.norm(final[POS:POS + 3] - expected[POS:POS + 3]) <= 1e-3
    assert np.linalg.norm(final[VEL:VEL + 3] - expected[VEL:VEL + 3]) <= 1e-3
    assert abs(final[MASS] - expected[MASS]) < 1e-6
    assert final[MASS] < 430.0   # 573 kg of propellant really burned


def _full_vehicle():
    return make_vehicle(
        inertia_dry_kgm2=[[350, 5, -3], [5, 340, 8], [-3, 8, 300]],
        inertia_wet_kgm2=[[800, 12, -6], [12, 780, 10], [-6, 10, 600]],
        cm_dry_b_m=(0.01, -0.02, 0.1), cm_wet_b_m=(0.0, 0.01, 0.3),
        main_dir_b=(0.01, -0.005, 1.0), main_pos_b_m=(0.02, 0.0, -0.9), main_lag_s=0.2,
        thrusters=[{"pos_b_m": (1.0, 0.0, -0.5), "dir_b": (0, 0, 1), "force_n": 200.0, "isp_s": 290.0},
                   {"pos_b_m": (-1.0, 0.1, -0.5), "dir_b": (0.1, 0, 1), "force_n": 200.0, "isp_s": 290.0},
                   {"pos_b_m": (0.0, 1.0, 0.2), "dir_b": (1, 0, 0), "force_n": 22.0, "isp_s": 220.0}])


def test_derivatives_match_the_numpy_reference_term_by_term():
    vehicle = _full_vehicle()
    moon = moon_model()
    rng = np.random.default_rng(5)
    for _ in range(30):
        x = initial_state(vehicle, rng.normal(size=3) * 1e6 + [RADIUS_M, 0, 0], rng.normal(size=3) * 1e3,
                          q_bi=rng.normal(size=4), omega_b_rad_s=rng.normal(size=3) * 0.1,
                          mass_kg=rng.uniform(340, 1000), thrust_n=rng.uniform(0, 3000))
        u = np.concatenate([[rng.uniform(-500, 4000)], rng.normal(size=3) * 150, rng.uniform(-0.2, 1.2, 3)])
        dx = np.empty(15)
        derivatives(vehicle, moon, x, u, dx)
        np.testing.assert_allclose(dx, ref.rhs(vehicle, moon, x, u), rtol=1e-11, atol=1e-14)


def test_full_vehicle_arc_agrees_with_solve_ivp():
    vehicle = _full_vehicle()
    moon = moon_model()
    x0 = initial_state(vehicle, [RADIUS_M + 2e3, 0, 0], [0, 50.0, -10.0],
                       omega_b_rad_s=[0.02, 0.01, -0.03], mass_kg=900.0, thrust_n=1000.0)
    u = [2500.0, 20.0, -30.0, 5.0, 1.0, 0.5, 0.3]
    arc = propagate(vehicle, moon, x0, 60.0, 0.005, schedule_u=u, log_every=12000)
    oracle = ref.solve(vehicle, moon, x0, 60.0, u)
    final, expected = arc.x[-1], oracle.y[:, -1]
    expected_q = expected[QUAT:QUAT + 4] / np.linalg.norm(expected[QUAT:QUAT + 4])
    assert np.max(np.abs(final[RATE:RATE + 3])) > 1.0      # a hard test: the body tumbles fast
    assert np.linalg.norm(final[POS:POS + 3] - expected[POS:POS + 3]) <= 1e-4      # 0.1 mm
    assert np.linalg.norm(final[VEL:VEL + 3] - expected[VEL:VEL + 3]) <= 1e-5      # 0.01 mm/s
    assert np.max(np.abs(final[QUAT:QUAT + 4] - expected_q)) <= 1e-7
    assert np.max(np.abs(final[RATE:RATE + 3] - expected[RATE:RATE + 3])) <= 1e-7
    assert abs(final[MASS] - expected[MASS]) <= 1e-8
    assert abs(final[THRUST] - expected[THRUST]) <= 1e-8


def test_propellant_exhaustion_stops_engines_and_attitude_control():
    vehicle = _burn_vehicle(mass_wet_kg=400.0)
    x0 = initial_state(vehicle, [0, 0, 0], [0, 0, 0], thrust_n=3000.0)
    c = vehicle.main_isp_s * G0_M_S2
    torque_nm = 50.0      # about the thrust axis, so the thrust keeps pointing along +z
    mdot_main = 3000.0 / c
    mdot_total = mdot_main + torque_nm / (vehicle.acs_lever_m * vehicle.acs_isp_s * G0_M_S2)
    t_empty = 60.0 / mdot_total
    arc = propagate(vehicle, FREE_SPACE, x0, t_empty + 20.0, 0.01,
                    schedule_u=[3000.0, 0.0, 0.0, torque_nm], log_every=10)
    before, after = arc.t_s < t_empty - 0.02, arc.t_s > t_empty + 0.02
    assert np.all(np.diff(arc.x[before, RATE + 2]) > 0)     # spinning up while propellant lasts
    assert np.all(arc.x[after, MASS] == vehicle.mass_dry_kg)
    assert np.ptp(arc.x[after, VEL + 2]) < 1e-9             # no thrust after burnout
    assert np.ptp(arc.x[after, RATE + 2]) < 1e-9            # no control torque either
    dv = c * mdot_main / mdot_total * np.log(400.0 / 340.0)
    assert arc.x[after, VEL + 2][0] == pytest.approx(dv, rel=1e-4)   # one step of overshoot


def test_commands_are_clamped_to_the_limits():
    vehicle = _burn_vehicle(main_lag_s=0.0)
    x = initial_state(vehicle, [0, 0, 0], [0, 0, 0])
    dx = np.empty(15)
    for command, expected in ((10_000.0, 3000.0), (100.0, 600.0), (-5.0, 0.0)):
        derivatives(vehicle, FREE_SPACE, x, np.array([command, 0, 0, 0]), dx)
        x_step = x.copy()
        arc = propagate(vehicle, FREE_SPACE, x_step, 0.01, 0.01, schedule_u=[command, 0, 0, 0])
        assert arc.x[-1, THRUST] == expected
    derivatives(vehicle, FREE_SPACE, x, np.array([0.0, 1e4, -1e4, 1e4]), dx)
    np.testing.assert_allclose(dx[RATE:RATE + 3], np.array([100.0, -100.0, 50.0]) / [800, 800, 600])


def test_command_schedule_is_a_zero_order_hold():
    vehicle = _burn_vehicle()
    x0 = initial_state(vehicle, [0, 0, 0], [0, 0, 0])
    arc = propagate(vehicle, FREE_SPACE, x0, 3.0, 0.01, schedule_t_s=[0.0, 1.0, 2.0],
                    schedule_u=[[0, 0, 0, 0], [3000.0, 0, 0, 0], [0, 0, 0, 0]], log_every=1)
    burning = arc.x[:, THRUST] > 0
    assert np.allclose(arc.t_s[burning][[0, -1]], [1.01, 2.0])


@pytest.mark.parametrize("dt_s, propellant_kg", [(1.0, 0.05), (1.0, 0.478), (0.1, 0.05)])
def test_running_dry_inside_a_step_gives_no_free_delta_v(dt_s, propellant_kg):
    vehicle = _burn_vehicle()
    m0 = vehicle.mass_dry_kg + propellant_kg
    x0 = initial_state(vehicle, [0, 0, 0], [0, 0, 0], mass_kg=m0, thrust_n=3000.0)
    arc = propagate(vehicle, FREE_SPACE, x0, 3 * dt_s, dt_s, schedule_u=[3000.0, 0, 0, 0])
    c = vehicle.main_isp_s * G0_M_S2
    assert arc.x[-1, MASS] == vehicle.mass_dry_kg
    assert arc.x[-1, VEL + 2] == pytest.approx(c * np.log(m0 / vehicle.mass_dry_kg), rel=1e-6)
