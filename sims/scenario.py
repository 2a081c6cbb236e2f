"""Scenario files (TOML): what one landing is, validated before anything runs.

A scenario names the vehicle, the state at powered-descent start, the landing target, the truth
terrain and the flight software's on-board map, the sensors, a fault schedule, the
flight-software variant, the rates and the stop conditions. Every key is checked; an error names
the file, the key and what is allowed. The shipped scenarios live in ``sims/scenarios/``
(:func:`list_scenarios`); ``docs`` of every key are in the comments of ``nominal.toml``.
"""
import numbers
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from gnc.flight_software import VARIANTS
from gnc.guidance import DEFAULTS as GUIDANCE_DEFAULTS
from gnc.control import CONTROL_DEFAULTS
from gnc.validation import check_number
from sims import dispersions as disp
from sims.faults import fault_schedule
from sims.sensors.beams import (RANGEFINDER_DEFAULTS, VELOCIMETER_DEFAULTS, make_rangefinder,
                                make_velocimeter)
from sims.sensors.imu import DEFAULTS as IMU_DEFAULTS, make_imu
from sims.sensors.star_tracker import DEFAULTS as STAR_TRACKER_DEFAULTS, make_star_tracker
from sims.sensors.touchdown import DEFAULTS as LEG_DEFAULTS, make_touchdown_switches
from sims.vehicle import DEFAULTS as VEHICLE_DEFAULTS, VEHICLES, vehicle_preset

SCENARIO_DIR = Path(__file__).parent / "scenarios"
TERRAINS = ("atlas", "atlas-filled", "mare", "sphere")
"""Built-in terrain names; anything ending in ``.npz`` is a DEM file."""
OPTIONAL_SENSORS = ("rangefinder", "velocimeter", "star_tracker")

_SECTIONS = {
    "initial": dict(altitude_m=15_000.0, ground_speed_m_s=1_700.0, vertical_speed_m_s=0.0,
                    heading_deg=270.0, downrange_m="planned", mass_kg="wet"),
    "target": dict(lat_deg=None, lon_deg=None),
    "terrain": dict(truth="atlas", onboard="truth", dem=None, onboard_error_m_rt_m="auto",
                    truth_offset_m=0.0),
    "navigation": dict(position_sigma_m=100.0, velocity_sigma_m_s=0.2, attitude_sigma_deg=0.05,
                       cov_rate_hz=10.0, altitude_error_m="drawn", initial_error="drawn"),
    "rates": dict(base_hz=100.0, guidance_hz=10.0, telemetry_hz=10.0),
    "stop": dict(max_time_s=1_500.0),
    "limits": dict(touchdown_vertical_m_s=2.5, touchdown_horizontal_m_s=1.5, touchdown_tilt_deg=12.0),
}
INITIAL_ERRORS = ("drawn", "altitude_only")
"""``navigation.initial_error``: the initial estimate's position, velocity and attitude errors
drawn from the orbit-determination covariance (the σ keys), or only ``altitude_error_m`` (a
replayed flight's reconstructed error, the rest taken as zero; the filter still believes the σ
keys, and the IMU bias estimates are drawn either way)."""
_TUNING = {"guidance": GUIDANCE_DEFAULTS, "control": CONTROL_DEFAULTS}
"""Sections whose keys override the flight software's defaults (checked again by its builders)."""
_SENSOR_DEFAULTS = {"imu": IMU_DEFAULTS, "rangefinder": RANGEFINDER_DEFAULTS,
                    "velocimeter": VELOCIMETER_DEFAULTS, "star_tracker": STAR_TRACKER_DEFAULTS,
                    "legs": LEG_DEFAULTS}
_SENSOR_MAKERS = {"imu": make_imu, "rangefinder": make_rangefinder, "velocimeter": make_velocimeter,
                  "star_tracker": make_star_tracker, "legs": make_touchdown_switches}
_TOP = ("name", "description", "fsw", "vehicle", "sensors", "faults", "dispersions", *_SECTIONS,
        *_TUNING)
