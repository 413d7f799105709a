"""Command line of the analysis package: ``analysis fit``, ``analysis report`` and ``analysis power``.

Each subcommand is a thin wrapper around one library function. A usage or input error
prints one line on stderr and exits with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

__all__ = ["build_parser", "main", "read_tables"]

logger = logging.getLogger("analysis")


class InputError(ValueError):
    """A user's mistake on the command line: reported as one line, exit status 2."""


def read_tables(paths, *, include_practice=False, allow_out_of_range=False, scales=None):
    """The rows ``analysis fit`` fits, and a line saying what they are.

    Trial CSVs (recognised by their header, ``analysis.files``) go through
    ``read_trials``: the checked main trials, practice only with ``include_practice``.
    Any other CSV table is read as it is (all files must then share their columns).
    """
    import pandas as pd

    from .files import DataFileError, find_data_files
    from .read import read_trials

    try:
        found = find_data_files(paths)
    except DataFileError as exc:
        raise InputError(str(exc)) from None
    if found.trial:
        data = read_trials(paths, include_practice=include_practice, allow_out_of_range=allow_out_of_range,
                           scales=scales)
        kind = "main and practice" if include_practice else "main"
        set_aside = "" if include_practice else f"; {len(data.practice)} practice trials set aside"
        return data.trials, (f"{len(data.trials)} {kind} trials of {data.trials['participant'].nunique()} "
                             f"participants from {len(data.files)} trial files{set_aside}"), data.warnings
    frames = []
    for file in found.other:
        try:
            frames.append(pd.read_csv(file))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"data file '{file}' is not a readable CSV table ({str(exc).splitlines()[0]})") from None
        if set(frames[-1].columns) != set(frames[0].columns):
            raise InputError(f"data file '{file}' has other columns than '{found.other[0]}'; give tables of one "
                             f"layout")
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return table, f"{len(table)} rows from {len(frames)} CSV table(s)", []


def design_contrasts_for(data, formula) -> tuple[dict, list]:
    """The project's effect coding for the formula's design columns, and warnings about the others.

    A design factor whose levels are exactly the coding's two is effect-coded; one with a
    single level cannot be estimated (refused); one with other levels (e.g. 'none' when
    practice trials are included) keeps R's treatment contrasts, with a warning.
    """
    from .design_matrices import DESIGN_CONTRASTS, is_categorical
    from .formula import parse_formula

    used = set(parse_formula(formula).variables)
    out, notes = {}, []
    for column, coding in DESIGN_CONTRASTS.items():
        if column not in data.columns or column not in used or not is_categorical(data[column]):
            continue
        levels = sorted(set(data[column].dropna().astype(str).unique()))
        if len(levels) < 2:
            raise InputError(f"factor '{column}' has one level ({', '.join(levels) or 'none'}) in the data fitted; "
                             f"leave it out of the formula")
        if set(levels) <= set(coding):
            out[column] = coding
        else:
            notes.append(f"{column} has the levels {', '.join(levels)}, not just {' and '.join(coding)}, so it "
                         f"gets treatment contrasts (reference {levels[0]})")
    return out, notes


def _scales(items) -> dict:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            low, high = (float(v) for v in value.split(","))
        except ValueError:
            low = high = None
        if not sep or low is None or not low < high:
            raise InputError(f"--scale must be NAME=LOW,HIGH with LOW < HIGH, e.g. pain_intensity=0,100 (got {item!r})")
        out[name.strip()] = (low, high)
    return out


