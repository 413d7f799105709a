"""Command line: ``stimuli generate | check | match | sheet | manifest``.

Each subcommand is a thin wrapper around one library function. Exit codes: 0 success,
1 ``check --strict`` found confound warnings, 2 bad user input (one line per problem, no traceback).
"""
from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["main"]

log = logging.getLogger("stimuli")


def _parser():
    from .generate import DEFAULT_SEED

    ap = argparse.ArgumentParser(prog="stimuli", description="Pain-empathy stimulus sets: generate, check, "
                                 "match, contact sheets and manifests for a lab's own photos.")
    ap.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = ap.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="render the procedural face/hand set and its manifest.csv")
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    g.add_argument("--identities", type=int, default=12, help="identities per stimulus type and group (default 12)")
    g.add_argument("--size", type=int, default=512, help="image size in pixels (default 512)")
    g.add_argument("--workers", type=int, default=None, help="rendering processes (default: up to 2)")
    g.add_argument("--if-missing", action="store_true",
                   help="reuse the set in --out when it was made with these settings and every hash matches")
    g.add_argument("--force", action="store_true",
                   help="regenerate the set --out already holds (files edited since are moved to --out/kept-<time>/)")

    c = sub.add_parser("check", help="verify a manifest, its files and pairs; report image statistics")
    c.add_argument("manifest")
    c.add_argument("--no-stats", action="store_true", help="skip image statistics")
    c.add_argument("--stats-csv", help="also write per-image statistics to this CSV")
    c.add_argument("--strict", action="store_true", help="exit 1 when confound warnings are found")

    m = sub.add_parser("match", help="write luminance/contrast-matched copies with a new manifest")
    m.add_argument("manifest")
    m.add_argument("--out", required=True, help="output folder (must differ from the manifest's)")

    s = sub.add_parser("sheet", help="write a contact sheet PNG of a set")
    s.add_argument("manifest")
    s.add_argument("--out", required=True, help="PNG file to write")
    s.add_argument("--thumb", type=int, default=160, help="thumbnail size in pixels (default 160)")
    s.add_argument("--per-cell", type=int, default=None, help="at most N pairs per stimulus type and group")
    s.add_argument("--columns", type=int, default=4, help="pairs per row (default 4)")

    f = sub.add_parser("manifest", help="build a manifest from a folder of photos named by the convention")
    f.add_argument("folder")
    f.add_argument("--out", help="manifest to write (default FOLDER/manifest.csv)")
    f.add_argument("--source", default="", help="source written to every row")
    f.add_argument("--licence", default="", help="licence written to every row")
    f.add_argument("--attributes", help="CSV with an 'identity' column and attribute columns (sex, age, ...)")
    f.add_argument("--template", action="store_true",
                   help="list every image even when its name breaks the convention (fill in the blanks)")
    f.add_argument("--force", action="store_true", help="replace an existing manifest at --out (its edits are lost)")
    return ap


def main(argv=None):
    """Run the ``stimuli`` command line; returns the exit code."""
    from .errors import ManifestError

    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return _COMMANDS[args.command](args)
    except ManifestError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"stimuli {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:   # a fault of the toolkit, not of the user: one line and where the traceback is
        from .errors import internal_error_line

        print(internal_error_line("stimuli", args.command, exc), file=sys.stderr)
        return 1


def _generate(args):
    import time

    from .generate import generate_set

    t0 = time.perf_counter()
    path = generate_set(args.out, seed=args.seed, identities_per_group=args.identities, size_px=args.size,
                        workers=args.workers, if_missing=args.if_missing, force=args.force)
    print(f"{path} ({time.perf_counter() - t0:.1f} s)")
    return 0


def _check(args):
    from .check import check_manifest
    from .imagestats import STAT_NAMES

    report = check_manifest(args.manifest, stats=not args.no_stats)
    for problem in report.problems:
        print(f"{report.path}: {problem}", file=sys.stderr)
    if len(report.problems) > 1:
        print(f"{report.path}: {len(report.problems)} problems", file=sys.stderr)
    if report.problems:
        return 2
    print(f"{report.path}: {report.n_stimuli} stimuli, files, hashes and pairs OK")
    table = report.condition_table()
    if table:
        print(f"{'type':<6} {'pain':<8} {'n':>4} " + " ".join(f"{n:>15}" for n in STAT_NAMES))
        for row in table:
            print(f"{row['stimulus_type']:<6} {row['pain']:<8} {row['n']:>4} "
                  + " ".join(f"{row[n]:>15.4f}" for n in STAT_NAMES))
    if args.stats_csv and report.stats:
        import csv

        from .outputs import check_output

        check_output(args.stats_csv, option="--stats-csv", inputs=[report.path],
                     ours=lambda p: p.read_text(errors="replace").startswith(",".join(report.stats[0])))
        with open(args.stats_csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(report.stats[0]))
            writer.writeheader()
            writer.writerows(report.stats)
    for warning in report.warnings:
        print(f"warning: {warning}")
    return 1 if args.strict and report.warnings else 0


def _match(args):
    from .match import match_set

    print(match_set(args.manifest, args.out))
    return 0


def _sheet(args):
    from .sheet import contact_sheet

    print(contact_sheet(args.manifest, args.out, thumb_px=args.thumb, per_cell=args.per_cell, columns=args.columns))
    return 0


def _manifest(args):
    from .folder import manifest_from_folder

    print(manifest_from_folder(args.folder, args.out, source=args.source, licence=args.licence,
                               attributes=args.attributes, template=args.template, force=args.force))
    return 0


_COMMANDS = {"generate": _generate, "check": _check, "match": _match, "sheet": _sheet, "manifest": _manifest}
