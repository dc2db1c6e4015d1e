"""``horsehuman download-dataset NAME DEST``: the course's datasets, ready to train on."""

from __future__ import annotations

import argparse
from pathlib import Path

from horsehuman_gui.cli.common import (EXIT_INTERRUPTED, EXIT_OK, Interrupts, ProgressLines, err,
                                       out, printable)


def add_parser(sub) -> None:
    from horsehuman_gui.core.sample_data import DATASETS

    download = sub.add_parser("download-dataset", help="download Horses or Humans or Rock "
                                                       "Paper Scissors into a new folder")
    download.add_argument("name", choices=tuple(DATASETS), metavar="NAME",
                          help=" or ".join(DATASETS))
    download.add_argument("dest", type=Path, metavar="DEST",
                          help="a folder that does not exist yet, or an empty one")
    download.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from horsehuman_gui.core.sample_data import DownloadCancelled, download_dataset

    with Interrupts() as interrupts:
        try:
            result = download_dataset(args.name, args.dest, ProgressLines("downloaded", 2**20,
                                                                          " MB"),
                                      should_stop=interrupts.is_set)
        except DownloadCancelled:
            err(f"download cancelled; {printable(args.dest)} was left as it was")
            return EXIT_INTERRUPTED
    for part, counts in result.counts.items():
        out(f"{part}: " + ", ".join(f"{printable(name)} {n}" for name, n in counts.items()))
    err(f"dataset in {printable(result.root)} (licence: {printable(result.licence_file.name)}); "
        f"train with: horsehuman train {printable(result.root)} --out model.keras")
    return EXIT_OK
