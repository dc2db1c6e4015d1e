"""Scan a dataset folder: layout, classes, images per part, skipped files with reasons.

Two layouts are detected automatically:

* ``"split"``: the course's layout, a root holding ``train/`` (or ``training/``) and
  ``validation/`` (or ``val/``, ``test/``), each with the same class sub-folders;
* ``"classes"``: a root whose sub-folders are the classes; a stratified, seeded validation part
  is held out (every class in both parts, same proportions).

No TensorFlow here: scanning is PIL only, so the GUI can scan before TF has loaded.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from horsehuman_gui.core.errors import DatasetError
from horsehuman_gui.core.files import SkippedFile, is_hidden, walk_images
from horsehuman_gui.core.images import verify_image

logger = logging.getLogger(__name__)

__all__ = ["LabeledImage", "ScanCancelled", "ScanReport", "SkippedFile", "scan_dataset",
           "summary_lines"]

TRAIN_NAMES = ("train", "training")
VALIDATION_NAMES = ("validation", "val", "test")
IMBALANCE_RATIO = 1.5
#: verification threads: Pillow releases the GIL while decoding, more than 4 only adds contention
_WORKERS = max(2, min(4, os.cpu_count() or 2))
_PROGRESS_INTERVAL = 0.1  # seconds between progress calls (the last one is always made)


class ScanCancelled(DatasetError):
    """``should_stop()`` returned True during a scan; a DatasetError so callers need no extra case."""

    def __init__(self) -> None:
        super().__init__("scan cancelled")


@dataclass(frozen=True)
class LabeledImage:
    """One usable image and its class."""

    path: Path
    label: int  # index into ScanReport.classes


@dataclass(frozen=True)
class ScanReport:
    """What a scan found; parts are sorted by (label, path), skipped files by path."""

    root: Path
    layout: str  # "split" or "classes"
    classes: tuple[str, ...]
    train: tuple[LabeledImage, ...]
    validation: tuple[LabeledImage, ...]
    skipped: tuple[SkippedFile, ...]
    warnings: tuple[str, ...]
    #: fraction held out for the "classes" layout (None for "split")
    validation_split: float | None
    seed: int

    def counts(self, part: str) -> dict[str, int]:
        """Images per class name in ``part`` ("train" or "validation"), every class present."""
        items = self.train if part == "train" else self.validation
        counts = {name: 0 for name in self.classes}
        for item in items:
            counts[self.classes[item.label]] += 1
        return counts


ProgressFn = Callable[[int, int], None]  # (files checked, files found)


def _sub_folders(folder: Path) -> dict[str, Path]:
    """Non-hidden sub-folders (links followed) by name."""
    found = {}
    try:
        entries = list(os.scandir(folder))
    except OSError:  # walk_images on the same folder reports it with a reason
        return found
    for entry in entries:
        try:
            if entry.is_dir() and not is_hidden(entry.name):
                found[entry.name] = folder / entry.name
        except OSError:  # idem
            continue
    return found


def _find_part(folders: dict[str, Path], names: tuple[str, ...]) -> Path | None:
    lowered = {name.lower(): path for name, path in folders.items()}
    return next((lowered[n] for n in names if n in lowered), None)


def _loose_entries(folder: Path, used: set[Path]) -> list[SkippedFile]:
    """Everything in ``folder`` that is not one of the ``used`` folders, with a reason."""
    images, skipped = walk_images(folder, recursive=False)  # reports hidden folders, not others
    skipped += [SkippedFile(p, "not inside a class folder") for p in images]
    for name, path in _sub_folders(folder).items():
        if path not in used:
            skipped.append(SkippedFile(path, "folder not used (not a train or validation part)"))
    return skipped


def _check_root(root: Path) -> None:
    try:
        st = os.stat(root)
        if stat.S_ISDIR(st.st_mode):
            os.scandir(root).close()  # an unreadable root is an error, not "no sub-folders"
    except FileNotFoundError:
        raise DatasetError(f"folder not found: {root}") from None
    except OSError as exc:
        raise DatasetError(f"cannot read folder {root}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise DatasetError(f"not a folder: {root}")


def _too_few_classes(names: list[str], where: Path) -> DatasetError:
    if not names:
        loose = len(walk_images(where, recursive=False)[0])
        found = f" (only {loose} images directly in it)" if loose else ""
        return DatasetError(f"found no sub-folders in {where}{found}; need at least 2 class "
                            "folders (one sub-folder of images per class)")
    return DatasetError(f"found {len(names)} class folder ({', '.join(names)}) in {where}; "
                        "need at least 2")


def _layout(root: Path) -> tuple[str, dict[str, Path], list[SkippedFile]]:
    """(layout, part name -> folder, loose entries at the root)."""
    folders = _sub_folders(root)
    train, validation = _find_part(folders, TRAIN_NAMES), _find_part(folders, VALIDATION_NAMES)
    if train is not None and validation is not None:
        parts = {"train": train, "validation": validation}
        return "split", parts, _loose_entries(root, set(parts.values()))
    return "classes", {"all": root}, []


def _class_folders(parts: dict[str, Path], skipped: list) -> dict[str, dict[str, Path]]:
    """part -> class name -> folder; loose files in a part are reported in ``skipped``."""
    found = {part: _sub_folders(folder) for part, folder in parts.items()}
    for part, folder in parts.items():
        skipped += _loose_entries(folder, set(found[part].values()))
    names = sorted(set().union(*found.values()))
    if len(names) < 2:
        raise _too_few_classes(names, parts.get("train", parts.get("all")))
    return found


def _verify(candidates: list[Path], on_progress: ProgressFn | None,
            should_stop: Callable[[], bool] | None) -> list[str | None]:
    """verify_image over ``candidates`` in threads, in order; progress throttled at the source."""
    total, reasons, last = len(candidates), [], 0.0
    report = on_progress or (lambda done, total: None)
    report(0, total)
    executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="scan")
    try:
        futures = [executor.submit(verify_image, path) for path in candidates]
        for done, future in enumerate(futures, start=1):
            if should_stop is not None and should_stop():
                raise ScanCancelled()
            reasons.append(future.result())
            now = time.monotonic()
            if done == total or now - last >= _PROGRESS_INTERVAL:
                last = now
                report(done, total)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return reasons


def _split(items: list[Path], fraction: float, rng: np.random.Generator) -> tuple[list, list]:
    """Hold out round(n * fraction) of one class, at least 1 in each part when n >= 2."""
    n = len(items)
    held = min(max(int(n * fraction + 0.5), 1), n - 1) if n >= 2 else 0
    order = rng.permutation(n)
    return [items[i] for i in order[held:]], [items[i] for i in order[:held]]


def _imbalance(counts: dict[str, int]) -> str | None:
    present = {k: v for k, v in counts.items() if v > 0}
    if len(present) < 2:
        return None
    big, small = max(present, key=present.get), min(present, key=present.get)
    ratio = present[big] / present[small]
    if ratio <= IMBALANCE_RATIO:
        return None
    return (f"classes are imbalanced: {big} has {present[big]} training images, {small} has "
            f"{present[small]} ({ratio:.1f}x); accuracy alone can mislead")


def _walk_classes(folders, names, skipped, roots) -> dict[str, dict[str, list[Path]]]:
    """part -> class name -> candidate image paths (walked recursively).

    One ``visited`` set for all walks, seeded with the root, the parts and every class folder:
    a link from one class folder into another (or up to the root) is reported, never walked.
    """
    seeds = [*roots, *(f for per_class in folders.values() for f in per_class.values())]
    visited = {(st.st_dev, st.st_ino) for st in map(os.stat, seeds)}
    found: dict[str, dict[str, list[Path]]] = {}
    for part, per_class in folders.items():
        found[part] = {}
        for name in names:
            if name in per_class:
                images, bad = walk_images(per_class[name], recursive=True, visited=visited)
                found[part][name] = images
                skipped += bad
    return found


def scan_dataset(
    root: str | Path,
    validation_split: float = 0.2,
    seed: int = 42,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ScanReport:
    """Scan ``root`` into a ``ScanReport`` (classes, both parts, skipped files, warnings).

    ``validation_split`` (0 < x < 1) and ``seed`` apply to the "classes" layout only. Every image
    is fully decoded once in a few threads; ``on_progress(done, total)`` is called about 10 times
    a second and for the last file; ``should_stop()`` returning True raises ``ScanCancelled``.
    Raises ``DatasetError`` (message says what was found) when the folder cannot be used and
    ``ValueError`` for a bad ``validation_split``.
    """
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
            or not 0 < validation_split < 1:
        raise ValueError("`validation_split` must be between 0 and 1 (exclusive). "
                         f"Received: {validation_split!r}")
    root = Path(root)
    _check_root(root)
    layout, parts, skipped = _layout(root)
    folders = _class_folders(parts, skipped)
    names = sorted(set().union(*folders.values()))
    found = _walk_classes(folders, names, skipped, [root, *parts.values()])
    candidates = [path for per_class in found.values() for paths in per_class.values()
                  for path in paths]
    reasons = dict(zip(candidates, _verify(candidates, on_progress, should_stop)))
    skipped += [SkippedFile(p, r) for p, r in reasons.items() if r is not None]
    usable = {part: {name: [p for p in paths if reasons[p] is None]
                     for name, paths in per_class.items()} for part, per_class in found.items()}
    return _build_report(root, layout, parts, folders, names, usable, skipped,
                         validation_split, seed)


def _labelled(names: list[str], per_class: dict[str, list[Path]]) -> list[LabeledImage]:
    items = [LabeledImage(p, i) for i, n in enumerate(names) for p in per_class.get(n, [])]
    return sorted(items, key=lambda item: (item.label, item.path.parts))


def _part_warnings(names, parts, folders, usable) -> list[str]:
    warnings = []
    for name in names:
        for part, folder in parts.items():
            if name not in folders[part]:
                warnings.append(f"class {name} has no folder in {folder.name}/")
            elif not usable[part][name]:
                warnings.append(f"class {name} has no usable images in {folder.name}/")
    return warnings


def _held_out(names, images, fraction, seed) -> tuple[dict, dict, list[str]]:
    """Stratified split of each class; one generator over the sorted classes: reproducible."""
    rng = np.random.default_rng(seed)
    train, validation, warnings = {}, {}, []
    for name in names:
        train[name], validation[name] = _split(images[name], fraction, rng)
        if len(images[name]) == 1:
            warnings.append(f"class {name} has only 1 usable image; it is used for training only")
    return train, validation, warnings


def _build_report(root, layout, parts, folders, names, usable, skipped, fraction, seed):
    kept = [n for n in names if any(per_class.get(n) for per_class in usable.values())]
    warnings = [f"class folder {n} has no usable images; left out" for n in names
                if n not in kept]
    if len(kept) < 2:
        raise DatasetError(f"found {len(names)} class folders ({', '.join(names)}) but "
                           f"{len(kept)} with usable images ({', '.join(kept) or 'none'}); "
                           "need at least 2")
    if layout == "split":
        train, validation = usable["train"], usable["validation"]
        warnings += _part_warnings(kept, parts, folders, usable)
    else:
        train, validation, more = _held_out(kept, usable["all"], fraction, seed)
        warnings += more
    report = ScanReport(
        root=root, layout=layout, classes=tuple(kept),
        train=tuple(_labelled(kept, train)), validation=tuple(_labelled(kept, validation)),
        skipped=tuple(sorted(skipped, key=lambda s: s.path.parts)), warnings=(),
        validation_split=float(fraction) if layout == "classes" else None, seed=seed)
    imbalance = _imbalance(report.counts("train"))
    warnings += [imbalance] if imbalance else []
    if not report.validation:
        warnings.append("no validation images: accuracy on unseen images cannot be measured")
    logger.info("scanned %s: %s layout, %d classes, %d train, %d validation, %d skipped",
                root, layout, len(kept), len(report.train), len(report.validation), len(skipped))
    return dataclasses.replace(report, warnings=tuple(warnings))


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def summary_lines(report: ScanReport, max_skipped: int | None = None) -> list[str]:
    """Plain-text lines describing ``report`` (used by ``horsehuman info``).

    Layout, classes, a table of images per class and part, skipped files with reasons (the
    first ``max_skipped`` when given) and warnings.
    """
    if report.layout == "split":
        layout = "split (train and validation folders)"
    else:
        layout = (f"classes (class folders; {report.validation_split:.0%} held out for "
                  f"validation, seed {report.seed})")
    lines = [f"Dataset: {report.root}", f"Layout: {layout}",
             f"Classes ({len(report.classes)}): {', '.join(report.classes)}"]
    train, validation = report.counts("train"), report.counts("validation")
    width = max(len(n) for n in (*report.classes, "total"))
    lines.append(f"  {'':{width}}  {'train':>7}  {'validation':>10}")
    for name in report.classes:
        lines.append(f"  {name:{width}}  {train[name]:>7}  {validation[name]:>10}")
    lines.append(f"  {'total':{width}}  {len(report.train):>7}  {len(report.validation):>10}")
    shown = report.skipped if max_skipped is None else report.skipped[:max_skipped]
    lines.append(f"Skipped files: {len(report.skipped)}")
    lines += [f"  {_shown(s.path, report.root)}: {s.reason}" for s in shown]
    if len(shown) < len(report.skipped):
        lines.append(f"  ... and {len(report.skipped) - len(shown)} more")
    lines.append(f"Warnings: {len(report.warnings)}")
    lines += [f"  - {w}" for w in report.warnings]
    return lines
