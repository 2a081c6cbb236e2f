"""Dispersions: distributions over a scenario's numeric parameters, drawn per campaign run.

A scenario's ``[dispersions]`` table maps a parameter's dotted path to a distribution::

    [dispersions]
    "initial.altitude_m" = { dist = "normal", mean = 15000.0, sigma = 150.0 }
    "vehicle.main_isp_s" = { dist = "truncnormal", mean = 320.0, sigma = 3.0, low = 310.0, high = 330.0 }
    "sensors.imu.accel_bias_ug" = { dist = "loguniform", low = 100.0, high = 1000.0 }
    "faults.0.start_s" = { dist = "uniform", low = 300.0, high = 500.0 }
    "vehicle.main_dir_b.0" = { dist = "normal", mean = 0.0, sigma = 0.005 }   # misalignment

Paths name a key of ``initial``, ``target``, ``terrain`` (``truth_offset_m``), ``navigation``,
``guidance``, ``control``, ``limits``, ``vehicle``, ``sensors.NAME`` (a fitted sensor) or
``faults.K``; a trailing integer picks a component of a vector parameter. Values are absolute, in
the parameter's own unit, which its name carries (``_m``, ``_deg``, ``_m_s``...); an optional
``unit`` must repeat it. Distributions (:data:`DISTRIBUTIONS`): ``normal`` (mean, sigma),
``truncnormal`` (mean, sigma, low, high), ``uniform`` (low, high), ``loguniform`` (low, high > 0),
``choice`` (values, optional weights).

Each parameter of run ``k`` is drawn from its own stream,
``SeedSequence(campaign_seed, spawn_key=(k, 1, crc32(path)))``: a run's draws do not depend on
the other runs, the batch or the worker, and adding a dispersion leaves the others' draws as they
were.
"""
import copy
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import stats

DISTRIBUTIONS = {
    "normal": ("mean", "sigma"),
    "truncnormal": ("mean", "sigma", "low", "high"),
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "choice": ("values",),
}
"""Distribution name → its required parameters (``choice`` also takes ``weights``)."""
_OPTIONAL = {"choice": ("weights",)}
_SECTIONS = ("initial", "target", "terrain", "navigation", "guidance", "control", "limits",
             "vehicle", "sensors", "faults")
_UNITS = (("_m_s2", "m/s^2"), ("_m_s", "m/s"), ("_deg_rt_h", "deg/sqrt(h)"), ("_deg_h", "deg/h"),
          ("_deg_s", "deg/s"), ("_ug_rt_hz", "ug/sqrt(Hz)"), ("_m_rt_m", "m/sqrt(m)"),
          ("_mm_s", "mm/s"), ("_kgm2", "kg m^2"), ("_deg", "deg"), ("_rad", "rad"),
          ("_urad", "urad"), ("_ppm", "ppm"), ("_ug", "ug"), ("_kg", "kg"), ("_hz", "Hz"),
          ("_nm", "N m"), ("_n", "N"), ("_s", "s"), ("_m", "m"), ("_g", "g"))
NORMAL_CHECK_SIGMAS = 5.0
"""An unbounded normal must keep its parameter valid this many sigmas either side of the mean."""


