"""The CLI's commands in-process (TensorFlow loads once): train's options, evaluation and story,
evaluate, info --json, export, export-code, report, download-dataset."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from conftest import make_class_folders, write_image
from horsehuman_gui import cli
from horsehuman_gui.cli.train import config_from
from horsehuman_gui.core.bundle import load_bundle
from horsehuman_gui.core.checkpoints import default_checkpoint_dir
from horsehuman_gui.core.config import AUTO_BATCH, defaults_for

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Your input ran out of data")]

SMALL = ("--image-size", "32", "--batch-size", "4", "--seed", "1")


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_class_folders(tmp_path_factory.mktemp("cli") / "colours", per_class=10)


@pytest.fixture(scope="module")
def model(data, tmp_path_factory) -> Path:
    """A compact model trained by the CLI, with its story."""
    path = tmp_path_factory.mktemp("model") / "colours.keras"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HORSEHUMAN_DATA_DIR", str(tmp_path_factory.mktemp("data-dir")))
        assert cli.main(["train", str(data), "--out", str(path), "--model", "compact",
                         "--epochs", "2", "--augment", "off", *SMALL]) == 0
    return path


def parsed(*args):
    return cli.build_parser().parse_args(["train", "DATA", "--out", "m.keras", *args])


# ---------------------------------------------------------------- train

def test_unspecified_options_take_the_chosen_models_defaults():
    compact = config_from(parsed("--model", "compact", "--epochs", "3", "--no-reduce-lr"))
    assert compact.epochs == 3 and compact.reduce_lr is False
    assert {k: getattr(compact, k) for k in ("image_size", "augment", "patience",
                                            "class_weights")} == {
        k: defaults_for("compact")[k] for k in ("image_size", "augment",
                                                 "patience", "class_weights")}
    default = config_from(parsed())
    assert default.model == "pretrained" and default.backbone == "squeezenet"
    assert default.image_size == 224 and default.epochs == defaults_for("pretrained")["epochs"]
    assert config_from(parsed("--model", "classic")).batch_size == AUTO_BATCH  # fitted to DATA
    assert config_from(parsed("--model", "classic", "--batch-size", "128")).batch_size == 128


def test_pictures_damaged_after_the_scan_are_named(capsys, tmp_path, monkeypatch):
    from horsehuman_gui.cli import train as train_command

    data = make_class_folders(tmp_path / "data", per_class=6)
    damaged = sorted((data / "red").iterdir())[-1]
    say = train_command._say_batch_size

    def damage_then_say(*args):  # after the scan, before training
        damaged.write_bytes(damaged.read_bytes()[:60])
        say(*args)

    monkeypatch.setattr(train_command, "_say_batch_size", damage_then_say)
    code, _, err = run(capsys, "train", data, "--out", tmp_path / "m.keras", "--model",
                       "compact", "--epochs", "1", "--augment", "off", *SMALL)

    assert code == 0, err
    assert "1 picture could not be read during training and was left out:" in err
    assert f"  red/{damaged.name}: " in err


def test_an_automatic_batch_size_says_when_it_is_not_the_models_own(capsys, data, tmp_path):
    code, _, err = run(capsys, "train", data, "--out", tmp_path / "m.keras", "--model",
                       "compact", "--epochs", "1", "--augment", "off", "--image-size", "32")
    assert code == 0, err
    assert "batch size 8, not the model's 32: 16 training pictures" in err
    assert "--batch-size 32 to keep it" in err


@pytest.mark.parametrize("option", [("--backbone", "mobilenetv3"), ("--fine-tune-epochs", "2")])
def test_pretrained_only_options_are_refused_for_the_cnns(capsys, data, tmp_path, option):
    code, _, err = run(capsys, "train", data, "--out", tmp_path / "m.keras", "--model",
                       "classic", *option)
    assert code == 2 and f"{option[0]} applies to --model pretrained only" in err


def test_train_prints_and_stores_the_validation_evaluation(model, data):
    loaded = load_bundle(model)

    assert loaded.config["model"] == "compact" and loaded.config["reduce_lr"] is True
    assert loaded.config["augment"] == "off" and len(loaded.history) == 2
    assert loaded.best_epoch == 2 and loaded.evaluation["n_images"] == 4
    assert loaded.dataset["root"] == str(data)
    assert loaded.dataset["counts"]["validation"] == {"blue": 2, "red": 2}


def test_train_output_has_accuracy_classes_and_confusion(capsys, data, tmp_path):
    code, out, err = run(capsys, "train", data, "--out", tmp_path / "m.keras", "--model",
                         "compact", "--epochs", "1", "--augment", "off", *SMALL)
    assert code == 0, err
    lines = out.splitlines()
    first = next(i for i, l in enumerate(lines) if l.startswith("validation: accuracy"))
    assert "on 4 images" in lines[first]
    assert lines[first + 2].split()[0] == "blue" and lines[first + 3].split()[0] == "red"
    assert "confusion" in lines[first + 4]
    assert [l.split()[0] for l in lines[first + 6:first + 8]] == ["blue", "red"]
    assert sum(map(int, lines[first + 6].split()[1:] + lines[first + 7].split()[1:])) == 4


def test_a_stopped_run_resumes_from_its_checkpoint(capsys, data, tmp_path):
    from horsehuman_gui.core.dataset import scan_dataset
    from horsehuman_gui.core.training import train

    args = ("--model", "compact", "--epochs", "3", "--augment", "off", *SMALL)
    config = config_from(parsed(*args))
    checkpoint = default_checkpoint_dir(data, config)
    finished = []
    train(scan_dataset(data, seed=1), config, checkpoint_dir=checkpoint,
          on_epoch=finished.append, should_stop=lambda: bool(finished))

    code, out, err = run(capsys, "train", data, "--out", tmp_path / "m.keras", "--resume", *args)

    assert code == 0, err
    assert f"resuming from the checkpoint in {checkpoint}" in err
    assert [l.split()[1] for l in out.splitlines() if l.startswith("epoch ")] == ["2/3", "3/3"]
    assert len(load_bundle(tmp_path / "m.keras").history) == 3
    assert not checkpoint.exists()  # the run finished: nothing left to resume


def test_a_run_stopped_with_checkpoints_says_how_to_go_on(capsys, data, tmp_path, monkeypatch):
    import os
    import signal

    from horsehuman_gui.cli import train as train_command

    print_epoch = train_command._print_epoch

    def interrupt_after_the_first(metrics):
        print_epoch(metrics)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: stop after the current batch

    monkeypatch.setattr(train_command, "_print_epoch", interrupt_after_the_first)
    args = ("--model", "compact", "--epochs", "50", "--augment", "off", *SMALL)
    checkpoint = default_checkpoint_dir(data, config_from(parsed(*args)))

    code, _, err = run(capsys, "train", data, "--out", tmp_path / "m.keras", "--checkpoint",
                       *args)

    assert code == 0, err
    assert "keeping the best epoch" not in err  # one epoch: it is the last
    assert f"checkpoint after every epoch in {checkpoint}" in err
    assert f"the same command with --resume (checkpoint in {checkpoint})" in err
    assert (checkpoint / "state.json").is_file()
    assert load_bundle(tmp_path / "m.keras").evaluation is None  # stopped: not evaluated


def test_tensorboard_logs_go_where_asked(capsys, data, tmp_path):
    pytest.importorskip("tensorboard")
    logs = tmp_path / "logs"
    code, _, err = run(capsys, "train", data, "--out", tmp_path / "m.keras", "--model",
                       "compact", "--epochs", "1", "--tensorboard", logs, *SMALL)
    assert code == 0, err
    assert f"TensorBoard logs in {logs}" in err
    assert list((logs / "train").glob("events.out.tfevents.*"))


def test_pretrained_stages_are_progress_lines(capsys, data, tmp_path, tiny_backbone):
    code, out, err = run(capsys, "train", data, "--out", tmp_path / "m.keras", "--backbone",
                         "tiny", "--epochs", "2", "--batch-size", "4")
    assert code == 0, err
    assert "computing features 20/20" in err  # training and validation images
    assert "validation: accuracy" in out
    assert load_bundle(tmp_path / "m.keras").config["backbone"] == "tiny"


def test_early_stopping_says_which_epoch_it_keeps(capsys, tmp_path, tiny_backbone):
    data = make_class_folders(tmp_path / "d", per_class=6)
    code, out, err = run(capsys, "train", data, "--out", tmp_path / "m.keras", "--backbone",
                         "tiny", "--epochs", "60", "--patience", "1", "--batch-size", "4",
                         "--learning-rate", "0.5")
    assert code == 0, err
    kept = load_bundle(tmp_path / "m.keras").best_epoch
    last = int([l for l in out.splitlines() if l.startswith("epoch ")][-1].split()[1]
               .split("/")[0])
    assert kept < last and f"keeping the best epoch, {kept} " in err


def test_unavailable_weights_are_one_sentence_and_exit_2(capsys, data, tmp_path, monkeypatch):
    from horsehuman_gui.core import backbones
    from horsehuman_gui.core.errors import WeightsUnavailable

    def offline(name, **kwargs):
        raise WeightsUnavailable("MobileNetV3-Large could not be downloaded: no connection.")

    monkeypatch.setattr(backbones, "build_backbone", offline)
    code, _, err = run(capsys, "train", data, "--out", tmp_path / "m.keras", "--backbone",
                       "mobilenetv3", "--epochs", "1")
    assert code == 2 and not (tmp_path / "m.keras").exists()
    assert err.strip().splitlines()[-1] == (
        "horsehuman: error: MobileNetV3-Large could not be downloaded: no connection. "
        "(--backbone squeezenet works offline)")


def test_blocking_problems_exit_2_unless_forced(capsys, tmp_path):
    root = make_class_folders(tmp_path / "d", per_class=6)
    for extra in sorted((root / "red").iterdir())[1:]:
        extra.unlink()
    args = ("train", root, "--out", tmp_path / "m.keras", "--model", "compact", "--epochs", "1",
            *SMALL)

    code, _, err = run(capsys, *args)
    assert code == 2 and "cannot be used for training:" in err
    assert "  - class red has only 1 image" in err and not (tmp_path / "m.keras").exists()

    code, _, err = run(capsys, *args, "--force")
    assert code == 0, err
    assert (tmp_path / "m.keras").is_file()


# ---------------------------------------------------------------- evaluate

def test_evaluate_without_data_shows_the_stored_evaluation(capsys, model, tmp_path):
    code, out, _ = run(capsys, "evaluate", model, "--json", tmp_path / "e.json")
    assert code == 0
    assert out.startswith("validation part of ") and "on 4 images" in out.splitlines()[0]
    stored = json.loads((tmp_path / "e.json").read_text())
    assert stored["n_images"] == 4 and stored["class_names"] == ["blue", "red"]
    assert stored["confusion"] and stored["model"] == str(model)


def test_evaluate_on_folders_writes_csv_and_json(capsys, model, tmp_path):
    new = make_class_folders(tmp_path / "new", per_class=3)
    (new / "red" / "broken.png").write_text("not a picture")
    code, out, err = run(capsys, "evaluate", model, new, "--csv", tmp_path / "e.csv",
                         "--json", tmp_path / "e.json", "--threshold", "0.4")
    assert code == 0, err
    assert "left out" in err and "broken.png" in err
    with open(tmp_path / "e.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["path", "true", "predicted", "confidence", "correct",
                             "score_blue", "score_red", "error"]
    assert len(rows) == 7 and rows[-1]["error"] and rows[-1]["path"].endswith("broken.png")
    assert {r["true"] for r in rows[:6]} == {"blue", "red"}
    figures = json.loads((tmp_path / "e.json").read_text())
    assert figures["n_images"] == 6 and figures["threshold"] == 0.4
    assert len(figures["left_out"]) == 1 and figures["interrupted"] is False
    assert len(figures["confusion"]) == 2 and len(figures["per_class"]) == 2
    assert f"accuracy {figures['accuracy']:.4f}" in out

    again = run(capsys, "evaluate", model, new, "--csv", tmp_path / "e.csv")
    assert again[0] == 2 and "already exists" in again[2]


def test_evaluate_a_model_without_a_stored_evaluation_says_so(capsys, model, tmp_path):
    from horsehuman_gui.core.bundle import ModelBundle, save_bundle

    plain = save_bundle(ModelBundle(model=load_bundle(model).model, class_names=("blue", "red"),
                                    image_size=32, app_version="x"), tmp_path / "plain.keras")
    code, _, err = run(capsys, "evaluate", plain)
    assert code == 2 and "holds no evaluation; give DATA" in err
    code, _, err = run(capsys, "export-code", plain, "--out", tmp_path / "t.py")
    assert code == 2 and "holds no training settings" in err


def test_predict_and_evaluate_open_teachable_machine_exports(capsys, model, tmp_path):
    folder = tmp_path / "tm"
    folder.mkdir()
    load_bundle(model).model.save(folder / "keras_model.h5")
    (folder / "labels.txt").write_text("0 blue\n1 red\n", encoding="utf-8")
    new = make_class_folders(tmp_path / "new", per_class=2)

    code, out, err = run(capsys, "predict", folder, new, "--recursive")
    assert code == 0, err
    assert len(out.splitlines()) == 4
    code, out, err = run(capsys, "evaluate", folder, new)
    assert code == 0, err
    assert "on 4 images" in out


# ---------------------------------------------------------------- the other commands

def test_info_json_holds_every_image(capsys, data, tmp_path):
    code, out, _ = run(capsys, "info", data, "--json", tmp_path / "i.json")
    assert code == 0 and "blue" in out
    details = json.loads((tmp_path / "i.json").read_text(encoding="utf-8"))
    assert details["classes"] == ["blue", "red"]
    assert len(details["parts"]["train"]) + len(details["parts"]["validation"]) == 20
    assert run(capsys, "info", data, "--json", tmp_path / "i.json")[0] == 2


def test_export_writes_a_tflite_folder(capsys, model, tmp_path):
    code, out, err = run(capsys, "export", model, "--format", "tflite", "--quantize",
                         "--out", tmp_path / "lite")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "lite").iterdir()) == [
        "labels.txt", "model.tflite", "model_info.json"]
    assert (tmp_path / "lite" / "labels.txt").read_text().split() == ["blue", "red"]
    assert "exported to" in out
    assert run(capsys, "export", model, "--format", "tflite", "--out", tmp_path / "lite")[0] == 2


def test_export_code_writes_the_runs_script(capsys, model, data, tmp_path):
    code, _, err = run(capsys, "export-code", model, "--out", tmp_path / "train.py")
    assert code == 0, err
    script = (tmp_path / "train.py").read_text(encoding="utf-8")
    assert repr(str(data)) in script or str(data) in script
    assert "compact" in script
    compile(script, "train.py", "exec")
    other = tmp_path / "elsewhere"
    run(capsys, "export-code", model, "--out", tmp_path / "t2.py", "--data", other)
    assert str(other) in (tmp_path / "t2.py").read_text(encoding="utf-8")


def test_report_with_data_shows_the_mistakes(capsys, model, tmp_path):
    swapped = tmp_path / "swapped"
    make_class_folders(tmp_path / "c", per_class=2)
    shutil.copytree(tmp_path / "c" / "blue", swapped / "red")  # every picture mislabelled
    shutil.copytree(tmp_path / "c" / "red", swapped / "blue")

    code, _, err = run(capsys, "report", model, "--out", tmp_path / "r.html", "--data", swapped)
    assert code == 0, err
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Some mistakes" in page and page.count("data:image/jpeg;base64,") == 4
    assert "Training curves" in page or "<svg" in page

    code, _, err = run(capsys, "report", model, "--out", tmp_path / "stored.html")
    assert code == 0, err
    assert "<svg" in (tmp_path / "stored.html").read_text(encoding="utf-8")


def test_download_dataset_from_a_mirror(capsys, tmp_path, monkeypatch):
    import functools
    import http.server
    import threading
    import zipfile

    served = tmp_path / "served"
    served.mkdir()
    png = write_image(tmp_path / "x.png", (1, 2, 3), size=8).read_bytes()
    for name, counts in (("horse-or-human.zip", (500, 527)),
                         ("validation-horse-or-human.zip", (128, 128))):
        with zipfile.ZipFile(served / name, "w") as archive:
            for cls, n in zip(("horses", "humans"), counts):
                for i in range(n):
                    archive.writestr(f"{cls}/{cls}{i:03d}.png", png)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("HORSEHUMAN_DATASETS_URL", f"http://127.0.0.1:{httpd.server_port}/")
    try:
        code, out, err = run(capsys, "download-dataset", "horses-or-humans", tmp_path / "hh")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert code == 0, err
    assert out.splitlines() == ["train: horses 500, humans 527",
                                "validation: horses 128, humans 128"]
    assert "downloaded" in err and (tmp_path / "hh" / "LICENSE.txt").is_file()
