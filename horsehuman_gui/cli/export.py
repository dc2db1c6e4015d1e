"""``horsehuman export`` (the model for other runtimes) and ``horsehuman export-code`` (a
standalone Keras script that trains the same model the same way)."""

from __future__ import annotations

import argparse
from pathlib import Path

from horsehuman_gui.cli.common import EXIT_OK, UsageError, err, out, printable, refuse_existing
from horsehuman_gui.cli.predict import open_model


def add_parsers(sub) -> None:
    from horsehuman_gui.core.model_export import FORMATS

    export = sub.add_parser("export", help="export a model as a TensorFlow SavedModel, TFLite "
                                           "or ONNX folder (with labels.txt)")
    export.add_argument("model", type=Path, metavar="MODEL")
    export.add_argument("--format", choices=FORMATS, required=True)
    export.add_argument("--quantize", action="store_true",
                        help="TFLite only: 8-bit weights (about 4x smaller)")
    export.add_argument("--out", type=Path, required=True, metavar="PATH",
                        help="the folder to create")
    export.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    export.set_defaults(run=run_export)

    code = sub.add_parser("export-code", help="write a standalone Keras script that trains "
                                              "the same model the same way")
    code.add_argument("model", type=Path, metavar="MODEL")
    code.add_argument("--out", type=Path, required=True, metavar="FILE", help="e.g. train.py")
    code.add_argument("--data", type=Path, metavar="DATA",
                      help="the dataset folder the script reads (default: the one MODEL was "
                           "trained on)")
    code.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    code.set_defaults(run=run_code)


def run_export(args: argparse.Namespace) -> int:
    from horsehuman_gui.core.model_export import export_model, onnx_missing

    refuse_existing(args.out, args.overwrite)
    if args.format == "onnx" and onnx_missing():
        raise UsageError(onnx_missing())
    bundle = open_model(args.model)
    result = export_model(bundle, args.out, args.format, quantize=args.quantize,
                          overwrite=args.overwrite)
    out(f"exported to {printable(result.folder)}: model {printable(result.model.name)}, "
        f"labels {printable(result.labels.name)}, details {printable(result.info.name)}")
    return EXIT_OK


def run_code(args: argparse.Namespace) -> int:
    from horsehuman_gui.core.codegen import write_script

    refuse_existing(args.out, args.overwrite)
    metadata = read_story(args.model)
    config = metadata.get("config")
    if not isinstance(config, dict):
        raise UsageError(f"{printable(args.model.name)} holds no training settings (only "
                         "models trained by this app carry them)")
    data = args.data or (metadata.get("dataset") or {}).get("root")
    if not data:
        raise UsageError(f"{printable(args.model.name)} does not say which folder it was "
                         "trained on; give it with --data")
    written = write_script(config, data, args.out, overwrite=args.overwrite,
                           class_names=tuple(metadata["class_names"]))
    err(f"script written to {printable(written)} (run: python {printable(written)})")
    return EXIT_OK


def read_story(path: Path) -> dict:
    """A model file's metadata, read without TensorFlow (``ModelFileError`` when unusable)."""
    from horsehuman_gui.core.archive import check_archive
    from horsehuman_gui.core.bundle_metadata import read_metadata

    check_archive(path)
    return read_metadata(path)
