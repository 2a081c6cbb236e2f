"""The command line: --help, --version, the terrain profile, one-line errors with status 2."""
import subprocess
import sys

import pytest

import sims
from sims.cli import main


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    assert "terrain" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"lander-testbed {sims.__version__}"


def test_python_dash_m_sims_runs_the_same_command_line():
    out = subprocess.run([sys.executable, "-m", "sims", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("lander-testbed ")


def test_terrain_profile_over_the_analytic_atlas_shows_the_cliff(capsys, tmp_path):
    plot = tmp_path / "profile.png"
    assert main(["terrain", "--points", "30", "--plot", str(plot)]) == 0
    lines = capsys.readouterr().out.splitlines()
    ranges = [float(line.split()[4]) for line in lines[2:] if line[:1] == " " and len(line.split()) >= 5]
    assert len(ranges) == 30
    assert max(ranges) - min(ranges) > 2500.0
    assert plot.stat().st_size > 10_000


@pytest.mark.parametrize("argv, message", [
    (["terrain", "--dem", "no/such/file.npz"], "DEM file no/such/file.npz: not found"),
    (["terrain", "--points", "1"], "--points = 1: must be >= 2"),
])
def test_bad_input_is_one_line_and_status_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"lander-testbed: error: {message}"


def test_malformed_coordinates_are_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["terrain", "--from", "north"])
    assert stop.value.code == 2
    assert "expected LAT,LON" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["run", "nominal", "--seed", "-3"],
                                  ["run", "nominal", "--campaign-seed", "x", "--index", "0"],
                                  ["campaign", "nominal", "--runs", "2", "--seed", "-3"],
                                  ["replay", "hakuto-r-m1", "--seed", "1.5"]])
def test_a_bad_seed_is_rejected_by_the_parser_naming_its_option(capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    option = next(a for a in argv if "seed" in a)
    assert f"argument {option}: " in (err := capsys.readouterr().err)
    assert err.rstrip().endswith("a seed is an integer >= 0")


@pytest.mark.parametrize("command", [["run", "nominal"], ["replay", "hakuto-r-m1"],
                                     ["campaign", "nominal", "--runs", "2"]])
@pytest.mark.parametrize("where", ["on", "under", "dangling link"])
def test_an_output_folder_that_cannot_be_made_is_refused_before_any_flight(capsys, tmp_path,
                                                                           command, where):
    """``--out`` on a file, under one, or on a link to nowhere is refused before a landing is
    flown, which would otherwise be lost to a traceback when its files are written."""
    blocker = tmp_path / "a-file"
    if where == "dangling link":
        blocker.symlink_to(tmp_path / "nowhere")
    else:
        blocker.write_text("not a folder")
    out = blocker / "inside" if where == "under" else blocker
    assert main([*command, "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"lander-testbed: error: --out = {out}: {blocker} exists and is not a folder")


def test_a_replay_whose_run_folder_is_a_file_is_refused_before_it_flies(capsys, tmp_path):
    (tmp_path / "fixed").write_text("not a folder")
    assert main(["replay", "hakuto-r-m1", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"{tmp_path / 'fixed'} exists and is not a folder")
