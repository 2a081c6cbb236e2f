"""Vehicle mass properties and propulsion, validated into a compiled-friendly NamedTuple.

Body frame: +z is the main engine's thrust direction (up when the lander stands on its legs).
Positions are relative to the body reference point; the centre of mass moves linearly from its
dry to its wet position with the propellant fraction, and so does the inertia tensor (about the
centre of mass).
"""
from typing import NamedTuple

import numpy as np

from gnc.validation import check_number, items


THRUSTER_COLUMNS = ("pos_x_b_m", "pos_y_b_m", "pos_z_b_m", "dir_x_b", "dir_y_b", "dir_z_b",
                    "force_n", "isp_s")
"""Columns of ``VehicleParams.thrusters``: mount point, unit force direction, full force, Isp."""
THR_POS, THR_DIR, THR_FORCE, THR_ISP = 0, 3, 6, 7

Vec3 = tuple[float, float, float]
Mat3 = tuple[Vec3, Vec3, Vec3]


class VehicleParams(NamedTuple):
    """Physical parameters of one vehicle; build with :func:`make_vehicle`.

    Fixed-size vectors are tuples, not arrays: compiled code passes tuples by value, while each
    array in a tuple costs a reference-count round trip on every call (measured: 260 ns per
    derivative evaluation with arrays, see benchmarks/dynamics.py).
    """
    mass_dry_kg: float
    mass_wet_kg: float
    inertia_dry_kgm2: Mat3             # about the dry centre of mass
    inertia_wet_kgm2: Mat3             # about the wet centre of mass
    cm_dry_b_m: Vec3
    cm_wet_b_m: Vec3
    main_thrust_max_n: float
    main_thrust_min_n: float           # lowest non-zero thrust (throttle floor)
    main_isp_s: float
    main_lag_s: float                  # first-order time constant; 0 = instantaneous
    main_pos_b_m: Vec3                 # where the thrust acts
    main_dir_b: Vec3                   # unit direction of the force on the vehicle
    thrusters: np.ndarray              # (n, len(THRUSTER_COLUMNS)) small fixed thrusters
    acs_torque_max_nm: Vec3            # per-axis limit of the attitude-control torque
    acs_isp_s: float                   # Isp of the attitude-control thrusters
    acs_lever_m: float                 # their moment arm: propellant = |torque| / lever / (Isp g0)


DEFAULTS = dict(
    mass_dry_kg=340.0, mass_wet_kg=1000.0,
    inertia_dry_kgm2=np.diag([350.0, 350.0, 300.0]), inertia_wet_kgm2=np.diag([800.0, 800.0, 600.0]),
    cm_dry_b_m=(0.0, 0.0, 0.0), cm_wet_b_m=(0.0, 0.0, 0.0),
    main_thrust_max_n=3000.0, main_thrust_min_n=600.0, main_isp_s=320.0, main_lag_s=0.1,
    main_pos_b_m=(0.0, 0.0, -0.8), main_dir_b=(0.0, 0.0, 1.0),
    thrusters=(),
    acs_torque_max_nm=(100.0, 100.0, 50.0), acs_isp_s=220.0, acs_lever_m=1.0,
)
"""Default parameters: a generic 1000 kg lander (the reference vehicle of the oracle tests).
``thrusters`` is a sequence of mappings with keys ``pos_b_m``, ``dir_b``, ``force_n``, ``isp_s``."""


_TERMINAL_THRUSTER_RADIUS_M = 0.9
HAKUTO_R = dict(
    DEFAULTS,
    inertia_dry_kgm2=np.diag([330.0, 330.0, 380.0]), inertia_wet_kgm2=np.diag([760.0, 760.0, 820.0]),
    main_thrust_max_n=2400.0, main_thrust_min_n=600.0,
    thrusters=tuple({"pos_b_m": (_TERMINAL_THRUSTER_RADIUS_M * np.cos(a),
                                 _TERMINAL_THRUSTER_RADIUS_M * np.sin(a), -0.6),
                     "dir_b": (0.0, 0.0, 1.0), "force_n": 200.0, "isp_s": 290.0}
                    for a in np.radians(np.arange(0.0, 360.0, 60.0))),
)
"""A HAKUTO-R-class lander, the scenarios' default vehicle.

Published (ispace): about 1,000 kg fully fuelled and 340 kg dry; a bipropellant main engine
braking the descent, and 200 N-class thrusters flying the last phase alone (Mission 1: "the
400 N ones were cut as planned"). Assumed (not published): the main engine's 2,400 N ceiling and
600 N throttle floor, Isp 320 s and 0.1 s lag; six 200 N terminal thrusters of Isp 290 s on a
0.9 m circle, all along +z (together 1,200 N, hovering the dry vehicle at 46 % and the vehicle
with 200 kg of propellant left at 73 %); the inertia of a 2.6 m wide, 2.3 m tall body; attitude
thrusters of 100 N·m (50 N·m in roll) at Isp 220 s. The descent is taken to begin with full tanks."""

VEHICLES = {"hakuto-r": HAKUTO_R, "generic": DEFAULTS}
"""Vehicle presets by name, for scenario files (``[vehicle] preset = ...``)."""


def vehicle_preset(name, **overrides):
    """:func:`make_vehicle` from the preset called ``name`` updated with ``overrides``."""
    if name not in VEHICLES:
        raise ValueError(f"vehicle.preset = {name!r}: unknown; known: {', '.join(VEHICLES)}")
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"vehicle: unknown parameter(s) {', '.join(unknown)}; "
                         f"allowed: preset, {', '.join(DEFAULTS)}")
    return make_vehicle(**{**VEHICLES[name], **overrides})


