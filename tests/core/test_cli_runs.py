"""``horsehuman train`` records its run; ``horsehuman runs`` lists, compares and deletes runs;
``horsehuman info --label-errors`` lists the pictures that look misfiled."""

from __future__ import annotations

import json

import pytest

from conftest import COLOURS, make_class_folders, write_image
from horsehuman_gui import cli
from horsehuman_gui.core import backbones
from horsehuman_gui.core.paths import models_dir
from horsehuman_gui.core.runs import list_runs

pytestmark = pytest.mark.filterwarnings("ignore:Your input ran out of data")


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_train_records_its_run_then_runs_lists_compares_and_deletes(capsys, tmp_path):
    data = make_class_folders(tmp_path / "shapes" / "train", per_class=6)
    small = ("--model", "compact", "--epochs", "1", "--image-size", "32", "--batch-size", "4",
             "--augment", "off")
    mine = tmp_path / "mine.keras"
    code, _, err = run(capsys, "train", data, "--out", mine, *small)
    assert code == 0 and "run recorded as" in err
    [record] = list_runs()
    assert record.model_path == str(mine.resolve()) and record.dataset_name == "shapes"
    assert len(record.history) == 1 and record.config["model"] == "compact"

    code, out, _ = run(capsys, "runs")
    assert code == 0 and record.id in out and "shapes" in out and "mine.keras" in out
    assert "VAL ACC" in out.splitlines()[0]

    code, out, _ = run(capsys, "runs", "--json")
    assert json.loads(out)[0]["id"] == record.id

    code, out, err = run(capsys, "runs", "compare", record.id, record.id)
    assert code == 0 and "Learning rate" in out and "* " not in out

    code, _, err = run(capsys, "runs", "delete", record.id)
    assert code == 0 and mine.exists() and "--delete-saved-model" in err
    assert list_runs() == []


def test_runs_delete_removes_an_autosaved_model_and_says_so(capsys, class_folders):
    from horsehuman_gui.core.dataset import scan_dataset
    from horsehuman_gui.core.runs import record_run
    from test_runs import result_of

    model = models_dir() / "colours.keras"
    model.write_bytes(b"x")
    record = record_run(result_of(), scan_dataset(class_folders), model)

    code, _, err = run(capsys, "runs", "delete", record.id)

    assert code == 0 and not model.exists() and f"deleted {model}" in err
    assert list_runs() == []


def test_runs_with_none_recorded_says_so(capsys):
    code, out, err = run(capsys, "runs")
    assert code == 0 and out == "" and "no runs recorded yet" in err


def test_runs_delete_of_an_unknown_id_is_bad_input(capsys):
    code, _, err = run(capsys, "runs", "delete", "20990101-000000-nothing")
    assert code == 2 and "No run has the id" in err


def test_info_lists_suspected_label_errors(capsys, tmp_path, tiny_backbone, monkeypatch):
    monkeypatch.setattr(backbones, "DEFAULT_BACKBONE", "tiny")
    root = make_class_folders(tmp_path / "colours", per_class=12)
    wrong = write_image(root / "blue" / "actually_red.png", COLOURS["red"], seed=99)
    details = tmp_path / "details.json"

    code, out, _ = run(capsys, "info", root, "--label-errors", "--confidence", "0.6",
                       "--json", details)

    assert code == 0 and "suspected label errors: 1" in out
    assert f"{wrong}: in blue, looks like red" in out
    listed = json.loads(details.read_text())["suspected_label_errors"]
    assert [(e["path"], e["given"], e["predicted"]) for e in listed] == [
        (str(wrong), "blue", "red")]


def test_runs_lists_models_saved_before_runs_were_recorded(capsys):
    from test_runs import fake_model_file

    fake_model_file(models_dir() / "colours_2026-11-24_1530_val-0.90.keras",
                    {"created": "2026-11-24T15:30:00", "config": {"model": "compact"}})
    code, out, err = run(capsys, "runs")
    assert code == 0 and "1 model(s) saved before runs" in err
    assert "colours" in out and "compact" in out and "2026-11-24 15:30" in out
