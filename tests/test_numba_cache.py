"""The compiled-code cache is keyed by the compiled code's source, so an edit never runs stale
code, and an edit to pure-Python orchestration does not throw the cache away."""
import numba

from gnc._numba_cache import ROOT, compiled_sources, source_digest


def test_cache_folder_is_keyed_by_the_source_digest():
    assert numba.config.CACHE_DIR.endswith(source_digest())
    assert len(source_digest()) == 16


def test_digest_covers_what_compiled_code_reaches_and_nothing_else():
    files = {p.relative_to(ROOT).as_posix() for p in compiled_sources()}
    # compiled modules, and the modules whose globals they read (transitively)
    assert {"sims/closed_loop.py", "gnc/navigation.py", "sims/sensors/beams.py",
            "gnc/validation.py", "sims/vehicle.py"} <= files
    # orchestration: reached by no compiled module
    assert not files & {"sims/cli.py", "sims/run.py", "sims/results.py", "sims/dashboard.py",
                        "sims/scenario.py"}