def _array(name, value, shape):
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"vehicle.{name} = {value!r}: must be numbers, shape {shape}") from None
    if arr.shape != shape:
        raise ValueError(f"vehicle.{name}: shape {arr.shape}, expected {shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"vehicle.{name} = {value!r}: must hold finite numbers (no NaN or inf)")
    return arr


def _unit_vector(name, value, shape):
    arr = _array(name, value, shape)
    norm = np.linalg.norm(arr)
    if norm < 1e-9:
        raise ValueError(f"vehicle.{name}: a direction has zero length; give a non-zero vector")
    return arr / norm


def _tuple(arr):
    """Nested tuple of floats of a 1-D or 2-D array."""
    return tuple(_tuple(row) for row in arr) if arr.ndim > 1 else tuple(float(v) for v in arr)


def _check_inertia(name, inertia):
    if not np.allclose(inertia, inertia.T, rtol=1e-9, atol=1e-9):
        raise ValueError(f"vehicle.{name}: inertia must be symmetric")
    moments = np.linalg.eigvalsh(inertia)
    if moments[0] <= 0:
        raise ValueError(f"vehicle.{name}: inertia must be positive definite "
                         f"(principal moments {np.round(moments, 6).tolist()} kg·m²)")
    if moments[0] + moments[1] < moments[2] * (1 - 1e-9):
        raise ValueError(f"vehicle.{name}: principal moments {np.round(moments, 6).tolist()} "
                         "violate the triangle inequality (I1 + I2 >= I3) of a real body")


def _check_range(name, value, low=None, high=None, low_open=False):
    return check_number("vehicle", name, value, low, high, low_open)


def _thrusters(specs):
    specs = items("vehicle", "thrusters", specs)
    rows = np.zeros((len(specs), len(THRUSTER_COLUMNS)))
    keys = ("pos_b_m", "dir_b", "force_n", "isp_s")
    for k, spec in enumerate(specs):
        where = f"thrusters[{k}]"
        if not hasattr(spec, "keys") or set(spec) != set(keys):
            raise ValueError(f"vehicle.{where}: needs exactly the keys {', '.join(keys)}")
        rows[k, THR_POS:THR_POS + 3] = _array(f"{where}.pos_b_m", spec["pos_b_m"], (3,))
        rows[k, THR_DIR:THR_DIR + 3] = _unit_vector(f"{where}.dir_b", spec["dir_b"], (3,))
        rows[k, THR_FORCE] = _check_range(f"{where}.force_n", spec["force_n"], 0.0)
        rows[k, THR_ISP] = _check_range(f"{where}.isp_s", spec["isp_s"], 0.0, low_open=True)
    return rows


def make_vehicle(**overrides):
    """Validated :class:`VehicleParams` from :data:`DEFAULTS` updated with ``overrides``.

    Raises
    ------
    ValueError
        Naming the parameter and its allowed range, for unknown keys, non-finite values,
        non-positive masses or inertias, dry mass above wet, and zero-length directions.
    """
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"vehicle: unknown parameter(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(DEFAULTS)}")
    p = {**DEFAULTS, **overrides}
    dry = _check_range("mass_dry_kg", p["mass_dry_kg"], 0.0, low_open=True)
    wet = _check_range("mass_wet_kg", p["mass_wet_kg"], 0.0, low_open=True)
    if dry > wet:
        raise ValueError(f"vehicle.mass_dry_kg = {dry}: must be <= mass_wet_kg ({wet})")
    inertia = {}
    for key in ("inertia_dry_kgm2", "inertia_wet_kgm2"):
        inertia[key] = _array(key, p[key], (3, 3))
        _check_inertia(key, inertia[key])
    tmax = _check_range("main_thrust_max_n", p["main_thrust_max_n"], 0.0, low_open=True)
    tmin = _check_range("main_thrust_min_n", p["main_thrust_min_n"], 0.0, tmax)
    thrusters = _thrusters(p["thrusters"])
    torque_max = _array("acs_torque_max_nm", p["acs_torque_max_nm"], (3,))
    if np.any(torque_max < 0):
        raise ValueError("vehicle.acs_torque_max_nm: must be >= 0 on every axis")
    return VehicleParams(
        mass_dry_kg=dry, mass_wet_kg=wet,
        inertia_dry_kgm2=_tuple(inertia["inertia_dry_kgm2"]),
        inertia_wet_kgm2=_tuple(inertia["inertia_wet_kgm2"]),
        cm_dry_b_m=_tuple(_array("cm_dry_b_m", p["cm_dry_b_m"], (3,))),
        cm_wet_b_m=_tuple(_array("cm_wet_b_m", p["cm_wet_b_m"], (3,))),
        main_thrust_max_n=tmax, main_thrust_min_n=tmin,
        main_isp_s=_check_range("main_isp_s", p["main_isp_s"], 0.0, low_open=True),
        main_lag_s=_check_range("main_lag_s", p["main_lag_s"], 0.0),
        main_pos_b_m=_tuple(_array("main_pos_b_m", p["main_pos_b_m"], (3,))),
        main_dir_b=_tuple(_unit_vector("main_dir_b", p["main_dir_b"], (3,))),
        thrusters=thrusters,
        acs_torque_max_nm=_tuple(torque_max),
        acs_isp_s=_check_range("acs_isp_s", p["acs_isp_s"], 0.0, low_open=True),
        acs_lever_m=_check_range("acs_lever_m", p["acs_lever_m"], 0.0, low_open=True),
    )
