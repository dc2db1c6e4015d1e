"""``horsehuman info DATA [--json FILE]``: what a dataset folder holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from horsehuman_gui.cli.common import EXIT_OK, err, out, printable, refuse_existing
from horsehuman_gui.core.config import TrainConfig


def add_parser(sub) -> None:
    info = sub.add_parser("info", help="what a dataset folder holds: layout, classes, bad files")
    info.add_argument("data", type=Path, metavar="DATA")
    add_split_options(info)
    info.add_argument("--json", type=Path, metavar="FILE",
                      help="also write everything found (each image's part, class and group, "
                           "skipped files, findings) as JSON")
    info.add_argument("--overwrite", action="store_true", help="replace --json if it exists")
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
    if args.json is not None:
        write_json(args.json, report_to_json(report), args.overwrite)
        err(f"details written to {printable(args.json)}")
    return EXIT_OK


def write_json(path: Path, data, overwrite: bool) -> None:
    """``data`` as indented UTF-8 JSON; never replaces a file unless ``overwrite``."""
    with open(path, "w" if overwrite else "x", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
