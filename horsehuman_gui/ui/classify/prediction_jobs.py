"""The prediction pane's background work as Task functions, and the sentences that report it.

Workers get plain values (paths, a bundle, a threshold) and never touch widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from horsehuman_gui.ui.common.image_list_model import ImageItem, make_items

CLASSIFY_BATCH = 32
_MAX_SKIPPED_LINES = 200


def list_folder_job(folder: Path, recursive: bool):
    """Task fn: a Listing of one folder, via core.files.walk_images."""
    def run(should_stop, report):
        from horsehuman_gui.core.files import walk_images

        return Listing.of(*walk_images(folder, recursive))
    return run


def collect_job(inputs: Sequence[Path], recursive: bool):
    """Task fn: a Listing of files and folders, via core.files.collect_images."""
    def run(should_stop, report):
        from horsehuman_gui.core.files import collect_images

        return Listing.of(*collect_images(inputs, recursive))
    return run


@dataclass(frozen=True)
class Listing:
    """What a listing worker found, as ready-made model items.

    Files that are not pictures by name (``README.md``, ``.git``, hidden files) are only
    counted in ``left_out``; files named like pictures that cannot be used become items with
    their reason (``skipped``), shown as red tiles.
    """

    items: tuple[ImageItem, ...]
    images: int
    skipped: int
    left_out: int = 0

    @classmethod
    def of(cls, paths, skipped) -> "Listing":
        shown = [s for s in skipped if looks_like_an_image(s.path)]
        return cls(tuple(make_items(paths, shown)), len(paths), len(shown),
                   len(skipped) - len(shown))


def looks_like_an_image(path: Path) -> bool:
    """A visible file with a picture's extension (whether or not it can be decoded)."""
    from horsehuman_gui.core.files import is_hidden
    from horsehuman_gui.core.images import IMAGE_EXTENSIONS

    path = Path(path)
    return not is_hidden(path.name) and path.suffix.lower() in IMAGE_EXTENSIONS


def listed_text(listing: Listing) -> str:
    """'12 picture(s) listed, 1 cannot be read, 3 other file(s) left out' (the parts that apply)."""
    text = f"{listing.images:,} picture(s) listed"
    if listing.skipped:
        text += f", {listing.skipped:,} cannot be read"
    if listing.left_out:
        text += f", {listing.left_out:,} other file(s) left out (not pictures)"
    return text


def classify_job(bundle, paths: Sequence[Path], threshold: float, batch_size: int = CLASSIFY_BATCH):
    """Task fn: reports a tuple of Predictions per batch; returns True if it was stopped."""
    def run(should_stop, report):
        from horsehuman_gui.core.memory import collect_dropped_models, trim_heap
        from horsehuman_gui.core.prediction import predict_files  # TensorFlow is loaded by now

        collect_dropped_models()  # a model just replaced: its memory first, not beside ours
        batch = []
        try:
            for prediction in predict_files(bundle, list(paths), batch_size=batch_size,
                                            threshold=threshold, should_stop=should_stop):
                batch.append(prediction)
                if len(batch) >= batch_size:
                    report(tuple(batch))
                    batch = []
            if batch:
                report(tuple(batch))
            return should_stop()
        finally:
            trim_heap()  # the decoded pictures' memory goes back to the system
    return run


def copy_job(predictions: list, target: Path):
    """Task fn: copies into ``target/<label>/``; reports (done, total); returns a CopySummary."""
    def run(should_stop, report):
        from horsehuman_gui.core.export import copy_into_class_folders

        return copy_into_class_folders(predictions, target,
                                       on_progress=lambda done, total: report((done, total)),
                                       should_stop=should_stop)
    return run


def rows_for_export(items: Sequence[ImageItem]) -> list:
    """Predictions for the items shown: results as labelled now, failures as error rows (as the
    CLI writes them); files not classified yet are not results and are left out."""
    from horsehuman_gui.core.prediction import Prediction

    rows = []
    for item in items:
        if item.prediction is not None:
            rows.append(item.prediction)
        elif item.error:
            rows.append(Prediction(item.path, None, None, (), item.error))
    return rows


def classified_text(done: int, total: int) -> str:
    return f"Classified {done:,} of {total:,} images\u2026"


def finished_text(labelled: int, failed: int, stopped: bool) -> str:
    what = f"{labelled:,} image{'s' if labelled != 1 else ''} classified"
    if failed:
        what += f", {failed:,} could not be read"
    return ("Classification cancelled: " if stopped else "Classification done: ") + what + "."


def copy_summary_text(summary, target: Path) -> tuple[str, str]:
    """(message, details) for the copy summary box: how many went into which folders, and the
    files not copied with their reasons."""
    per_folder: dict[str, int] = {}
    for _source, copy in summary.copied:
        per_folder[copy.parent.name] = per_folder.get(copy.parent.name, 0) + 1
    folders = ", ".join(f"{name}/ ({count:,})" for name, count in sorted(per_folder.items()))
    message = f"Copied {len(summary.copied):,} image(s) into {target}"
    message += f": {folders}." if folders else "."
    if summary.stopped:
        message += " Stopped before the end."
    if summary.skipped:
        message += f"\n{len(summary.skipped):,} file(s) were not copied (see details)."
    lines = [f"{s.path}: {s.reason}" for s in summary.skipped[:_MAX_SKIPPED_LINES]]
    if len(summary.skipped) > _MAX_SKIPPED_LINES:
        lines.append(f"... and {len(summary.skipped) - _MAX_SKIPPED_LINES:,} more")
    return message, "\n".join(lines)