_FAULT_CHANNELS = {"gyro": 3, "accel": 3, "star_tracker": 4}


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: plain data, built into a run by :func:`sims.run.build_run`."""
    name: str
    description: str
    source: str                   # the file it came from
    fsw: str
    vehicle: dict                 # preset and overrides
    initial: dict
    target: dict
    terrain: dict
    sensors: dict                 # sensor -> overrides; absent sensors are not fitted
    faults: list
    navigation: dict
    rates: dict
    stop: dict
    limits: dict
    guidance: dict = field(default_factory=dict)
    control: dict = field(default_factory=dict)
    dispersions: tuple = ()       # sims.dispersions.Dispersion, drawn per campaign run
    data: dict = field(default_factory=dict, repr=False)   # the tables it was parsed from

    def draw(self, campaign_seed, index):
        """Run ``index`` of a campaign: ``({path: drawn value}, the scenario with them set)``."""
        values = {d.path: d.draw(campaign_seed, index) for d in self.dispersions}
        data = disp.apply(self.source, self.data, values, _defaults(self.data))
        drawn = _parse(data, self.source, dispersed=False)
        return values, replace(drawn, fsw=self.fsw, terrain={**drawn.terrain,
                                                            "dem": self.terrain["dem"]})

    def with_options(self, fsw=None, dem=None):
        """A copy flown by another variant and/or over a DEM as truth terrain."""
        out = self
        if fsw is not None:
            _check_fsw(self.source, fsw)
            out = replace(out, fsw=fsw)
        if dem is not None:
            out = replace(out, terrain={**out.terrain, "dem": _dem_path(self.source, "--dem", dem)})
        return out


def check_seed(name, value):
    """Raise a ValueError naming ``name`` unless ``value`` is an integer >= 0 (numpy's
    SeedSequence refuses a negative one without a name, and ``int()`` would fly 1.5 as 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} = {value!r}: must be an integer >= 0")


def list_scenarios():
    """``{name: description}`` of the shipped scenarios."""
    out = {}
    for path in sorted(SCENARIO_DIR.glob("*.toml")):
        with open(path, "rb") as f:
            out[path.stem] = tomllib.load(f).get("description", "")
    return out


def scenario_path(name_or_file):
    """Path of a shipped scenario by name, or of a TOML file; ValueError listing the names."""
    path = Path(name_or_file)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ValueError(f"scenario file {path}: not found")
        return path
    shipped = SCENARIO_DIR / f"{name_or_file}.toml"
    if not shipped.is_file():
        raise ValueError(f"unknown scenario {name_or_file!r}; shipped: "
                         f"{', '.join(list_scenarios())} (or give a .toml file)")
    return shipped


def load_scenario(name_or_file):
    """Read and validate a scenario (shipped name or TOML path) into a :class:`Scenario`."""
    path = scenario_path(name_or_file)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    return parse_scenario(data, str(path))


def _check_keys(src, where, given, allowed):
    if not isinstance(given, dict):
        raise ValueError(f"{src}: [{where}] must be a table")
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{src}: {where}.{unknown[0]}: unknown key; allowed: {', '.join(allowed)}")


def _check_fsw(src, name):
    if name not in VARIANTS:
        raise ValueError(f"{src}: fsw = {name!r}: unknown flight software; known: "
                         f"{', '.join(VARIANTS)}")
    return name


def _dem_path(src, key, value):
    if not isinstance(value, str) or not value.endswith(".npz"):
        raise ValueError(f"{src}: {key} = {value!r}: must be the path of a DEM .npz file")
    path = Path(value)
    if not path.is_absolute() and not path.exists():
        path = Path(src).parent / value
    if not path.is_file():
        raise ValueError(f"{src}: {key} = {value!r}: DEM file not found")
    return str(path)


def _numbers(src, section, values, defaults, special=()):
    """Check that every value given for a number-valued default is a number (or a special word)."""
    for key, value in values.items():
        default = defaults[key]
        if key in special and value == special[key]:
            continue
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{src}: {section}.{key} = {value!r}: must be true or false")
        elif isinstance(default, (int, float)) or default is None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                allowed = f"a number or {special[key]!r}" if key in special else "a number"
                raise ValueError(f"{src}: {section}.{key} = {value!r}: must be {allowed}")
            check_number(f"{src}: {section}", key, value)


def _defaults(data):
    """Every parameter's default by section (``sensors.NAME`` per sensor): what a dispersion's
    path may name."""
    preset = data.get("vehicle", {}).get("preset", "hakuto-r")
    out = {**_SECTIONS, **_TUNING, "vehicle": VEHICLES.get(preset, VEHICLE_DEFAULTS),
           "faults": dict(channel=-1, start_s=0.0, end_s=0.0, magnitude=0.0, period_s=0.0)}
    out.update({f"sensors.{name}": defaults for name, defaults in _SENSOR_DEFAULTS.items()})
    return out


