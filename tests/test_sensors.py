"""Sensor models against their oracles: Allan deviation, closed-form geometry, the real DEM."""
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from gnc.moon import RADIUS_M, llh_to_mf, mf_to_inertial, moon_model
from gnc.quaternion import from_dcm, multiply, conjugate, to_rotvec
from sims.allan import allan_deviation, allan_deviation_model
from sims.dynamics import QUAT, RATE, specific_force_b
from sims.propagation import initial_state
from sims.sensors.beams import beam_sample, make_rangefinder, make_velocimeter
from sims.sensors.imu import imu_init, imu_sample, make_imu, stationary_record
from sims.sensors.star_tracker import make_star_tracker, star_tracker_sample
from sims.sensors.touchdown import make_touchdown_switches, touchdown_sample
from sims.terrain import load_dem, sphere_terrain
from sims.vehicle import make_vehicle

ATLAS_DEM = Path(__file__).resolve().parents[2] / "shared" / "data" / "terrain" / "atlas_crop.npz"
MOON = moon_model(rotation_angle0_rad=0.0)


def _rng(seed):
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


@pytest.mark.slow
def test_allan_deviation_recovers_random_walk_and_bias_instability():
    imu = make_imu()
    rng = _rng(42)
    state = imu_init(imu, rng)
    record = stationary_record(imu, state, rng, np.zeros(3), np.zeros(3), 720_000)   # 2 h at 100 Hz
    taus = np.logspace(-1, np.log10(1800.0), 30)
    for params, first in ((imu.gyro, 0), (imu.accel, 3)):
        curves = [allan_deviation(record[:, first + a], 0.01, taus) for a in range(3)]
        tau = curves[0][0]
        pooled = np.sqrt(np.mean([adev**2 for _, adev in curves], axis=0))   # 3 independent axes

        def residual(v):
            return np.log(allan_deviation_model(tau, v[0], v[1], params.bias_correlation_s) / pooled)

        guess = [params.noise_density, params.bias_instability_sigma]
        fit = least_squares(residual, guess, x_scale=guess).x
        assert fit[0] == pytest.approx(params.noise_density, rel=0.15)
        assert fit[1] == pytest.approx(params.bias_instability_sigma, rel=0.15)
        # and the white-noise level read directly at tau = 1 s
        assert pooled[np.argmin(np.abs(tau - 1.0))] == pytest.approx(params.noise_density, rel=0.15)


def _ideal_imu(**overrides):
    base = dict(gyro_arw_deg_rt_h=0, gyro_bias_deg_h=0, gyro_bias_instability_deg_h=0,
                gyro_scale_factor_ppm=0, gyro_misalignment_urad=0, accel_noise_ug_rt_hz=0,
                accel_bias_ug=0, accel_bias_instability_ug=0, accel_scale_factor_ppm=0,
                accel_misalignment_urad=0)
    return make_imu(**{**base, **overrides})


def test_saturation_clamps_and_quantisation_rounds_with_carry():
    imu = _ideal_imu(gyro_range_deg_s=100.0, gyro_quantum_urad=10.0, accel_quantum_mm_s=1.0)
    state = imu_init(imu, _rng(0))
    dtheta, dv = np.empty(3), np.empty(3)
    omega = np.radians([250.0, -250.0, 0.0])
    imu_sample(imu, state, _rng(0), omega, np.zeros(3), 0.01, dtheta, dv)
    quantum = 10e-6
    assert dtheta[0] == pytest.approx(np.round(np.radians(100.0) * 0.01 / quantum) * quantum)
    assert dtheta[1] == -dtheta[0]
    # a rate below one quantum per sample: outputs are whole quanta and their sum tracks the truth
    state = imu_init(imu, _rng(0))
    force = np.array([0.0, 0.0, 0.0337])          # 0.337 mm/s per 10 ms sample, quantum 1 mm/s
    total = 0.0
    for k in range(1000):
        imu_sample(imu, state, _rng(0), np.zeros(3), force, 0.01, dtheta, dv)
        assert dv[2] / 1e-3 == pytest.approx(round(dv[2] / 1e-3), abs=1e-9)
        total += dv[2]
        assert abs(total - force[2] * 0.01 * (k + 1)) <= 0.5e-3 + 1e-12


