"""The shareable report: one HTML file, nothing outside it, holding the stored figures."""

from __future__ import annotations

import base64
import html.parser
import io
import re
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image

from horsehuman_gui import __version__
from horsehuman_gui.core.bundle import ModelBundle
from horsehuman_gui.core.config import EpochMetrics, TrainConfig
from horsehuman_gui.core.evaluation import Evaluation, Scores
from horsehuman_gui.core.models import build_model
from horsehuman_gui.core.report import mistakes_from, report_html, write_report
from horsehuman_gui.core.svg_chart import line_chart, nice_top
from tests.conftest import COLOURS, write_image

NAMES = ("blue", "red")


class Page(html.parser.HTMLParser):
    """Every tag with its attributes, and the text."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def words_of(page: Page) -> str:
    return re.sub(r"\s+", " ", "".join(page.text))


@pytest.fixture(scope="module")
def bundle():
    return ModelBundle(model=build_model("compact", 32, 2), class_names=NAMES, image_size=32,
                       app_version=__version__, created="2026-12-02T08:00:00")


@pytest.fixture
def scores(tmp_path):
    """Six pictures, two of them wrong: a blue called red (0.9) and a red called blue (0.3)."""
    paths = [write_image(tmp_path / "pics" / f"{i}.png", COLOURS[NAMES[label]], size=48, seed=i)
             for i, label in enumerate([0, 0, 0, 1, 1, 1])]
    red_score = np.array([0.1, 0.2, 0.9, 0.8, 0.7, 0.3])
    return Scores(np.array([0, 0, 0, 1, 1, 1]), red_score, NAMES, tuple(paths))


def history(epochs=4):
    return [EpochMetrics(epoch=e, epochs=epochs, loss=1.0 / e, accuracy=0.5 + e / 10,
                         val_loss=1.2 / e, val_accuracy=0.45 + e / 10, seconds=1.0)
            for e in range(1, epochs + 1)]


def test_a_self_contained_file_with_the_stored_evaluation(bundle, scores, tmp_path):
    stored = scores.evaluate().to_json()  # as kept with a model: plain JSON
    out = tmp_path / "alone" / "report.html"
    out.parent.mkdir()
    write_report(out, bundle, history=history(), config=TrainConfig(model="compact"),
                 evaluation=Evaluation.from_json(stored), mistakes=mistakes_from(scores),
                 dataset={"root": "/data/colours", "layout": "classes",
                          "counts": {"train": {"blue": 8, "red": 9},
                                     "validation": {"blue": 2, "red": 3}}})
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]
    text = out.read_text("utf-8")
    page = parse(text)
    for tag, attrs in page.tags:  # nothing is fetched from anywhere
        for name in ("src", "href", "data", "srcset", "poster"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:") or value.startswith("#"), \
                (tag, name, value)
        assert tag not in ("script", "link", "iframe", "object", "embed")
    assert "url(" not in text and "@import" not in text
    words = words_of(page)
    # The stored figures: accuracy 4/6, confusion [[2, 1], [1, 2]], per class P = R = 2/3.
    assert "Accuracy 66.7%" in words and "on 6 images" in words
    cells = re.findall(r'<table class="confusion">(.*?)</table>', text, re.S)[0]
    assert re.findall(r">(\d+)</td>", cells) == ["2", "1", "1", "2"]
    per_class = text.split("<h3>Per class</h3>")[1].split("</table>")[0]
    assert re.findall(r'"num">([\d.,]+)</td>', per_class) == ["0.667", "0.667", "0.667", "3"] * 2
    assert "ROC AUC" in words and f"{stored['auc']:.3f}" in words
    # Dataset, model and settings
    assert "/data/colours (classes layout)" in words
    assert "Total1722" not in words and "Total175" in words  # per part: 8 + 9, 2 + 3
    assert f"{bundle.model.count_params():,} parameters" in words
    assert "learning rate" in words and "Conv2D" in words


def test_mistakes_are_embedded_pictures(bundle, scores):
    page = parse(report_html(bundle, mistakes=mistakes_from(scores)))
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 2
    for uri in images:
        header, payload = uri.split(",", 1)
        assert header == "data:image/jpeg;base64"
        picture = Image.open(io.BytesIO(base64.b64decode(payload)))
        assert picture.format == "JPEG" and max(picture.size) <= 160
    words = words_of(page)
    assert "2.png: is blue, the model said red (90%)" in words  # most confident first
    assert "5.png: is red, the model said blue (70%)" in words
    assert words.index("2.png") < words.index("5.png")


def test_curves_have_one_point_per_epoch_for_both_parts(bundle):
    text = report_html(bundle, history=history(5))
    svgs = re.findall(r"<svg.*?</svg>", text, re.S)
    assert len(svgs) == 2  # loss and accuracy
    for svg in svgs:
        ElementTree.fromstring(svg)  # well-formed: browsers draw nothing of a broken SVG
        lines = re.findall(r'<polyline[^>]*points="([^"]*)"', svg)
        assert [len(points.split()) for points in lines] == [5, 5]  # training, validation
    loss_points = re.findall(r'points="([^"]*)"', svgs[0])[0].split()
    heights = [float(p.split(",")[1]) for p in loss_points]
    assert heights == sorted(heights)  # the loss falls: each point lower on the chart


def test_missing_validation_values_break_the_line():
    svg = line_chart("Loss", [("validation", [0.5, None, 0.3, 0.2], "#000")], 1.0)
    lines = re.findall(r'points="([^"]*)"', svg)
    assert [len(points.split()) for points in lines] == [1, 2]


def test_names_are_escaped_and_parts_may_be_missing(tmp_path):
    odd = ModelBundle(model=None, class_names=("<script>alert(1)</script>", "b&b"),
                      image_size=64, app_version="x")
    text = report_html(odd)
    assert "<script>" not in text and "&lt;script&gt;" in text and "b&amp;b" in text
    words = words_of(parse(text))
    assert "not been evaluated yet" in words and "No training history" in words
    out = tmp_path / "r.html"
    out.write_text("mine")
    with pytest.raises(FileExistsError):
        write_report(out, odd)
    assert out.read_text() == "mine"


def test_loss_axis_tops_at_a_round_number():
    assert [nice_top(v) for v in (0.0, 0.37, 0.9, 1.0, 1.3, 2.2, 4.1, 7.5, 12)] == \
        [1.0, 0.5, 1.0, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0]


def test_dataset_summary_from_a_scan(bundle, class_folders):
    from horsehuman_gui.core.dataset import scan_dataset

    scan = scan_dataset(class_folders)
    text = report_html(bundle, dataset=scan)
    table = text.split("<h2>Dataset</h2>")[1].split("</table>")[0]
    train, validation = scan.counts("train"), scan.counts("validation")
    assert re.findall(r'"num">(?:<b>)?([\d,]+)', table) == [
        str(train["blue"]), str(validation["blue"]), str(train["red"]), str(validation["red"]),
        str(len(scan.train)), str(len(scan.validation))]
    assert f"{class_folders} (classes layout)" in words_of(parse(text))
