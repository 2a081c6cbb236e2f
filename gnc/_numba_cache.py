"""Point numba's on-disk cache at a folder keyed by this package's source.

numba keys a cached function on its own source file only, but a cached function carries the
compiled code of everything it calls: after an edit to ``gnc/eskf.py`` the cached filter in
``gnc/sensor_log.py`` would go on running the old update. Keying the whole cache on a digest of
every source file of ``gnc`` and ``sims`` makes any edit start a fresh cache. The base folder is
``NUMBA_CACHE_DIR`` if set, else ``~/.cache/lander-testbed/numba``; old digests' folders can be
deleted at will.
"""
import hashlib
import os
from pathlib import Path

from numba.core import config


def source_digest():
    """Short digest of every ``.py`` file in the ``gnc`` and ``sims`` packages."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha1()
    for package in ("gnc", "sims"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def use_source_keyed_cache():
    """Set ``numba.config.CACHE_DIR`` before any compiled function of the project is defined."""
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "lander-testbed", "numba")
    config.CACHE_DIR = os.path.join(base, source_digest())
