"""Vehicle parameters: validation names the parameter and the allowed range, before any compile."""
import numpy as np
import pytest

from gnc.moon import moon_model
from sims.propagation import initial_state, propagate
from sims.vehicle import THR_DIR, THR_FORCE, make_vehicle


@pytest.mark.parametrize("overrides, message", [
    (dict(mass_dry_kg=-1.0), r"mass_dry_kg = -1.0: must be > 0"),
    (dict(mass_wet_kg=0.0), r"mass_wet_kg = 0.0: must be > 0"),
    (dict(mass_dry_kg=1200.0), r"mass_dry_kg = 1200.0: must be <= mass_wet_kg"),
    (dict(mass_wet_kg=float("nan")), r"mass_wet_kg = nan: must be a finite number"),
    (dict(inertia_dry_kgm2=np.diag([100.0, -5.0, 80.0])), r"inertia_dry_kgm2: inertia must be positive definite"),
    (dict(inertia_wet_kgm2=np.diag([100.0, 100.0, 300.0])), r"inertia_wet_kgm2: .*triangle inequality"),
    (dict(inertia_wet_kgm2=[[800, 1, 0], [0, 800, 0], [0, 0, 600]]), r"inertia_wet_kgm2: inertia must be symmetric"),
    (dict(inertia_dry_kgm2=np.eye(2)), r"inertia_dry_kgm2: shape \(2, 2\), expected \(3, 3\)"),
    (dict(cm_wet_b_m=(0.0, np.nan, 0.0)), r"cm_wet_b_m .*finite"),
    (dict(main_thrust_min_n=4000.0), r"main_thrust_min_n = 4000.0: must be <= 3000.0"),
    (dict(main_isp_s=0.0), r"main_isp_s = 0.0: must be > 0"),
    (dict(main_lag_s=-0.1), r"main_lag_s = -0.1: must be >= 0"),
    (dict(main_dir_b=(0.0, 0.0, 0.0)), r"main_dir_b: a direction has zero length"),
    (dict(acs_torque_max_nm=(1.0, -1.0, 1.0)), r"acs_torque_max_nm: must be >= 0"),
    (dict(thrusters=[{"pos_b_m": (0, 0, 0), "dir_b": (0, 0, 1), "force_n": -5.0, "isp_s": 200.0}]),
     r"thrusters\[0\].force_n = -5.0: must be >= 0"),
    (dict(thrusters=[{"pos_b_m": (0, 0, 0), "dir_b": (0, 0, 1), "force": 5.0, "isp_s": 200.0}]),
     r"thrusters\[0\]: needs exactly the keys"),
    (dict(thrust_max=5.0), r"unknown parameter\(s\) thrust_max; allowed: mass_dry_kg"),
])
def test_invalid_vehicle_parameters_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        make_vehicle(**overrides)


def test_thruster_directions_are_normalised():
    vehicle = make_vehicle(thrusters=[{"pos_b_m": (1, 0, 0), "dir_b": (0, 3, 4), "force_n": 200.0,
                                       "isp_s": 290.0}])
    np.testing.assert_allclose(vehicle.thrusters[0, THR_DIR:THR_DIR + 3], [0, 0.6, 0.8])
    assert vehicle.thrusters[0, THR_FORCE] == 200.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(mass_kg=200.0), r"state.mass_kg = 200.0: must be in \[340.0, 1000.0\]"),
    (dict(q_bi=(0, 0, 0, 0)), r"state.q_bi: a quaternion of zero length"),
    (dict(omega_b_rad_s=(0.0, np.inf, 0.0)), r"state.omega_b_rad_s .*finite"),
    (dict(thrust_n=-1.0), r"state.thrust_n = -1.0"),
])
def test_invalid_initial_states_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        initial_state(make_vehicle(), [1.8e6, 0, 0], [0, 1, 0], **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dt_s=0.0), r"dt_s = 0.0 must be > 0"),
    (dict(t_end_s=-1.0), r"t_end_s = -1.0 must be >= t0_s"),
    (dict(schedule_u=[[1.0, 0, 0]]), r"schedule_u has shape \(1, 3\), expected \(1, 4\)"),
    (dict(schedule_t_s=[1.0], schedule_u=[[0, 0, 0, 0]]), r"start at or before t0_s"),
    (dict(schedule_u=[[np.nan, 0, 0, 0]]), r"finite"),
    (dict(log_every=0), r"log_every = 0"),
])
def test_invalid_propagation_requests_are_named(kwargs, message):
    vehicle = make_vehicle()
    x0 = initial_state(vehicle, [1.8e6, 0, 0], [0, 1, 0])
    args = {"t_end_s": 1.0, "dt_s": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        propagate(vehicle, moon_model(), x0, **args)
