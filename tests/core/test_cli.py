"""The CLI end to end, in subprocesses, exactly as a person runs it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_image

pytestmark = pytest.mark.slow


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "horsehuman_gui.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_info_lists_classes_counts_and_bad_files(class_folders):
    (class_folders / "red" / "broken.jpg").write_text("not a picture")
    out = run_cli("info", class_folders)
    assert out.returncode == 0, out.stderr
    assert "blue" in out.stdout and "red" in out.stdout
    assert "broken.jpg" in out.stdout
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("make, expected", [
    (lambda root: root / "missing", "not found"),
    (lambda root: write_image(root / "one" / "only" / "a.png", (1, 2, 3)).parents[1], "class"),
])
def test_bad_dataset_exits_2_with_one_line(tmp_path, make, expected):
    out = run_cli("info", make(tmp_path))
    assert out.returncode == 2
    assert out.stderr.startswith("horsehuman: error:")
    assert expected in out.stderr.lower()
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_bad_option_value_exits_2_without_traceback(class_folders, tmp_path):
    out = run_cli("train", class_folders, "--out", tmp_path / "m.keras", "--epochs", "0")
    assert out.returncode == 2
    assert "epochs" in out.stderr and "Received: 0" in out.stderr
    assert "Traceback" not in out.stderr


def test_train_then_predict_with_csv(class_folders, tmp_path):
    model = tmp_path / "colours.keras"
    out = run_cli("train", class_folders, "--out", model, "--model", "compact", "--epochs", "2",
                  "--image-size", "32", "--batch-size", "4", "--seed", "1")
    assert out.returncode == 0, out.stderr
    epoch_lines = [l for l in out.stdout.splitlines() if l.startswith("epoch ")]
    assert len(epoch_lines) == 2
    assert "val_accuracy" in epoch_lines[0] and epoch_lines[0].rstrip().endswith("s")
    assert model.is_file()

    again = run_cli("train", class_folders, "--out", model, "--epochs", "1")
    assert again.returncode == 2 and "already exists" in again.stderr

    new = tmp_path / "new"
    write_image(new / "sky.png", (20, 40, 220), seed=99)
    write_image(new / "sub" / "fire.png", (220, 30, 30), seed=98)
    (new / "notes.jpg").write_text("text, not an image")
    table = tmp_path / "results.csv"
    out = run_cli("predict", model, new, "--recursive", "--csv", table)
    assert out.returncode == 0, out.stderr
    lines = dict(l.split("\t", 1) for l in out.stdout.splitlines())
    assert str(new / "notes.jpg") in lines and lines[str(new / "notes.jpg")].startswith("ERROR")
    with table.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["path", "label", "confidence", "score_blue", "score_red", "error"]
    assert {r["path"] for r in rows} == {str(new / "sky.png"), str(new / "sub" / "fire.png"),
                                         str(new / "notes.jpg")}
    bad = next(r for r in rows if r["path"].endswith("notes.jpg"))
    assert bad["error"] and not bad["label"]

    refused = run_cli("predict", model, new, "--csv", table)
    assert refused.returncode == 2 and "already exists" in refused.stderr


def test_predict_with_unreadable_model_exits_2(tmp_path):
    fake = tmp_path / "fake.keras"
    fake.write_bytes(b"PK\x03\x04 nope")
    write_image(tmp_path / "a.png", (1, 2, 3))
    out = run_cli("predict", fake, tmp_path / "a.png")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
