"""Command line: ``lander-testbed`` (also ``python -m sims``).

Errors in the user's input print one line naming the problem and exit with status 2.
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

import sims
from sims.terrain import atlas_terrain, load_dem


def _latlon(text):
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LAT,LON in degrees, e.g. 46.7,44.4")
    if not (-90 <= lat <= 90 and -180 <= lon <= 360):
        raise argparse.ArgumentTypeError(f"{text!r}: latitude must be in [-90, 90], "
                                         "longitude in [-180, 360]")
    return lat, lon


def _output_folder(path, *subfolders):
    """``path`` as a Path, once it is known that it and its ``subfolders`` can be written:
    checked before any landing is flown, so a bad ``--out`` costs no run."""
    path = Path(path)
    for wanted in (path, *(path / sub for sub in subfolders)):
        existing = wanted
        while not os.path.lexists(existing) and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise ValueError(f"--out = {path}: {existing} exists and is not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"--out = {path}: {existing} is not writable")
    return path


def _seed(text):
    from sims.scenario import check_seed      # the command imports it anyway; --help need not
    try:
        seed = int(text)
        check_seed("seed", seed)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a seed is an integer >= 0") from None
    return seed


def _parser():
    parser = argparse.ArgumentParser(
        prog="lander-testbed",
        description="Lunar powered-descent GNC testbed: compiled 6-DOF world, flight software "
                    "under test, failure replays and Monte Carlo campaigns.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {sims.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    terrain = commands.add_parser(
        "terrain", help="terrain height and nadir range along a ground track",
        description="Print the terrain under a straight ground track and the range a nadir "
                    "rangefinder at a fixed height above the reference sphere would measure. "
                    "Default track: west across the east rim of Atlas, the cliff HAKUTO-R "
                    "Mission 1 flew over.")
    terrain.add_argument("--dem", metavar="PATH",
                         help="DEM .npz (e.g. ../shared/data/terrain/atlas_crop.npz); "
                              "default: the built-in analytic Atlas model")
    terrain.add_argument("--from", dest="start", type=_latlon, default=(46.735, 47.1),
                         metavar="LAT,LON", help="start of the track (deg; default 46.735,47.1)")
    terrain.add_argument("--to", dest="end", type=_latlon, default=(46.735, 44.433),
                         metavar="LAT,LON", help="end of the track (deg; default 46.735,44.433)")
    terrain.add_argument("--height-m", type=float, default=1000.0,
                         help="sensor height above the 1737.4 km sphere (m; default 1000)")
    terrain.add_argument("--points", type=int, default=28, help="samples along the track (default 28)")
    terrain.add_argument("--plot", metavar="PNG", help="also save the profile as a figure")

    commands.add_parser("list", help="the shipped scenarios and flight-software variants",
                        description="List the shipped scenarios and the flight-software variants.")
    run = commands.add_parser(
        "run", help="fly one landing and write its summary, telemetry, events and dashboard",
        description="Fly one scenario in the compiled closed loop, print a short summary and "
                    "write summary.json, telemetry.parquet, events.csv and dashboard.png.")
    run.add_argument("scenario", metavar="SCENARIO_OR_FILE",
                     help="a shipped scenario's name (see `lander-testbed list`) or a .toml file")
    run.add_argument("--fsw", metavar="NAME", help="flight-software variant (default: the scenario's)")
    run.add_argument("--seed", type=_seed, default=0, help="the run's seed (default 0)")
    run.add_argument("--dem", metavar="PATH", help="DEM .npz as truth terrain")
    run.add_argument("--out", metavar="DIR", help="output folder (default: runs/SCENARIO-FSW-SEED)")
    run.add_argument("--campaign-seed", type=_seed, metavar="S",
                     help="re-fly one run of the campaign seeded S (with --index), dispersions drawn")
    run.add_argument("--index", type=int, metavar="K", help="the campaign run to re-fly (with --campaign-seed)")
    campaign = commands.add_parser(
        "campaign", help="fly many dispersed landings in parallel: runs.parquet, summary, figures",
        description="Fly a Monte Carlo campaign of a scenario (its [dispersions] drawn per run), "
                    "locally on all cores or on a Dask cluster. Rows are written as runs finish; "
                    "the same command resumes a campaign that was stopped. Writes runs.parquet, "
                    "summary.json (success probability with a Clopper-Pearson 95 %% interval) and "
                    "the figures.")
    campaign.add_argument("scenario", metavar="SCENARIO_OR_FILE", help="shipped name or .toml file")
    campaign.add_argument("--runs", type=int, required=True, metavar="N", help="number of runs")
    campaign.add_argument("--fsw", metavar="NAME", help="flight-software variant (default: the scenario's)")
    campaign.add_argument("--seed", type=_seed, default=0, metavar="S", help="campaign seed (default 0)")
    campaign.add_argument("--dem", metavar="PATH", help="DEM .npz as truth terrain")
    campaign.add_argument("--out", metavar="DIR",
                          help="output folder (default: runs/campaign-SCENARIO-FSW-SEED)")
    campaign.add_argument("--workers", type=int, metavar="K", help="local workers (default: all cores)")
    campaign.add_argument("--parallel", choices=("processes", "threads"), default="processes",
                          help="local workers as processes (default) or threads of this process")
    where = campaign.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address, e.g. tcp://HOST:8786")
    where.add_argument("--dask-local", type=int, metavar="N", help="start a local Dask cluster of N workers")
    campaign.add_argument("--no-progress", action="store_true", help="no progress bar")
    campaign.add_argument("--no-plots", action="store_true", help="write no figures")
    compare = commands.add_parser(
        "compare", help="two campaigns' success probabilities side by side",
        description="Print two finished campaigns' success probabilities with their 95 %% "
                    "intervals and Fisher's exact test of their difference; with --roc, the "
                    "range plausibility gate's ROC curve from a no-fault (A) and a fault (B) campaign.")
    compare.add_argument("a", metavar="DIR_A")
    compare.add_argument("b", metavar="DIR_B")
    compare.add_argument("--roc", metavar="PNG", help="also write the ROC curve (A healthy, B faulted)")
    replay = commands.add_parser(
        "replay", help="fly a real failure with its legacy and its fixed software, side by side",
        description="Fly a failure replay with the flight software as it flew and with the fixed "
                    "software, print the published figures beside the simulated ones, and write "
                    "both runs' files and comparison.png.")
    replay.add_argument("name", metavar="NAME", help="the replay (see `lander-testbed list`)")
    replay.add_argument("--seed", type=_seed, default=0, help="the runs' seed (default 0)")
    replay.add_argument("--dem", metavar="PATH", help="DEM .npz as truth terrain")
    replay.add_argument("--out", metavar="DIR", help="output folder (default: runs/replay-NAME-SEED)")
    return parser


def _replay(args):
    from sims.replay import format_replay, get_replay, replay
    from sims.results import write_atomic
    out = _output_folder(args.out or f"runs/replay-{args.name}-{args.seed}",
                         get_replay(args.name).legacy_fsw, "fixed")
    result = replay(args.name, seed=args.seed, dem=args.dem)
    print(format_replay(result))
    result.legacy.save(out / result.replay.legacy_fsw)
    result.fixed.save(out / "fixed")
    write_atomic(out / "comparison.png", result.plot)
    print(f"wrote {out}/: {result.replay.legacy_fsw}/ and fixed/ (summary.json, telemetry.parquet, "
          "events.csv, dashboard.png), comparison.png")
    return 0


def _terrain(args):
    from sims.profile import nadir_profile, plot_profile
    terrain = load_dem(args.dem) if args.dem else atlas_terrain()
    if args.points < 2:
        raise ValueError(f"--points = {args.points}: must be >= 2")
    profile = nadir_profile(terrain, args.start, args.end, args.height_m, args.points)
    source = args.dem or "analytic Atlas model"
    print(f"terrain: {source}; sensor {args.height_m:.0f} m above the reference sphere")
    print(f"{'dist_km':>8} {'lat_deg':>8} {'lon_deg':>8} {'terrain_m':>10} {'range_m':>9} "
          f"{'step_m':>7}")
    previous = np.nan
    for row in profile:
        step = row.range_m - previous
        print(f"{row.distance_km:8.2f} {row.lat_deg:8.3f} {row.lon_deg:8.3f} "
              f"{row.terrain_m:10.0f} {row.range_m:9.0f} {'' if np.isnan(step) else f'{step:+7.0f}'}")
        previous = row.range_m
    if args.plot:
        plot_profile(profile, args.plot, title=f"Nadir range along the track ({source})")
        print(f"wrote {args.plot}")
    return 0


def _campaign(args):
    from sims.campaign import run_campaign
    from sims.campaign_report import format_campaign
    from sims.scenario import load_scenario
    scenario = load_scenario(args.scenario).with_options(fsw=args.fsw, dem=args.dem)
    out = _output_folder(args.out or f"runs/campaign-{scenario.name}-{scenario.fsw}-{args.seed}")
    campaign = run_campaign(scenario, args.runs, out, seed=args.seed, workers=args.workers,
                            scheduler=args.scheduler, dask_local=args.dask_local, parallel=args.parallel,
                            progress=not args.no_progress, plots=not args.no_plots)
    print(format_campaign(campaign.summary))
    print(f"wrote {out}/: runs.parquet, summary.json" + ("" if args.no_plots else ", figures (*.png)"))
    return 0


def _compare(args):
    from sims.campaign import load_campaign
    from sims.campaign_report import format_comparison
    a, b = load_campaign(args.a), load_campaign(args.b)
    print(format_comparison(a, b))
    if args.roc:
        from sims.campaign_plot import plot_roc
        plot_roc(a, b, args.roc)
        print(f"wrote {args.roc}")
    return 0


def _list(args):
    from gnc.flight_software import VARIANTS
    from sims.scenario import list_scenarios
    print("scenarios:")
    for name, description in list_scenarios().items():
        print(f"  {name:24s} {description}")
    from sims.replay import REPLAYS
    print("replays (lander-testbed replay NAME):")
    for name, spec in REPLAYS.items():
        print(f"  {name:24s} {spec.title}: {spec.legacy_fsw} vs fixed")
    print("flight software (--fsw):")
    for name, variant in VARIANTS.items():
        print(f"  {name:24s} {variant.description}")
    return 0


def _run(args):
    from sims.results import format_summary
    from sims.run import run
    from sims.scenario import load_scenario
    scenario = load_scenario(args.scenario).with_options(fsw=args.fsw, dem=args.dem)
    if (args.campaign_seed is None) != (args.index is None):
        raise ValueError("--campaign-seed and --index: give both to re-fly a campaign's run")
    if args.index is not None:
        if args.index < 0:
            raise ValueError(f"--index = {args.index}: must be >= 0")
        seed, default = args.campaign_seed, f"c{args.campaign_seed}-{args.index}"
    else:
        seed, default = args.seed, f"{args.seed}"
    out = _output_folder(args.out or f"runs/{scenario.name}-{scenario.fsw}-{default}")
    result = run(scenario, seed=seed, campaign_index=args.index)
    print(format_summary(result.summary))
    result.save(out)
    print(f"wrote {out}/: summary.json, telemetry.parquet, events.csv, dashboard.png")
    return 0


def main(argv=None):
    """Entry point of the ``lander-testbed`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return {"terrain": _terrain, "list": _list, "run": _run, "replay": _replay,
                "campaign": _campaign, "compare": _compare}[args.command](args)
    except ValueError as exc:
        print(f"lander-testbed: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
