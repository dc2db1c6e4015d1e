"""Run records: written as plain JSON, listed newest first, compared, deleted with their files."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from horsehuman_gui.core import runs
from horsehuman_gui.core.bundle import autosave_stem
from horsehuman_gui.core.config import EpochMetrics, TrainConfig, TrainResult
from horsehuman_gui.core.dataset import scan_dataset
from horsehuman_gui.core.paths import data_dir, models_dir
from horsehuman_gui.core.run_compare import compare, summary
from horsehuman_gui.core.runs import RunError, delete_run, get_run, list_runs, record_run

START = datetime(2026, 12, 2, 9, 30, 0)


def result_of(epochs=2, stopped=False, **config) -> TrainResult:
    history = tuple(EpochMetrics(e, epochs, 0.5 / e, 0.8, 0.6 / e, 0.75 + e / 100, 3.0)
                    for e in range(1, epochs + 1))
    return TrainResult(model=None, class_names=("blue", "red"), image_size=32, history=history,
                       stopped=stopped, config=TrainConfig(**config), best_epoch=epochs)


@pytest.fixture
def report(class_folders):
    return scan_dataset(class_folders)


def model_file(folder: Path, name="m.keras", size=1000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"\0" * size)
    return path


def test_a_run_is_recorded_as_plain_json_a_script_can_read(report):
    model = model_file(models_dir())
    evaluation = {"format": "x", "accuracy": 0.9, "per_class": []}
    record = record_run(result_of(), report, model, evaluation, started=START,
                        finished=START + timedelta(seconds=75))

    data = json.loads((data_dir() / "runs" / record.id / "run.json").read_text("utf-8"))
    assert record.id.startswith("20261202-093000-colours")
    assert data["format"] == "horsehuman-gui run" and data["id"] == record.id
    assert data["duration_s"] == 75 and data["started"] == "2026-12-02T09:30:00"
    assert data["config"]["model"] == "pretrained" and len(data["history"]) == 2
    assert data["dataset"]["counts"]["train"] == {"blue": 8, "red": 8}
    assert data["evaluation"]["accuracy"] == 0.9 and data["best_epoch"] == 2
    assert data["model_path"] == str(model.resolve()) and data["model_bytes"] == 1000
    assert get_run(record.id) == record and record.val_accuracy == 0.9


def test_the_evaluation_defaults_to_the_results_own(report):
    import dataclasses

    result = dataclasses.replace(result_of(), evaluation={"accuracy": 0.5})
    assert record_run(result, report, None).evaluation == {"accuracy": 0.5}


def test_started_defaults_to_the_epochs_time_before_finishing(report):
    record = record_run(result_of(epochs=3), report, None, finished=START)
    assert record.duration_s == 9.0 and record.model_path is None
    assert record.started == "2026-12-02T09:29:51"


def test_runs_are_listed_newest_first_and_a_damaged_record_is_skipped(report, caplog):
    first = record_run(result_of(), report, None, started=START)
    second = record_run(result_of(), report, None, started=START + timedelta(hours=1))
    same_time = record_run(result_of(), report, None, started=START)
    damaged = data_dir() / "runs" / "20260101-000000-broken"
    damaged.mkdir()
    (damaged / "run.json").write_text("{not json", encoding="utf-8")
    (data_dir() / "runs" / "colours-abc123" / "checkpoint").mkdir(parents=True)  # no record

    with caplog.at_level(logging.WARNING):
        listed = list_runs()

    assert [r.id for r in listed] == [second.id, same_time.id, first.id]
    assert same_time.id == first.id + "-2"
    assert "damaged run record" in caplog.text and "broken" in caplog.text


@pytest.mark.parametrize("damage", [{"history": [1, 2]}, {"config": None}, {"evaluation": 0.9},
                                    {"format_version": 99}, {"id": "another"}])
def test_a_record_of_the_wrong_shape_is_skipped(report, damage):
    record = record_run(result_of(), report, None)
    data = record.to_json() | damage
    (record.folder / "run.json").write_text(json.dumps(data), encoding="utf-8")
    assert list_runs() == []
    with pytest.raises(RunError, match="cannot be read"):
        get_run(record.id)


def test_no_runs_folder_lists_nothing():
    assert list_runs() == []


def test_delete_removes_the_record_its_checkpoint_and_the_autosaved_model(report):
    model = model_file(models_dir())
    checkpoint = data_dir() / "runs" / "colours-abc123" / "checkpoint"
    checkpoint.mkdir(parents=True)
    (checkpoint / "state.json").write_text("{}")
    record = record_run(result_of(stopped=True), report, model, checkpoint_dir=checkpoint)

    removed = delete_run(record.id)

    assert set(removed) == {model.resolve(), checkpoint.resolve(), record.folder}
    assert not model.exists() and not checkpoint.exists() and not record.folder.exists()
    assert not checkpoint.parent.exists()  # its now-empty folder too
    assert list_runs() == []


def test_delete_never_removes_a_model_saved_elsewhere_unless_asked(report, tmp_path):
    mine = model_file(tmp_path / "mine")
    record = record_run(result_of(), report, mine)
    assert runs.deletion_plan(record) == [record.folder]

    delete_run(record.id)
    assert mine.exists() and not record.folder.exists()

    again = record_run(result_of(), report, mine)
    delete_run(again.id, user_files=True)
    assert not mine.exists()


def test_delete_can_keep_the_model(report):
    model = model_file(models_dir())
    record = record_run(result_of(), report, model)
    delete_run(record.id, delete_model=False)
    assert model.exists() and list_runs() == []


def test_a_checkpoint_a_later_run_uses_is_kept(report):
    checkpoint = data_dir() / "runs" / "colours-abc123" / "checkpoint"
    checkpoint.mkdir(parents=True)
    old = record_run(result_of(stopped=True), report, None, started=START,
                     checkpoint_dir=checkpoint)
    record_run(result_of(stopped=True), report, None, started=START + timedelta(hours=1),
               checkpoint_dir=checkpoint)
    delete_run(old.id)
    assert checkpoint.is_dir()


@pytest.mark.parametrize("bad", ["nope", "../models", "", "a/b"])
def test_unknown_or_unsafe_ids_are_refused(bad):
    with pytest.raises(RunError):
        delete_run(bad)


def test_compare_puts_settings_and_figures_side_by_side_marking_differences(report):
    a = record_run(result_of(epochs=2), report, None, {"accuracy": 0.8, "per_class": [
        {"name": "blue", "f1": 0.75}]})
    b = record_run(result_of(epochs=3, learning_rate=0.01), report, None)

    rows = {row.label: row for row in compare([a, b])}

    assert rows["Learning rate"].values == ("0.001", "0.01") and rows["Learning rate"].differs
    assert rows["Model"].values == ("pretrained", "pretrained") and not rows["Model"].differs
    assert rows["Epochs trained"].values == ("2", "3")
    assert rows["Evaluated accuracy"].values == ("80.0%", "-")
    assert rows["F1 blue"].values == ("75.0%", "-")
    assert rows["Validation accuracy"].values == ("77.0%", "78.0%")
    assert "Cache budget mb" not in rows


def test_summary_gives_the_list_columns(report):
    model = model_file(models_dir(), size=2_500_000)
    record = record_run(result_of(stopped=True), report, model, started=START,
                        finished=START + timedelta(seconds=125))
    row = summary(record)
    assert row["dataset"] == "colours" and row["model"] == "pretrained (squeezenet)"
    assert row["accuracy"] == "77.0%" and row["epochs"] == "2 (stopped)"
    assert row["duration"] == "2 min 05 s" and row["size"] == "2.5 MB"
    assert row["date"] == "2026-12-02 09:30"


@pytest.mark.parametrize("root, name", [("/d/horse-or-human/train", "horse-or-human"),
                                        ("/d/horse-or-human/Training", "horse-or-human"),
                                        ("/d/horse-or-human/validation", "horse-or-human"),
                                        ("/d/horse-or-human", "horse-or-human"),
                                        ("/d/my photos", "my photos")])
def test_autosaved_models_are_named_after_the_dataset_not_its_train_folder(root, name):
    assert runs.dataset_name(root) == name
    assert autosave_stem(root, 0.9, False).startswith(name.replace(" ", "-") + "_")


def fake_model_file(path: Path, story: dict) -> Path:
    """A .keras archive holding only our metadata member (all the import reads)."""
    import zipfile

    from horsehuman_gui.core.archive import METADATA_MEMBER

    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(METADATA_MEMBER, json.dumps({"class_names": ["blue", "red"]} | story))
    return path


def test_models_saved_before_runs_were_recorded_are_listed_once(report):
    from horsehuman_gui.core.run_import import record_unrecorded_models

    recorded = record_run(result_of(), report, model_file(models_dir(), "known.keras"))
    history = [{"epoch": 1, "seconds": 30.0, "val_accuracy": 0.9}]
    old = fake_model_file(models_dir() / "train_2026-11-24_1530_val-0.90.keras", {
        "created": "2026-11-24T15:30:00", "config": {"model": "classic"}, "history": history,
        "best_epoch": 1, "dataset": {"root": "/data/horse-or-human/train"}})
    bare = fake_model_file(models_dir() / "course_stopped.keras", {})
    (models_dir() / "broken.keras").write_bytes(b"not a zip")

    new = {r.model_path: r for r in record_unrecorded_models()}

    assert set(new) == {str(old.resolve()), str(bare.resolve())}
    imported = new[str(old.resolve())]
    assert imported.dataset_name == "horse-or-human" and imported.config == {"model": "classic"}
    assert imported.started == "2026-11-24T15:29:30" and imported.duration_s == 30
    assert imported.val_accuracy == 0.9 and imported.model_is_autosaved()
    assert new[str(bare.resolve())].stopped and new[str(bare.resolve())].config == {}
    assert len(list_runs()) == 3 and recorded in list_runs()

    delete_run(imported.id, delete_model=False)  # kept the file: not listed again
    assert record_unrecorded_models() == [] and old.exists()
