"""Where does the training time go? The classic model on in-memory tensors under several settings.

Each variant runs in its own process (some settings are read only when TensorFlow is imported),
one after the other in this one run, so the ratios compare like with like. A float32 matrix
multiply measured in the same run gives the machine's compute bound; the classic model costs
about 1.6 GFLOP per training image at 300 px, so ``fraction = images/s * 1.6 / GFLOP/s``.

    python bench/train_configs.py [--steps 4] [--batch-size 128] [--image-size 300] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

GFLOP_PER_TRAIN_IMAGE_300 = 1.6

VARIANTS = {
    "default": {},
    "xla": {"jit": "1"},
    "onednn_off": {"env": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
    "threads_2_1": {"intra": "2", "inter": "1"},
    "bfloat16": {"policy": "mixed_bfloat16"},
    "batch_32": {"batch": "32"},
}


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    if args.intra:
        tf.config.threading.set_intra_op_parallelism_threads(int(args.intra))
        tf.config.threading.set_inter_op_parallelism_threads(int(args.inter or 1))
    import keras

    if args.policy:
        keras.mixed_precision.set_global_policy(args.policy)
    from horsehuman_gui.core.models import build_model

    size, batch = args.image_size, int(args.batch or args.batch_size)
    model = build_model("classic", size, 2)
    if args.jit:
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"],
                      jit_compile=True)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8))
    y = tf.constant(rng.integers(0, 2, (batch, 1)).astype("float32"))
    for _ in range(2):  # warm-up: tracing, oneDNN primitive creation
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = model.train_on_batch(x, y)
    seconds = time.perf_counter() - start
    print(json.dumps({"images_per_s": args.steps * batch / seconds,
                      "loss": float(np.ravel(loss)[0])}))


def matmul_gflops() -> float:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    a = tf.random.normal((2048, 2048))
    tf.linalg.matmul(a, a).numpy()
    start, n = time.perf_counter(), 10
    for _ in range(n):
        c = tf.linalg.matmul(a, a)
    c.numpy()
    return n * 2 * 2048**3 / (time.perf_counter() - start) / 1e9


def run_variant(name: str, args: argparse.Namespace) -> dict:
    spec = VARIANTS[name]
    cmd = [sys.executable, __file__, "--child", "--steps", str(args.steps),
           "--batch-size", str(args.batch_size), "--image-size", str(args.image_size)]
    for key in ("jit", "intra", "inter", "policy", "batch"):
        if key in spec:
            cmd += [f"--{key}", spec[key]]
    env = dict(os.environ, **spec.get("env", {}))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=300)
    parser.add_argument("--only", action="append", choices=sorted(VARIANTS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for key in ("jit", "intra", "inter", "policy", "batch"):
        parser.add_argument(f"--{key}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    gflops = matmul_gflops()
    flop = GFLOP_PER_TRAIN_IMAGE_300 * (args.image_size / 300) ** 2
    print(f"float32 matmul: {gflops:.0f} GFLOP/s -> compute bound {gflops / flop:.0f} images/s")
    print(f"{'variant':<14}{'images/s':>10}{'vs default':>12}{'of bound':>10}")
    results, base = {}, None
    for name in args.only or VARIANTS:
        r = run_variant(name, args)
        base = base or r["images_per_s"]
        results[name] = round(r["images_per_s"], 2)
        print(f"{name:<14}{r['images_per_s']:>10.1f}{r['images_per_s'] / base:>11.2f}x"
              f"{r['images_per_s'] * flop / gflops:>9.0%}", flush=True)
    print(json.dumps({"matmul_gflops": round(gflops, 1), "images_per_s": results}))


if __name__ == "__main__":
    main()
