"""Record a sensor log of a descent steered on truth: the navigation filter's test bench.

The descent is flown by a simple *truth* steering law (not flight software): the thrust tracks a
velocity profile whose horizontal part decays linearly to zero at ``brake_time_s`` while the
vertical part holds a descent rate, and a PD loop on truth points the engine. Along the way every
sensor is sampled (with faults applied) at its own rate into a :class:`gnc.sensor_log.SensorLog`,
next to the truth the filter is judged against. :func:`nav_config_for` gives the flight
software's matching view of the same sensors.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from scipy.spatial.transform import Rotation

from gnc.eskf import ProcessNoise
from gnc.moon import (gravity_xyz, inertial_to_mf, llh_to_mf, mf_to_inertial, moon_model,
                      velocity_mf_to_inertial)
from gnc.nav_config import initial_covariance, make_nav_config
from gnc.quaternion import from_dcm, from_rotvec, multiply, rotate_xyz
from gnc.sensor_log import SensorLog
from gnc.terrain import altitude_m, height_m
from sims.dynamics import (CMD_THRUST, CMD_THRUSTERS, CMD_TORQUE, MASS, POS, QUAT, RATE, VEL,
                           rk4_step, rk4_work, specific_force_b)
from sims.faults import SENSORS, apply_faults, fault_schedule, fault_state
from sims.sensors.beams import beam_sample, make_rangefinder, make_velocimeter
from sims.sensors.imu import ACCEL, GYRO, T_BIAS, T_GM, imu_init, imu_sample, make_imu
from sims.sensors.star_tracker import make_star_tracker, star_tracker_sample
from sims.vehicle import make_vehicle

GYRO_ID, ACCEL_ID, RF_ID, VMR_ID, VMV_ID, ST_ID = (SENSORS.index(s) for s in (
    "gyro", "accel", "rangefinder", "velocimeter_range", "velocimeter_velocity", "star_tracker"))


class Steering(NamedTuple):
    """Truth steering of the recorded descent."""
    brake_time_s: float = 240.0       # horizontal velocity reaches zero at this time
    descent_rate_m_s: float = 20.0    # vertical speed held, positive down
    velocity_tau_s: float = 10.0      # time constant of the velocity loop
    attitude_omega_rad_s: float = 2.0  # natural frequency of the attitude loop


class Recording(NamedTuple):
    """A recorded descent: the sensor log and the truth beside it."""
    log: SensorLog
    truth0: np.ndarray         # (16,) truth at t = 0, nominal layout
    truth: np.ndarray          # (n, 16) truth in the filter's nominal layout (r, v, q, b_a, b_g)
    true_altitude_m: np.ndarray  # (n,) above the truth terrain
    true_range_m: np.ndarray   # (n, rangefinder beams) noise-free slant range (inf: no hit)
    state: np.ndarray          # (n, 15) full dynamics state


@njit(cache=True, error_model='numpy')
def steering_acceleration(moon, steering, x, t_s, v_h0):
    """Wanted thrust acceleration (inertial, m/s²) of the truth steering law; a tuple."""
    rx, ry, rz = x[POS], x[POS + 1], x[POS + 2]
    r = np.sqrt(rx * rx + ry * ry + rz * rz)
    ux, uy, uz = rx / r, ry / r, rz / r
    T = steering.brake_time_s
    left = max(1.0 - t_s / T, 0.0)
    ramp = 1.0 / T if left > 0.0 else 0.0
    gx, gy, gz = gravity_xyz(moon, rx, ry, rz)
    d = steering.descent_rate_m_s
    tau = steering.velocity_tau_s
    return (-v_h0[0] * ramp + (v_h0[0] * left - d * ux - x[VEL]) / tau - gx,
            -v_h0[1] * ramp + (v_h0[1] * left - d * uy - x[VEL + 1]) / tau - gy,
            -v_h0[2] * ramp + (v_h0[2] * left - d * uz - x[VEL + 2]) / tau - gz)


@njit(cache=True, error_model='numpy')
def steer(vehicle, moon, steering, x, t_s, v_h0, u):
    """Command ``u`` (thrust and torque) of the truth steering law at state ``x``, time ``t_s``."""
    ax, ay, az = steering_acceleration(moon, steering, x, t_s, v_h0)
    a = np.sqrt(ax * ax + ay * ay + az * az)
    qw, qx, qy, qz = x[QUAT], x[QUAT + 1], x[QUAT + 2], x[QUAT + 3]
    bx, by, bz = rotate_xyz(qw, -qx, -qy, -qz, ax / a, ay / a, az / a)
    # rotation from body +z to the wanted thrust direction: axis z × b, angle acos(b_z)
    ex, ey = -by, bx
    s = np.sqrt(ex * ex + ey * ey)
    k = np.arctan2(s, bz) / s if s > 1e-12 else 0.0
    w = steering.attitude_omega_rad_s
    inertia = vehicle.inertia_wet_kgm2
    u[CMD_TORQUE] = inertia[0][0] * (w * w * ex * k - 2.0 * w * x[RATE])
    u[CMD_TORQUE + 1] = inertia[1][1] * (w * w * ey * k - 2.0 * w * x[RATE + 1])
    u[CMD_TORQUE + 2] = inertia[2][2] * (-2.0 * w * x[RATE + 2])
    u[CMD_THRUST] = x[MASS] * a * max(bz, 0.0)


@njit(cache=True)
def nominal_truth(x, imu_state, out):
    """Truth in the filter's nominal layout: r, v, q, then the IMU's total biases."""
    for i in range(10):
        out[i] = x[i]
    for a in range(3):
        out[10 + a] = imu_state[ACCEL + T_BIAS + a] + imu_state[ACCEL + T_GM + a]
        out[13 + a] = imu_state[GYRO + T_BIAS + a] + imu_state[GYRO + T_GM + a]


@njit(cache=True)
def _record(vehicle, moon, terrain, imu, rf, vm, st, schedule, faults, steering, x, v_h0, n,
            every, rng, fault_rng, log, truth0, truth, true_alt, true_range, states):
    u = np.zeros(CMD_THRUSTERS + vehicle.thrusters.shape[0])
    work = rk4_work(x.size)
    imu_state = imu_init(imu, rng)
    dt = 1.0 / imu.rate_hz
    dtheta = np.empty(3)
    dv = np.empty(3)
    f_avg = np.empty(3)
    w_avg = np.empty(3)
    nb = rf.beams_b.shape[0]
    rf_range, rf_los, rf_true = np.empty(nb), np.empty(nb), np.empty(nb)
    rf_valid = np.empty(nb, dtype=np.bool_)
    nv = vm.beams_b.shape[0]
    vm_range, vm_los, vm_true = np.empty(nv), np.empty(nv), np.empty(nv)
    vm_valid = np.empty(nv, dtype=np.bool_)
    vm_los_valid = np.empty(nv, dtype=np.bool_)
    q_meas = np.empty(4)
    st_valid = np.empty(1, dtype=np.bool_)
    q_truth = np.empty(4)
    no_truth = np.full(3, np.nan)
    imu_valid = np.ones(3, dtype=np.bool_)
    nominal_truth(x, imu_state, truth0)
    for k in range(n):
        t0 = k * dt
        steer(vehicle, moon, steering, x, t0, v_h0, u)
        f0 = specific_force_b(vehicle, moon, x, u)
        for a in range(3):
            w_avg[a] = x[RATE + a]
        rk4_step(vehicle, moon, x, u, dt, work)
        f1 = specific_force_b(vehicle, moon, x, u)
        for a in range(3):
            f_avg[a] = 0.5 * (f0[a] + f1[a])
            w_avg[a] = 0.5 * (w_avg[a] + x[RATE + a])
        nominal_truth(x, imu_state, truth[k])            # biases of this interval's sample
        imu_sample(imu, imu_state, rng, w_avg, f_avg, dt, dtheta, dv)
        t = t0 + dt
        apply_faults(schedule, faults, GYRO_ID, t, dtheta, imu_valid, no_truth, dt, fault_rng)
        apply_faults(schedule, faults, ACCEL_ID, t, dv, imu_valid, no_truth, dt, fault_rng)
        log.t_s[k] = t
        for a in range(3):
            log.imu[k, a] = dtheta[a]
            log.imu[k, 3 + a] = dv[a]
        log.rangefinder_due[k] = nb > 0 and every[0] > 0 and (k + 1) % every[0] == 0
        if log.rangefinder_due[k]:
            beam_sample(rf, terrain, moon, t, x, rng, rf_range, rf_los, rf_valid, rf_true)
            apply_faults(schedule, faults, RF_ID, t, rf_range, rf_valid, rf_true, 1.0, fault_rng)
            for b in range(nb):
                log.rangefinder_m[k, b] = rf_range[b]
                log.rangefinder_valid[k, b] = rf_valid[b]
                true_range[k, b] = rf_true[b]
        else:
            for b in range(nb):
                true_range[k, b] = np.nan
        log.velocimeter_due[k] = nv > 0 and every[1] > 0 and (k + 1) % every[1] == 0
        if log.velocimeter_due[k]:
            beam_sample(vm, terrain, moon, t, x, rng, vm_range, vm_los, vm_valid, vm_true)
            for b in range(nv):
                vm_los_valid[b] = vm_valid[b]
            apply_faults(schedule, faults, VMR_ID, t, vm_range, vm_valid, vm_true, 1.0, fault_rng)
            apply_faults(schedule, faults, VMV_ID, t, vm_los, vm_los_valid, vm_true, 1.0, fault_rng)
            for b in range(nv):
                log.velocimeter_range_m[k, b] = vm_range[b]
                log.velocimeter_range_valid[k, b] = vm_valid[b]
                log.velocimeter_los_m_s[k, b] = vm_los[b]
                log.velocimeter_los_valid[k, b] = vm_los_valid[b]
        log.star_tracker_due[k] = every[2] > 0 and (k + 1) % every[2] == 0
        if log.star_tracker_due[k]:
            st_valid[0] = star_tracker_sample(st, x, rng, q_meas)
            for c in range(4):
                q_truth[c] = x[QUAT + c]
            apply_faults(schedule, faults, ST_ID, t, q_meas, st_valid, q_truth, 1.0, fault_rng)
            norm = np.sqrt(q_meas[0] ** 2 + q_meas[1] ** 2 + q_meas[2] ** 2 + q_meas[3] ** 2)
            for c in range(4):
                log.star_tracker_q[k, c] = q_meas[c] / norm
            log.star_tracker_valid[k] = st_valid[0]
        for i in range(x.size):
            states[k, i] = x[i]
        true_alt[k] = altitude_m(terrain, inertial_to_mf(moon, t, x[POS:POS + 3]))


class Sensors(NamedTuple):
    """The sensor suite of a recorded descent; ``None`` for a sensor the vehicle lacks."""
    imu: object
    rangefinder: object = None
    velocimeter: object = None
    star_tracker: object = None


def default_sensors(velocimeter=False):
    """Navigation-grade IMU, laser rangefinder and star tracker (and optionally a velocimeter)."""
    return Sensors(make_imu(), make_rangefinder(), make_velocimeter() if velocimeter else None,
                   make_star_tracker())


def _no_beams():
    return make_rangefinder()._replace(beams_b=np.zeros((0, 3)))


def samples_every(where, imu_rate_hz, params):
    """IMU steps between samples of a sensor (0 when it is absent); its rate must divide the IMU's."""
    if params is None:
        return 0
    ratio = imu_rate_hz / params.rate_hz
    if abs(ratio - round(ratio)) > 1e-9:
        raise ValueError(f"{where}.rate_hz = {params.rate_hz}: must divide the IMU rate "
                         f"{imu_rate_hz} Hz a whole number of times")
    return int(round(ratio))


