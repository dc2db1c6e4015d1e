"""``horsehuman train DATA --out MODEL``: train, evaluate the validation part, save.

Every option left out takes the chosen model's own default (``config.defaults_for``). With
a checkpoint is written after each epoch in the data folder (``checkpoints.default_checkpoint_dir``)
so a stopped or killed run can go on with ``--resume``; it is removed when a run finishes. A
checkpoint that cannot be written (a full disk) is logged and training goes on without one.
``--no-checkpoint`` saves the time and space (~0.3 GB an epoch for "classic").
"""

from __future__ import annotations

import argparse
import dataclasses
from datetime import datetime
from pathlib import Path

from horsehuman_gui.cli.common import (EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, Interrupts,
                                       ProgressLines, UsageError, err, out, printable,
                                       refuse_existing)
from horsehuman_gui.cli.info import add_split_options
from horsehuman_gui.core.backbones import BACKBONES, DEFAULT_BACKBONE
from horsehuman_gui.core.config import (AUGMENT_PRESETS, AUTO_BATCH, CLASS_WEIGHT_MODES,
                                        FEW_STEPS, MODEL_NAMES, TrainConfig, defaults_for,
                                        with_batch_size)

#: Options whose default depends on --model (None on the command line: not given).
PER_MODEL = ("image_size", "epochs", "batch_size", "learning_rate", "augment", "class_weights",
             "patience", "reduce_lr", "fine_tune_epochs")


MODEL_DEFAULT = "default: the model's own (see README)"


def add_parser(sub) -> None:
    train = sub.add_parser("train", help="train a model on DATA and save it to --out")
    train.add_argument("data", type=Path, metavar="DATA")
    train.add_argument("--out", type=Path, required=True, metavar="MODEL",
                       help="model file to write (.keras)")
    train.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    train.add_argument("--model", choices=MODEL_NAMES, default=MODEL_NAMES[0],
                       help="pretrained: an ImageNet network's features and a small head "
                            "(default); classic: the course's CNN; compact: a small CNN")
    train.add_argument("--backbone", choices=tuple(BACKBONES), default=None,
                       help=f"pretrained only (default {DEFAULT_BACKBONE}, offline; the others "
                            "are downloaded once)")
    train.add_argument("--epochs", type=int, help=MODEL_DEFAULT)
    train.add_argument("--image-size", type=int, help=MODEL_DEFAULT)
    train.add_argument("--batch-size", type=int,
                       help="default: the model's own, smaller when DATA would make fewer than "
                            f"{FEW_STEPS} steps an epoch")
    train.add_argument("--learning-rate", type=float, help=MODEL_DEFAULT)
    train.add_argument("--augment", choices=AUGMENT_PRESETS,
                       help="random flips, rotations, zooms, shifts, contrast")
    train.add_argument("--class-weights", choices=CLASS_WEIGHT_MODES,
                       help="weigh classes by their rarity (auto: when one class has over "
                            "1.5 times another's images)")
    train.add_argument("--patience", type=int, metavar="N",
                       help="stop after N epochs without a better validation loss and keep "
                            "the best epoch (0: no early stopping)")
    train.add_argument("--reduce-lr", action=argparse.BooleanOptionalAction, default=None,
                       help="divide the learning rate by 5 when validation loss stalls")
    train.add_argument("--fine-tune-epochs", type=int, metavar="N",
                       help="pretrained only: then train the top of the backbone N epochs")
    train.add_argument("--cache-budget-mb", type=int, default=TrainConfig().cache_budget_mb,
                       help="cache decoded images in RAM when they fit (default %(default)s)")
    add_split_options(train)
    train.add_argument("--checkpoint", action=argparse.BooleanOptionalAction, default=True,
                       help="write a checkpoint after every epoch, so a stopped or killed run "
                            "can go on with --resume (default: on)")
    train.add_argument("--resume", action="store_true",
                       help="go on from the checkpoint a stopped run with the same DATA and "
                            "settings left (and keep writing checkpoints)")
    train.add_argument("--tensorboard", type=Path, nargs="?", const=True, default=None,
                       metavar="DIR", help="write TensorBoard logs (default: beside the run's "
                                           "checkpoint; needs the tensorboard package)")
    train.add_argument("--force", action="store_true",
                       help="train even when the scan found problems that block training")
    train.set_defaults(run=run)


