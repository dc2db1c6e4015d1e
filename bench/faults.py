"""Fault injection (issue #12): repeat each fault case and count the runs that lost data.

    python bench/faults.py [COUNT] [--only TEXT] [--keep]

Every case runs the real ``horsehuman`` command (or, for kill -9 during a save, a child that
saves in a loop) in a subprocess, injects its fault at a random moment, then checks what is
on disk. Prints a table ``case | runs | lost | note`` and, as its last line, one JSON object
{case: lost}. The target is 0 lost in every row. COUNT (default 2) is the runs per case; each
run costs a few seconds of CPU (TensorFlow's import), so 5 is a few minutes on 2 cores.

What "lost" means per case:
  kill-9-during-save       the model file is missing or does not load (old or new must)
  SIGINT/SIGTERM/SIGHUP    train does not exit 0 with a loadable model at --out
  ctrl-c-twice             a second Ctrl-C during the save: no loadable model
  out-appears              the person's file at --out was changed, or no model was kept
  out-folder-gone          the save fails there and no loadable model is in the data folder
  disk-full                (the data folder full too) not one "horsehuman: error:" line and
                           exit 2, or a traceback
  predict-fifo-swap        predict hangs (60 s) or its CSV does not list every input
  predict-SIGINT/SIGTERM   the CSV does not list every input, or exit 0 with rows missing
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from PIL import Image

TRAIN = ["--model", "compact", "--image-size", "32", "--batch-size", "4", "--seed", "1"]
PREDICT_IMAGES = 200

SAVE_LOOP = textwrap.dedent("""
    import sys
    from horsehuman_gui.core.bundle import ModelBundle, save_bundle
    from horsehuman_gui.core.models import build_model
    target = sys.argv[1]
    bundle = ModelBundle(build_model("classic", 150, 2), ("a", "b"), 150, "bench")  # 38 MB
    save_bundle(bundle, target)
    print("ready", flush=True)
    while True:
        save_bundle(bundle, target)
