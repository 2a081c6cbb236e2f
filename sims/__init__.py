"""The simulated world and the harness: dynamics, environment, terrain, sensors, faults, runs.

The public API is flat: ``import sims`` and use what is listed in ``__all__``.
"""
from importlib.metadata import PackageNotFoundError, version

import gnc  # noqa: F401  (first: it keys numba's cache on the project's source, see gnc._numba_cache)

try:
    __version__ = version("lander-testbed")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
