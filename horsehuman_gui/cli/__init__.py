"""``horsehuman``: the whole job from a terminal, over the same core as the window.

One module per command (``info``, ``train``, ``runs``, ``predict``, ``evaluate``, ``export``
with ``export-code``, ``report``, ``download``); ``common`` holds what they share.

Exit codes: 0 success; 2 bad usage or bad input (one line on stderr, no traceback), also when
the model could not be saved where asked (the line says where it was saved instead); 130 when
a second Ctrl-C aborts, and when ``predict``, ``evaluate`` or a download was interrupted
(``predict``'s CSV then lists every input, those not classified marked so).

Ctrl-C, SIGTERM and SIGHUP all mean "stop after the current batch": ``train`` then saves what
it has, ``predict`` writes what it has. While the model or the CSV is being saved, signals only
say that the save is waited for. Names are printed as ``core.files.printable`` shows them.
No TensorFlow at import time: each command loads it when it needs it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys

from horsehuman_gui import __version__
from horsehuman_gui.cli import download, evaluate, export, info, predict, report, runs, train
from horsehuman_gui.cli.common import (EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, Interrupts,
                                       UsageError, err, printable)
from horsehuman_gui.cli.predict import NOT_CLASSIFIED
from horsehuman_gui.core.errors import HorsehumanError

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "EXIT_OK", "NOT_CLASSIFIED", "UsageError",
           "build_parser", "main"]

logger = logging.getLogger(__name__)

_Interrupts = Interrupts  # the name the signal tests use


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="horsehuman",
        description="Train an image classifier on a folder of class folders and classify photos.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (info, train, runs, predict, evaluate, report, download):
        module.add_parser(sub)
    export.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _survive_any_terminal()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (HorsehumanError, ValueError, OSError) as exc:
        if args.verbose:
            logger.exception("failed")
        err(f"horsehuman: error: {_sentence(exc)}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        err("horsehuman: aborted")
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
