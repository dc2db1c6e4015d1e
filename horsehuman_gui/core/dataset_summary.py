"""A ``ScanReport`` as text lines (``horsehuman info``) and as JSON (``horsehuman info --json``).

Re-exported by ``core.dataset``; no imports from it (the report is only read), so no cycle.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

JSON_FORMAT = 1


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _grouping_line(report) -> str:
    items = (*report.train, *report.validation)
    sizes = Counter(item.group for item in items)
    fired = ", ".join(f"{signal} ({n} links)" for signal, n in report.grouping_links) or "none"
    largest = max(sizes.values(), default=0)
    checked = "" if getattr(report, "decoded", True) else " (file names only: not decoded)"
    return (f"Near-duplicate groups: {len(sizes):,} for {len(items):,} images "
            f"(largest {largest:,}); signals looked for: "
            f"{', '.join(report.grouping_signals)}{checked}; found: {fired}")


def summary_lines(report, max_skipped: int | None = None) -> list[str]:
    """Plain-text lines describing ``report`` (used by ``horsehuman info``).

    Layout, classes, a table of images per class and part, the near-duplicate grouping, skipped
    files with reasons (the first ``max_skipped`` when given), warnings, findings and what
    blocks training.
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
        lines.append(f"  {name:{width}}  {train[name]:>7,}  {validation[name]:>10,}")
    lines.append(f"  {'total':{width}}  {len(report.train):>7,}  {len(report.validation):>10,}")
    lines.append(_grouping_line(report))
    shown = report.skipped if max_skipped is None else report.skipped[:max_skipped]
    lines.append(f"Skipped files: {len(report.skipped):,}")
    lines += [f"  {_shown(s.path, report.root)}: {s.reason}" for s in shown]
    if len(shown) < len(report.skipped):
        lines.append(f"  ... and {len(report.skipped) - len(shown):,} more")
    lines.append(f"Warnings: {len(report.warnings)}")
    lines += [f"  - {w}" for w in report.warnings]
    lines.append(f"Findings: {len(report.findings)}")
    lines += [f"  - [{f.kind}] {f.message}" for f in report.findings]
    if report.blocking_problems:
        lines.append("Cannot train on this folder:")
        lines += [f"  - {p}" for p in report.blocking_problems]
    return lines


def skipped_in_training_lines(skipped, root: Path, limit: int = 10) -> list[str]:
    """``TrainResult.skipped`` as lines: a count, then up to ``limit`` files with their reasons
    (relative to ``root``), then how many more."""
    if not skipped:
        return []
    lines = [f"{len(skipped)} picture{'s' * (len(skipped) != 1)} could not be read during "
             "training and {} left out:".format("were" if len(skipped) != 1 else "was")]
    lines += [f"  {_shown(Path(path), Path(root))}: {reason}" for path, reason in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"  … and {len(skipped) - limit} more (each is in the log)")
    return lines


def _item(item, report) -> dict:
    return {"path": str(item.path), "class": report.classes[item.label], "group": item.group,
            "linked_by": list(item.linked_by)}


def report_to_json(report) -> dict:
    """What the Dataset tab shows, as plain JSON types, for ``horsehuman info --json``.

    Keys: format, root, layout, classes, validation_split, seed, counts (part -> class -> n),
    parts (train / validation: lists of {path, class, group, linked_by}), decoded (every
    image decoded in full, else checked from its header), grouping (signals
    looked for, links found per signal, number of groups), skipped ({path, reason}), warnings,
    findings ({kind, message, files}), blocking_problems. Paths are as scanned (under root).
    """
    items = (*report.train, *report.validation)
    return {
        "format": JSON_FORMAT,
        "root": str(report.root),
        "layout": report.layout,
        "classes": list(report.classes),
        "validation_split": report.validation_split,
        "seed": report.seed,
        "counts": {part: report.counts(part) for part in ("train", "validation")},
        "parts": {"train": [_item(i, report) for i in report.train],
                  "validation": [_item(i, report) for i in report.validation]},
        "decoded": getattr(report, "decoded", True),
        "grouping": {"signals": list(report.grouping_signals),
                     "links": dict(report.grouping_links),
                     "groups": len({item.group for item in items})},
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in report.skipped],
        "warnings": list(report.warnings),
        "findings": [{"kind": f.kind, "message": f.message, "files": [str(p) for p in f.files]}
                     for f in report.findings],
        "blocking_problems": list(report.blocking_problems),
    }
