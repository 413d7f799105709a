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


def read_tables(paths) -> "pandas.DataFrame":  # noqa: F821 - pandas is imported lazily
    """Concatenate CSV files; a folder stands for the ``*.csv`` files directly inside it (sorted)."""
    import pandas as pd

    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.csv"))
            if not found:
                raise InputError(f"folder '{path}' holds no .csv file; give CSV files or folders of them")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"data file '{path}' does not exist; give CSV files or folders of them")
    frames = []
    for file in files:
        try:
            frames.append(pd.read_csv(file))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"data file '{file}' is not a readable CSV table ({str(exc).splitlines()[0]})") from exc
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def design_contrasts_for(data) -> dict:
    """The project's effect coding for those design columns whose levels it covers."""
    from .design_matrices import DESIGN_CONTRASTS, is_categorical

    out = {}
    for column, coding in DESIGN_CONTRASTS.items():
        if column in data.columns and is_categorical(data[column]):
            levels = set(data[column].dropna().astype(str).unique())
            if levels and levels <= set(coding):
                out[column] = coding
    return out


def _cmd_fit(args) -> int:
    from .lmm import fit_lmm

    data = read_tables(args.data)
    contrasts = design_contrasts_for(data) if args.coding == "design" else {}
    try:
        result = fit_lmm(data, args.formula, reml=args.reml, contrasts=contrasts)
    except (ValueError, KeyError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise InputError(f"{', '.join(args.data)}: {message}") from exc
    for note in result.warnings:
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
                              progress=progress,
                              verbose=args.verbose)
    finally:
        if bar is not None:
            bar.close()
    for note in report.data.warnings:
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
    """Simulated power of the rating model's fixed effects for a protocol.

    The one documented place where ``analysis`` reaches ``paradigm``: this CLI glue imports
    ``paradigm.study_sim`` lazily to simulate studies of the protocol; :func:`analysis.power.power_curve`
    itself only sees a ``simulate(n_participants, seed)`` callable and the trial columns.

    JSON shape: ``{"protocol", "rating", "formula", "alpha", "n_sims", "participants": [20, 30],
    "power": {"20": {"pain": 0.93, ...}, ...}, "ci": {"20": {"pain": [low, high], ...}, ...}}``
    (Wilson 95% intervals).
    """
    from stimuli import read_manifest

    from paradigm.errors import ProtocolError
    from paradigm.protocol_load import load_protocol, parse_override
    from paradigm.study_sim import StudySimulator

    from .models import RandomPart, model_formula
    from .power import plot_power, power_curve

    sizes = _parse_sizes(args.participants)
    if args.sims < 1:
        raise InputError(f"--sims must be at least 1 (got {args.sims})")
    try:
        overrides = [parse_override(text) for text in args.overrides]
    except ValueError as exc:
        raise InputError(str(exc)) from None
    try:
        loaded = load_protocol(args.protocol, overrides)
        manifest = read_manifest(loaded.manifest_path)
    except (ProtocolError, FileNotFoundError) as exc:
        raise InputError(str(exc).splitlines()[0]) from None
    names = [r.name for r in loaded.protocol.ratings]
    rating = args.rating or names[0]
    if rating not in names:
        raise InputError(f"--rating must be one of {', '.join(names)} (got {rating!r})")
    params = {}
    for item in args.effect:
        term, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--effect must be TERM=VALUE, e.g. pain=10 (got {item!r})")
        params[f"ratings.{rating}.effects.{term.strip()}"] = value
    try:
        simulate = StudySimulator(loaded, manifest, params=params)
    except (ProtocolError, ValueError) as exc:
        raise InputError(str(exc).splitlines()[0]) from None
    sample = simulate(min(sizes), args.seed)
    factors = [f for f in ("pain", "perspective", "group", "stimulus_type") if sample[f].nunique() > 1]
    formula = model_formula(f"rating_{rating}", factors, RandomPart(slopes=("pain",)))
    terms = [t for t in (args.terms.split(",") if args.terms else []) if t] or None
    bar = progress = None
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=len(sizes) * args.sims, desc="power", unit="study", leave=False, file=sys.stderr)
        progress = bar.update
    try:
        if terms is None:
            from .design_matrices import DESIGN_CONTRASTS
            from .lmm import fit_lmm

            terms = [t for t in fit_lmm(sample, formula, contrasts=DESIGN_CONTRASTS).fixed["term"]
                     if t != "(Intercept)"]
        table = power_curve(simulate, formula, terms, sizes, args.sims, alpha=args.alpha, n_jobs=args.jobs,
                            seed=args.seed, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if args.plot:
        plot_power(table, args.plot, alpha=args.alpha)
    if args.json:
        out = {"protocol": str(args.protocol), "rating": rating, "formula": formula, "alpha": args.alpha,
               "n_sims": args.sims, "participants": sizes, "power": {}, "ci": {}}
        for row in table.itertuples():
            out["power"].setdefault(str(row.participants), {})[row.term] = row.power
            out["ci"].setdefault(str(row.participants), {})[row.term] = [row.ci_low, row.ci_high]
        print(json.dumps(out, indent=2))
    else:
        print(f"{formula}\n{args.sims} simulated studies per sample size, alpha {args.alpha:g}")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``analysis`` parser with its subcommands."""
    parser = argparse.ArgumentParser(prog="analysis", description="Analyse pain-empathy trial data.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    parser.add_argument("-q", "--quiet", action="store_true", help="log errors only")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = sub.add_parser("fit", help="fit a linear mixed model written as an lme4 formula",
                         description="Fit an lme4-style linear mixed model (REML by default) with Satterthwaite df.")
    fit.add_argument("data", nargs="+", metavar="DATA", help="CSV files or folders of CSV files")
    fit.add_argument("--formula", required=True,
                     help='lme4-style formula, e.g. "rating ~ pain * perspective + (1 + pain | participant)"')
    crit = fit.add_mutually_exclusive_group()
    crit.add_argument("--reml", dest="reml", action="store_true", default=True, help="REML (default)")
    crit.add_argument("--ml", dest="reml", action="store_false", help="maximum likelihood")
    fit.add_argument("--coding", choices=("design", "treatment"), default="design",
                     help="design: effect-code pain, perspective, group, stimulus_type (+0.5 = pain, self, "
                          "outgroup, hand); other text columns get R's treatment contrasts (default: design)")
    fit.add_argument("--json", action="store_true", help="print the result as JSON")
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
    finally:
        logger.removeHandler(handler)
