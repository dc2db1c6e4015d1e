"""The model-file jobs as Task functions (``fn(should_stop, report)``), and the default names of
what they write. No widgets here: the jobs get plain values built on the GUI thread."""

from __future__ import annotations

from pathlib import Path

#: format choice -> (core format, quantize, short name for file names, label in the dialog)
EXPORT_CHOICES = {
    "savedmodel": ("savedmodel", False, "savedmodel", "TensorFlow SavedModel"),
    "tflite": ("tflite", False, "tflite", "TFLite (phones, Raspberry Pi)"),
    "tflite-int8": ("tflite", True, "tflite-int8",
                    "TFLite, quantised (8-bit weights: about 4x smaller)"),
    "onnx": ("onnx", False, "onnx", "ONNX (onnxruntime, other frameworks)"),
}


def model_stem(bundle) -> str:
    """A name for what is made from ``bundle``: its file's stem, else "model"."""
    path = getattr(bundle, "path", None)
    if path is None:
        return "model"
    path = Path(path)
    if path.name in ("keras_model.h5", "converted_keras.zip"):  # Teachable Machine's names
        return path.parent.name or "model"
    return path.stem or "model"


def free_name(folder: Path, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``...: the first not taken in ``folder`` (a file
    dialog offered a taken folder name opens that folder instead of asking to replace it)."""
    candidates = (name, *(f"{name}-{i}" for i in range(2, 1000)))
    return next(n for n in candidates if not (folder / n).exists())


def export_job(bundle, out: Path, choice: str, overwrite: bool):
    format, quantize, _, _ = EXPORT_CHOICES[choice]

    def run(should_stop, report):
        from horsehuman_gui.core.model_export import export_model

        return export_model(bundle, out, format, quantize=quantize, overwrite=overwrite)
    return run


def report_job(bundle, out: Path, overwrite: bool):
    def run(should_stop, report):
        from horsehuman_gui.core.report import write_report

        return write_report(out, bundle, overwrite=overwrite, history=bundle.history,
                            config=bundle.config, evaluation=bundle.evaluation,
                            dataset=bundle.dataset)
    return run


def script_job(bundle, data_dir: Path, out: Path, overwrite: bool):
    def run(should_stop, report):
        from horsehuman_gui.core.codegen import write_script

        return write_script(bundle.config, data_dir, out, overwrite=overwrite,
                            class_names=tuple(bundle.class_names))
    return run


def trained_on(bundle) -> Path | None:
    """The dataset folder ``bundle`` was trained on, when it says so."""
    root = (bundle.dataset or {}).get("root") if isinstance(bundle.dataset, dict) else None
    return Path(root) if root else None
