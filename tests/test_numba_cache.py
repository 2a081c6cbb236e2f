"""The compiled-code cache is keyed by the project's source, so an edit never runs stale code."""
import numba

from gnc._numba_cache import source_digest


def test_cache_folder_is_keyed_by_the_source_digest():
    assert numba.config.CACHE_DIR.endswith(source_digest())
    assert len(source_digest()) == 16