def _check_dispersions(src, data, scenario):
    """Validate ``[dispersions]``: each path a numeric parameter, and the scenario valid at the
    extremes of each distribution (``mean ± 5 sigma`` for a normal)."""
    found = disp.parse_dispersions(src, data.get("dispersions", {}))
    defaults = _defaults(data)
    disp.check_paths(src, data, found, defaults)
    for d in found:
        for value in d.extremes():
            try:
                _parse(disp.apply(src, data, {d.path: value}, defaults), src, dispersed=False)
            except ValueError as exc:
                reason = str(exc).removeprefix(f"{src}: ")
                raise ValueError(f"{src}: dispersions.{d.path}: the {d.dist} distribution reaches "
                                 f"{value:g} {d.unit}, where {reason}") from None
    return replace(scenario, dispersions=found, data=data)


def parse_scenario(data, src="scenario"):
    """Validate a scenario given as plain data (the TOML's tables), dispersions included."""
    return _parse(data, src, dispersed=True)


def _parse(data, src, dispersed):
    _check_keys(src, "scenario", data, _TOP)
    for key in ("name", "description"):
        if not isinstance(data.get(key, ""), str):
            raise ValueError(f"{src}: {key} must be a string")
    sections = {}
    for name, defaults in _SECTIONS.items():
        given = data.get(name, {})
        _check_keys(src, name, given, defaults)
        special = ({"downrange_m": "planned", "mass_kg": "wet"} if name == "initial" else
                   {"altitude_error_m": "drawn"} if name == "navigation" else ())
        if name != "terrain":
            _numbers(src, name, given, defaults, special)
        sections[name] = {**defaults, **given}
    for name, defaults in _TUNING.items():
        given = data.get(name, {})
        _check_keys(src, name, given, defaults)
        _numbers(src, name, given, defaults)
    for key in ("lat_deg", "lon_deg"):
        if sections["target"].get(key) is None:
            raise ValueError(f"{src}: target.{key}: missing")
    check_number(f"{src}: target", "lat_deg", sections["target"]["lat_deg"], -90.0, 90.0)
    check_number(f"{src}: target", "lon_deg", sections["target"]["lon_deg"], -180.0, 360.0)
    _check_initial(src, sections["initial"])
    _check_terrain(src, sections["terrain"])
    _check_positive(src, "navigation", {k: v for k, v in sections["navigation"].items()
                                        if k not in ("altitude_error_m", "initial_error")})
    if sections["navigation"]["initial_error"] not in INITIAL_ERRORS:
        raise ValueError(f"{src}: navigation.initial_error = "
                         f"{sections['navigation']['initial_error']!r}: must be one of "
                         f"{', '.join(map(repr, INITIAL_ERRORS))}")
    if (sections["navigation"]["initial_error"] == "altitude_only"
            and sections["navigation"]["altitude_error_m"] == "drawn"):
        raise ValueError(f"{src}: navigation.initial_error = 'altitude_only' needs "
                         "navigation.altitude_error_m as a number")
    if sections["navigation"]["altitude_error_m"] != "drawn":
        check_number(f"{src}: navigation", "altitude_error_m", sections["navigation"]["altitude_error_m"],
                     -50_000.0, 50_000.0)
    _check_positive(src, "rates", sections["rates"])
    _check_positive(src, "stop", sections["stop"])
    _check_positive(src, "limits", sections["limits"])
    rates = sections["rates"]
    for key in ("guidance_hz", "telemetry_hz"):
        ratio = rates["base_hz"] / rates[key]
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"{src}: rates.{key} = {rates[key]}: must divide base_hz = "
                             f"{rates['base_hz']} a whole number of times")
    vehicle = data.get("vehicle", {})
    _check_keys(src, "vehicle", vehicle, ("preset", *VEHICLE_DEFAULTS))
    sensors = _sensors(src, data.get("sensors", {}))
    _check_hardware(src, vehicle, sensors)
    faults = data.get("faults", [])
    if not isinstance(faults, list):
        raise ValueError(f"{src}: faults must be an array of tables ([[faults]])")
    channels = {**_FAULT_CHANNELS, "touchdown": len(sensors["legs"].get("feet_b_m", LEG_DEFAULTS["feet_b_m"]))}
    for sensor, overrides in sensors.items():
        if sensor in ("rangefinder", "velocimeter"):
            beams = len(overrides.get("beams_b", _SENSOR_DEFAULTS[sensor]["beams_b"]))
            if sensor == "rangefinder":
                channels["rangefinder"] = beams
            else:
                channels["velocimeter_range"] = channels["velocimeter_velocity"] = beams
        if sensor == "star_tracker":
            channels["star_tracker"] = 4
    if "star_tracker" not in sensors:
        del channels["star_tracker"]
    try:
        fault_schedule(faults, channels)
    except ValueError as exc:
        raise ValueError(f"{src}: {exc}") from None
    scenario = Scenario(
        name=data.get("name", Path(src).stem), description=data.get("description", ""),
        source=src, fsw=_check_fsw(src, data.get("fsw", "fixed")), vehicle=dict(vehicle),
        initial=sections["initial"], target=sections["target"], terrain=sections["terrain"],
        sensors=sensors, faults=list(faults), navigation=sections["navigation"],
        rates=rates, stop=sections["stop"], limits=sections["limits"],
        guidance=dict(data.get("guidance", {})), control=dict(data.get("control", {})),
        data=data)
    return _check_dispersions(src, data, scenario) if dispersed else scenario


