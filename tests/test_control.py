"""Control: the eigenaxis attitude law against its design (rate command, torque limits), and the
throttle's engine selection and limits."""
import numpy as np

from gnc.control import attitude_torque, engine_commands, make_control, make_onboard_vehicle
from gnc.quaternion import from_rotvec

VEHICLE = make_onboard_vehicle(1000.0, 340.0, 2400.0, 600.0, 320.0, 1200.0, 290.0,
                               (760.0, 760.0, 820.0), (330.0, 330.0, 380.0), (100.0, 100.0, 50.0),
                               220.0, 1.0, 1.2)
CONTROL = make_control()


def test_small_error_commands_rate_proportional_to_angle_about_the_eigenaxis():
    q = from_rotvec(np.array([0.0, np.radians(2.0), 0.0]))    # body +z tilted 2° about y
    tx, ty, tz, err = attitude_torque(VEHICLE, CONTROL, 1000.0, q, (0.0, 0.0, 0.0), 0.0, 0.0, 1.0)
    assert abs(np.degrees(err) - 2.0) < 1e-9
    wanted = CONTROL.attitude_gain_rad_s * np.radians(2.0)       # below the 6°/s limit
    np.testing.assert_allclose([tx, ty, tz], [0.0, -760.0 * CONTROL.rate_gain_per_s * wanted, 0.0],
                               atol=1e-9)


def test_large_error_is_rate_limited_and_torque_clamped():
    q = from_rotvec(np.array([np.radians(60.0), 0.0, 0.0]))
    tx, ty, tz, err = attitude_torque(VEHICLE, CONTROL, 340.0, q, (0.0, 0.0, 0.3), 0.0, 0.0, 1.0)
    assert abs(np.degrees(err) - 60.0) < 1e-9
    assert tx == -100.0 and ty == 0.0 and tz == -50.0            # clamped, roll rate damped
    # at the rate limit about the eigenaxis the x torque vanishes
    tx, _, _, _ = attitude_torque(VEHICLE, CONTROL, 340.0, q, (-CONTROL.max_rate_rad_s, 0, 0), 0, 0, 1.0)
    assert abs(tx) < 1e-9


def test_engine_selection_limits_and_cutback():
    main, thr, throttle = engine_commands(VEHICLE, CONTROL, False, 100.0, 0.0)
    assert (main, thr) == (600.0, 0.0)                           # the throttle floor
    main, thr, throttle = engine_commands(VEHICLE, CONTROL, False, 5000.0, 0.0)
    assert main == 2400.0 and throttle == 1.0
    main, thr, throttle = engine_commands(VEHICLE, CONTROL, True, 900.0, np.radians(10.0))
    assert main == 0.0 and abs(thr - 900.0 * np.cos(np.radians(10.0)) / 1200.0) < 1e-12
    main, _, _ = engine_commands(VEHICLE, CONTROL, False, 2000.0, np.radians(45.0))
    assert main == 600.0                                         # beyond the cut-back angle
    _, thr, _ = engine_commands(VEHICLE, CONTROL, True, 900.0, np.radians(45.0))
    assert abs(thr - 900.0 * np.cos(np.radians(45.0)) / 1200.0) < 1e-12   # thrusters: none
    _, thr, _ = engine_commands(VEHICLE, CONTROL, True, 900.0, np.radians(120.0))
    assert thr == 0.0                                            # never pushing away
