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
    p.add_argument("--participant", help="participant id (1 to 64 letters and digits); without it a dialog asks")
    p.add_argument("--session", type=int, default=1, help="session number, 1 to 9999 (default 1)")
    p.add_argument("--group", help="the participant's group, when the protocol compares natural groups")
    p.add_argument("--language", help="instruction language (default: the protocol's)")
    p.add_argument("--slot", type=int, help="counterbalancing slot (default: from the participant number)")
    p.add_argument("--out", default="results", help="dataset folder (data/ inside; default: results)")
    p.add_argument("--resume", action="store_true", help="continue this participant's interrupted session")
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen (development)")
    p.add_argument("--screenshots", metavar="DIR", help="save the first frame of each kind of screen in DIR")

    p = sub.add_parser("pilot", help="simulated participants run the protocol (data-only or --visual)")
    protocol_args(p)
    p.add_argument("--participants", type=int, required=True, help="number of simulated participants (1 to 10,000)")
    p.add_argument("--out", required=True, help="dataset folder to write (data/ inside)")
    p.add_argument("--seed", type=int, default=0, help="pilot seed, a whole number ≥ 0 (default 0)")
    p.add_argument("--visual", action="store_true", help="run in a PsychoPy window with simulated input")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="simulation parameter, e.g. ratings.pain_intensity.effects.pain=60 (repeatable)")
    p.add_argument("--time-scale", type=float, default=0.0,
                   help="data-only: pace the virtual clock in real time times this factor (0 = instant, at most 100)")
    p.add_argument("--resume", action="store_true",
                   help="skip completed participants in --out, resume interrupted ones, start missing ones "
                        "(the seed, protocol and --param values must be the pilot's)")
    p.add_argument("--screenshots", metavar="DIR", help="--visual: save the first frame of each kind of screen")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes for a data-only pilot (default and maximum: number of cores)")
    p.add_argument("--force-jobs", action="store_true", help="allow more --jobs than cores")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else
                                              logging.INFO if args.verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    from .presenter import SessionAborted

    try:
        return {"validate": _validate, "run": _run, "pilot": _pilot}[args.command](args)
    except _user_errors() as exc:
        print(f"paradigm {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except SessionAborted as exc:   # a signal before the session wrote anything
        print(f"paradigm {args.command}: interrupted ({exc}) before the session started; nothing was written",
              file=sys.stderr)
        return 1
    except Exception as exc:   # a fault of the toolkit, not of the user: one line and where the traceback is
        from stimuli.errors import internal_error_line

        print(internal_error_line("paradigm", args.command, exc), file=sys.stderr)
        return 1


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


def _check(*problems):
    """Raise the first problem (one line) as a usage error."""
    for problem in problems:
        if problem:
            raise _UsageError(problem)


def _pilot(args):
    from . import cli_checks as checks
    from .protocol_load import parse_override

    n_jobs = args.jobs if args.jobs is not None else checks.usable_cores()
    _check(checks.participants_problem(args.participants), checks.seed_problem(args.seed),
           checks.time_scale_problem(args.time_scale), checks.jobs_problem(n_jobs, args.force_jobs),
           checks.out_problem(args.out))
    params = {}
    for text in args.param:
        try:
            key, value = parse_override(text)
        except ValueError as exc:
            raise _UsageError(str(exc).replace("--set", "--param")) from None
        params[key] = value
    if args.visual:
        _lab()
    loaded, manifest = _load(args)
    from .pilot import run_pilot
    from .simulated import simulation_params

    try:
        simulation_params(params)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    presenter_factory = _visual_presenter_factory(loaded, manifest, args.screenshots) if args.visual else None
    bar = _progress_bar(args.participants, loaded, manifest)
    try:
        result = run_pilot(loaded, manifest, n_participants=args.participants, out_dir=args.out, seed=args.seed,
                           params=params, time_scale=args.time_scale, resume=args.resume,
                           presenter_factory=presenter_factory, n_jobs=n_jobs,
                           progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    print(_pilot_summary(result, args))
    for problem in result.problems:
        print(f"paradigm pilot: {problem}; run again with --resume to finish it", file=sys.stderr)
    ok = not (result.problems or result.interrupted) and all(s.status == "completed" for s in result.sessions)
    return 0 if ok else 1


def _pilot_summary(result, args):
    """One line: how many sessions completed now, and what a resume skipped or repaired."""
    data = result.out_dir / "data"
    if not result.sessions and not result.problems and not result.interrupted and args.resume:
        return f"pilot: all {result.already_complete} sessions in {data} are complete; nothing to resume"
    statuses = [s.status for s in result.sessions]
    line = f"pilot: {statuses.count('completed')} of {len(statuses)} sessions completed in {data}"
    if len(statuses) > statuses.count("completed"):
        line += ", " + ", ".join(f"{statuses.count(s)} {s}" for s in ("aborted", "crashed") if s in statuses)
    repaired = sum(s.repaired for s in result.sessions)
    if repaired:
        line += f" ({repaired} only marked completed: all {'its' if repaired == 1 else 'their'} trials were on disk)"
    if args.resume:
        n = result.already_complete
        line += f"; {n} {'was' if n == 1 else 'were'} already complete"
    if result.interrupted:
        line += f"; interrupted by {result.interrupted}: run again with --resume to finish"
    return line


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


INSTALL_HINT = "pip install -e '.[lab]'"


def _lab():
    """The lab subpackage (PsychoPy), or a one-line usage error saying how to install it."""
    try:
        from .lab import presenter, run  # noqa: F401   (the presenter imports PsychoPy)
    except ImportError as exc:
        raise _UsageError(f"this needs PsychoPy, which cannot be imported ({' '.join(str(exc).split())}); install "
                          f"the lab extra: {INSTALL_HINT}") from None
    return run


def _visual_presenter_factory(loaded, manifest, screenshots):
    _require_display()
    return _lab().visual_pilot_factory(loaded, manifest, screenshot_dir=screenshots)


def _require_display():
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("win32", "darwin")):
        raise _UsageError("a PsychoPy window needs a display: set DISPLAY, or run under xvfb-run -a")


def _run(args):
    from . import cli_checks as checks
    from .session import participant_id_problem, session_number_problem

    _check(session_number_problem(args.session) and f"--session {session_number_problem(args.session)}",
           args.participant is not None and participant_id_problem(args.participant)
           and f"--participant {participant_id_problem(args.participant)}",
           checks.out_problem(args.out))
    lab = _lab()
    loaded, manifest = _load(args)
    _require_display()
    start = {"participant": args.participant, "session": args.session, "group": args.group,
             "language": args.language}
    if args.participant is None:
        from .lab.dialog import ask_start

        start = ask_start(loaded.protocol)
        if start is None:
            print("paradigm run: cancelled at the start dialog; nothing was written", file=sys.stderr)
            return 0
        _check(session_number_problem(start["session"]) and f"session {session_number_problem(start['session'])}",
               participant_id_problem(start["participant"])
               and f"participant id {participant_id_problem(start['participant'])}")
    result = lab.run_lab(loaded, manifest, participant=start["participant"], session=start["session"],
                         out_dir=args.out, participant_group=start["group"], language=start["language"],
                         slot=args.slot, resume=args.resume, windowed=args.windowed,
                         screenshot_dir=args.screenshots)
    print(f"paradigm run: session {result.status}, {result.n_done} of {result.n_planned} trials in {result.files.trials}")
    return 0 if result.status in ("completed", "aborted") else 1