@dataclass(frozen=True)
class Dispersion:
    """One dispersed parameter: its dotted path, distribution and parameters, and unit."""
    path: str
    dist: str
    params: dict
    unit: str

    def extremes(self):
        """Values that bound the draws (for checking the scenario stays valid across them)."""
        p = self.params
        if self.dist == "normal":
            return (p["mean"] - NORMAL_CHECK_SIGMAS * p["sigma"],
                    p["mean"] + NORMAL_CHECK_SIGMAS * p["sigma"])
        if self.dist == "choice":
            return tuple(p["values"])
        return p["low"], p["high"]

    def draw(self, campaign_seed, index):
        """The value of run ``index`` of the campaign seeded ``campaign_seed``."""
        seq = np.random.SeedSequence(campaign_seed, spawn_key=(index, 1, zlib.crc32(self.path.encode())))
        rng = np.random.Generator(np.random.PCG64(seq))
        p = self.params
        if self.dist == "normal":
            return float(rng.normal(p["mean"], p["sigma"]))
        if self.dist == "truncnormal":
            a, b = ((p[k] - p["mean"]) / p["sigma"] for k in ("low", "high"))
            return float(stats.truncnorm.ppf(rng.uniform(), a, b, loc=p["mean"], scale=p["sigma"]))
        if self.dist == "uniform":
            return float(rng.uniform(p["low"], p["high"]))
        if self.dist == "loguniform":
            return float(np.exp(rng.uniform(np.log(p["low"]), np.log(p["high"]))))
        weights = p.get("weights")
        probabilities = None if weights is None else np.asarray(weights) / np.sum(weights)
        return float(p["values"][rng.choice(len(p["values"]), p=probabilities)])


def unit_of(path):
    """The unit a parameter's name carries (its last named part's suffix), '' if none."""
    name = next(part for part in reversed(path.split(".")) if not part.isdigit())
    for suffix, unit in _UNITS:
        if name.endswith(suffix):
            return unit
    return ""


def _flatten(table, prefix=""):
    """``{dotted path: spec}`` from a table written with quoted or bare dotted keys."""
    out = {}
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and "dist" not in value:
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def _number(where, key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"{where}.{key} = {value!r}: must be a finite number")
    return float(value)


def parse_dispersion(src, path, spec):
    """Validate one entry's distribution (not yet its path) into a :class:`Dispersion`."""
    where = f"{src}: dispersions.{path}"
    if not isinstance(spec, dict) or "dist" not in spec:
        raise ValueError(f"{where}: must be a table with dist = one of {', '.join(DISTRIBUTIONS)}")
    dist = spec["dist"]
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"{where}.dist = {dist!r}: unknown; allowed: {', '.join(DISTRIBUTIONS)}")
    required, optional = DISTRIBUTIONS[dist], _OPTIONAL.get(dist, ())
    allowed = ("dist", "unit", *required, *optional)
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown key for {dist}; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in spec:
            raise ValueError(f"{where}.{key}: missing ({dist} takes {', '.join(required)})")
    unit = unit_of(path)
    if "unit" in spec and spec["unit"] != unit:
        raise ValueError(f"{where}.unit = {spec['unit']!r}: the parameter is in {unit or 'no unit'!r}; "
                         "give the distribution in that unit")
    if dist == "choice":
        params = _choice(where, spec)
    else:
        params = {key: _number(where, key, spec[key]) for key in required}
    if "sigma" in params and params["sigma"] <= 0:
        raise ValueError(f"{where}.sigma = {params['sigma']}: must be > 0")
    if "low" in params and not params["low"] < params["high"]:
        raise ValueError(f"{where}: low = {params['low']} must be < high = {params['high']}")
    if dist == "loguniform" and params["low"] <= 0:
        raise ValueError(f"{where}.low = {params['low']}: a log-uniform needs low > 0")
    if dist == "truncnormal" and not params["low"] <= params["mean"] <= params["high"]:
        raise ValueError(f"{where}.mean = {params['mean']}: must lie in [low, high] = "
                         f"[{params['low']}, {params['high']}]")
    return Dispersion(path, dist, params, unit)


def _choice(where, spec):
    values = spec["values"]
    if not isinstance(values, list) or not values:
        raise ValueError(f"{where}.values = {values!r}: must be a non-empty array of numbers")
    params = {"values": [_number(where, "values", v) for v in values]}
    if "weights" in spec:
        weights = spec["weights"]
        if (not isinstance(weights, list) or len(weights) != len(values)
                or any(_number(where, "weights", w) < 0 for w in weights) or sum(weights) <= 0):
            raise ValueError(f"{where}.weights = {weights!r}: must be {len(values)} numbers >= 0 "
                             "with a positive sum")
        params["weights"] = [float(w) for w in weights]
    return params


