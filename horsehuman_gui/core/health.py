"""Data health before training: duplicates, label conflicts, leaks, odd images, tiny classes.

Each problem is a ``Finding`` listing the files concerned, so the Dataset tab can show them in
one click and ``horsehuman info`` can print them. ``blocking_problems`` says, in sentences, why a
folder cannot be trained on at all. No TensorFlow, no decoding: works from the scan's
``ImageInfo`` and the near-duplicate links of ``core.groups``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from horsehuman_gui.core.groups import DUPLICATE_SIGNALS, ImageInfo, Link, group_ids

DUPLICATE, NEAR_DUPLICATE, LABEL_CONFLICT = "duplicate", "near duplicate", "label conflict"
ACROSS_PARTS, SMALL_IMAGE, ASPECT_RATIO = "across parts", "small image", "aspect ratio"
FEW_IMAGES, NO_VALIDATION, EMPTY_FOLDER = "few images", "no validation", "empty folder"
NOT_A_DATASET = "not a dataset"

SMALL_SIDE = 32  # pixels: less than this on a side carries little once enlarged for training
EXTREME_RATIO = 3.0  # longer side over shorter side
FEW = 10  # images in a class
MIN_TO_TRAIN = 2  # images in a class: one to learn from, one to check


@dataclass(frozen=True)
class Finding:
    """One problem with the data: a ``kind`` (one of the constants above), a sentence, files."""

    kind: str
    message: str
    files: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)  # one per image or link: 100,000s
class Item:
    """A usable image as the health check sees it."""

    info: ImageInfo
    label: int
    part: str  # "train" or "validation"


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _names(paths: Sequence[Path], root: Path, most: int = 4) -> str:
    shown = ", ".join(_shown(p, root) for p in paths[:most])
    return shown + (f" and {len(paths) - most} more" if len(paths) > most else "")


def _clusters(links: Sequence[Link]) -> list[list[int]]:
    """Sets of two or more items joined by duplicate links.

    Only the linked items are grouped: a list per item of a 100,000-image folder is 10 MB."""
    links = [link for link in links if link.signal in DUPLICATE_SIGNALS]
    linked = sorted({i for link in links for i in (link.a, link.b)})
    index = {item: k for k, item in enumerate(linked)}
    ids = group_ids(len(linked), [Link(index[x.a], index[x.b], x.signal) for x in links])
    members: dict[int, list[int]] = defaultdict(list)
    for k, g in enumerate(ids):
        members[g].append(linked[k])
    return [m for m in members.values() if len(m) > 1]


def duplicate_findings(items: Sequence[Item], links: Sequence[Link], classes: Sequence[str],
                       root: Path) -> list[Finding]:
    """One finding per set of copies: across classes (a label conflict), across the train and
    validation parts, or within one class (exact, or near: re-encoded, resized, shifted)."""
    findings = []
    for members in _clusters(links):
        paths = [items[i].info.path for i in members]
        labels = sorted({items[i].label for i in members})
        parts = {items[i].part for i in members}
        exact = len({items[i].info.pixels for i in members}) == 1
        what = "the same picture" if exact else "near-identical pictures"
        if len(labels) > 1:
            kind = LABEL_CONFLICT
            text = (f"{what} in classes {', '.join(classes[c] for c in labels)} (a label "
                    f"conflict): {_names(paths, root)}")
        elif len(parts) > 1:
            kind = ACROSS_PARTS
            text = (f"{what} in both training and validation (validation then measures "
                    f"memory, not learning): {_names(paths, root)}")
        else:
            kind = DUPLICATE if exact else NEAR_DUPLICATE
            count = (f"the same picture {len(paths)} times" if exact
                     else f"{len(paths)} near-identical pictures")
            text = f"{count} in class {classes[labels[0]]}: {_names(paths, root)}"
        findings.append(Finding(kind, text, tuple(paths)))
    order = (LABEL_CONFLICT, ACROSS_PARTS, DUPLICATE, NEAR_DUPLICATE)
    return sorted(findings, key=lambda f: (order.index(f.kind), f.files[0].parts))


def image_findings(infos: Sequence[ImageInfo], root: Path) -> list[Finding]:
    """Very small images and extreme aspect ratios, one finding each listing every file."""
    small = [i.path for i in infos if min(i.width, i.height) < SMALL_SIDE]
    odd = [i.path for i in infos
           if max(i.width, i.height) > EXTREME_RATIO * max(min(i.width, i.height), 1)]
    findings = []
    if small:
        findings.append(Finding(SMALL_IMAGE, (
            f"{len(small)} images are smaller than {SMALL_SIDE} pixels on a side (little detail "
            f"once enlarged for training): {_names(small, root)}"), tuple(small)))
    if odd:
        findings.append(Finding(ASPECT_RATIO, (
            f"{len(odd)} images are more than {EXTREME_RATIO:g} times wider than tall or taller "
            f"than wide (squashed to a square for training): {_names(odd, root)}"), tuple(odd)))
    return findings


def class_findings(items: Sequence[Item], classes: Sequence[str], groups: Sequence[int],
                   layout: str) -> list[Finding]:
    """Classes with fewer than ``FEW`` images, and classes that cannot hold out a validation
    part ("classes" layout: all their images in one near-duplicate group)."""
    per_class: dict[int, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        per_class[item.label].append(i)
    findings = []
    for label, name in enumerate(classes):
        members = per_class.get(label, [])
        paths = tuple(items[i].info.path for i in members)
        if len(members) < FEW:
            findings.append(Finding(FEW_IMAGES, (
                f"class {name} has only {len(members)} image{'s' * (len(members) != 1)}; "
                f"a class needs about {FEW} or more to learn from"), paths))
        if layout == "classes" and len(members) >= 2 \
                and len({groups[i] for i in members}) == 1:
            findings.append(Finding(NO_VALIDATION, (
                f"class {name} cannot hold out validation images: its {len(members)} images "
                "are all near-duplicates or one series of each other"), paths))
    return findings


def folder_findings(empty: Sequence[Path], n_folders: int, counts: dict[str, int]
                    ) -> tuple[list[Finding], list[str]]:
    """Findings for class folders without images, and the blocking problems (sentences).

    Blocking: a class with fewer than ``MIN_TO_TRAIN`` images, or at least half the class
    folders without any image (the folder is then most likely not a dataset).
    """
    findings, blocking = [], []
    if empty:
        findings.append(Finding(EMPTY_FOLDER, (
            f"{len(empty)} sub-folder{'s' * (len(empty) != 1)} hold no usable images: "
            f"{', '.join(p.name for p in empty)}"), tuple(empty)))
    if empty and 2 * len(empty) >= n_folders:
        names = ", ".join(p.name for p in empty[:5]) + (" ..." if len(empty) > 5 else "")
        sentence = (f"{len(empty)} of the {n_folders} sub-folders hold no images ({names}): "
                    "this does not look like a dataset (one sub-folder of pictures per class)")
        blocking.append(sentence)
        findings.append(Finding(NOT_A_DATASET, sentence, tuple(empty)))
    for name, n in counts.items():
        if n < MIN_TO_TRAIN:
            blocking.append(f"class {name} has only {n} image{'s' * (n != 1)}: a class needs at "
                            f"least {MIN_TO_TRAIN}, one to learn from and one to check (and "
                            f"about {FEW} or more to learn anything)")
    return findings, blocking


def check_scan(root: Path, layout: str, items: Sequence[Item], classes: Sequence[str],
               groups: Sequence[int], links: Sequence[Link], empty: Sequence[Path],
               n_folders: int) -> tuple[list[Finding], list[str]]:
    """Every finding for a scan, and its blocking problems (see ``folder_findings``).

    ``items`` are the usable images, ``groups`` and ``links`` their near-duplicate groups and
    links (same order), ``empty`` the class folders without usable images out of ``n_folders``.
    """
    findings = duplicate_findings(items, links, classes, root)
    findings += image_findings([item.info for item in items], root)
    findings += class_findings(items, classes, groups, layout)
    totals = {name: sum(item.label == c for item in items) for c, name in enumerate(classes)}
    more, blocking = folder_findings(empty, n_folders, totals)
    return findings + more, blocking


def leak_warnings(findings: Sequence[Finding], train: Path, validation: Path) -> list[str]:
    """For the "split" layout: a warning when validation pictures have copies in training."""
    leaked = [f for f in findings if f.kind == ACROSS_PARTS]
    count = sum(1 for f in leaked for p in f.files if validation in p.parents)
    if not leaked:
        return []
    images, have = ("image", "has") if count == 1 else ("images", "have")
    return [f"{count} {images} in {validation.name}/ {have} a copy or near-duplicate in "
            f"{train.name}/ ({len(leaked)} set{'s' * (len(leaked) != 1)}, listed in the "
            "findings): validation accuracy will look better than accuracy on new pictures"]


def imbalance_warning(counts: dict[str, int], ratio: float) -> str | None:
    """A warning when the largest class has more than ``ratio`` times the smallest's images."""
    present = {k: v for k, v in counts.items() if v > 0}
    if len(present) < 2:
        return None
    big, small = max(present, key=present.get), min(present, key=present.get)
    found = present[big] / present[small]
    if found <= ratio:
        return None
    return (f"classes are imbalanced: {big} has {present[big]} training images, {small} has "
            f"{present[small]} ({found:.1f}x); accuracy alone can mislead")