def config_from(args: argparse.Namespace) -> TrainConfig:
    """The model's defaults, overridden by the options given."""
    if args.model != "pretrained":
        for option in ("backbone", "fine_tune_epochs"):
            if getattr(args, option) is not None:
                raise UsageError(f"--{option.replace('_', '-')} applies to --model pretrained "
                                 "only")
    values = defaults_for(args.model) | {"batch_size": AUTO_BATCH}  # fitted to DATA by train
    backbone = args.backbone or DEFAULT_BACKBONE
    if args.model == "pretrained":
        values["image_size"] = BACKBONES[backbone].input_size
    values |= {name: getattr(args, name) for name in PER_MODEL
               if getattr(args, name) is not None}
    return TrainConfig(model=args.model, backbone=backbone,
                       validation_split=args.validation_split, seed=args.seed,
                       cache_budget_mb=args.cache_budget_mb, **values)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    _check_model_destination(args.out, args.overwrite)
    report = _scan(args, config)
    if report.blocking_problems and not args.force:
        err(f"horsehuman: error: {printable(args.data)} cannot be used for training:")
        for problem in report.blocking_problems:
            err(f"  - {printable(problem)}")
        err("(--force trains anyway)")
        return EXIT_BAD_INPUT
    _say_batch_size(config, len(report.train))
    from horsehuman_gui.core.tfsetup import load_tensorflow

    load_tensorflow()
    from horsehuman_gui.core.checkpoints import default_checkpoint_dir

    run_folder = default_checkpoint_dir(args.data, config)
    callbacks = _tensorboard(args.tensorboard, run_folder.parent)
    checkpoint = run_folder if args.checkpoint or args.resume else None
    if args.resume:
        err(f"resuming from the checkpoint in {printable(checkpoint)} (if there is one)")
    elif checkpoint is not None:
        err(f"checkpoint after every epoch in {printable(checkpoint)}")
    started = datetime.now()
    with Interrupts() as interrupts:
        result = _train(report, config, interrupts, checkpoint, args.resume, callbacks)
        if result is None:
            return EXIT_INTERRUPTED
        bundle = _evaluated(result, report, interrupts)
        saved = _save(bundle, args, interrupts, result.stopped)
    _record(result, report, bundle.evaluation, saved.path, started, checkpoint)
    if result.stopped and checkpoint is not None:
        err(f"to go on: the same command with --resume (checkpoint in {printable(checkpoint)}); "
            "add --overwrite to replace the saved model, or give another --out")
    if saved.problem is not None:
        err(f"horsehuman: error: {printable(saved.problem)} "
            f"The model was saved to {printable(saved.path)} instead.")
        return EXIT_BAD_INPUT
    err(f"model saved to {printable(saved.path)}")
    return EXIT_OK


def _say_batch_size(config: TrainConfig, train_images: int) -> None:
    """Tell when the automatic batch size is not the model's own (a small dataset)."""
    fitted = with_batch_size(config, train_images).batch_size
    own = defaults_for(config.model)["batch_size"]
    if config.batch_size == AUTO_BATCH and fitted != own:
        err(f"batch size {fitted}, not the model's {own}: {train_images} training pictures "
            f"would make fewer than {FEW_STEPS} steps an epoch (--batch-size {own} to keep it)")


def _scan(args, config: TrainConfig):
    from horsehuman_gui.core.dataset import scan_dataset

    report = scan_dataset(args.data, validation_split=config.validation_split, seed=config.seed,
                          on_progress=ProgressLines("checking images"))
    err(f"{len(report.classes)} classes ({', '.join(map(printable, report.classes))}): "
        f"{len(report.train):,} training, {len(report.validation):,} validation images; "
        f"{len(report.skipped):,} files skipped (see `horsehuman info`)")
    for warning in report.warnings:
        err(f"warning: {printable(warning)}")
    settings = ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(config).items()
                         if k not in ("validation_split", "seed", "cache_budget_mb")
                         and not (k in ("backbone", "fine_tune_epochs")
                                  and config.model != "pretrained"))
    err(f"settings: {settings}")
    return report


def _tensorboard(option, run_folder: Path) -> list:
    if option is None:
        return []
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise UsageError("--tensorboard needs the tensorboard package: "
                         "pip install 'horsehuman-gui[tensorboard]'")
    import keras

    folder = run_folder / "tensorboard" if option is True else option
    err(f"TensorBoard logs in {printable(folder)} (view: tensorboard --logdir "
        f"{printable(folder)})")
    return [keras.callbacks.TensorBoard(log_dir=str(folder))]


