"""Runs side by side: one row per setting or figure, one column per run, as plain text.

``compare(records)`` gives the rows a table shows (the CLI and the GUI's comparison dialog);
``summary(record)`` the few columns of a list of runs. No Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from horsehuman_gui.core.runs import RunRecord

__all__ = ["CompareRow", "compare", "format_duration", "format_size", "summary"]

#: Settings in the order a person reads them, with their labels; others follow by name.
SETTINGS = (("model", "Model"), ("backbone", "Backbone"), ("image_size", "Image size"),
            ("epochs", "Epochs asked"), ("batch_size", "Batch size"),
            ("learning_rate", "Learning rate"), ("augment", "Augmentation"),
            ("class_weights", "Class weights"), ("patience", "Early stopping patience"),
            ("reduce_lr", "Reduce learning rate"), ("fine_tune_epochs", "Fine-tune epochs"),
            ("validation_split", "Validation fraction"), ("seed", "Seed"))
_NOT_SHOWN = {"cache_budget_mb"}


@dataclass(frozen=True)
class CompareRow:
    """One line of the comparison: ``label``, a text per run, and whether they differ."""

    section: str  # "Run", "Dataset", "Settings" or "Results"
    label: str
    values: tuple[str, ...]

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


def compare(records: list[RunRecord] | tuple[RunRecord, ...]) -> list[CompareRow]:
    """Rows comparing ``records`` (in their order): when, which data, every setting, the
    figures of the kept epoch and the evaluation, per-class F1 and the model file."""
    rows: list[CompareRow] = []

    def add(section: str, label: str, get) -> None:
        rows.append(CompareRow(section, label, tuple(_text(get(r)) for r in records)))

    add("Run", "Started", lambda r: _when(r.started))
    add("Run", "Duration", lambda r: format_duration(r.duration_s))
    add("Run", "Ended", lambda r: "stopped" if r.stopped else "finished")
    add("Dataset", "Dataset", lambda r: r.dataset_name)
    add("Dataset", "Folder", lambda r: r.dataset_root)
    add("Dataset", "Classes", lambda r: ", ".join((r.dataset or {}).get("classes", [])))
    add("Dataset", "Training images", lambda r: _images(r, "train"))
    add("Dataset", "Validation images", lambda r: _images(r, "validation"))
    keys = [k for k, _ in SETTINGS] + sorted({k for r in records for k in r.config}
                                             - {k for k, _ in SETTINGS} - _NOT_SHOWN)
    labels = dict(SETTINGS)
    for key in keys:
        add("Settings", labels.get(key, key.replace("_", " ").capitalize()),
            lambda r, k=key: r.config.get(k))
    add("Results", "Epochs trained", lambda r: len(r.history))
    add("Results", "Epoch kept", lambda r: (r.best or {}).get("epoch"))
    for key, label in (("loss", "Training loss"), ("accuracy", "Training accuracy"),
                       ("val_loss", "Validation loss"), ("val_accuracy", "Validation accuracy")):
        add("Results", label, lambda r, k=key: _figure(k, (r.best or {}).get(k)))
    add("Results", "Evaluated accuracy", lambda r: _figure("accuracy", (r.evaluation or {})
                                                           .get("accuracy")))
    for name in dict.fromkeys(c for r in records for c in _f1(r)):
        add("Results", f"F1 {name}", lambda r, n=name: _figure("f1", _f1(r).get(n)))
    add("Model", "Model file", lambda r: Path(r.model_path).name if r.model_path else None)
    add("Model", "Size", lambda r: format_size(r.model_size()))
    return rows


def summary(record: RunRecord) -> dict[str, str]:
    """The list's columns for one run: date, dataset, model, accuracy, epochs, duration, size,
    model file."""
    config = record.config
    model = config.get("model", "?")
    if model == "pretrained" and config.get("backbone"):
        model = f"pretrained ({config['backbone']})"
    return {"id": record.id, "date": _when(record.started), "dataset": record.dataset_name,
            "model": model, "accuracy": _figure("accuracy", record.val_accuracy),
            "epochs": f"{len(record.history)}" + (" (stopped)" if record.stopped else ""),
            "duration": format_duration(record.duration_s),
            "size": format_size(record.model_size()),
            "model_file": record.model_path or "(not saved)"}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def format_size(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("bytes", "KB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.2f} GB"


def _when(iso: str) -> str:
    try:
        return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M}"
    except (TypeError, ValueError):
        return str(iso)


def _images(record: RunRecord, part: str) -> int | None:
    counts = ((record.dataset or {}).get("counts") or {}).get(part)
    return sum(counts.values()) if isinstance(counts, dict) else None


def _f1(record: RunRecord) -> dict[str, float]:
    per_class = (record.evaluation or {}).get("per_class") or []
    return {c.get("name"): c.get("f1") for c in per_class if isinstance(c, dict)}


def _figure(key: str, value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if "loss" in key else f"{value:.1%}"


def _text(value) -> str:
    return "-" if value is None else str(value)