def start_state(vehicle, moon, terrain, lat_deg, lon_deg, altitude_m, ground_speed_m_s,
                heading_deg, vertical_speed_m_s=0.0):
    """Truth state at t = 0: ``altitude_m`` above the terrain below, velocity relative to the
    ground (heading clockwise from north, vertical speed positive up), at wet mass, engine off."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    h = height_m(terrain, lat, lon) + altitude_m
    r_mf = llh_to_mf(moon, lat, lon, h)
    hd = np.radians(heading_deg)
    e, n, up = ground_speed_m_s * np.sin(hd), ground_speed_m_s * np.cos(hd), vertical_speed_m_s
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    v_mf = (e * np.array([-so, co, 0.0]) + n * np.array([-sl * co, -sl * so, cl])
            + up * np.array([cl * co, cl * so, sl]))
    x = np.zeros(15)
    x[POS:POS + 3] = mf_to_inertial(moon, 0.0, r_mf)
    x[VEL:VEL + 3] = velocity_mf_to_inertial(moon, 0.0, r_mf, v_mf)
    x[QUAT] = 1.0
    x[MASS] = vehicle.mass_wet_kg
    return x


def record_descent(terrain, x0, duration_s, seed=0, sensors=None, vehicle=None, moon=None,
                   faults=(), steering=Steering()):
    """Fly the truth-steered descent from state ``x0`` for ``duration_s`` and record it.

    ``x0`` is a dynamics state (see :func:`start_state`); its attitude is replaced by one that
    points the engine where the steering wants it. ``faults`` is a fault schedule (list of
    entries, see :mod:`sims.faults`). Returns a :class:`Recording`.
    """
    sensors = sensors or default_sensors()
    vehicle = vehicle or make_vehicle()
    moon = moon or moon_model()
    imu = sensors.imu
    rf = sensors.rangefinder or _no_beams()
    vm = sensors.velocimeter or _no_beams()
    st = sensors.star_tracker or make_star_tracker()
    every = np.array([samples_every("rangefinder", imu.rate_hz, sensors.rangefinder),
                      samples_every("velocimeter", imu.rate_hz, sensors.velocimeter),
                      samples_every("star_tracker", imu.rate_hz, sensors.star_tracker)])
    channels = {"gyro": 3, "accel": 3, "rangefinder": rf.beams_b.shape[0],
                "velocimeter_range": vm.beams_b.shape[0],
                "velocimeter_velocity": vm.beams_b.shape[0], "star_tracker": 4, "touchdown": 4}
    schedule = fault_schedule(list(faults), channels)
    x = np.array(x0, dtype=np.float64)
    r = x[POS:POS + 3]
    v_h0 = x[VEL:VEL + 3] - r * np.dot(x[VEL:VEL + 3], r) / np.dot(r, r)
    a = np.array(steering_acceleration(moon, steering, x, 0.0, v_h0))
    rot, _ = Rotation.align_vectors([a / np.linalg.norm(a)], [[0.0, 0.0, 1.0]])
    x[QUAT:QUAT + 4] = from_dcm(rot.as_matrix())
    n = int(round(duration_s * imu.rate_hz))
    nb, nv = rf.beams_b.shape[0], vm.beams_b.shape[0]
    log = SensorLog(np.zeros(n), np.zeros((n, 6)), np.zeros(n, bool), np.full((n, nb), np.nan),
                    np.zeros((n, nb), bool), np.zeros(n, bool), np.full((n, nv), np.nan),
                    np.zeros((n, nv), bool), np.full((n, nv), np.nan), np.zeros((n, nv), bool),
                    np.zeros(n, bool), np.full((n, 4), np.nan), np.zeros(n, bool))
    truth0 = np.empty(16)
    truth = np.empty((n, 16))
    states = np.empty((n, 15))
    true_alt = np.empty(n)
    true_range = np.empty((n, nb))
    sensor_seed, fault_seed = np.random.SeedSequence(seed).spawn(2)
    _record(vehicle, moon, terrain, imu, rf, vm, st, schedule, fault_state(schedule), steering,
            x, v_h0, n, every, np.random.Generator(np.random.PCG64(sensor_seed)),
            np.random.Generator(np.random.PCG64(fault_seed)), log, truth0, truth, true_alt, true_range,
            states)
    return Recording(log, truth0, truth, true_alt, true_range, states)


def process_noise_for(imu):
    """The filter's process noise matched to the IMU model (white noise and bias instability)."""
    def walk(p):
        return p.bias_instability_sigma * np.sqrt(2.0 / p.bias_correlation_s)
    return ProcessNoise(imu.accel.noise_density, imu.gyro.noise_density, walk(imu.accel),
                        walk(imu.gyro))


