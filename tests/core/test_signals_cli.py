"""Issue #12 from a terminal: signals stop and save, a file appearing at --out is kept,
an interrupted predict says so and lists every input, odd names never stop a run."""

from __future__ import annotations

import csv
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_class_folders, write_image
from horsehuman_gui import cli
from horsehuman_gui.core.bundle import ModelBundle, load_bundle, save_bundle
from horsehuman_gui.core.models import build_model

TRAIN = ("--model", "compact", "--image-size", "32", "--batch-size", "4", "--seed", "1")


def _env(tmp_path: Path, **extra) -> dict:
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", HORSEHUMAN_DATA_DIR=str(tmp_path / "data"),
                **extra)


def _start(tmp_path: Path, *args, **popen) -> subprocess.Popen:
    popen.setdefault("env", _env(tmp_path))
    return subprocess.Popen([sys.executable, "-m", "horsehuman_gui.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


def _after_first_line(process: subprocess.Popen, prefix: str = "") -> str:
    for line in process.stdout:
        if line.startswith(prefix):
            return line
    pytest.fail("no output: " + process.stderr.read())


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


# ---------------------------------------------------------------- in-process: the handler

def test_one_signal_asks_to_stop_a_second_ctrl_c_aborts(capsys):
    with cli._Interrupts() as interrupts:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        assert interrupts.is_set()
        os.kill(os.getpid(), signal.SIGTERM)  # a service manager repeating itself: no abort
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
    assert "SIGTERM: stopping after the current batch" in capsys.readouterr().err


def test_ctrl_c_during_the_save_waits_for_it(capsys):
    with cli._Interrupts() as interrupts:
        with interrupts.saving("the model"):
            for _ in range(3):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)
            saved = True
    assert saved
    assert "waiting for the save to finish" in capsys.readouterr().err


# ---------------------------------------------------------------- subprocesses: train

@pytest.fixture
def data(tmp_path) -> Path:
    return make_class_folders(tmp_path / "colours", per_class=6)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_training_stops_and_saves(tmp_path, data, signum):
    out = tmp_path / "m.keras"
    process = _start(tmp_path, "train", data, "--out", out, "--epochs", "300", *TRAIN)
    _after_first_line(process, "epoch ")
    if signum == signal.SIGHUP:  # the terminal went away: output can no longer be written
        process.stdout.close()
        process.stderr.close()
        process.send_signal(signum)
        assert process.wait(timeout=120) == 0
    else:
        process.send_signal(signum)
        code, _, err = _finish(process)
        assert code == 0, err
        assert "stopping after the current batch" in err and "saving the model to" in err
    assert load_bundle(out).class_names == ("blue", "red")


@pytest.mark.slow
def test_a_file_appearing_at_out_during_training_is_kept(tmp_path, data):
    out = tmp_path / "m.keras"
    process = _start(tmp_path, "train", data, "--out", out, "--epochs", "300", *TRAIN)
    _after_first_line(process, "epoch ")
    out.write_bytes(b"the person's own file")
    process.send_signal(signal.SIGINT)
    code, _, err = _finish(process)

    assert out.read_bytes() == b"the person's own file"
    assert code == 2 and "was saved to" in err and "instead" in err
    saved = list((tmp_path / "data" / "models").glob("*.keras"))
    assert len(saved) == 1 and str(saved[0]) in err
    assert load_bundle(saved[0]).class_names == ("blue", "red")


def _no_space_after(limit: int):
    def limit_file_size():  # every file write past `limit` bytes fails, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_file_size


@pytest.mark.slow
def test_a_failed_save_gives_one_line_and_exit_2(tmp_path, data):
    # The file-size limit stands in for a full disk that the free-space check before each
    # checkpoint cannot see (HDF5 may crash after a checkpoint write fails half-way), so the
    # run here writes no checkpoint: what is tested is the final save.
    process = _start(tmp_path, "train", data, "--out", tmp_path / "m.keras", "--epochs", "1",
                     "--no-checkpoint", *TRAIN, preexec_fn=_no_space_after(20_000))
    code, _, err = _finish(process)

    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("horsehuman: error: Could not save the model to")
    assert "failed too" in last and str(tmp_path / "data") in last
    assert not (tmp_path / "m.keras").exists()


# ---------------------------------------------------------------- subprocesses: predict

@pytest.fixture
def model_file(tmp_path) -> Path:
    return save_bundle(ModelBundle(model=build_model("compact", 32, 2),
                                   class_names=("blue", "red"), image_size=32,
                                   app_version="test"), tmp_path / "m.keras")


@pytest.mark.slow
def test_an_interrupted_predict_exits_130_and_its_csv_lists_every_input(tmp_path, model_file):
    photos = tmp_path / "photos"
    for i in range(300):
        write_image(photos / f"p{i:03d}.png", (i % 255, 10, 10), size=8)
    table = tmp_path / "out.csv"
    process = _start(tmp_path, "predict", model_file, photos, "--csv", table,
                     "--batch-size", "1")
    _after_first_line(process)
    process.send_signal(signal.SIGINT)
    code, _, err = _finish(process)

    assert code == cli.EXIT_INTERRUPTED, err
    assert "interrupted:" in err and "not classified" in err
    with open(table, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 300
    missing = [r for r in rows if r["error"] == cli.NOT_CLASSIFIED]
    assert 0 < len(missing) < 300 and all(not r["label"] for r in missing)


@pytest.mark.slow
def test_odd_names_are_printed_escaped_and_written(tmp_path, model_file):
    photos = tmp_path / "photos"
    write_image(photos / "plain.png", (10, 10, 200))
    write_image(Path(os.fsdecode(bytes(photos) + b"/caf\xe9.png")), (200, 10, 10))
    write_image(photos / "two\nlines.png", (200, 10, 10))
    table = tmp_path / "out.csv"
    env = _env(tmp_path, PYTHONIOENCODING="utf-8")  # strict UTF-8, as a UTF-8 terminal
    process = _start(tmp_path, "predict", model_file, photos, "--csv", table, env=env)
    code, out, err = _finish(process)

    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and all(line.count("\t") == 2 for line in lines)
    assert {line.split("\t")[0] for line in lines} == {
        str(photos / "plain.png"), str(photos / "caf\\xe9.png"), str(photos / "two\\nlines.png")}
    with open(table, encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3

    info = _start(tmp_path, "info", _with_odd_name(tmp_path), env=env)
    code, out, err = _finish(info)
    assert code == 0, err
    assert "bad\\xff.txt" in out


def _with_odd_name(tmp_path: Path) -> Path:
    root = make_class_folders(tmp_path / "odd", per_class=3)
    (root / "red" / os.fsdecode(b"bad\xff.txt")).write_text("not an image")
    return root


@pytest.mark.slow
def test_a_csv_appearing_during_predict_is_kept_and_results_go_beside(tmp_path, model_file):
    photos = tmp_path / "photos"
    for i in range(200):
        write_image(photos / f"p{i:03d}.png", (i % 255, 10, 10), size=8)
    table = tmp_path / "out.csv"
    process = _start(tmp_path, "predict", model_file, photos, "--csv", table,
                     "--batch-size", "1")
    _after_first_line(process)
    table.write_text("the person's own table")
    code, _, err = _finish(process)

    assert code == 0, err
    assert table.read_text() == "the person's own table"
    beside = tmp_path / "out (1).csv"
    assert "left as it is" in err and str(beside) in err
    with open(beside, encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 200