""")


def cli(*args, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "horsehuman_gui.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


def first_line(process: subprocess.Popen, prefix: str = "") -> bool:
    for line in process.stdout:
        if line.startswith(prefix):
            return True
    return False


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int | None, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return None, out, err
    return process.returncode, out, err


def loads(path: Path) -> bool:
    from horsehuman_gui.core.bundle import load_bundle
    from horsehuman_gui.core.errors import ModelFileError

    try:
        load_bundle(path)
    except ModelFileError:
        return False
    return True


def write_images(folder: Path, count: int, colour=None, size: int = 16) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    for i in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        if colour is not None:
            pixels[:] = np.clip(np.array(colour) + rng.integers(-20, 21, 3), 0, 255)
        Image.fromarray(pixels).save(folder / f"img{i:03d}.png")


# ----------------------------------------------------------------------------------- cases

def kill9_during_save(work: Path) -> tuple[bool, str]:
    target = work / "looped.keras"
    child = subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(target)],
                             stdout=subprocess.PIPE, text=True)
    child.stdout.readline()
    time.sleep(random.uniform(0.0, 3.0))  # a save takes ~0.3 s here: anywhere in several
    child.kill()
    child.wait()
    leftovers = len(list(work.glob(".looped.*.tmp.keras")))
    return not loads(target), f"{leftovers} temporary file(s) left (removed when stale)"


def signal_during_training(work: Path, data: Path, signum: int) -> tuple[bool, str]:
    out = work / f"sig{signum}-{random.getrandbits(32):08x}.keras"
    process = cli("train", data, "--out", out, "--epochs", "300", *TRAIN)
    first_line(process, "epoch ")
    time.sleep(random.uniform(0.0, 1.0))
    if signum == signal.SIGHUP:  # the terminal is gone with it
        process.stdout.close()
        process.stderr.close()
        process.send_signal(signum)
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            code = None
    else:
        process.send_signal(signum)
        code, _, _ = finish(process)
    return not (code == 0 and loads(out)), f"exit {code}"


def ctrl_c_twice(work: Path, data: Path) -> tuple[bool, str]:
    out = work / f"twice-{random.getrandbits(32):08x}.keras"
    process = cli("train", data, "--out", out, "--epochs", "300", *TRAIN)
    first_line(process, "epoch ")
    process.send_signal(signal.SIGINT)
    for line in process.stderr:  # the second Ctrl-C lands during the save
        if line.startswith("saving the model"):
            for _ in range(3):
                process.send_signal(signal.SIGINT)
                time.sleep(random.uniform(0.0, 0.02))
            break
    code, _, err = finish(process)
    waited = "waited" if "waiting for the save" in err else "save ended first"
    return not (code == 0 and loads(out)), f"exit {code}, {waited}"


def out_appears(work: Path, data: Path) -> tuple[bool, str]:
    out = work / f"appears-{random.getrandbits(32):08x}.keras"
    data_dir = work / f"data-dir-{out.stem}"
    process = cli("train", data, "--out", out, "--epochs", "300", *TRAIN,
                  env=dict(os.environ, HORSEHUMAN_DATA_DIR=str(data_dir)))
    first_line(process, "epoch ")
    out.write_bytes(b"the person's own file")
    time.sleep(random.uniform(0.0, 0.5))
    process.send_signal(signal.SIGINT)
    code, _, _ = finish(process)
    kept = list((data_dir / "models").glob("*.keras"))
    lost = out.read_bytes() != b"the person's own file" or not (kept and loads(kept[0]))
    return lost, f"exit {code}"


def out_folder_gone(work: Path, data: Path) -> tuple[bool, str]:
    folder = work / f"gone-{random.getrandbits(32):08x}"
    folder.mkdir()
    data_dir = work / f"data-dir-{folder.name}"
    process = cli("train", data, "--out", folder / "m.keras", "--epochs", "300", *TRAIN,
                  env=dict(os.environ, HORSEHUMAN_DATA_DIR=str(data_dir)))
    first_line(process, "epoch ")
    folder.rmdir()  # a USB stick pulled, a folder cleaned up: the save there must fail
    process.send_signal(signal.SIGINT)
    code, _, err = finish(process)
    kept = list((data_dir / "models").glob("*.keras"))
    return not (kept and loads(kept[0]) and str(kept[0]) in err), f"exit {code}"


def disk_full(work: Path, data: Path) -> tuple[bool, str]:
    def limit():  # every write past 20 kB fails (EFBIG), as a full disk would
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    # --no-checkpoint: the file-size limit is a full disk the free-space check before each
    # checkpoint cannot see; what this case measures is the final save.
    process = cli("train", data, "--out", work / "full.keras", "--epochs", "1", "--no-checkpoint",
                  *TRAIN, preexec_fn=limit, env=dict(os.environ, HORSEHUMAN_DATA_DIR=str(work / "df")))
    code, _, err = finish(process)
    errors = [l for l in err.splitlines() if l.startswith("horsehuman: error:")]
    ok = code == 2 and len(errors) == 1 and "Traceback" not in err
    return not ok, f"exit {code}"


def predict_fifo_swap(work: Path, model: Path) -> tuple[bool, str]:
    photos = work / f"swap-{random.getrandbits(32):08x}"
    write_images(photos, PREDICT_IMAGES)
    table = photos.with_suffix(".csv")
    process = cli("predict", model, photos, "--csv", table, "--batch-size", "1")
    first_line(process)
    for victim in random.sample(sorted(photos.iterdir())[PREDICT_IMAGES // 2:], 5):
        victim.unlink()
        os.mkfifo(victim)
    code, _, _ = finish(process, timeout=60)
    return code is None or rows(table) != PREDICT_IMAGES, "hung" if code is None else f"exit {code}"


def predict_signal(work: Path, model: Path, signum: int) -> tuple[bool, str]:
    photos = work / f"int-{random.getrandbits(32):08x}"
    write_images(photos, PREDICT_IMAGES)
    table = photos.with_suffix(".csv")
    process = cli("predict", model, photos, "--csv", table, "--batch-size", "1")
    first_line(process)
    time.sleep(random.uniform(0.0, 0.3))
    process.send_signal(signum)
    code, _, err = finish(process)
    complete = rows(table) == PREDICT_IMAGES
    said = code != 0 and "interrupted" in err
    return not (complete and (said or "not classified" not in table.read_text())), \
        f"exit {code}"


def rows(table: Path) -> int:
    if not table.exists():
        return -1
    with open(table, encoding="utf-8", newline="") as handle:
        return len(list(csv.DictReader(handle)))


# ----------------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=2, help="runs per case")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    work = Path(tempfile.mkdtemp(prefix="horsehuman-faults-"))
    os.environ["HORSEHUMAN_DATA_DIR"] = str(work / "data-dir")
    data = work / "colours"
    write_images(data / "blue", 8, (20, 40, 220))
    write_images(data / "red", 8, (220, 30, 30))
    model = work / "model.keras"
    finish(cli("train", data, "--out", model, "--epochs", "1", *TRAIN))

    cases = {
        "kill -9 during a save": lambda: kill9_during_save(work),
        "SIGINT during training": lambda: signal_during_training(work, data, signal.SIGINT),
        "SIGTERM during training": lambda: signal_during_training(work, data, signal.SIGTERM),
        "SIGHUP during training": lambda: signal_during_training(work, data, signal.SIGHUP),
        "Ctrl-C again during the save": lambda: ctrl_c_twice(work, data),
        "file appears at --out": lambda: out_appears(work, data),
        "--out folder gone at the save": lambda: out_folder_gone(work, data),
        "disk full (no fallback either)": lambda: disk_full(work, data),
        "images swapped for FIFOs": lambda: predict_fifo_swap(work, model),
        "SIGINT during predict": lambda: predict_signal(work, model, signal.SIGINT),
        "SIGTERM during predict": lambda: predict_signal(work, model, signal.SIGTERM),
    }
    results = {}
    print(f"{'case':30} | runs | lost | note (last run)")
    for name, case in cases.items():
        if args.only.lower() not in name.lower():
            continue
        lost, note = 0, ""
        for _ in range(args.count):
            failed, note = case()
            lost += failed
        results[name] = lost
        print(f"{name:30} | {args.count:4} | {lost:4} | {note}", flush=True)
    if not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
