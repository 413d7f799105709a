"""``paradigm``: validate a protocol, run a lab session, run a pilot.

Each subcommand is a thin wrapper around one library function. A user's mistake ends in one
line on stderr and exit code 2; nothing heavy is imported before a subcommand needs it.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

EXIT_USAGE = 2


def _parser():
    parser = argparse.ArgumentParser(prog="paradigm", description="Pain-empathy task: validate, run, pilot.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only")
    sub = parser.add_subparsers(dest="command", required=True)

    def protocol_args(p):
        p.add_argument("protocol", help="protocol YAML file")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                       help="override a protocol field, e.g. blocks.main.trials_per_cell=2 (repeatable)")

    p = sub.add_parser("validate", help="check a protocol and its stimuli; print the design summary")
    protocol_args(p)

    p = sub.add_parser("pilot", help="simulated participants run the protocol (data-only or --visual)")
    protocol_args(p)
    p.add_argument("--participants", type=int, required=True, help="number of simulated participants")
    p.add_argument("--out", required=True, help="dataset folder to write (data/ inside)")
    p.add_argument("--seed", type=int, default=0, help="pilot seed (default 0)")
    p.add_argument("--visual", action="store_true", help="run in a PsychoPy window with simulated input")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="simulation parameter, e.g. ratings.pain_intensity.effects.pain=60 (repeatable)")
    p.add_argument("--time-scale", type=float, default=0.0,
                   help="data-only: pace the virtual clock in real time times this factor (0 = instant)")
    p.add_argument("--resume", action="store_true",
                   help="skip completed participants in --out, resume interrupted ones, start missing ones")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes for a data-only pilot (default: number of cores)")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else
                                              logging.INFO if args.verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return {"validate": _validate, "pilot": _pilot}[args.command](args)
    except _user_errors() as exc:
        print(f"paradigm {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


def _user_errors():
    from stimuli.errors import ManifestError

    from .errors import DesignError, ProtocolError, SessionError

    return (ProtocolError, DesignError, SessionError, ManifestError, _UsageError)


class _UsageError(ValueError):
    pass


def _one_line(exc):
    from stimuli.errors import ManifestError

    if isinstance(exc, ManifestError):
        more = f" (and {len(exc.problems) - 1} more problems)" if len(exc.problems) > 1 else ""
        return f"{exc.lines()[0]}{more}"
    return " ".join(str(exc).split())


def _load(args):
    from stimuli import read_manifest

    from .protocol_load import load_protocol, parse_override

    overrides = []
    for text in args.overrides:
        try:
            overrides.append(parse_override(text))
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
    loaded = load_protocol(args.protocol, overrides)
    manifest = read_manifest(loaded.manifest_path)
    return loaded, manifest


def _validate(args):
    from .summary import design_summary

    loaded, manifest = _load(args)
    print(design_summary(loaded, manifest))
    return 0


def _pilot(args):
    from .pilot import run_pilot
    from .protocol_load import parse_override

    if args.participants < 1:
        raise _UsageError(f"--participants must be at least 1 (got {args.participants})")
    if args.time_scale < 0:
        raise _UsageError(f"--time-scale must be 0 or more (got {args.time_scale})")
    params = {}
    for text in args.param:
        try:
            key, value = parse_override(text)
        except ValueError as exc:
            raise _UsageError(str(exc).replace("--set", "--param")) from None
        params[key] = value
    loaded, manifest = _load(args)
    from .simulated import simulation_params

    try:
        simulation_params(params)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    presenter_factory = _visual_presenter_factory(loaded, manifest) if args.visual else None
    n_jobs = args.jobs or os.cpu_count() or 1
    if n_jobs < 1:
        raise _UsageError(f"--jobs must be at least 1 (got {n_jobs})")
    bar = _progress_bar(args.participants, loaded, manifest)
    try:
        result = run_pilot(loaded, manifest, n_participants=args.participants, out_dir=args.out, seed=args.seed,
                           params=params, time_scale=args.time_scale, resume=args.resume,
                           presenter_factory=presenter_factory, n_jobs=n_jobs,
                           progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    statuses = [s.status for s in result.sessions]
    print(f"pilot: {statuses.count('completed')} of {len(statuses)} sessions completed in "
          f"{result.out_dir / 'data'}")
    return 0 if all(s == "completed" for s in statuses) else 1


def _progress_bar(n_participants, loaded, manifest):
    """A tqdm bar over trials on a terminal; None otherwise."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    from .design import build_design

    group = loaded.protocol.factors.group
    first = group.participant_levels[0] if group.kind == "natural" else None
    per_session = len(build_design(loaded.protocol, manifest, slot=0, seed=0, participant_group=first).trials)
    return tqdm(total=n_participants * per_session, unit="trial", desc="pilot")


def _visual_presenter_factory(loaded, manifest):
    try:
        from .psychopy_presenter import visual_pilot_factory
    except ImportError as exc:
        raise _UsageError(f"--visual needs PsychoPy and a display ({exc}); install the 'lab' extra: "
                          "pip install '.[lab]'") from None
    return visual_pilot_factory(loaded, manifest)
