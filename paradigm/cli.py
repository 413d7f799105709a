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

    p = sub.add_parser("run", help="a lab session in a PsychoPy window (start dialog unless --participant)")
    protocol_args(p)
    p.add_argument("--participant", help="participant id (letters and digits); without it a dialog asks")
    p.add_argument("--session", type=int, default=1, help="session number (default 1)")
    p.add_argument("--group", help="the participant's group, when the protocol compares natural groups")
    p.add_argument("--language", help="instruction language (default: the protocol's)")
    p.add_argument("--slot", type=int, help="counterbalancing slot (default: from the participant number)")
    p.add_argument("--out", default="results", help="dataset folder (data/ inside; default: results)")
    p.add_argument("--resume", action="store_true", help="continue this participant's interrupted session")
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen (development)")
    p.add_argument("--screenshots", metavar="DIR", help="save the first frame of each kind of screen in DIR")

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
    p.add_argument("--screenshots", metavar="DIR", help="--visual: save the first frame of each kind of screen")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes for a data-only pilot (default: number of cores)")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else
                                              logging.INFO if args.verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return {"validate": _validate, "run": _run, "pilot": _pilot}[args.command](args)
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
    presenter_factory = _visual_presenter_factory(loaded, manifest, args.screenshots) if args.visual else None
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


def _lab():
    """The lab subpackage (PsychoPy), or a one-line usage error saying how to install it."""
    try:
        from . import lab  # noqa: F401
        from .lab import run
    except ImportError as exc:
        raise _UsageError(f"this needs PsychoPy ({exc}); install the 'lab' extra: pip install '.[lab]'") from None
    return run


def _visual_presenter_factory(loaded, manifest, screenshots):
    _require_display()
    return _lab().visual_pilot_factory(loaded, manifest, screenshot_dir=screenshots)


def _require_display():
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("win32", "darwin")):
        raise _UsageError("a PsychoPy window needs a display: set DISPLAY, or run under xvfb-run -a")


def _run(args):
    if args.session < 1:
        raise _UsageError(f"--session must be 1 or more (got {args.session})")
    loaded, manifest = _load(args)
    _require_display()
    lab = _lab()
    start = {"participant": args.participant, "session": args.session, "group": args.group,
             "language": args.language}
    if args.participant is None:
        from .lab.dialog import ask_start

        start = ask_start(loaded.protocol)
        if start is None:
            print("paradigm run: cancelled at the start dialog; nothing was written", file=sys.stderr)
            return 0
        if not isinstance(start["session"], int) or start["session"] < 1:
            raise _UsageError(f"session must be a whole number ≥ 1 (got {start['session']!r})")
    result = lab.run_lab(loaded, manifest, participant=start["participant"], session=start["session"],
                         out_dir=args.out, participant_group=start["group"], language=start["language"],
                         slot=args.slot, resume=args.resume, windowed=args.windowed,
                         screenshot_dir=args.screenshots)
    print(f"paradigm run: session {result.status}, {result.n_done} of {result.n_planned} trials in {result.files.trials}")
    return 0 if result.status in ("completed", "aborted") else 1
