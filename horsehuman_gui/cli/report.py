"""``horsehuman report MODEL --out report.html``: one self-contained page about a model."""

from __future__ import annotations

import argparse
from pathlib import Path

from horsehuman_gui.cli.common import (EXIT_INTERRUPTED, EXIT_OK, Interrupts, err, printable,
                                       refuse_existing)
from horsehuman_gui.cli.predict import check_threshold, open_model


def add_parser(sub) -> None:
    report = sub.add_parser("report", help="write an HTML report: dataset, settings, training "
                                           "curves, evaluation, mistakes")
    report.add_argument("model", type=Path, metavar="MODEL")
    report.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="e.g. report.html")
    report.add_argument("--data", type=Path, metavar="DATA",
                        help="evaluate on these labelled pictures (as `evaluate` does) and "
                             "show the mistakes; without it, the evaluation stored in MODEL")
    report.add_argument("--threshold", type=float, default=0.5,
                        help="two classes, with --data: score of the second class needed to "
                             "pick it")
    report.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from horsehuman_gui.core.report import mistakes_from, write_report

    refuse_existing(args.out, args.overwrite)
    check_threshold(args.threshold)
    bundle = open_model(args.model)
    evaluation, mistakes = bundle.evaluation, []
    if args.data is not None:
        scores = _scores(bundle, args.data)
        if scores is None:
            return EXIT_INTERRUPTED
        evaluation, mistakes = scores.evaluate(args.threshold), mistakes_from(scores,
                                                                               args.threshold)
    written = write_report(args.out, bundle, overwrite=args.overwrite, history=bundle.history,
                           config=bundle.config, evaluation=evaluation, dataset=bundle.dataset,
                           mistakes=mistakes)
    err(f"report written to {printable(written)}")
    return EXIT_OK


def _scores(bundle, data: Path):
    from horsehuman_gui.cli.evaluate import run_evaluation
    from horsehuman_gui.core.evaluation_run import labelled_items

    items, _ = labelled_items(data, bundle.class_names)
    with Interrupts() as interrupts:
        scores = run_evaluation(bundle, items, interrupts.is_set)
    return None if scores is None or scores.stopped else scores
