"""The code behind a run: the generated script runs on its own and trains the same model."""

from __future__ import annotations

import ast
import itertools
import os
import subprocess
import sys

import pytest

from horsehuman_gui.core.codegen import config_from, script_for, write_script
from horsehuman_gui.core.config import TrainConfig
from tests.conftest import make_class_folders


def run_script(path, data, out, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("PYTHONPATH", None)  # standalone: nothing of ours on the path but what pip installed
    return subprocess.run([sys.executable, str(path), "--data", str(data), "--epochs", "1",
                           "--out", str(out)], cwd=path.parent, env=env, capture_output=True,
                          text=True, timeout=timeout)


def load_trained(out):
    from horsehuman_gui.core.models import keras

    return keras.models.load_model(out, compile=False)


def same_layers(generated, built) -> None:
    assert generated.count_params() == built.count_params()
    kinds = [type(layer).__name__ for layer in generated.layers]
    assert kinds == [type(layer).__name__ for layer in built.layers]


@pytest.mark.slow
def test_compact_run_with_augmentation_and_callbacks(tmp_path):
    from horsehuman_gui.core.models import build_model

    data = make_class_folders(tmp_path / "colours", per_class=8)
    config = TrainConfig(model="compact", image_size=32, epochs=3, batch_size=4,
                         augment="light", patience=2, reduce_lr=True, class_weights="on",
                         seed=7)
    script = write_script(config, data, tmp_path / "train.py", class_names=("blue", "red"))
    result = run_script(script, data, tmp_path / "model.keras")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Classes: blue, red" in result.stdout
    assert "Class weights: {0: " in result.stdout  # "on": weights even for near-equal classes
    assert "after epoch 1\n" in result.stdout  # --epochs 1 was honoured
    model = load_trained(tmp_path / "model.keras")
    same_layers(model, build_model("compact", 32, 2, augment="light", seed=7))


@pytest.mark.slow
def test_classic_run_on_the_course_layout(tmp_path):
    from horsehuman_gui.core.models import build_model

    data = tmp_path / "course"
    make_class_folders(data / "train", classes=("blue", "green", "red"), per_class=4)
    make_class_folders(data / "validation", classes=("blue", "green", "red"), per_class=2)
    config = TrainConfig(model="classic", image_size=32, epochs=15, batch_size=8,
                         class_weights="off", patience=0)
    script = write_script(config, data, tmp_path / "course_train.py")
    result = run_script(script, data, tmp_path / "classic.keras")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Found 12 files belonging to 3 classes" in result.stdout + result.stderr
    assert "Found 6 files belonging to 3 classes" in result.stdout + result.stderr
    model = load_trained(tmp_path / "classic.keras")
    same_layers(model, build_model("classic", 32, 3))
    assert model.outputs[0].shape[-1] == 3


@pytest.mark.slow
def test_pretrained_run_with_fine_tuning(tmp_path):
    data = make_class_folders(tmp_path / "colours", per_class=4)
    config = TrainConfig(model="pretrained", image_size=64, epochs=1, batch_size=4,
                         fine_tune_epochs=1, class_weights="off", patience=0)
    script = write_script(config, data, tmp_path / "train.py")
    result = run_script(script, data, tmp_path / "pre.keras")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "after epoch 2\n" in result.stdout  # the fine-tuning epoch after the head's
    model = load_trained(tmp_path / "pre.keras")
    from horsehuman_gui.core.backbones import build_backbone
    from horsehuman_gui.core.models import build_head, build_pretrained

    backbone = build_backbone("squeezenet")
    built = build_pretrained(backbone, build_head(512, 2), 64)
    assert model.count_params() == built.count_params()


@pytest.mark.parametrize("model,augment,weights,patience,reduce_lr,fine_tune", [
    combo for combo in itertools.product(("classic", "compact", "pretrained"),
                                         ("off", "strong"), ("auto", "off"), (0, 5),
                                         (False, True), (0, 2))
    if combo[0] == "pretrained" or combo[5] == 0])
def test_every_setting_gives_valid_python_with_the_runs_values(model, augment, weights,
                                                                patience, reduce_lr, fine_tune,
                                                                tmp_path):
    config = TrainConfig(model=model, augment=augment, class_weights=weights,
                         patience=patience, reduce_lr=reduce_lr, fine_tune_epochs=fine_tune,
                         image_size=96, seed=123, batch_size=16, learning_rate=0.0005)
    text = script_for(config, tmp_path / "my data")
    ast.parse(text)
    assert "SEED = 123" in text and "keras.utils.set_random_seed(SEED)" in text
    assert "IMAGE_SIZE = 96" in text and "BATCH_SIZE = 16" in text
    assert "LEARNING_RATE = 0.0005" in text
    assert f"DATA_DIR = {str(tmp_path / 'my data')!r}" in text
    assert ("EarlyStopping" in text) == bool(patience)
    assert ("ReduceLROnPlateau" in text) == reduce_lr
    assert ("RandomRotation" in text) == (augment == "strong")
    assert ("FINE_TUNE_EPOCHS = 2" in text) == bool(fine_tune)
    assert ("class_weight = None  #" in text) == (weights == "off")


def test_names_cannot_break_the_script(tmp_path):
    text = script_for(TrainConfig(model="compact"), tmp_path / 'a """ b \\x',
                      class_names=('say "hi"', "back\\slash"))
    tree = ast.parse(text)
    assert ast.get_docstring(tree).startswith("Train the 'compact' image classifier")


def test_settings_from_a_mapping_and_no_overwrite(tmp_path):
    stored = {"model": "classic", "image_size": 64, "epochs": 2, "unknown_future_key": 1}
    assert config_from(stored) == TrainConfig(model="classic", image_size=64, epochs=2)
    out = tmp_path / "train.py"
    out.write_text("mine")
    with pytest.raises(FileExistsError):
        write_script(stored, tmp_path, out)
    assert out.read_text() == "mine"
    write_script(stored, tmp_path, out, overwrite=True)
    assert "python train.py" in out.read_text()