def test_accelerometer_senses_thrust_not_gravity():
    vehicle = make_vehicle(main_lag_s=0.0)
    x = initial_state(vehicle, [RADIUS_M + 5000.0, 0, 0], [0, 1600.0, 0], thrust_n=0.0)
    np.testing.assert_allclose(specific_force_b(vehicle, MOON, x, np.zeros(4)), 0.0, atol=1e-15)
    x_burn = initial_state(vehicle, [RADIUS_M + 5000.0, 0, 0], [0, 1600.0, 0], thrust_n=2000.0)
    np.testing.assert_allclose(specific_force_b(vehicle, MOON, x_burn, np.array([2000.0, 0, 0, 0])),
                               [0, 0, 2.0], rtol=1e-12, atol=1e-15)
    # a free-falling IMU reads its own errors only
    imu = make_imu()
    rng = _rng(3)
    state = imu_init(imu, rng)
    record = stationary_record(imu, state, rng, np.zeros(3), np.zeros(3), 1000)
    assert np.max(np.abs(record[:, 3:] / 0.01)) < 6 * (imu.accel.noise_density / 0.1 + 1e-2)


def _state_over(lat_deg, lon_deg, height_m, tilt_rad=0.0, v_mf=(0.0, 0.0, 0.0)):
    """Truth state at t = 0 above a point, body z up, tilted about the local east axis."""
    vehicle = make_vehicle()
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    r_mf = llh_to_mf(MOON, lat, lon, height_m)
    up = r_mf / np.linalg.norm(r_mf)
    east = np.cross([0, 0, 1.0], up)
    east /= np.linalg.norm(east)
    north = np.cross(up, east)
    level = np.column_stack([east, north, up])            # body x east, y north, z up
    tilt = Rotation.from_rotvec(tilt_rad * east).as_matrix()
    q = from_dcm(tilt @ level)
    v_i = np.asarray(v_mf) + np.cross([0, 0, MOON.rotation_rate_rad_s], r_mf)
    return initial_state(vehicle, mf_to_inertial(MOON, 0.0, r_mf), v_i, q_bi=q)


def _sample(params, terrain, x, seed=0):
    n = params.beams_b.shape[0]
    out = [np.empty(n), np.empty(n), np.empty(n, dtype=np.bool_), np.empty(n)]
    beam_sample(params, terrain, MOON, 0.0, x, _rng(seed), *out)
    return out


@pytest.mark.parametrize("tilt_deg", [0.0, 10.0, 25.0, 40.0])
def test_range_over_flat_ground_is_height_over_cos_tilt(tilt_deg):
    sensor = make_rangefinder(pos_b_m=(0, 0, 0), noise_floor_m=0.0, noise_fraction=0.0)
    x = _state_over(10.0, 20.0, 2000.0, np.radians(tilt_deg))
    rng_m, _, valid, truth = _sample(sensor, sphere_terrain(), x)
    h = 2000.0
    # flat ground on a sphere: the closed form of the slant range, ≈ h / cos θ
    theta = np.radians(tilt_deg)
    r = RADIUS_M
    exact = (r + h) * np.cos(theta) - np.sqrt(r * r - ((r + h) * np.sin(theta)) ** 2)
    assert valid[0] and abs(truth[0] - exact) < 0.1 and rng_m[0] == truth[0]
    # h / cos θ on a plane; the sphere drops away by (h tan θ)² / 2R under the beam's foot
    drop = (h * np.tan(theta)) ** 2 / (2 * r)
    assert abs(exact - h / np.cos(theta)) <= 1.05 * drop / np.cos(theta) + 1e-9


def test_range_validity_limits():
    sensor = make_rangefinder(pos_b_m=(0, 0, 0), min_range_m=25.0, max_range_m=15_000.0)
    flat = sphere_terrain()
    for height, expected in ((10.0, False), (100.0, True), (14_000.0, True), (16_000.0, False)):
        _, _, valid, _ = _sample(sensor, flat, _state_over(0.0, 0.0, height))
        assert valid[0] == expected


def test_range_noise_grows_with_range():
    sensor = make_rangefinder(pos_b_m=(0, 0, 0))
    flat = sphere_terrain()
    x = _state_over(0.0, 0.0, 1000.0)
    errors = np.array([_sample(sensor, flat, x, seed)[0][0] - 1000.0 for seed in range(2000)])
    sigma = sensor.noise_floor_m + sensor.noise_fraction * 1000.0
    assert errors.std() == pytest.approx(sigma, rel=0.05)   # 2000 draws: σ̂ within 3.2 % (2σ)
    assert 3 * sigma == pytest.approx(1.0, rel=0.05)        # ~1 m 3σ at 1 km (published)


@pytest.mark.skipif(not ATLAS_DEM.exists(), reason=f"LRO DEM not found at {ATLAS_DEM}")
def test_rangefinder_sees_the_atlas_east_rim_step_on_the_real_dem():
    terrain = load_dem(ATLAS_DEM)
    sensor = make_rangefinder(pos_b_m=(0, 0, 0))
    ranges = [_sample(sensor, terrain, _state_over(46.735, lon, 1000.0))[3][0]
              for lon in np.linspace(46.6, 45.7, 60)]
    crest = int(np.argmin(ranges))
    assert max(ranges[crest:]) - ranges[crest] > 2800.0


