"""How well each model choice recognises pictures it has never seen (issue 9, section 7).

    python bench/accuracy.py [DATA ...] [--models pretrained,compact,classic] [--seeds 3]

A model may carry settings over its defaults: ``pretrained:augment=light+fine_tune_epochs=2``.

For every model choice with its own defaults (``core.config.defaults_for``), over several seeds,
each run in a fresh process with an empty feature cache (a cold start):

* the images are split by *group*: on Horses or Humans a group is a figure (``horse05-*``,
  ``human12-*``: the renders of one figure are near-duplicates, so a random split flatters
  every model). Per class, ~20% of the groups are held out as the test set; the rest is given
  to the app as a folder of class folders (links), and the app makes its own validation part
  (its near-duplicate grouping, early stopping, best epoch). A folder whose names form no
  series (rock-paper-scissors) falls back to one group per file for the test set.
* printed: accuracy on the held-out groups, the validation accuracy the app reports, the
  accuracy on the training images in inference mode beside the last epoch's training metric,
  and the wall time from process start (TensorFlow import, scan, feature extraction, training).

Ends with one JSON line (per model and dataset: mean and spread of each figure). Defaults to
../shared/data/horse-or-human/train and ../shared/data/rock-paper-scissors when present.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START = time.perf_counter()
REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DEFAULT_DATA = [SHARED / "horse-or-human" / "train", SHARED / "rock-paper-scissors"]
#: a name like horse05-3.png or IMG_0412.jpg: the series is what comes before the last number
_SERIES = re.compile(r"^(?P<series>.*?)[-_ ]?\d+$")
TEST_FRACTION, VALIDATION_FRACTION = 0.2, 0.15


def group_of(path: Path) -> str:
    """The figure a render belongs to (``horse05-3`` -> ``horse05``), else the file itself."""
    match = _SERIES.match(path.stem)
    return match["series"] if match and match["series"] else path.stem


def split_by_group(items, seed: int):
    """(train, validation, test) lists of LabeledImage; groups never cross parts."""
    import numpy as np

    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for label in sorted({item.label for item in items}):
        groups: dict[str, list] = {}
        for item in items:
            if item.label == label:
                groups.setdefault(group_of(item.path), []).append(item)
        if len(groups) < 3:  # no series in the names: one group per file
            groups = {str(item.path): [item] for item in items if item.label == label}
        names = sorted(groups)
        rng.shuffle(names)
        n_test = max(1, round(len(names) * TEST_FRACTION))
        n_val = max(1, round((len(names) - n_test) * VALIDATION_FRACTION))
        for index, name in enumerate(names):
            part = 2 if index < n_test else 1 if index < n_test + n_val else 0
            parts[part].extend(groups[name])
    return tuple(sorted(part, key=lambda i: (i.label, str(i.path))) for part in parts)


def child(data: Path, model: str, seed: int) -> dict:
    """Hold out whole groups as the test set; give the rest to the app as a folder of class
    folders (links), so the validation part and the accuracy it reports are the app's own."""
    from horsehuman_gui.core.bundle import bundle_from_result
    from horsehuman_gui.core.config import AUTO_BATCH, TrainConfig, defaults_for
    from horsehuman_gui.core.dataset import LabeledImage, scan_dataset
    from horsehuman_gui.core.prediction import predict_files
    from horsehuman_gui.core.training import train

    everything = scan_dataset(data, seed=seed)
    train_items, val_items, test_items = split_by_group(
        everything.train + everything.validation, seed)  # val_items: the app's again, below
    name, _, overrides = model.partition(":")  # e.g. "pretrained:augment=light+fine_tune_epochs=2"
    # the batch size as the app's form and CLI leave it: automatic, fitted to the data by train()
    options = {**defaults_for(name), "batch_size": AUTO_BATCH, "model": name, "seed": seed}
    for pair in filter(None, overrides.split("+")):
        key, value = pair.split("=")
        options[key] = type(options[key])(value) if key in options else value
    config = TrainConfig(**options)
    with tempfile.TemporaryDirectory(prefix="hh-accuracy-data-") as tmp:
        for item in train_items + val_items:
            link = Path(tmp) / everything.classes[item.label] / item.path.name
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(item.path.resolve())
        report = scan_dataset(tmp, validation_split=config.validation_split, seed=seed)
        result = train(report, config)
        trained_at = time.perf_counter() - START
        bundle = bundle_from_result(result)

        def accuracy(items, classes) -> float:
            truth = {str(item.path): classes[item.label] for item in items}
            preds = [p for p in predict_files(bundle, [item.path for item in items]) if p.ok]
            return sum(p.label == truth[str(p.path)] for p in preds) / max(1, len(preds))

        train_accuracy = accuracy(report.train, report.classes)
        sizes = [len(report.train), len(report.validation), len(test_items)]
    test_accuracy = accuracy([LabeledImage(i.path, i.label) for i in test_items],
                             everything.classes)
    return {"test": test_accuracy, "train_inference": train_accuracy,
            "train_metric": result.best.accuracy, "val_reported": result.final_val_accuracy,
            "epochs": len(result.history), "seconds": trained_at, "sizes": sizes,
            "batch_size": result.config.batch_size}


def run_child(data: Path, model: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="hh-accuracy-") as tmp:
        env = dict(os.environ, HORSEHUMAN_CACHE_DIR=str(Path(tmp) / "cache"),
                   HORSEHUMAN_DATA_DIR=str(Path(tmp) / "data"), KERAS_HOME=str(Path(tmp) / "keras"),
                   TF_CPP_MIN_LOG_LEVEL="2")
        proc = subprocess.run([sys.executable, __file__, "--child", str(data), model, str(seed)],
                              capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"{model} seed {seed} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="*", type=Path)
    parser.add_argument("--models", default="pretrained,compact,classic")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("DATA", "MODEL", "SEED"))
    args = parser.parse_args()
    if args.child:
        data, model, seed = args.child
        print(json.dumps(child(Path(data), model, int(seed))))
        return 0
    datasets = args.data or [d for d in DEFAULT_DATA if d.is_dir()]
    summary = {}
    print("dataset | model | held-out acc | app's val acc | train acc (inference / metric) "
          "| epochs | cold seconds")
    for data in datasets:
        for model in args.models.split(","):
            runs = [run_child(data, model, seed) for seed in range(1, args.seeds + 1)]
            row = {key: [r[key] for r in runs] for key in
                   ("test", "val_reported", "train_inference", "train_metric", "epochs", "seconds")}
            print(f"{data.name if data.name != 'train' else data.parent.name} | {model} | "
                  f"{_spread(row['test'])} | {_spread(row['val_reported'])} | "
                  f"{_spread(row['train_inference'])} / {_spread(row['train_metric'])} | "
                  f"{_spread(row['epochs'])} | {_spread(row['seconds'])}  (sizes {runs[0]['sizes']}, batch {runs[0]['batch_size']})",
                  flush=True)
            summary[f"{data.parent.name if data.name == 'train' else data.name}/{model}"] = {
                key: {"mean": statistics.mean(v), "min": min(v), "max": max(v)}
                for key, v in row.items()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
