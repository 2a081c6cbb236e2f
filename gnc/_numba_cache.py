"""Point numba's on-disk cache at a folder keyed by the compiled code's source.

numba keys a cached function on its own source file only, but a cached function carries the
compiled code of everything it calls, and the globals it read when compiled: after an edit to
``gnc/eskf.py`` the cached filter in ``gnc/sensor_log.py`` would go on running the old update.
Keying the whole cache on a digest of every module that compiled code can reach makes any such
edit start a fresh cache, while edits to pure-Python orchestration (the command line, campaigns,
plots) keep it. The base folder is ``NUMBA_CACHE_DIR`` if set, else
``~/.cache/lander-testbed/numba``; old digests' folders can be deleted at will.
"""
import ast
import hashlib
import os
import re
from pathlib import Path

from numba.core import config

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gnc", "sims")
_COMPILES = re.compile(r"@(numba\.)?(njit|jit|vectorize|guvectorize|cfunc|jitclass)\b")
"""A decorator that makes numba compile the function below it."""


def _module_file(name):
    """Source file of a project module ``gnc.x.y`` (module or package), or None."""
    path = ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _project_imports(path):
    """Files of the project modules (and their parent packages) that ``path`` imports."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    files = set()
    for name in names:
        parts = name.split(".")
        if parts[0] in PACKAGES:
            files.update(f for f in (_module_file(".".join(parts[:i + 1]))
                                     for i in range(len(parts))) if f is not None)
    return files


def compiled_sources():
    """Every project file defining a compiled function, and every project file those import
    (transitively): all the source a compiled function can have been built from."""
    todo = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
            if _COMPILES.search(p.read_text())]
    seen = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(_project_imports(path) - seen)
    return sorted(seen)


def source_digest():
    """Short digest of :func:`compiled_sources`."""
    digest = hashlib.sha1()
    for path in compiled_sources():
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def use_source_keyed_cache():
    """Set ``numba.config.CACHE_DIR`` before any compiled function of the project is defined."""
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "lander-testbed", "numba")
    config.CACHE_DIR = os.path.join(base, source_digest())
