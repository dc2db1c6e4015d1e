"""``horsehuman``: the whole job from a terminal, over the same core as the window.

Exit codes: 0 success; 2 bad usage or bad input (one line on stderr, no traceback); 130 when a
second Ctrl-C aborts training outright.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from horsehuman_gui import __version__
from horsehuman_gui.core.config import MODEL_NAMES, TrainConfig
from horsehuman_gui.core.errors import HorsehumanError

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 2, 130


class UsageError(HorsehumanError):
    """Bad arguments found after parsing (e.g. an output file that already exists)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="horsehuman",
        description="Train an image classifier on a folder of class folders and classify photos.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="what a dataset folder holds: layout, classes, bad files")
    info.add_argument("data", type=Path, metavar="DATA")
    _add_split_options(info)

    train = sub.add_parser("train", help="train a model on DATA and save it to --out")
    train.add_argument("data", type=Path, metavar="DATA")
    train.add_argument("--out", type=Path, required=True, metavar="MODEL",
                       help="model file to write (.keras)")
    train.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    defaults = TrainConfig()
    train.add_argument("--model", choices=MODEL_NAMES, default=defaults.model)
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--image-size", type=int, default=defaults.image_size)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    train.add_argument("--cache-budget-mb", type=int, default=defaults.cache_budget_mb,
                       help="cache decoded images in RAM when they fit (default %(default)s)")
    _add_split_options(train)

    predict = sub.add_parser("predict", help="classify images and folders with a trained model")
    predict.add_argument("model", type=Path, metavar="MODEL")
    predict.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    predict.add_argument("--recursive", "-r", action="store_true", help="look inside sub-folders")
    predict.add_argument("--threshold", type=float, default=0.5,
                         help="binary models: score of the second class needed to pick it")
    predict.add_argument("--csv", type=Path, metavar="FILE", help="also write the results here")
    predict.add_argument("--overwrite", action="store_true", help="replace --csv if it exists")
    predict.add_argument("--batch-size", type=int, default=32)
    predict.add_argument("--class-names", metavar="A,B,...",
                         help="class names for a model file that carries none (course-style .keras)")
    return parser


def _add_split_options(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    parser.add_argument("--validation-split", type=float, default=defaults.validation_split,
                        help="fraction held out when DATA has no validation folder")
    parser.add_argument("--seed", type=int, default=defaults.seed)


def cmd_info(args: argparse.Namespace) -> int:
    from horsehuman_gui.core.dataset import scan_dataset, summary_lines

    report = scan_dataset(args.data, validation_split=args.validation_split, seed=args.seed)
    print("\n".join(summary_lines(report)))
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    config = TrainConfig(model=args.model, image_size=args.image_size, epochs=args.epochs,
                         batch_size=args.batch_size, learning_rate=args.learning_rate,
                         validation_split=args.validation_split, seed=args.seed,
                         cache_budget_mb=args.cache_budget_mb)
    _refuse_existing(args.out, args.overwrite)
    from horsehuman_gui.core.dataset import scan_dataset

    report = scan_dataset(args.data, validation_split=config.validation_split, seed=config.seed)
    _err(f"{len(report.classes)} classes ({', '.join(report.classes)}): "
         f"{len(report.train)} training, {len(report.validation)} validation images; "
         f"{len(report.skipped)} files skipped (see `horsehuman info`)")
    for warning in report.warnings:
        _err(f"warning: {warning}")

    from horsehuman_gui.core.tfsetup import load_tensorflow

    load_tensorflow()
    from horsehuman_gui.core.bundle import bundle_from_result, save_bundle
    from horsehuman_gui.core.training import train

    with _StopOnCtrlC() as stop:
        result = train(report, config, on_epoch=_print_epoch, should_stop=stop.is_set)
    if result.stopped:
        _err(f"stopped after {len(result.history)} complete epoch(s); saving the model anyway")
    path = save_bundle(bundle_from_result(result), args.out)
    _err(f"model saved to {path}")
    return EXIT_OK


def _print_epoch(m) -> None:
    line = f"epoch {m.epoch}/{m.epochs}  loss {m.loss:.4f}  accuracy {m.accuracy:.4f}"
    if m.val_loss is not None:
        line += f"  val_loss {m.val_loss:.4f}  val_accuracy {m.val_accuracy:.4f}"
    print(f"{line}  {m.seconds:.1f}s", flush=True)


def cmd_predict(args: argparse.Namespace) -> int:
    if not 0 < args.threshold < 1:
        raise UsageError(f"--threshold must be between 0 and 1. Received: {args.threshold}")
    if args.csv is not None:
        _refuse_existing(args.csv, args.overwrite)
    names = tuple(n.strip() for n in args.class_names.split(",")) if args.class_names else None
    from horsehuman_gui.core.tfsetup import load_tensorflow

    load_tensorflow()
    from horsehuman_gui.core.bundle import load_bundle
    from horsehuman_gui.core.prediction import Prediction, collect_images, predict_files

    bundle = load_bundle(args.model, class_names=names)
    for warning in bundle.warnings:
        _err(f"warning: {warning}")
    paths, skipped = collect_images(args.paths, recursive=args.recursive)
    rows = [Prediction(s.path, None, None, (), s.reason) for s in skipped]
    for row in rows:
        _print_prediction(row)
    with _StopOnCtrlC() as stop:
        for row in predict_files(bundle, paths, batch_size=args.batch_size,
                                 threshold=args.threshold, should_stop=stop.is_set):
            _print_prediction(row)
            rows.append(row)
    failed = sum(1 for r in rows if not r.ok)
    _err(f"{len(rows) - failed} classified, {failed} could not be read")
    if args.csv is not None:
        from horsehuman_gui.core.export import write_csv

        _err(f"results written to {write_csv(rows, bundle.class_names, args.csv, overwrite=True)}")
    return EXIT_OK


def _print_prediction(row) -> None:
    if row.ok:
        print(f"{row.path}\t{row.label}\t{row.confidence:.4f}", flush=True)
    else:
        print(f"{row.path}\tERROR\t{row.error}", flush=True)


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise UsageError(f"{path} already exists; pass --overwrite to replace it")


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _StopOnCtrlC:
    """First Ctrl-C asks the core to stop after the current batch; a second one aborts."""

    def __enter__(self) -> threading.Event:
        self.event = threading.Event()
        self._previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, self._handle)
        return self.event

    def _handle(self, signum, frame) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        _err("stopping after the current batch (Ctrl-C again to abort)")

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self._previous)


COMMANDS = {"info": cmd_info, "train": cmd_train, "predict": cmd_predict}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except (HorsehumanError, ValueError, OSError) as exc:
        if args.verbose:
            logger.exception("failed")
        _err(f"horsehuman: error: {_sentence(exc)}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _err("horsehuman: aborted")
        return EXIT_INTERRUPTED


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
