"""``horsehuman predict MODEL PATH...``: classify images and folders, optionally into a CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from horsehuman_gui.cli.common import (EXIT_INTERRUPTED, EXIT_OK, Interrupts, UsageError, err,
                                       out, printable, refuse_existing)

#: The CSV's error column for images an interrupted ``predict`` did not get to.
NOT_CLASSIFIED = "not classified (interrupted)"


def add_parser(sub) -> None:
    predict = sub.add_parser("predict", help="classify images and folders with a trained model")
    predict.add_argument("model", type=Path, metavar="MODEL",
                         help="a .keras file, or a Teachable Machine export (keras_model.h5, "
                              "its folder or its .zip)")
    predict.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    predict.add_argument("--recursive", "-r", action="store_true", help="look inside sub-folders")
    predict.add_argument("--threshold", type=float, default=0.5,
                         help="binary models: score of the second class needed to pick it")
    predict.add_argument("--csv", type=Path, metavar="FILE", help="also write the results here")
    predict.add_argument("--overwrite", action="store_true", help="replace --csv if it exists")
    predict.add_argument("--batch-size", type=int, default=32)
    predict.add_argument("--class-names", metavar="A,B,...",
                         help="class names for a model file that carries none (course-style .keras)")
    predict.set_defaults(run=run)


def check_threshold(value: float) -> None:
    if not 0 < value < 1:
        raise UsageError(f"--threshold must be between 0 and 1. Received: {value}")


def open_model(path: Path, class_names=None):
    """The model at ``path`` (TensorFlow loaded first), its warnings printed."""
    from horsehuman_gui.core.tfsetup import load_tensorflow

    load_tensorflow()
    from horsehuman_gui.core.bundle import open_model as open_any

    bundle = open_any(path, class_names=class_names)
    for warning in bundle.warnings:
        err(f"warning: {printable(warning)}")
    return bundle


def run(args: argparse.Namespace) -> int:
    check_threshold(args.threshold)
    refuse_existing(args.csv, args.overwrite)
    names = tuple(n.strip() for n in args.class_names.split(",")) if args.class_names else None
    bundle = open_model(args.model, names)
    from horsehuman_gui.core.prediction import Prediction, collect_images

    paths, skipped = collect_images(args.paths, recursive=args.recursive)
    rows = [Prediction(s.path, None, None, (), s.reason) for s in skipped]
    for row in rows:
        _print_prediction(row)
    with Interrupts() as interrupts:
        done = _classify(bundle, paths, args, interrupts.is_set, rows)
        # results come in input order: the ones not reached are the end of the list
        rows += [Prediction(p, None, None, (), NOT_CLASSIFIED) for p in paths[done:]]
        _summarise(rows, missing=len(paths) - done, csv_given=args.csv is not None)
        if args.csv is not None:
            with interrupts.saving("the CSV"):
                _write_results(rows, bundle.class_names, args.csv, args.overwrite)
    return EXIT_INTERRUPTED if done < len(paths) else EXIT_OK


def _classify(bundle, paths, args, should_stop, rows: list) -> int:
    """Print and collect each result; return how many of ``paths`` were done."""
    from horsehuman_gui.core.prediction import predict_files

    done = 0
    for row in predict_files(bundle, paths, batch_size=args.batch_size,
                             threshold=args.threshold, should_stop=should_stop):
        _print_prediction(row)
        rows.append(row)
        done += 1
    return done


def _summarise(rows, missing: int, csv_given: bool) -> None:
    classified = sum(1 for r in rows if r.ok)
    summary = f"{classified} classified, {len(rows) - classified - missing} could not be read"
    if missing:
        err(f"interrupted: {summary}, {missing} not classified"
            + (" (listed so in the CSV)" if csv_given else ""))
    else:
        err(summary)


def _write_results(rows, class_names, path: Path, overwrite: bool) -> None:
    from horsehuman_gui.core.export import write_csv

    try:
        written = write_csv(rows, class_names, path, overwrite=overwrite)
    except FileExistsError:  # appeared during the run: keep it, write beside it
        written = _write_beside(rows, class_names, path)
        err(f"{printable(path)} appeared during the run and was left as it is")
    err(f"results written to {printable(written)}")


def _write_beside(rows, class_names, path: Path) -> Path:
    from horsehuman_gui.core.export import write_csv

    for number in range(1, 1000):
        try:
            return write_csv(rows, class_names, path.with_name(
                f"{path.stem} ({number}){path.suffix}"), overwrite=False)
        except FileExistsError:
            continue
    raise UsageError(f"no free name beside {printable(path)} for the results")


def _print_prediction(row) -> None:
    if row.ok:
        out(f"{printable(row.path)}\t{printable(row.label)}\t{row.confidence:.4f}")
    else:
        out(f"{printable(row.path)}\tERROR\t{printable(row.error)}")
