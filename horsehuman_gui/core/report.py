"""A report to share: one self-contained HTML file about a trained model.

``report_html(bundle, ...)`` gives the text of a page holding the dataset summary, the model and
its settings, the training curves, the evaluation (accuracy, confusion matrix, per-class
figures) and a few of the mistakes with their pictures. Everything is inside the file: curves
are inline SVG, pictures JPEG thumbnails in ``data:`` URIs, the style one ``<style>`` element;
no script, no link to any other file. It reads offline and prints (A4 or Letter) cleanly.

No TensorFlow and no plotting library: the curves are drawn as SVG here.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

from horsehuman_gui import __version__
from horsehuman_gui.core.svg_chart import finite, line_chart, nice_top

logger = logging.getLogger(__name__)

#: Mistakes shown at most, and the size of their thumbnails (pixels, longest side).
MAX_MISTAKES = 12
THUMBNAIL = 160
TRAIN_COLOUR, VAL_COLOUR = "#1f77b4", "#d62728"

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
border-bottom: 1px solid #ccc; } .muted { color: #666; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { padding: .25rem .6rem;
border: 1px solid #ddd; text-align: left; } td.num, th.num { text-align: right; }
.confusion td { text-align: center; min-width: 3.5rem; } .charts { display: flex;
flex-wrap: wrap; gap: 1rem; } figure { margin: 0; break-inside: avoid; }
.mistakes { display: flex; flex-wrap: wrap; gap: .8rem; } .mistakes figure { width: 170px; }
.mistakes img { max-width: 160px; max-height: 160px; display: block; }
figcaption { font-size: .85rem; } section { break-inside: avoid-page; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } }
"""


def report_html(bundle, *, history: Sequence = (), config=None, evaluation=None,
                dataset=None, mistakes: Iterable = (), title: str | None = None) -> str:
    """The report's HTML text.

    ``bundle``: a ``ModelBundle`` (class names, input size, model, file). ``history``:
    ``EpochMetrics`` (or dicts with epoch, loss, accuracy, val_loss, val_accuracy).
    ``config``: a ``TrainConfig`` or a mapping of settings. ``evaluation``: an
    ``evaluation.Evaluation`` or its ``to_json()`` dict. ``dataset``: a ``ScanReport`` or a
    mapping {"root", "layout", "counts": {"train": {class: n}, "validation": {...}}}.
    ``mistakes``: items with ``path``, ``true``, ``predicted`` (class indices) and
    ``confidence`` (``evaluation.CellItem``); the first ``MAX_MISTAKES`` readable ones are shown.
    Every part is optional except the bundle; a missing part says so.
    """
    names = tuple(bundle.class_names)
    name = Path(bundle.path).name if getattr(bundle, "path", None) else "Trained model"
    heading = title or f"Model report: {name}"
    body = [f"<h1>{_e(heading)}</h1>",
            f'<p class="muted">{_e(", ".join(names))} &middot; {bundle.image_size} x '
            f"{bundle.image_size} pixels &middot; report made {datetime.now():%Y-%m-%d %H:%M} "
            f"by horsehuman-gui {_e(__version__)}</p>",
            _dataset_section(dataset), _model_section(bundle, config),
            _curves_section(history), _evaluation_section(evaluation),
            _mistakes_section(list(mistakes), names)]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_e(heading)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def write_report(path: str | Path, bundle, *, overwrite: bool = False, **parts) -> Path:
    """Write ``report_html(bundle, **parts)`` to ``path`` (UTF-8); return ``path``.
    ``FileExistsError`` when it exists and not ``overwrite``."""
    path = Path(path)
    text = report_html(bundle, **parts)
    with open(path, "w" if overwrite else "x", encoding="utf-8") as handle:
        handle.write(text)
    logger.info("Wrote report %s", path)
    return path


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _missing(title: str, what: str) -> str:
    return f'<section><h2>{title}</h2><p class="muted">{what}</p></section>'


# ---- Dataset ----------------------------------------------------------------------------

def _dataset_parts(dataset) -> tuple[str, str, dict]:
    if hasattr(dataset, "counts") and callable(dataset.counts):  # a ScanReport
        return (str(dataset.root), dataset.layout,
                {part: dataset.counts(part) for part in ("train", "validation")})
    return (str(dataset.get("root", "")), str(dataset.get("layout", "")),
            dict(dataset.get("counts", {})))