def parse_dispersions(src, table):
    """Validate a ``[dispersions]`` table's distributions; paths are checked by
    :func:`check_paths` against the scenario's data."""
    if not isinstance(table, dict):
        raise ValueError(f"{src}: [dispersions] must be a table of parameter = {{ dist = ... }}")
    return tuple(parse_dispersion(src, path, spec) for path, spec in _flatten(table).items())


def _locate(src, data, path, defaults):
    """``(table in data, its defaults, key, component or None)`` of a parameter path, or a
    ValueError naming what the path may be; the table is created in ``data`` when absent."""
    where = f"{src}: dispersions.{path}"
    parts = path.split(".")
    section = parts[0]
    if section not in _SECTIONS:
        raise ValueError(f"{where}: no such parameter; a path starts with one of {', '.join(_SECTIONS)}")
    if section == "sensors":
        sensors = data.setdefault("sensors", {})
        fitted = ("imu", "legs", *sensors.get("fitted", ["rangefinder", "star_tracker"]))
        if len(parts) < 3 or parts[1] not in fitted:
            raise ValueError(f"{where}: no such parameter; sensors.NAME.KEY with NAME a fitted "
                             f"sensor: {', '.join(fitted)}")
        node, table, rest = sensors.setdefault(parts[1], {}), defaults[f"sensors.{parts[1]}"], parts[2:]
    elif section == "faults":
        faults = data.get("faults", [])
        if len(parts) < 3 or not parts[1].isdigit() or int(parts[1]) >= len(faults):
            raise ValueError(f"{where}: no such parameter; faults.K.KEY with K < {len(faults)} "
                             "(the scenario's fault entries)")
        node, table, rest = faults[int(parts[1])], defaults["faults"], parts[2:]
    else:
        if len(parts) < 2:
            raise ValueError(f"{where}: no such parameter; give {section}.KEY")
        node, table, rest = data.setdefault(section, {}), defaults[section], parts[1:]
    key, component = rest[0], rest[1:]
    if key not in table:
        numeric = [k for k, v in table.items() if _numeric(v) or _vector(v)]
        raise ValueError(f"{where}: no such parameter; {'.'.join(parts[:len(parts) - len(rest)])} "
                         f"has {', '.join(numeric)}")
    value = table[key]
    if component:
        if (len(component) != 1 or not component[0].isdigit() or not _vector(value)
                or int(component[0]) >= len(value)):
            raise ValueError(f"{where}: {key} is not a vector with that component")
        return node, table, key, int(component[0])
    if not _numeric(value):
        raise ValueError(f"{where}: {key} is not a number; only numeric parameters (or a vector's "
                         "components, KEY.I) can be dispersed")
    return node, table, key, None


def _numeric(value):
    """A number, or a default a number may replace (None, "planned", "wet", "auto")."""
    return value is None or isinstance(value, str) or (
        isinstance(value, (int, float)) and not isinstance(value, bool))


def _vector(value):
    try:
        return np.ndim(value) == 1 and len(value) > 0 and np.all(np.isfinite(np.asarray(value, float)))
    except (TypeError, ValueError):
        return False


def check_paths(src, data, dispersions, defaults):
    """Raise a ValueError naming the first dispersion whose path is not a numeric parameter."""
    scratch = copy.deepcopy(data)
    for d in dispersions:
        _locate(src, scratch, d.path, defaults)


def apply(src, data, values, defaults):
    """A deep copy of scenario ``data`` with each ``{path: value}`` set."""
    out = copy.deepcopy(data)
    for path, value in values.items():
        node, table, key, component = _locate(src, out, path, defaults)
        if component is None:
            node[key] = value
        else:
            vector = [float(v) for v in node.get(key, table[key])]
            vector[component] = value
            node[key] = vector
    return out
