"""``horsehuman evaluate MODEL [DATA]``: how well a model does on labelled pictures.

With DATA (class folders named like the model's classes; a train/validation root is evaluated
on its validation part): every image is classified and the figures printed. Without DATA: the
evaluation stored in the model file when it was trained (read without loading TensorFlow).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from horsehuman_gui.cli.common import (EXIT_INTERRUPTED, EXIT_OK, Interrupts, ProgressLines,
                                       UsageError, err, out, printable, refuse_existing)
from horsehuman_gui.cli.info import write_json
from horsehuman_gui.cli.predict import check_threshold, open_model


def add_parser(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="accuracy, per-class figures and confusion "
                                               "matrix of a model on labelled pictures")
    evaluate.add_argument("model", type=Path, metavar="MODEL")
    evaluate.add_argument("data", type=Path, nargs="?", metavar="DATA",
                          help="class folders named like the model's classes (a dataset with "
                               "train/ and validation/: its validation part); without it, the "
                               "evaluation stored in MODEL is shown")
    evaluate.add_argument("--threshold", type=float, default=None,
                          help="two classes: score of the second class needed to pick it "
                               "(default 0.5; needs DATA)")
    evaluate.add_argument("--csv", type=Path, metavar="FILE",
                          help="one row per image: path, true and predicted class, confidence, "
                               "scores (needs DATA)")
    evaluate.add_argument("--json", type=Path, metavar="FILE",
                          help="accuracy, per-class figures, confusion matrix, class names, "
                               "number of images")
    evaluate.add_argument("--overwrite", action="store_true",
                          help="replace --csv or --json if they exist")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    for path in (args.csv, args.json):
        refuse_existing(path, args.overwrite)
    if args.data is None:
        return _stored(args)
    threshold = 0.5 if args.threshold is None else args.threshold
    check_threshold(threshold)
    from horsehuman_gui.core.evaluation_run import labelled_items

    bundle = open_model(args.model)
    items, skipped = labelled_items(args.data, bundle.class_names)
    err(f"{len(items):,} images in {len(set(i.label for i in items))} class folders"
        + (f", {len(skipped):,} files or folders left out" if skipped else ""))
    with Interrupts() as interrupts:
        scores = run_evaluation(bundle, items, interrupts.is_set)
        if scores is None:
            return EXIT_INTERRUPTED
        evaluation = scores.evaluate(threshold)
        for line in evaluation_lines(evaluation, f"{printable(args.data)}:"):
            out(line)
        with interrupts.saving("the results"):
            _write_outputs(args, bundle, evaluation, scores, threshold)
    return EXIT_INTERRUPTED if scores.stopped else EXIT_OK


def run_evaluation(bundle, items, should_stop):
    """``evaluate_items`` with progress lines and each unreadable file said; None when
    stopped before any image was scored."""
    from horsehuman_gui.core.evaluation_run import EvaluationCancelled, evaluate_items

    try:
        scores = evaluate_items(bundle, items, should_stop=should_stop,
                                on_progress=ProgressLines("evaluating"))
    except EvaluationCancelled:
        err("interrupted before any image was evaluated")
        return None
    for failed in scores.failed:
        err(f"left out {printable(failed.path)}: {printable(failed.reason)}")
    if scores.stopped:
        err(f"interrupted: figures below cover the first {len(scores.labels):,} of "
            f"{len(items):,} images")
    return scores


def _stored(args: argparse.Namespace) -> int:
    if args.csv is not None or args.threshold is not None:
        raise UsageError("--csv and --threshold need DATA (the stored evaluation has no "
                         "per-image scores)")
    from horsehuman_gui.core.archive import check_archive
    from horsehuman_gui.core.bundle_metadata import read_metadata
    from horsehuman_gui.core.evaluation import Evaluation

    check_archive(args.model)
    metadata = read_metadata(args.model)
    stored = metadata.get("evaluation")
    if not isinstance(stored, dict):
        raise UsageError(f"{printable(args.model.name)} holds no evaluation; give DATA to "
                         "evaluate it on labelled pictures")
    evaluation = Evaluation.from_json(stored)
    root = (metadata.get("dataset") or {}).get("root")
    for line in evaluation_lines(evaluation, "validation part of "
                                 f"{printable(root) if root else 'the training data'} "
                                 "(stored when trained):"):
        out(line)
    if args.json is not None:
        write_json(args.json, {"model": str(args.model), "data": root, **stored},
                   args.overwrite)
        err(f"figures written to {printable(args.json)}")
    return EXIT_OK


def evaluation_lines(evaluation, title: str) -> list[str]:
    """A person's view of an ``Evaluation``: accuracy, a line per class, the confusion."""
    extra = []
    if evaluation.threshold is not None:
        extra.append(f"threshold {evaluation.threshold:g}")
    if evaluation.auc is not None:
        extra.append(f"AUC {evaluation.auc:.3f}")
    lines = [f"{title} accuracy {evaluation.accuracy:.4f} on {evaluation.n_images:,} images"
             + (f" ({', '.join(extra)})" if extra else "")]
    names = [printable(n) for n in evaluation.class_names]
    width = max(5, *map(len, names))
    lines.append(f"  {'class':{width}}  precision  recall      f1  images")
    for name, c in zip(names, evaluation.per_class):
        lines.append(f"  {name:{width}}  {c.precision:9.3f}  {c.recall:6.3f}  {c.f1:6.3f}"
                     f"  {c.support:6d}")
    lines.append("  confusion (rows: true class, columns: predicted):")
    cell = max(6, *map(len, names))
    lines.append(f"  {'':{width}}  " + "  ".join(f"{n:>{cell}}" for n in names))
    for name, row in zip(names, evaluation.confusion):
        lines.append(f"  {name:{width}}  " + "  ".join(f"{v:>{cell}d}" for v in row))
    return lines


def _write_outputs(args, bundle, evaluation, scores, threshold: float) -> None:
    if args.csv is not None:
        _write_csv(args.csv, scores, threshold, args.overwrite)
        err(f"per-image results written to {printable(args.csv)}")
    if args.json is not None:
        write_json(args.json, {"model": str(args.model), "data": str(args.data),
                               **evaluation.to_json(),
                               "left_out": [{"path": str(f.path), "reason": f.reason}
                                            for f in scores.failed],
                               "interrupted": scores.stopped}, args.overwrite)
        err(f"figures written to {printable(args.json)}")


def _write_csv(path: Path, scores, threshold: float, overwrite: bool) -> None:
    names = scores.class_names
    predicted, confidence = scores.predicted(threshold), scores.confidence(threshold)
    with open(path, "w" if overwrite else "x", encoding="utf-8", errors="backslashreplace",
              newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "true", "predicted", "confidence", "correct",
                         *(f"score_{n}" for n in names), "error"])
        for i, file in enumerate(scores.paths):
            writer.writerow([printable(file), names[scores.labels[i]], names[predicted[i]],
                             f"{confidence[i]:.6f}", int(scores.labels[i] == predicted[i]),
                             *(f"{v:.6f}" for v in scores.scores[i]), ""])
        for failed in scores.failed:
            writer.writerow([printable(failed.path), "", "", "", "", *([""] * len(names)),
                             failed.reason])