def _train(report, config: TrainConfig, interrupts: Interrupts, checkpoint: Path | None,
           resume: bool, callbacks: list):
    """The ``TrainResult``, or None when stopped before the first epoch (said why)."""
    from horsehuman_gui.core.errors import DownloadCancelled, WeightsUnavailable
    from horsehuman_gui.core.features import ExtractionCancelled
    from horsehuman_gui.core.training import train

    try:
        return train(report, config, on_epoch=_print_epoch, should_stop=interrupts.is_set,
                     on_stage=_StageLines(), checkpoint_dir=checkpoint, resume=resume,
                     callbacks=callbacks)
    except WeightsUnavailable as exc:
        hint = (f" (--backbone {exc.fallback} works offline)"
                if exc.fallback and exc.fallback != config.backbone else "")
        raise UsageError(f"{exc}{hint}") from exc
    except (DownloadCancelled, ExtractionCancelled):
        err("stopped before the first epoch: nothing was trained, nothing saved")
        return None


class _StageLines:
    """The work before the first epoch, as a few progress lines per stage."""

    def __init__(self):
        self._stage, self._lines = None, None

    def __call__(self, progress) -> None:
        if progress.stage != self._stage:
            self._stage = progress.stage
            self._lines = ProgressLines("downloading weights", 2**20, " MB") \
                if progress.stage == "backbone" else ProgressLines(f"computing {progress.stage}")
        if progress.stage == "backbone" and progress.total <= 1:
            return  # the offline backbone: nothing to download
        self._lines(progress.done, progress.total)


def _print_epoch(m) -> None:
    line = f"epoch {m.epoch}/{m.epochs}  loss {m.loss:.4f}  accuracy {m.accuracy:.4f}"
    if m.val_loss is not None:
        line += f"  val_loss {m.val_loss:.4f}  val_accuracy {m.val_accuracy:.4f}"
    out(f"{line}  {m.seconds:.1f}s")


def _evaluated(result, report, interrupts: Interrupts):
    """The bundle to save: the run's story, with the validation part's evaluation printed
    and stored (not for a stopped run: a stop asks for the model now)."""
    from horsehuman_gui.cli.evaluate import evaluation_lines, run_evaluation
    from horsehuman_gui.core.bundle import bundle_from_result
    from horsehuman_gui.core.dataset_summary import skipped_in_training_lines
    from horsehuman_gui.core.errors import DatasetError

    bundle = bundle_from_result(result, dataset=report)
    for line in skipped_in_training_lines(result.skipped, report.root):
        err(printable(line))
    if result.history and result.best_epoch not in (None, result.history[-1].epoch):
        err(f"keeping the best epoch, {result.best_epoch} (lowest validation loss; early "
            "stopping)")
    if result.stopped or not report.validation or not result.history:
        return bundle
    try:
        scores = run_evaluation(bundle, report.validation, interrupts.is_set)
    except DatasetError as exc:
        err(f"the validation part could not be evaluated: {printable(str(exc))}")
        return bundle
    if scores is None or scores.stopped:
        return bundle
    evaluation = scores.evaluate(0.5)
    for line in evaluation_lines(evaluation, "validation:"):
        out(line)
    return dataclasses.replace(bundle, evaluation=evaluation.to_json())


def _save(bundle, args, interrupts: Interrupts, stopped: bool):
    from horsehuman_gui.core.bundle import save_with_fallback

    with interrupts.saving("the model"):
        if stopped:
            err(f"stopped after {len(bundle.history)} complete epoch(s); saving the model anyway")
        err(f"saving the model to {printable(args.out)}...")
        # never replaces a file that appeared during the run, unless --overwrite
        return save_with_fallback(bundle, args.out, overwrite=args.overwrite)


def _record(result, report, evaluation, model_path: Path, started, checkpoint) -> None:
    """The run in the list of runs (``horsehuman runs``); a record that cannot be written is
    said, never a failure: the model is saved."""
    from horsehuman_gui.core.runs import record_run

    try:
        record = record_run(result, report, model_path, evaluation, started=started,
                            checkpoint_dir=checkpoint if result.stopped else None)
    except OSError as exc:
        err(f"warning: the run could not be recorded: {printable(exc)}")
        return
    err(f"run recorded as {record.id} (see `horsehuman runs`)")


def _check_model_destination(path: Path, overwrite: bool) -> None:
    """Refuse before training what the save would refuse after it."""
    refuse_existing(path, overwrite)
    if path.suffix.lower() != ".keras":
        raise UsageError(f"--out must end in .keras. Received: {printable(path.name)}")
    if not path.parent.is_dir():
        raise UsageError(f"cannot save to {printable(path)}: folder {printable(path.parent)} "
                         "does not exist")
