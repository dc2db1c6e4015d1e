"""Training throughput: real files through the real pipeline vs in-memory tensors, and peak RSS.

    python bench/train_throughput.py [DATA] [--steps 12] [--rounds 2] [--batch-size 128]
                                     [--image-size 300] [--rss-steps 10]

DATA defaults to ../shared/data/horse-or-human/train next to the repository. The classic model is
trained (1) by ``core.training.train`` on the files (scan, decode, cache or stream, reshuffle,
micro-batches: everything a user gets) and (2) by the same model and training step fed one
in-memory batch tensor over and over (no input cost at all: the ceiling). The two alternate in
one child process (the machine may be shared: both then suffer alike) and the best round of
each counts; a few warm-up steps are excluded from timing in both. Peak RSS comes from separate
child processes: training over the file list once (past the first epoch, so the decoded-image
cache is full) and repeated 10 times (too big for the cache: it streams), and the in-memory run.
The pipeline shuffles paths, not pixels, so memory must not grow with the number of files.

Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "horse-or-human" / "train"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def scan(data: Path, batch_size: int, repeat: int = 1):
    """The scanned dataset, training part trimmed to whole batches, validation dropped."""
    from horsehuman_gui.core.dataset import scan_dataset

    report = scan_dataset(data, validation_split=0.2)
    items = tuple(report.train) + tuple(report.validation)  # all files: the bench only trains
    whole = len(items) // batch_size * batch_size  # full batches only: images/s stays exact
    return dataclasses.replace(report, train=items[:whole] * repeat, validation=())


def run_files(args) -> dict:
    """Train through ``core.training.train``; time the batches after the warm-up ones."""
    from horsehuman_gui.core.config import TrainConfig
    from horsehuman_gui.core.training import train

    report = scan(Path(args.data), args.batch_size, args.repeat)
    cache = {} if args.cache_mb is None else {"cache_budget_mb": args.cache_mb}
    config = TrainConfig(model="classic", image_size=args.image_size, epochs=10_000,
                         batch_size=args.batch_size, seed=1, **cache)
    per_epoch = len(report.train) // args.batch_size
    total = args.warmup + args.steps
    marks: list[tuple[int, float]] = []
    done = [0]

    def on_batch(progress):
        done[0] = (progress.epoch - 1) * per_epoch + progress.batch
        marks.append((done[0], progress.elapsed))

    train(report, config, on_batch=on_batch, should_stop=lambda: done[0] >= total)
    return {"images_per_s": rate(marks, args.warmup, args.batch_size),
            "files": len(report.train), "peak_rss_mb": peak_rss_mb()}


def run_memory(args) -> dict:
    """The same model and training step fed one in-memory uint8 batch, repeated."""
    import numpy as np
    import tensorflow as tf

    from horsehuman_gui.core.microbatch import micro_batch_size, micro_batches
    from horsehuman_gui.core.models import build_model, keras

    keras.utils.set_random_seed(1)
    model = build_model("classic", args.image_size, 2)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.batch_size, args.image_size, args.image_size, 3), np.uint8)
    y = rng.integers(0, 2, (args.batch_size, 1)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensors((x, y)).repeat()
    marks: list[tuple[int, float]] = []
    start = time.monotonic()

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            marks.append((batch + 1, time.monotonic() - start))

    with micro_batches(model, micro_batch_size(model, args.batch_size)):
        model.fit(dataset, epochs=1, steps_per_epoch=args.warmup + args.steps, verbose=0,
                  callbacks=[Timer()])
    return {"images_per_s": rate(marks, args.warmup, args.batch_size),
            "peak_rss_mb": peak_rss_mb()}


def run_speed(args) -> dict:
    """Alternate files and in-memory runs in one process: a shared machine slows both alike."""
    files, memory = [], []
    for _ in range(args.rounds):
        files.append(run_files(args)["images_per_s"])
        memory.append(run_memory(args)["images_per_s"])
    return {"files": files, "memory": memory}


def rate(marks: list[tuple[int, float]], warmup: int, batch_size: int) -> float:
    """Images per second between the end of batch ``warmup`` and the last batch reported."""
    first = next((m for m in marks if m[0] >= warmup), None)
    last = marks[-1] if marks else None
    if first is None or last is None or last[0] <= first[0]:
        return math.nan
    return (last[0] - first[0]) * batch_size / (last[1] - first[1])


def child(mode: str, args, **overrides) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON result."""
    values = {"steps": args.steps, "warmup": args.warmup, "repeat": 1} | overrides
    argv = [sys.executable, __file__, str(args.data), "--child", mode,
            "--steps", str(values["steps"]), "--warmup", str(values["warmup"]),
            "--repeat", str(values["repeat"]), "--rounds", str(args.rounds),
            "--batch-size", str(args.batch_size), "--image-size", str(args.image_size)]
    if args.cache_mb is not None:
        argv += ["--cache-mb", str(args.cache_mb)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


#: --explore: in-memory training step variants (name -> (batch size, micro-batch, policy)).
VARIANTS = {
    "Keras's own step, batch 128": (128, None, "float32"),
    "sliced step, micro-batches of 16 (default, 300 px)": (128, 16, "float32"),
    "sliced step, micro-batches of 32": (128, 32, "float32"),
    "Keras's own step, batch 32": (32, None, "float32"),
    "mixed_bfloat16 (changes results)": (128, None, "mixed_bfloat16"),
}


def run_explore(args) -> dict:
    """Images/s of each variant on in-memory tensors, alternating rounds; best step time."""
    import numpy as np
    import tensorflow as tf

    from horsehuman_gui.core.microbatch import micro_batches
    from horsehuman_gui.core.models import build_model, keras

    names = list(VARIANTS) if args.variants is None else [
        n for n in VARIANTS if any(part in n for part in args.variants.split(","))]
    rng = np.random.default_rng(0)
    models, datasets, times = {}, {}, {name: [] for name in names}
    for name in names:
        batch, _, policy = VARIANTS[name]
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(1)
        models[name] = build_model("classic", args.image_size, 2)
        keras.mixed_precision.set_global_policy("float32")
        x = rng.integers(0, 256, (batch, args.image_size, args.image_size, 3), np.uint8)
        y = rng.integers(0, 2, (batch, 1)).astype(np.float32)
        datasets[name] = tf.data.Dataset.from_tensors((x, y)).repeat()

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.marks.append(time.monotonic())

    for _ in range(args.rounds + 1):  # the first round traces: not timed
        for name in names:
            timer = Timer()
            timer.marks = []
            with micro_batches(models[name], VARIANTS[name][1]):
                models[name].fit(datasets[name], epochs=1, steps_per_epoch=args.steps + 1,
                                 verbose=0, callbacks=[timer])
            times[name].append(np.diff(timer.marks))
    return {name: VARIANTS[name][0] / float(np.median(np.concatenate(times[name][1:])))
            for name in names} | {"sgemm_gflops": sgemm_gflops()}


def sgemm_gflops() -> float:
    """This machine's float32 matrix-multiply speed (numpy, all cores): the compute bound."""
    import numpy as np

    a = np.random.default_rng(0).random((3072, 3072), dtype=np.float32)
    a @ a
    start = time.perf_counter()
    for _ in range(5):
        a @ a
    return 5 * 2 * 3072**3 / (time.perf_counter() - start) / 1e9


def explore(args) -> None:
    """Target 6: where training time goes. Prints images/s and the fraction of the bound."""
    found = child("explore", args)
    gflops = found.pop("sgemm_gflops")
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0")
    argv = [sys.executable, __file__, str(args.data), "--child", "explore", "--variants",
            "own step, batch 128", "--steps", str(args.steps), "--rounds", "1",
            "--image-size", str(args.image_size)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
    no_onednn = json.loads(out.stdout.strip().splitlines()[-1])
    found["oneDNN off (TF_ENABLE_ONEDNN_OPTS=0), batch 128"] = no_onednn[
        "Keras's own step, batch 128"]
    bound = gflops / (args.gflop_per_image * (args.image_size / 300) ** 2)
    print(f"in-memory training, classic model {args.image_size} px; median step of "
          f"{args.rounds} rounds x {args.steps} steps; compute bound {bound:.0f} images/s "
          f"(SGEMM {gflops:.0f} GFLOP/s / {args.gflop_per_image} GFLOP per image)")
    print(f"{'variant':52} {'images/s':>9} {'of bound':>9}")
    for name, rate_value in found.items():
        print(f"{name:52} {rate_value:9.1f} {rate_value / bound:9.0%}")
    print(json.dumps({"compute_bound_images_per_s": round(bound, 1),
                      "sgemm_gflops": round(gflops, 1)}
                     | {name: round(value, 2) for name, value in found.items()}))


CHILDREN = {"files": run_files, "memory": run_memory, "speed": run_speed,
            "explore": run_explore}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--steps", type=int, default=12, help="timed steps (default 12)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="files/in-memory alternations for the speed figures (default 2)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=300)
    parser.add_argument("--rss-steps", type=int, default=10,
                        help="steps for the peak RSS runs over 1x and 10x the file list")
    parser.add_argument("--cache-mb", type=int, default=None,
                        help="decoded-image cache budget (default: TrainConfig's)")
    parser.add_argument("--explore", action="store_true",
                        help="instead: training step variants on in-memory tensors (target 6)")
    parser.add_argument("--gflop-per-image", type=float, default=1.6,
                        help="training cost of one 300 px image, for --explore (default 1.6)")
    parser.add_argument("--variants", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return
    explore(args) if args.explore else report(args)


def report(args) -> None:
    speed = child("speed", args)
    once = child("files", args, steps=args.rss_steps, warmup=1)
    tenfold = child("files", args, steps=args.rss_steps, warmup=1, repeat=10)
    memory = child("memory", args, steps=4)
    files_rate, memory_rate = max(speed["files"]), max(speed["memory"])
    ratio = files_rate / memory_rate
    ratios = [f / m for f, m in zip(speed["files"], speed["memory"])]
    print(f"classic model, {args.image_size} px, batch {args.batch_size}; speed: best of "
          f"{args.rounds} alternating rounds, {args.steps} timed steps after {args.warmup} "
          f"warm-up; data {args.data}")
    print(f"{'run':46} {'images/s':>9} {'peak RSS MB':>12}")
    rows = [("real files, core.training.train", files_rate, None),
            ("in-memory tensors, same model and step", memory_rate, memory["peak_rss_mb"]),
            (f"{once['files']} files, {args.rss_steps + 1} steps", None, once["peak_rss_mb"]),
            (f"{tenfold['files']} files (10x), {args.rss_steps + 1} steps", None,
             tenfold["peak_rss_mb"])]
    for name, speed_value, rss in rows:
        shown = f"{speed_value:9.1f}" if speed_value is not None else f"{'':9}"
        rss_shown = f"{rss:12.0f}" if rss is not None else ""
        print(f"{name:46} {shown} {rss_shown}")
    print(f"ratio files / in-memory: {ratio:.3f} (per round: "
          f"{', '.join(f'{r:.3f}' for r in ratios)}); "
          f"peak RSS 10x / 1x files: {tenfold['peak_rss_mb'] / once['peak_rss_mb']:.2f}")
    print(json.dumps({
        "train_ratio": round(ratio, 3),
        "train_ratio_per_round": [round(r, 3) for r in ratios],
        "train_images_per_s_files": round(files_rate, 2),
        "train_images_per_s_memory": round(memory_rate, 2),
        "train_peak_rss_mb": round(once["peak_rss_mb"]),
        "train_rss_10x_mb": round(tenfold["peak_rss_mb"]),
        "train_memory_peak_rss_mb": round(memory["peak_rss_mb"]),
        "batch_size": args.batch_size, "image_size": args.image_size,
        "cpu_count": os.cpu_count()}))


if __name__ == "__main__":
    main()