def test_velocimeter_measures_line_of_sight_ground_velocity():
    sensor = make_velocimeter(pos_b_m=(0, 0, 0), velocity_noise_m_s=0.0, noise_floor_m=0.0,
                              noise_fraction=0.0)
    v_ground = np.array([30.0, -20.0, -15.0])
    x = _state_over(5.0, 5.0, 800.0, v_mf=v_ground)
    _, los, valid, truth = _sample(sensor, sphere_terrain(), x)
    q = x[QUAT:QUAT + 4]
    for k in range(3):
        d_i = Rotation.from_quat(q, scalar_first=True).apply(sensor.beams_b[k])
        assert valid[k]
        assert los[k] == pytest.approx(v_ground @ d_i, abs=1e-9)
        assert truth[k] == pytest.approx(800.0 / np.cos(np.radians(22.5)), rel=1e-3)


def test_star_tracker_noise_matches_its_sigma_and_fails_at_high_rate():
    tracker = make_star_tracker()
    x = _state_over(0.0, 0.0, 1000.0, 0.3)
    q_true = x[QUAT:QUAT + 4].copy()
    rng = _rng(8)
    q = np.empty(4)
    errors = []
    for _ in range(4000):
        assert star_tracker_sample(tracker, x, rng, q)
        errors.append(to_rotvec(multiply(conjugate(q_true), q)))   # body-axis error
    np.testing.assert_allclose(np.std(errors, axis=0), tracker.noise_rad, rtol=0.05)
    x[RATE] = np.radians(3.0)
    assert not star_tracker_sample(tracker, x, rng, q)


def test_touchdown_switches_close_on_contact_and_during_the_deployment_transient():
    switches = make_touchdown_switches(deploy_time_s=5.0, deploy_transient_s=0.2)
    flat = sphere_terrain()
    closed = np.empty(4)
    high = _state_over(0.0, 0.0, 50.0)
    for t, expected in ((4.9, 0.0), (5.0, 1.0), (5.19, 1.0), (5.2, 0.0)):
        touchdown_sample(switches, flat, MOON, t, high, closed)
        assert np.all(closed == expected)
    standing = _state_over(0.0, 0.0, 1.2)                 # feet 1.2 m below the reference point
    touchdown_sample(switches, flat, MOON, 0.0, standing, closed)
    assert np.all(closed == 1.0)
    tilted = _state_over(0.0, 0.0, 1.2 + 1.2 * np.sin(np.radians(5.0)), np.radians(5.0))
    touchdown_sample(switches, flat, MOON, 0.0, tilted, closed)
    assert closed.sum() == 1.0                            # first contact on one leg only


def test_same_seed_same_streams_and_different_seeds_independent():
    imu = make_imu()

    def stream(seed):
        rng = _rng(seed)
        state = imu_init(imu, rng)
        return stationary_record(imu, state, rng, np.array([0.01, 0, 0]), np.array([0, 0, 1.6]), 5000)

    a, b, c = stream(1), stream(1), stream(2)
    assert np.array_equal(a, b)
    noise_a = np.diff(a, axis=0).ravel()
    noise_c = np.diff(c, axis=0).ravel()
    assert abs(np.corrcoef(noise_a, noise_c)[0, 1]) < 4 / np.sqrt(noise_a.size)


@pytest.mark.parametrize("make, overrides, message", [
    (make_rangefinder, dict(beams_b=[(0.0, 0.0, 0.0)]), r"rangefinder.beams_b\[0\] .*zero length"),
    (make_rangefinder, dict(noise_floor_m=-1.0), r"rangefinder.noise_floor_m = -1.0: must be >= 0"),
    (make_rangefinder, dict(max_range_m=10.0, min_range_m=25.0), r"max_range_m = 10.0: must be > 25.0"),
    (make_velocimeter, dict(velocity_noise_m_s=-0.1), r"velocimeter.velocity_noise_m_s = -0.1"),
    (make_imu, dict(gyro_arw_deg_rt_h=-0.07), r"imu.gyro_arw_deg_rt_h = -0.07: must be >= 0"),
    (make_imu, dict(gyro_bias=1.0), r"imu: unknown key\(s\) gyro_bias"),
    (make_star_tracker, dict(noise_arcsec=(1.0, -1.0, 1.0)), r"star_tracker.noise_arcsec .*>= 0"),
    (make_touchdown_switches, dict(feet_b_m=[(1.0, 0.0)]), r"legs.feet_b_m\[0\] .*3 finite"),
])
def test_bad_sensor_configuration_names_the_key(make, overrides, message):
    with pytest.raises(ValueError, match=message):
        make(**overrides)