def _beams_spec(params):
    if params is None:
        return None
    return dict(pos_b_m=params.pos_b_m, beams_b=params.beams_b, min_range_m=params.min_range_m,
                max_range_m=params.max_range_m, noise_floor_m=params.noise_floor_m,
                noise_fraction=params.noise_fraction,
                velocity_noise_m_s=params.velocity_noise_m_s)


def nav_config_for(sensors, moon=None, cov_rate_hz=10.0, checks=None, ignore=(),
                   terrain_walk_m_rt_m=0.0, rangefinder_knowledge=None, slope_sigma_max_m=np.inf,
                   map_roughness=False, unscented_ranges=False):
    """A navigation configuration whose sensor knowledge matches ``sensors`` (their datasheets),
    but for ``rangefinder_knowledge``: overrides of what the software assumes of its rangefinder
    (e.g. ``{"noise_floor_m": 150.0}``, how HAKUTO-R Mission 1 weighted it)."""
    rangefinder = _beams_spec(sensors.rangefinder)
    if rangefinder is not None and rangefinder_knowledge:
        rangefinder.update(rangefinder_knowledge)
    return make_nav_config(
        process_noise_for(sensors.imu), sensors.imu.rate_hz, cov_rate_hz,
        rangefinder, _beams_spec(sensors.velocimeter),
        None if sensors.star_tracker is None else sensors.star_tracker.noise_rad,
        checks, ignore, moon, terrain_walk_m_rt_m, slope_sigma_max_m, map_roughness,
        unscented_ranges)


def od_covariance(imu, position_m=100.0, velocity_m_s=0.5, attitude_rad=1e-3):
    """Orbit-determination covariance at powered-descent start, biases from the IMU datasheet."""
    ba = np.hypot(imu.accel.bias_sigma, imu.accel.bias_instability_sigma)
    bg = np.hypot(imu.gyro.bias_sigma, imu.gyro.bias_instability_sigma)
    return initial_covariance(position_m, velocity_m_s, attitude_rad, ba, bg)


def dispersed_estimate(truth_row, P0, rng):
    """An initial estimate ``(r_i, v_i, q_bi, b_a, b_g)`` drawn about ``truth_row`` (nominal
    layout) so that truth − estimate ~ N(0, P0)."""
    e = np.linalg.cholesky(P0) @ rng.standard_normal(15)
    q = multiply(from_rotvec(-e[6:9]), truth_row[6:10])
    return (truth_row[0:3] - e[0:3], truth_row[3:6] - e[3:6], q, truth_row[10:13] - e[9:12],
            truth_row[13:16] - e[12:15])