def _dataset_section(dataset) -> str:
    if dataset is None:
        return _missing("Dataset", "Not recorded with this model.")
    root, layout, counts = _dataset_parts(dataset)
    classes = sorted({c for per_part in counts.values() for c in per_part})
    parts = [p for p in ("train", "validation") if p in counts] + \
        [p for p in counts if p not in ("train", "validation")]
    head = "".join(f'<th class="num">{_e(p)}</th>' for p in parts)
    rows = "".join(f"<tr><td>{_e(c)}</td>" + "".join(
        f'<td class="num">{counts[p].get(c, 0):,}</td>' for p in parts) + "</tr>"
        for c in classes)
    totals = "".join(f'<td class="num"><b>{sum(counts[p].values()):,}</b></td>' for p in parts)
    return (f"<section><h2>Dataset</h2><p>{_e(root)}"
            f"{' (' + _e(layout) + ' layout)' if layout else ''}</p>"
            f"<table><tr><th>Class</th>{head}</tr>{rows}<tr><td><b>Total</b></td>{totals}</tr>"
            "</table></section>")


# ---- Model and settings -----------------------------------------------------------------

def _settings(config) -> dict:
    if config is None:
        return {}
    if dataclasses.is_dataclass(config):
        return dataclasses.asdict(config)
    return dict(config)


def _layer_rows(model) -> tuple[str, int]:
    rows, total = [], 0
    for layer in getattr(model, "layers", []):
        params = int(layer.count_params()) if layer.built else 0
        total += params
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = ""
        rows.append(f"<tr><td>{_e(layer.name)}</td><td>{_e(type(layer).__name__)}</td>"
                    f"<td>{_e(shape)}</td><td class=\"num\">{params:,}</td></tr>")
    return "".join(rows), total


def _model_section(bundle, config) -> str:
    settings = _settings(config)
    table = "".join(f"<tr><th>{_e(k.replace('_', ' '))}</th><td>{_e(v)}</td></tr>"
                    for k, v in settings.items())
    settings_html = f"<h3>Settings</h3><table>{table}</table>" if settings else \
        '<p class="muted">Training settings not recorded with this model.</p>'
    model = getattr(bundle, "model", None)
    layers_html = ""
    if model is not None:
        rows, total = _layer_rows(model)
        layers_html = (f"<h3>Layers</h3><p>{_e(getattr(model, 'name', ''))}: "
                       f"{int(model.count_params()):,} parameters</p>"
                       "<table><tr><th>Layer</th><th>Kind</th><th>Output shape</th>"
                       f'<th class="num">Parameters</th></tr>{rows}</table>')
    created = getattr(bundle, "created", None)
    saved = f"<p>Saved {_e(created)}.</p>" if created else ""
    return f"<section><h2>Model and settings</h2>{saved}{settings_html}{layers_html}</section>"


# ---- Curves -----------------------------------------------------------------------------

def _epochs(history: Sequence) -> list[dict]:
    rows = []
    for item in history:
        row = dataclasses.asdict(item) if dataclasses.is_dataclass(item) else dict(item)
        rows.append(row)
    return rows


def _curves_section(history: Sequence) -> str:
    rows = _epochs(history)
    if not rows:
        return _missing("Training", "No training history recorded with this model.")
    charts = []
    for metric, label in (("loss", "Loss"), ("accuracy", "Accuracy")):
        train = [finite(r.get(metric)) for r in rows]
        val = [finite(r.get(f"val_{metric}")) for r in rows]
        known = [v for v in train + val if v is not None]
        top = 1.0 if metric == "accuracy" else nice_top(max(known, default=1.0))
        series = [("training", train, TRAIN_COLOUR)]
        if any(v is not None for v in val):
            series.append(("validation", val, VAL_COLOUR))
        charts.append(f"<figure>{line_chart(label, series, top)}</figure>")
    last = rows[-1]
    summary = (f"{len(rows)} epochs; last: loss {_fmt(last.get('loss'))}, accuracy "
               f"{_pct(last.get('accuracy'))}, validation loss {_fmt(last.get('val_loss'))}, "
               f"validation accuracy {_pct(last.get('val_accuracy'))}.")
    return (f'<section><h2>Training</h2><div class="charts">{"".join(charts)}</div>'
            f"<p>{_e(summary)}</p></section>")


def _fmt(value) -> str:
    value = finite(value)
    return "n/a" if value is None else f"{value:.4f}"


def _pct(value) -> str:
    value = finite(value)
    return "n/a" if value is None else f"{value:.1%}"


