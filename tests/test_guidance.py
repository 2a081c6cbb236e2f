"""Guidance: the ZEM/ZEV law against the energy-optimal rendezvous it closes the loop on
(integrated with scipy), the terminal law's limits, and the braking plan against the rocket
equation."""
import numpy as np
from scipy.integrate import solve_ivp

from gnc.guidance import (DEFAULTS, GuidanceParams, approach_duration_s, braking_distance_m,
                          plan_braking, terminal_acceleration, zem_zev_acceleration)
from gnc.moon import G0_M_S2, RADIUS_M, moon_model

G = np.array([0.0, 0.0, -1.62])


def test_zem_zev_in_uniform_gravity_reaches_the_target_exactly():
    """Oracle: in uniform gravity the ZEM/ZEV feedback is the energy-optimal fixed-time
    solution, whose thrust is linear in time; integrating the feedback with scipy must reach
    the target state, and the thrust history must be a straight line."""
    r0, v0 = np.array([-20e3, 3e3, 2e3]), np.array([300.0, -10.0, -20.0])
    rf, vf = np.array([0.0, 0.0, 100.0]), np.array([5.0, 0.0, -3.0])
    T = 120.0

    def accel(t, y):
        return np.array(zem_zev_acceleration(*y[:3], *y[3:], *G, *rf, *vf, T - t))

    sol = solve_ivp(lambda t, y: np.concatenate([y[3:], accel(t, y) + G]), (0.0, T - 1e-6),
                    np.concatenate([r0, v0]), rtol=1e-11, atol=1e-9, dense_output=True)
    assert np.linalg.norm(sol.y[:3, -1] - rf) < 1e-3
    assert np.linalg.norm(sol.y[3:, -1] - vf) < 1e-3
    ts = np.linspace(0.0, T - 1.0, 40)
    a = np.array([accel(t, sol.sol(t)) for t in ts])
    for axis in range(3):
        fit = np.polyfit(ts, a[:, axis], 1)
        assert np.max(np.abs(np.polyval(fit, ts) - a[:, axis])) < 1e-6 * (1 + np.max(np.abs(a)))


def _terminal_guidance(**overrides):
    p = dict(site_mf=(RADIUS_M, 0.0, 0.0), up_mf=(1.0, 0.0, 0.0), along_mf=(0.0, 1.0, 0.0),
             braking_end_s=600.0, approach_duration_s=200.0, gate_height_m=2000.0,
             gate_downrange_m=6000.0, gate_speed_m_s=60.0, gate_descent_m_s=15.0,
             terminal_height_m=60.0, terminal_descent_m_s=3.0, touchdown_rate_m_s=1.0,
             terminal_rate_max_m_s=3.0, terminal_altitude_tau_s=8.0, velocity_tau_s=2.0,
             terminal_tilt_max_rad=np.radians(10.0), leg_height_m=1.2, switch_tgo_s=2.0,
             terminal_gate_tgo_s=4.0)
    p.update(overrides)
    return GuidanceParams(**p)


def test_the_approach_lasts_at_least_twice_its_handover_time():
    """The approach is shortened so its cubic cannot dip below the terminal gate (2.5 Δh / w),
    but always flown: it lasts at least twice ``terminal_gate_tgo_s`` (and four switch times)."""
    moon = moon_model(j2=False, rotation_rate_rad_s=0.0)
    at_gate = np.array([RADIUS_M + 2000.0, 0.0, 0.0, -15.0, 60.0, 0.0])
    g = _terminal_guidance()
    assert approach_duration_s(moon, g, at_gate, 2000.0) == 200.0      # 2.5 x 1940 / 15 = 323 s
    diving = at_gate.copy()
    diving[3] = -1000.0                                                  # 2.5 x 1940 / 1000 = 4.9 s
    assert approach_duration_s(moon, g, diving, 2000.0) == 8.0
    late = _terminal_guidance(terminal_gate_tgo_s=10.0)
    assert approach_duration_s(moon, late, diving, 2000.0) == 20.0


def test_terminal_descent_rate_and_tilt_limits():
    moon = moon_model(j2=False, rotation_rate_rad_s=0.0)
    g = _terminal_guidance()
    r = RADIUS_M + 500.0
    g_mag = moon.mu_m3_s2 / r ** 2
    # descending at the wanted rate (limited to 3 m/s at 500 m): thrust exactly cancels gravity
    x = np.array([r, 0.0, 0.0, -3.0, 0.0, 0.0])
    a = terminal_acceleration(moon, g, x, 500.0, g.terminal_rate_max_m_s)
    np.testing.assert_allclose(a, [g_mag, 0.0, 0.0], atol=1e-12)
    # near the ground the wanted rate is the touchdown rate
    x = np.array([RADIUS_M + 1.2, 0.0, 0.0, -1.0, 0.0, 0.0])
    np.testing.assert_allclose(terminal_acceleration(moon, g, x, 1.2, g.terminal_rate_max_m_s),
                               [moon.mu_m3_s2 / x[0] ** 2, 0, 0],
                               atol=1e-12)
    # a large horizontal velocity is nulled with the thrust tilted no more than 10 degrees
    x = np.array([r, 0.0, 0.0, -3.0, 50.0, 0.0])
    a = np.array(terminal_acceleration(moon, g, x, 500.0, g.terminal_rate_max_m_s))
    tilt = np.degrees(np.arctan2(np.hypot(a[1], a[2]), a[0]))
    assert abs(tilt - 10.0) < 1e-9 and a[1] < 0.0


def test_braking_plan_matches_the_rocket_equation():
    """A planned braking must spend, at its constant throttle, the Δv the rocket equation gives
    for its duration: that Δv covers the horizontal speed lost and the support against gravity."""
    moon = moon_model()
    m0, thrust, isp, throttle = 1000.0, 2400.0, 320.0, 0.8
    duration = plan_braking(moon, 1700.0, m0, thrust, isp, 60.0, throttle)
    burnt = throttle * thrust / (isp * G0_M_S2) * duration
    dv = isp * G0_M_S2 * np.log(m0 / (m0 - burnt))
    assert 1640.0 < dv < 1640.0 * 1.15          # horizontal Δv plus a gravity loss under 15 %
    assert 500.0 < duration < 900.0
    distance = braking_distance_m(1700.0, duration, 60.0, DEFAULTS["gate_downrange_m"])
    assert distance == 0.5 * 1760.0 * duration + 6000.0
