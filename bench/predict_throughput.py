"""Prediction throughput: files through ``predict_files`` vs in-memory forward vs a per-file loop.

    python bench/predict_throughput.py [FOLDER] [--count 1000] [--large 200] [--rounds 2]

FOLDER (default ../shared/data/horse-or-human/train next to the repository) is searched
recursively; when it holds fewer than ``--count`` images they are repeated (copied into a
temporary folder) up to that number. The classic model at 300 px (untrained weights: speed does
not depend on them) then classifies:

1. the folder through ``core.prediction.predict_files`` (decode threads + batched model calls);
2. the same images already decoded in memory, through the same compiled model call: the ceiling;
   also plain eager ``model(x)`` and Keras ``model.predict`` on the in-memory array, for reference;
3. a loop calling ``model.predict`` once per file, as many tools do (only ``--loop-files`` files);
4. ``--large`` 4000x3000 JPEGs made from the folder's images (decoded at reduced scale).

Rounds alternate 1 and 2 and the best round of each counts (the machine may be shared).
Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = REPO.parent / "shared" / "data" / "horse-or-human" / "train"
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def repeated(images: list[Path], count: int, folder: Path) -> list[Path]:
    """``count`` paths: the images themselves, or copies of them cycled into ``folder``."""
    if len(images) >= count:
        return images[:count]
    return cycled_copies(images, count, folder, "{number:05d}")


def cycled_copies(sources: list[Path], count: int, folder: Path, name: str) -> list[Path]:
    """``count`` copies of ``sources`` taken in turn, named ``name.format(number=...)`` + suffix."""
    paths = []
    for number, source in zip(range(count), itertools.cycle(sources)):
        target = folder / f"{name.format(number=number)}{source.suffix.lower()}"
        shutil.copyfile(source, target)
        paths.append(target)
    return paths


def large_jpegs(images: list[Path], count: int, folder: Path, unique: int = 8) -> list[Path]:
    """``count`` 4000x3000 JPEGs: ``unique`` upscaled images, copied (decoding stays real)."""
    made = []
    for number, source in enumerate(images[:unique]):
        target = folder / f"large-{number:03d}.jpg"
        with Image.open(source) as image:
            image.convert("RGB").resize((4000, 3000), Image.Resampling.BILINEAR).save(
                target, quality=90)
        made.append(target)
    return cycled_copies(made, count, folder, "photo-{number:04d}")


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER))
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--large", type=int, default=200, help="large JPEGs (0 to skip)")
    parser.add_argument("--loop-files", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from horsehuman_gui.core.bundle import ModelBundle
    from horsehuman_gui.core.files import collect_images
    from horsehuman_gui.core.images import load_array
    from horsehuman_gui.core.models import build_model
    from horsehuman_gui.core.prediction import _forward, predict_files

    size, batch = args.image_size, args.batch_size
    model = build_model("classic", size, 2)
    bundle = ModelBundle(model, ("horses", "humans"), size, "bench")
    found, _ = collect_images([args.folder], recursive=True)
    if not found:
        sys.exit(f"no images in {args.folder}")
    with tempfile.TemporaryDirectory(prefix="predict-bench-") as temp:
        paths = repeated(found, args.count, Path(temp))
        large = large_jpegs(found, args.large, Path(temp)) if args.large else []
        results = measure(args, bundle, paths, large, load_array, _forward, predict_files)
    report(args, results, len(paths), len(large))


def measure(args, bundle, paths, large, load_array, forward_of, predict_files) -> dict:
    size, batch, model = args.image_size, args.batch_size, bundle.model
    forward = forward_of(model, size)
    pixels = np.stack([load_array(p, size) for p in paths[:batch]])
    batches = -(-len(paths) // batch)
    list(predict_files(bundle, paths[:2 * batch], batch_size=batch))  # warm up: trace, threads
    model(pixels, training=False)
    model.predict(pixels, batch_size=batch, verbose=0)
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, float("inf")), seconds)

    for _ in range(args.rounds):
        keep("files", timed(lambda: list(predict_files(bundle, paths, batch_size=batch))))
        keep("memory", timed(lambda: [forward(pixels) for _ in range(batches)]))
    keep("eager", timed(lambda: [np.asarray(model(pixels, training=False))
                                 for _ in range(batches)]))
    in_memory = np.concatenate([pixels] * batches)[:len(paths)]
    keep("keras_predict", timed(lambda: model.predict(in_memory, batch_size=batch, verbose=0)))
    del in_memory
    loop = paths[:args.loop_files]
    keep("loop", timed(lambda: [model.predict(load_array(p, size)[None], verbose=0)
                                for p in loop]))
    rates = {name: (len(paths) if name != "loop" else len(loop)) / seconds
             for name, seconds in best.items()}
    sample = paths[:2 * batch]  # decoding alone, one thread: its CPU cost per image
    rates["decode_one_thread"] = len(sample) / timed(lambda: [load_array(p, size)
                                                              for p in sample])
    if large:
        rates["large"] = len(large) / timed(
            lambda: list(predict_files(bundle, large, batch_size=batch)))
        sample = large[:10]
        rates["large_decode_reduced"] = len(sample) / timed(
            lambda: [load_array(p, size) for p in sample])
        rates["large_decode_full"] = len(sample) / timed(
            lambda: [np.asarray(Image.open(p).convert("RGB").resize((size, size)))
                     for p in sample])
    return rates


def report(args, rates: dict, count: int, large: int) -> None:
    rows = [
        (f"predict_files, {count} files", "files"),
        ("in-memory, same compiled model call (ceiling)", "memory"),
        ("in-memory, eager model(x)", "eager"),
        ("in-memory, model.predict(array)", "keras_predict"),
        (f"model.predict per file ({args.loop_files} files)", "loop"),
        (f"predict_files, {large} large JPEGs 4000x3000", "large"),
        ("  decode one large JPEG, reduced scale (1 thread)", "large_decode_reduced"),
        ("  decode one large JPEG, full size (1 thread)", "large_decode_full"),
        ("decode only, one thread (no model)", "decode_one_thread"),
    ]
    print(f"classic model, {args.image_size} px, batch {args.batch_size}, "
          f"best of {args.rounds} rounds; folder {args.folder}")
    print(f"{'run':52} {'images/s':>9}")
    for name, key in rows:
        if key in rates:
            print(f"{name:52} {rates[key]:9.1f}")
    ratio = rates["files"] / rates["memory"]
    speedup = rates["files"] / rates["loop"]
    # The model already keeps every core busy, so decoding can only add CPU time: with d
    # seconds of decoding per image and F images/s in memory on C cores, files reach at most
    # 1 / (1 + d * F / C) of F.
    decode_ms = 1000 / rates["decode_one_thread"]
    bound = 1 / (1 + decode_ms / 1000 * rates["memory"] / (os.cpu_count() or 1))
    print(f"ratio files / in-memory: {ratio:.3f}; speed-up vs per-file loop: {speedup:.1f}x")
    print(f"decoding costs {decode_ms:.2f} ms of CPU per image; with the model using all "
          f"{os.cpu_count()} cores that bounds the ratio at {bound:.3f}")
    figures = {"predict_ratio_vs_inmemory": round(ratio, 3),
               "predict_speedup_vs_loop": round(speedup, 2),
               "predict_ratio_bound_from_decode_cpu": round(bound, 3),
               "decode_ms_per_image": round(decode_ms, 2)}
    figures.update({f"{key}_images_per_s": round(value, 2) for key, value in rates.items()})
    figures.update({"image_size": args.image_size, "batch_size": args.batch_size,
                    "cpu_count": os.cpu_count()})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