# ---- Evaluation -------------------------------------------------------------------------

def _evaluation_dict(evaluation) -> dict:
    return evaluation.to_json() if hasattr(evaluation, "to_json") else dict(evaluation)


def _evaluation_section(evaluation) -> str:
    if evaluation is None:
        return _missing("Evaluation", "This model has not been evaluated yet.")
    data = _evaluation_dict(evaluation)
    names, matrix = data["class_names"], data["confusion"]
    extra = ""
    if data.get("threshold") is not None:
        extra += f", threshold {data['threshold']:.2f}"
    if data.get("auc") is not None:
        extra += f", ROC AUC {data['auc']:.3f}"
    peak = max((max(row) for row in matrix), default=1) or 1
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    rows = []
    for i, row in enumerate(matrix):
        cells = "".join(_confusion_cell(count, peak, i == j) for j, count in enumerate(row))
        rows.append(f"<tr><th>{_e(names[i])}</th>{cells}</tr>")
    per_class = "".join(
        f"<tr><td>{_e(c['name'])}</td><td class=\"num\">{c['precision']:.3f}</td>"
        f"<td class=\"num\">{c['recall']:.3f}</td><td class=\"num\">{c['f1']:.3f}</td>"
        f"<td class=\"num\">{c['support']:,}</td></tr>" for c in data["per_class"])
    return (f"<section><h2>Evaluation</h2><p>Accuracy <b>{data['accuracy']:.1%}</b> on "
            f"{data['n_images']:,} images{_e(extra)}.</p>"
            "<h3>Confusion matrix</h3><p class=\"muted\">Rows: the true class; columns: what "
            "the model said.</p>"
            f'<table class="confusion"><tr><th></th>{head}</tr>{"".join(rows)}</table>'
            "<h3>Per class</h3><table><tr><th>Class</th><th class=\"num\">Precision</th>"
            '<th class="num">Recall</th><th class="num">F1</th><th class="num">Images</th>'
            f"</tr>{per_class}</table></section>")


def _confusion_cell(count: int, peak: int, diagonal: bool) -> str:
    share = count / peak
    # Shaded by count (green on the diagonal, red off it); printers keep backgrounds with
    # print-color-adjust.
    rgb = (int(255 - 120 * share), 255, int(255 - 120 * share)) if diagonal else \
        (255, int(255 - 150 * share), int(255 - 150 * share))
    return (f'<td style="background: rgb{rgb}; print-color-adjust: exact; '
            f'-webkit-print-color-adjust: exact">{count:,}</td>')


# ---- Mistakes ---------------------------------------------------------------------------

def thumbnail_data_uri(path: str | Path, size: int = THUMBNAIL) -> str | None:
    """A JPEG thumbnail of the picture at ``path`` as a ``data:`` URI, or None if unreadable."""
    from horsehuman_gui.core.images import open_rgb

    try:
        image = open_rgb(path)
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
    except Exception as exc:  # one unreadable picture must not stop the report
        logger.info("No thumbnail for %s: %s", path, exc)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _mistakes_section(mistakes: list, names: Sequence[str]) -> str:
    if not mistakes:
        return _missing("Mistakes", "No mistakes recorded (or no evaluation yet).")
    figures = []
    for item in mistakes:
        if len(figures) >= MAX_MISTAKES:
            break
        uri = thumbnail_data_uri(item.path) if getattr(item, "path", None) else None
        if uri is None:
            continue
        caption = (f"{Path(item.path).name}: is {names[item.true]}, the model said "
                   f"{names[item.predicted]} ({item.confidence:.0%})")
        figures.append(f'<figure><img src="{uri}" alt="{_e(caption)}">'
                       f"<figcaption>{_e(caption)}</figcaption></figure>")
    if not figures:
        return _missing("Mistakes", "The pictures of the mistakes could not be read.")
    return (f"<section><h2>Some mistakes</h2><p>{len(figures)} of {len(mistakes)} pictures the "
            f'model got wrong.</p><div class="mistakes">{"".join(figures)}</div></section>')


def mistakes_from(scores, threshold: float = 0.5) -> list:
    """The wrong answers of an ``evaluation.Scores``, most confident first (``CellItem``)."""
    n = len(scores.class_names)
    found = [item for i in range(n) for j in range(n) if i != j
             for item in scores.cell(i, j, threshold)]
    return sorted(found, key=lambda item: -item.confidence)