def _cmd_fit(args) -> int:
    import pandas as pd

    from .estimable import NotEstimable, check_fit, no_variation
    from .formula import parse_formula
    from .lmm import fit_lmm

    data, what, warnings = read_tables(args.data, include_practice=args.include_practice,
                                       allow_out_of_range=args.allow_out_of_range, scales=_scales(args.scale))
    contrasts, notes = design_contrasts_for(data, args.formula) if args.coding == "design" else ({}, [])
    try:
        response = parse_formula(args.formula).response
        if response in data.columns and pd.api.types.is_numeric_dtype(data[response]):
            y = data[response].dropna().to_numpy(float)
            if len(y) and no_variation(float(((y - y.mean()) ** 2).sum()), y):
                raise NotEstimable(f"every value of {response} is {y[0]:g}: the response does not vary")
        result = fit_lmm(data, args.formula, reml=args.reml, contrasts=contrasts)
        check_fit(result, response)
    except NotEstimable as exc:
        raise InputError(f"{', '.join(args.data)}: not estimable: {exc}") from None
    except (ValueError, KeyError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise InputError(f"{', '.join(args.data)}: {message}") from exc
    print(f"data: {what}", file=sys.stderr)
    for note in warnings + notes + result.warnings:
        print(f"warning: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.summary())
        table = result.anova()
        if len(table):
            print("\nType III ANOVA (Satterthwaite):")
            print(table.to_string(index=False))
    return 0


def _cmd_report(args) -> int:
    from .qc import QcConfig
    from .report import build_report

    given = {"anticipation_s": None if args.anticipation_ms is None else args.anticipation_ms / 1000,
             "rt_z": args.rt_z, "max_missing": args.max_missing, "min_accuracy": args.min_accuracy,
             "duration_tolerance_s": None if args.duration_tolerance_ms is None else args.duration_tolerance_ms / 1000}
    config = QcConfig(exclude_incomplete=not args.keep_incomplete, exclude_timing=args.exclude_timing,
                      **{name: value for name, value in given.items() if value is not None})
    models = () if args.models == "none" else tuple(m.strip() for m in args.models.split(",") if m.strip())
    ratings = [r.strip() for r in args.ratings.split(",")] if args.ratings else None
    slopes = args.slopes.strip() if args.slopes.strip() == "maximal" else \
        tuple(s.strip() for s in args.slopes.split(",") if s.strip())
    bar = progress = None
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=None, desc="report", unit="step", leave=False, file=sys.stderr)

        def progress(name):
            bar.set_postfix_str(name)
            bar.update()
    try:
        report = build_report(args.data, args.output, config=config, ratings=ratings, models=models, slopes=slopes,
                              allow_mixed_protocols=args.allow_mixed_protocols,
                              read_options={"allow_out_of_range": args.allow_out_of_range,
                                            "scales": _scales(args.scale)},
                              progress=progress,
                              verbose=args.verbose)
    finally:
        if bar is not None:
            bar.close()
    for note in report.data.warnings + report.qc.warnings:
        print(f"warning: {note}", file=sys.stderr)
    for fit in report.fits.values():
        for note in fit.result.warnings:
            print(f"warning: {fit.formula}: {note}", file=sys.stderr)
    if not args.quiet:
        print(f"report written to {args.output} (+ {len(report.paths) - 1} CSV tables beside it)")
    return 0


def _parse_sizes(text):
    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--participants must be comma-separated whole numbers, e.g. 20,30,40 (got {text!r})") from None
    if not sizes or min(sizes) < 2:
        raise InputError(f"--participants must be sample sizes of at least 2 (got {text!r})")
    return sizes


def _cmd_power(args) -> int:
    """Simulated power of the report's rating model for a protocol (``analysis.power.protocol_power``)."""
    from paradigm.protocol_load import parse_override

    from .power import plot_power, protocol_power

    sizes = _parse_sizes(args.participants)
    if args.sims < 1:
        raise InputError(f"--sims must be at least 1 (got {args.sims})")
    try:
        overrides = [parse_override(text) for text in args.overrides]
    except ValueError as exc:
        raise InputError(str(exc)) from None
    effects = {}
    for item in args.effect:
        term, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--effect must be TERM=VALUE, e.g. pain=10 (got {item!r})")
        effects[term.strip()] = value
    terms = [t for t in (args.terms.split(",") if args.terms else []) if t] or None
    bar = progress = None
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=len(sizes) * args.sims, desc="power", unit="study", leave=False, file=sys.stderr)
        progress = bar.update
    try:
        result = protocol_power(args.protocol, sizes, args.sims, rating=args.rating, effects=effects,
                                overrides=overrides, terms=terms, alpha=args.alpha, n_jobs=args.jobs, seed=args.seed,
                                progress=progress)
    except ValueError as exc:
        message = str(exc)
        raise InputError(message.replace("'rating'", "--rating").replace("'participants'", "--participants")) from None
    finally:
        if bar is not None:
            bar.close()
    if args.plot:
        plot_power(result.table, args.plot, alpha=args.alpha)
    if args.json:
        print(json.dumps({"protocol": str(args.protocol), **result.to_dict()}, indent=2))
    else:
        print(f"Analysis: {result.analysis}.\n{args.sims} simulated studies per sample size.")
        print(result.table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print("\nFinal models (random structure after the singular-fit rule), studies per sample size:")
        print(result.models.to_string(index=False))
    return 0


def _value_options(parser):
    parser.add_argument("--allow-out-of-range", action="store_true",
                        help="drop and list answers outside a rating's range or with an impossible RT (default: "
                             "refuse the data, naming file, line and column)")
    parser.add_argument("--scale", action="append", default=[], metavar="NAME=LOW,HIGH",
                        help="a rating's range when no session sidecar records it, e.g. pain_intensity=0,100")


def build_parser() -> argparse.ArgumentParser:
    """The ``analysis`` parser with its subcommands."""
    parser = argparse.ArgumentParser(prog="analysis", description="Analyse pain-empathy trial data.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    parser.add_argument("-q", "--quiet", action="store_true", help="log errors only")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = sub.add_parser("fit", help="fit a linear mixed model written as an lme4 formula",
                         description="Fit an lme4-style linear mixed model (REML by default) with Satterthwaite df.")
    fit.add_argument("data", nargs="+", metavar="DATA",
                     help="trial CSV files, folders of them or a dataset root (main trials), or any other CSV tables")
    fit.add_argument("--formula", required=True,
                     help='lme4-style formula, e.g. "rating ~ pain * perspective + (1 + pain | participant)"')
    crit = fit.add_mutually_exclusive_group()
    crit.add_argument("--reml", dest="reml", action="store_true", default=True, help="REML (default)")
    crit.add_argument("--ml", dest="reml", action="store_false", help="maximum likelihood")
    fit.add_argument("--coding", choices=("design", "treatment"), default="design",
                     help="design: effect-code pain, perspective, group, stimulus_type (+0.5 = pain, self, "
                          "outgroup, hand); other text columns get R's treatment contrasts (default: design)")
    fit.add_argument("--json", action="store_true", help="print the result as JSON")
    fit.add_argument("--include-practice", action="store_true",
                     help="fit practice trials too (default: the main trials of trial CSVs only)")
    _value_options(fit)
    fit.set_defaults(func=_cmd_fit)

    rep = sub.add_parser("report", help="quality checks, exclusions, ANOVA, mixed models and figures as one HTML file",
                         description="Build one self-contained HTML report (and its tables as CSV beside it) from "
                                     "trial CSVs. Exclusion defaults and their sources: see analysis.qc.")
    rep.add_argument("data", nargs="+", metavar="DATA", help="trial CSV files or folders of them")
    rep.add_argument("-o", "--output", default="report.html", help="the HTML file (default: report.html)")
    rep.add_argument("--anticipation-ms", type=float,
                     help="trials with an RT below this are anticipations (default 150)")
    rep.add_argument("--rt-z", type=float, help="log-RT outlier |z| within participant (default 3)")
    rep.add_argument("--max-missing", type=float,
                     help="exclude participants missing more than this share of trials (default 0.20)")
    rep.add_argument("--min-accuracy", type=float,
                     help="exclude participants with judgement accuracy below this (default 0.70)")
    rep.add_argument("--keep-incomplete", action="store_true", help="keep participants with an incomplete session")
    rep.add_argument("--duration-tolerance-ms", type=float,
                     help="flag stimulus durations further than this from the intended one (default one 60-Hz frame)")
    rep.add_argument("--exclude-timing", action="store_true",
                     help="exclude trials with dropped frames or an off stimulus duration (default: report only)")
    rep.add_argument("--ratings", help="comma-separated rating names to analyse (default: all)")
    rep.add_argument("--models", default="ratings,rt,accuracy",
                     help="mixed models to fit: comma-separated from ratings, rt (log RTs), accuracy (logistic, "
                          "judgement accuracy); or none (default all three)")
    rep.add_argument("--slopes", default="maximal",
                     help="random slopes the rating models start from: maximal (default: every factor that varies "
                          "within participants, and within stimuli, on each), or participant slopes "
                          "comma-separated from pain, perspective, group, stimulus_type; simplified while singular")
    rep.add_argument("--allow-mixed-protocols", action="store_true", help="accept files of several protocols")
    _value_options(rep)
    rep.set_defaults(func=_cmd_report)

    pw = sub.add_parser("power", help="simulated power of the rating model for a protocol",
                        description="Simulate studies of PROTOCOL (paradigm's simulated participant), fit the "
                                    "rating model to each and report power per term with Wilson 95% intervals.")
    pw.add_argument("protocol", metavar="PROTOCOL", help="protocol YAML file")
    pw.add_argument("--participants", default="20,30,40", help="comma-separated sample sizes (default 20,30,40)")
    pw.add_argument("--sims", type=int, default=200, help="simulated studies per sample size (default 200)")
    pw.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a protocol field, e.g. stimuli.manifest=other/manifest.csv (repeatable)")
    pw.add_argument("--effect", action="append", default=[], metavar="TERM=VALUE",
                    help="override a true effect of the rating (percent of its range), e.g. pain=10; repeatable")
    pw.add_argument("--rating", help="the rating to model (default: the protocol's first)")
    pw.add_argument("--terms", help="comma-separated fixed-effect terms to report (default: all but the intercept)")
    pw.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    pw.add_argument("--jobs", type=int, default=1, help="parallel workers (default 1)")
    pw.add_argument("--seed", type=int, default=0, help="seed of the simulation (default 0)")
    pw.add_argument("--plot", help="write the power curve to this PNG")
    pw.add_argument("--json", action="store_true", help="print the result as JSON")
    pw.set_defaults(func=_cmd_power)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``analysis`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if args.verbose else logging.ERROR)
    try:
        return args.func(args)
    except (InputError, ValueError, KeyError, OSError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"analysis {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Exception as exc:   # a fault of the toolkit, not of the user: one line and where the traceback is
        from stimuli.errors import internal_error_line

        print(internal_error_line("analysis", args.command, exc), file=sys.stderr)
        return 1
    finally:
        logger.removeHandler(handler)
