"""Flight software under test: navigation, plausibility checks, guidance, control, mode logic.

Also the geometry shared by the flight software and the simulated world (quaternions, lunar
frames and gravity, the terrain interface), because the flight software needs them on board and
must never import :mod:`sims`.
"""
from gnc._numba_cache import use_source_keyed_cache

use_source_keyed_cache()
