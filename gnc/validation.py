"""Shared input checks: a clear ``ValueError`` naming where, the key and the allowed range.

In ``gnc`` so that the flight software's configuration and the world's builders use the same
checks (``gnc`` may not import ``sims``).
"""
import numpy as np


def check_number(where, key, value, low=None, high=None, low_open=False, allow_inf=False):
    """Float ``value`` checked to be finite (or ``+inf`` if ``allow_inf``) and within
    ``[low, high]`` (``(low`` if ``low_open``)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}.{key} = {value!r}: must be a number") from None
    if not np.isfinite(value) and not (allow_inf and value == np.inf):
        raise ValueError(f"{where}.{key} = {value}: must be a finite number"
                         + (" or inf" if allow_inf else ""))
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{where}.{key} = {value}: must be {'>' if low_open else '>='} {low}")
    if high is not None and value > high:
        raise ValueError(f"{where}.{key} = {value}: must be <= {high}")
    return value


def check_keys(where, given, allowed):
    """Reject keys of ``given`` that are not in ``allowed``."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def unit_vector(where, key, value):
    """Unit 3-vector of ``value``; rejects a wrong length, non-finite values and zero length."""
    arr = vector(where, key, value, 3)
    norm = np.linalg.norm(arr)
    if norm < 1e-12:
        raise ValueError(f"{where}.{key} = {value!r}: a direction of zero length; give a non-zero vector")
    return arr / norm


def vector3(where, key, value):
    """Tuple of 3 finite floats."""
    return tuple(float(v) for v in vector(where, key, value, 3))


def items(where, key, value):
    """``value`` as a list (of vectors, say); a scalar or a string is refused, naming the key."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{where}.{key} = {value!r}: must be a list")
    return list(value)


def vector(where, key, value, size):
    """Float array of exactly ``size`` finite numbers."""
    try:
        v = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}.{key} = {value!r}: must be {size} numbers") from None
    if v.shape != (size,) or not np.all(np.isfinite(v)):
        raise ValueError(f"{where}.{key} = {value!r}: must be {size} finite numbers")
    return v
