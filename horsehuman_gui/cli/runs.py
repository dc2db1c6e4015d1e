"""``horsehuman runs``: the training runs recorded (``core.runs``), compared, deleted.

``runs`` lists them newest first (models the app saved before runs were recorded are added,
once, from the story their file carries); ``runs --json`` prints the records as JSON (the
fields of each run's ``run.json``); ``runs compare ID ID...`` shows them side by side;
``runs delete ID`` removes a run with its checkpoint and its automatically saved model
(``--keep-model`` keeps it; a model saved elsewhere with ``--out`` goes only with
``--delete-saved-model``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from horsehuman_gui.cli.common import EXIT_OK, UsageError, err, out, printable

#: The list's columns: (key of ``run_compare.summary``, heading).
COLUMNS = (("id", "ID"), ("date", "DATE"), ("dataset", "DATASET"), ("model", "MODEL"),
           ("accuracy", "VAL ACC"), ("epochs", "EPOCHS"), ("duration", "DURATION"),
           ("size", "SIZE"), ("model_file", "MODEL FILE"))


def add_parser(sub) -> None:
    runs = sub.add_parser("runs", help="the training runs recorded: list, compare, delete",
                          description="Without ACTION: list the runs recorded, newest first.")
    runs.add_argument("--json", action="store_true", help="print every record as JSON")
    runs.set_defaults(run=run_list)
    actions = runs.add_subparsers(dest="action", metavar="[ACTION]")
    compare = actions.add_parser("compare", help="show runs side by side")
    compare.add_argument("ids", nargs="+", metavar="ID")
    compare.set_defaults(run=run_compare)
    delete = actions.add_parser("delete", help="delete a run with its checkpoint and its "
                                               "automatically saved model")
    delete.add_argument("id", metavar="ID")
    delete.add_argument("--keep-model", action="store_true", help="keep the model file")
    delete.add_argument("--delete-saved-model", action="store_true",
                        help="also delete a model file saved outside the app's models folder "
                             "(train --out)")
    delete.set_defaults(run=run_delete)


def run_list(args: argparse.Namespace) -> int:
    from horsehuman_gui.core.run_compare import summary
    from horsehuman_gui.core.run_import import record_unrecorded_models
    from horsehuman_gui.core.runs import list_runs, runs_dir

    imported = record_unrecorded_models()
    if imported:
        err(f"{len(imported)} model(s) saved before runs were recorded are now listed too")
    records = list_runs()
    if args.json:
        out(json.dumps([r.to_json() for r in records], indent=1, ensure_ascii=False))
        return EXIT_OK
    if not records:
        err(f"no runs recorded yet (in {printable(runs_dir())})")
        return EXIT_OK
    for line in table([[h for _, h in COLUMNS]] +
                      [[summary(r)[k] for k, _ in COLUMNS] for r in records]):
        out(printable(line))
    return EXIT_OK


def run_compare(args: argparse.Namespace) -> int:
    from horsehuman_gui.core.run_compare import compare
    from horsehuman_gui.core.runs import get_run

    if args.json:
        raise UsageError("--json lists every run; compare prints a table")
    records = [get_run(i) for i in args.ids]
    rows = compare(records)
    lines = table([["", *(r.id for r in records)]] +
                  [[("* " if row.differs else "  ") + row.label, *row.values] for row in rows])
    for line in lines:
        out(printable(line))
    err("* marks the rows that differ")
    return EXIT_OK


def run_delete(args: argparse.Namespace) -> int:
    from horsehuman_gui.core.runs import delete_run, deletion_plan, get_run

    record = get_run(args.id)
    options = dict(delete_model=not args.keep_model, user_files=args.delete_saved_model)
    planned = deletion_plan(record, **options)
    removed = delete_run(args.id, **options)
    for path in removed:
        err(f"deleted {printable(path)}")
    model = Path(record.model_path) if record.model_path else None
    if model is not None and model.exists() and model not in planned:
        why = "--keep-model" if args.keep_model else "saved outside the app's models folder; " \
                                                     "--delete-saved-model deletes it"
        err(f"kept the model {printable(record.model_path)} ({why})")
    return EXIT_OK


def table(rows: list[list[str]]) -> list[str]:
    """Rows as left-aligned columns two spaces apart (the last column unpadded)."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(str(cell).ljust(w) for cell, w in zip(row[:-1], widths)) +
            "  " + str(row[-1]) for row in rows]