def _check_hardware(src, vehicle, sensors):
    """Build the vehicle and the sensors once, so their parameters are checked before the
    faults count their beams."""
    try:
        vehicle_preset(vehicle.get("preset", "hakuto-r"),
                       **{k: v for k, v in vehicle.items() if k != "preset"})
    except ValueError as exc:
        raise ValueError(f"{src}: {exc}") from None
    for name, overrides in sensors.items():
        try:
            _SENSOR_MAKERS[name](**overrides)
        except ValueError as exc:      # each maker names its keys NAME.KEY
            raise ValueError(f"{src}: sensors.{exc}") from None


def _check_positive(src, section, values):
    for key, value in values.items():
        check_number(f"{src}: {section}", key, value, 0.0, low_open=True)


def _check_initial(src, initial):
    where = f"{src}: initial"
    check_number(where, "altitude_m", initial["altitude_m"], 0.0, 200_000.0, low_open=True)
    check_number(where, "ground_speed_m_s", initial["ground_speed_m_s"], 0.0, 2_500.0, low_open=True)
    check_number(where, "vertical_speed_m_s", initial["vertical_speed_m_s"], -500.0, 500.0)
    check_number(where, "heading_deg", initial["heading_deg"], -360.0, 360.0)
    if initial["downrange_m"] != "planned":
        check_number(where, "downrange_m", initial["downrange_m"], 0.0, 2_000_000.0, low_open=True)
    if initial["mass_kg"] != "wet":
        check_number(where, "mass_kg", initial["mass_kg"], 0.0, low_open=True)


def _check_terrain(src, terrain):
    for key in ("truth", "onboard"):
        value = terrain[key]
        allowed = TERRAINS + (("truth",) if key == "onboard" else ())
        if isinstance(value, str) and value.endswith(".npz"):
            terrain[key] = _dem_path(src, f"terrain.{key}", value)
        elif value not in allowed:
            raise ValueError(f"{src}: terrain.{key} = {value!r}: must be one of "
                             f"{', '.join(allowed)} or a DEM .npz path")
    if terrain["dem"] is not None:
        terrain["dem"] = _dem_path(src, "terrain.dem", terrain["dem"])
    if terrain["onboard_error_m_rt_m"] == "auto":
        terrain["onboard_error_m_rt_m"] = 0.0 if terrain["onboard"] == "truth" else 3.0
    check_number(f"{src}: terrain", "onboard_error_m_rt_m", terrain["onboard_error_m_rt_m"], 0.0)
    check_number(f"{src}: terrain", "truth_offset_m", terrain["truth_offset_m"], -5_000.0, 5_000.0)


def _sensors(src, given):
    """Sensor overrides; ``fitted`` lists the optional sensors present (IMU and legs always are)."""
    _check_keys(src, "sensors", given, ("fitted", *_SENSOR_DEFAULTS))
    fitted = given.get("fitted", ["rangefinder", "star_tracker"])
    if not isinstance(fitted, list) or any(s not in OPTIONAL_SENSORS for s in fitted):
        raise ValueError(f"{src}: sensors.fitted = {fitted!r}: must list some of "
                         f"{', '.join(OPTIONAL_SENSORS)}")
    out = {"imu": {}, "legs": {}}
    for name in fitted:
        out[name] = {}
    for name, overrides in given.items():
        if name == "fitted":
            continue
        _check_keys(src, f"sensors.{name}", overrides, _SENSOR_DEFAULTS[name])
        if name not in out:
            raise ValueError(f"{src}: sensors.{name}: configured but not fitted; add it to "
                             "sensors.fitted")
        out[name] = dict(overrides)
    return out
