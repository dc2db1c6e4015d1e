"""``horsehuman``: the whole job from a terminal, over the same core as the window.

Exit codes: 0 success; 2 bad usage or bad input (one line on stderr, no traceback), also when
the model could not be saved where asked (the line says where it was saved instead); 130 when
a second Ctrl-C aborts, and when ``predict`` was interrupted (its CSV then lists every input,
those not classified marked so).

Ctrl-C, SIGTERM and SIGHUP all mean "stop after the current batch": ``train`` then saves what
it has, ``predict`` writes what it has. While the model or the CSV is being saved, signals only
say that the save is waited for. Names are printed as ``core.files.printable`` shows them.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path

from horsehuman_gui import __version__
from horsehuman_gui.core.config import MODEL_NAMES, TrainConfig
from horsehuman_gui.core.errors import HorsehumanError
from horsehuman_gui.core.files import printable

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
    for line in summary_lines(report):
        _out(printable(line))
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    config = TrainConfig(model=args.model, image_size=args.image_size, epochs=args.epochs,
                         batch_size=args.batch_size, learning_rate=args.learning_rate,
                         validation_split=args.validation_split, seed=args.seed,
                         cache_budget_mb=args.cache_budget_mb)
    _check_model_destination(args.out, args.overwrite)
    from horsehuman_gui.core.dataset import scan_dataset

    report = scan_dataset(args.data, validation_split=config.validation_split, seed=config.seed)
    _err(f"{len(report.classes)} classes ({', '.join(map(printable, report.classes))}): "
         f"{len(report.train)} training, {len(report.validation)} validation images; "
         f"{len(report.skipped)} files skipped (see `horsehuman info`)")
    for warning in report.warnings:
        _err(f"warning: {printable(warning)}")

    from horsehuman_gui.core.tfsetup import load_tensorflow

    load_tensorflow()
    from horsehuman_gui.core.bundle import bundle_from_result, save_with_fallback
    from horsehuman_gui.core.training import train

    with _Interrupts() as interrupts:
        result = train(report, config, on_epoch=_print_epoch, should_stop=interrupts.is_set)
        with interrupts.saving("the model"):
            if result.stopped:
                _err(f"stopped after {len(result.history)} complete epoch(s); "
                     "saving the model anyway")
            _err(f"saving the model to {printable(args.out)}...")
            # never replaces a file that appeared during the run, unless --overwrite
            saved = save_with_fallback(bundle_from_result(result), args.out,
                                       overwrite=args.overwrite)
    if saved.problem is not None:
        _err(f"horsehuman: error: {printable(saved.problem)} "
             f"The model was saved to {printable(saved.path)} instead.")
        return EXIT_BAD_INPUT
    _err(f"model saved to {printable(saved.path)}")
    return EXIT_OK


def _check_model_destination(path: Path, overwrite: bool) -> None:
    """Refuse before training what the save would refuse after it."""
    _refuse_existing(path, overwrite)
    if path.suffix.lower() != ".keras":
        raise UsageError(f"--out must end in .keras. Received: {printable(path.name)}")
    if not path.parent.is_dir():
        raise UsageError(f"cannot save to {printable(path)}: folder {printable(path.parent)} "
                         "does not exist")


def _print_epoch(m) -> None:
    line = f"epoch {m.epoch}/{m.epochs}  loss {m.loss:.4f}  accuracy {m.accuracy:.4f}"
    if m.val_loss is not None:
        line += f"  val_loss {m.val_loss:.4f}  val_accuracy {m.val_accuracy:.4f}"
    _out(f"{line}  {m.seconds:.1f}s")


#: The CSV's error column for images an interrupted ``predict`` did not get to.
NOT_CLASSIFIED = "not classified (interrupted)"


def cmd_predict(args: argparse.Namespace) -> int:
    if not 0 < args.threshold < 1:
        raise UsageError(f"--threshold must be between 0 and 1. Received: {args.threshold}")
    if args.csv is not None:
        _refuse_existing(args.csv, args.overwrite)
    names = tuple(n.strip() for n in args.class_names.split(",")) if args.class_names else None
    from horsehuman_gui.core.tfsetup import load_tensorflow

    load_tensorflow()
    from horsehuman_gui.core.bundle import load_bundle
    from horsehuman_gui.core.prediction import Prediction, collect_images

    bundle = load_bundle(args.model, class_names=names)
    for warning in bundle.warnings:
        _err(f"warning: {printable(warning)}")
    paths, skipped = collect_images(args.paths, recursive=args.recursive)
    rows = [Prediction(s.path, None, None, (), s.reason) for s in skipped]
    for row in rows:
        _print_prediction(row)
    with _Interrupts() as interrupts:
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
        _err(f"interrupted: {summary}, {missing} not classified"
             + (" (listed so in the CSV)" if csv_given else ""))
    else:
        _err(summary)


def _write_results(rows, class_names, path: Path, overwrite: bool) -> None:
    from horsehuman_gui.core.export import write_csv

    try:
        written = write_csv(rows, class_names, path, overwrite=overwrite)
    except FileExistsError:  # appeared during the run: keep it, write beside it
        written = _write_beside(rows, class_names, path)
        _err(f"{printable(path)} appeared during the run and was left as it is")
    _err(f"results written to {printable(written)}")


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
        _out(f"{printable(row.path)}\t{printable(row.label)}\t{row.confidence:.4f}")
    else:
        _out(f"{printable(row.path)}\tERROR\t{printable(row.error)}")


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise UsageError(f"{printable(path)} already exists; pass --overwrite to replace it")


def _out(message: str) -> None:
    _write(sys.stdout, message)


def _err(message: str) -> None:
    _write(sys.stderr, message)


def _write(stream, message: str) -> None:
    """Print; a terminal that went away (SIGHUP, a closed pipe) must not end the work: the
    model still has to be saved, the CSV written."""
    try:
        print(message, file=stream, flush=True)
    except (OSError, ValueError, AttributeError):  # AttributeError: stream is None
        pass


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                      if hasattr(signal, name))


class _Interrupts:
    """Ctrl-C, SIGTERM and SIGHUP ask the core to stop after the current batch (``is_set``).

    A second Ctrl-C aborts (KeyboardInterrupt), except inside ``saving()``: there every signal
    only says that the save is being waited for, so a file is never lost half-way. A second
    SIGTERM or SIGHUP changes nothing (a service manager sends more than one).
    """

    def __init__(self):
        self.event = threading.Event()
        self.is_set = self.event.is_set
        self._saving: str | None = None

    def __enter__(self) -> _Interrupts:
        self._previous = {s: signal.getsignal(s) for s in _STOP_SIGNALS}
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self._saving is not None:
            _err(f"{name}: saving {self._saving}; waiting for the save to finish")
            return
        if self.event.is_set():
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        self.event.set()
        again = " (Ctrl-C again to abort)" if signum == signal.SIGINT else ""
        _err(f"{name}: stopping after the current batch{again}")

    @contextlib.contextmanager
    def saving(self, what: str):
        self._saving = what
        try:
            yield
        finally:
            self._saving = None

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


COMMANDS = {"info": cmd_info, "train": cmd_train, "predict": cmd_predict}


def main(argv: list[str] | None = None) -> int:
    _survive_any_terminal()
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
        return printable(f"{exc.strerror or exc}: {exc.filename}")
    return printable(str(exc).strip().splitlines()[0]) if str(exc).strip() \
        else type(exc).__name__


def _survive_any_terminal() -> None:
    """A character the terminal's encoding lacks is printed as an escape, never an error."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    sys.exit(main())
