"""Flight software never sees truth: no module in gnc/ imports sims (statically or at run time)."""
import ast
import subprocess
import sys
from pathlib import Path

GNC = Path(__file__).resolve().parents[1] / "gnc"


def _imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_no_gnc_module_imports_sims():
    offenders = [f"{path.relative_to(GNC.parent)} imports {name}"
                 for path in sorted(GNC.rglob("*.py"))
                 for name in _imported_modules(path)
                 if name == "sims" or name.startswith("sims.")]
    assert not offenders, offenders


def test_importing_every_gnc_module_loads_no_sims_module():
    modules = [".".join(p.relative_to(GNC.parent).with_suffix("").parts)
               for p in GNC.rglob("*.py") if p.name != "__init__.py"]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m == 'sims' or m.startswith('sims.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=GNC.parent, check=True).stdout.strip()
    assert out == "[]"


def test_the_check_catches_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from sims.dynamics import derivatives\nimport numpy\n")
    assert "sims.dynamics" in list(_imported_modules(bad))
