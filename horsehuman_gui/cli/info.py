"""``horsehuman info DATA [--json FILE] [--label-errors]``: what a dataset folder holds, and
optionally the pictures that look filed in the wrong class (``core.label_errors``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from horsehuman_gui.cli.common import (EXIT_INTERRUPTED, EXIT_OK, Interrupts, ProgressLines,
                                       UsageError, err, out, printable, refuse_existing)
from horsehuman_gui.core.config import TrainConfig


def add_parser(sub) -> None:
    info = sub.add_parser("info", help="what a dataset folder holds: layout, classes, bad files")
    info.add_argument("data", type=Path, metavar="DATA")
    add_split_options(info)
    info.add_argument("--json", type=Path, metavar="FILE",
                      help="also write everything found (each image's part, class and group, "
                           "skipped files, findings) as JSON")
    info.add_argument("--overwrite", action="store_true", help="replace --json if it exists")
    info.add_argument("--label-errors", action="store_true",
                      help="list pictures a model trained without them confidently puts in "
                           "another class (computes features with the offline backbone)")
    info.add_argument("--confidence", type=float, default=0.8,
                      help="with --label-errors: how sure that model must be (default "
                           "%(default)s)")
    info.set_defaults(run=run)


def add_split_options(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    parser.add_argument("--validation-split", type=float, default=defaults.validation_split,
                        help="fraction held out when DATA has no validation folder "
                             "(default %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="seed of that split, and of training (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    from horsehuman_gui.core.dataset import report_to_json, scan_dataset, summary_lines

    refuse_existing(args.json, args.overwrite)
    report = scan_dataset(args.data, validation_split=args.validation_split, seed=args.seed)
    for line in summary_lines(report):
        out(printable(line))
    details = report_to_json(report)
    if args.label_errors:
        suspects = label_errors(report, args.confidence)
        if suspects is None:
            return EXIT_INTERRUPTED
        details["suspected_label_errors"] = [
            {"path": str(s.path), "given": s.given, "predicted": s.predicted,
             "confidence": s.confidence} for s in suspects]
    if args.json is not None:
        write_json(args.json, details, args.overwrite)
        err(f"details written to {printable(args.json)}")
    return EXIT_OK


def label_errors(report, confidence: float):
    """Print the suspected label errors and return them; None when Ctrl-C stopped the search."""
    from horsehuman_gui.core.features import ExtractionCancelled
    from horsehuman_gui.core.label_errors import find_label_errors

    if not 0 < confidence < 1:
        raise UsageError(f"--confidence must be between 0 and 1. Received: {confidence}")
    with Interrupts() as interrupts:
        try:
            suspects = find_label_errors(report, confidence=confidence,
                                         should_stop=interrupts.is_set,
                                         on_progress=ProgressLines("computing features"))
        except ExtractionCancelled:
            err("stopped: no label errors listed")
            return None
    out(f"suspected label errors: {len(suspects)} (a model trained without each picture "
        f"puts it in another class with at least {confidence:.0%} confidence)")
    for s in suspects:
        out(f"  {printable(s.path)}: in {printable(s.given)}, looks like "
            f"{printable(s.predicted)} ({s.confidence:.0%})")
    return suspects


def write_json(path: Path, data, overwrite: bool) -> None:
    """``data`` as indented UTF-8 JSON; never replaces a file unless ``overwrite``."""
    with open(path, "w" if overwrite else "x", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
