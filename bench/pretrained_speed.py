"""The pretrained path's speed (issue 14, item 3), measured side by side in one run.

    python bench/pretrained_speed.py [DATA] [--count 1027] [--rounds 2]

The first five figures are measured in each of ``--rounds`` rounds, one after the other in one
process (the machine may be shared): the best round of each counts.

* ``inmemory_ips``: the default backbone's forward pass over images already decoded in memory
  (the same compiled function feature extraction uses), images per second;
* ``files_ips``: feature extraction over the files with an empty cache (decode + forward);
  both figures use the same compiled forward function, traced once before either is timed
  (a one-time ~0.2 s per backbone and process: it is in ``train_cold_s``);
* ``decode_bound_ips``: what decoding alone allows on these cores while the forward pass runs
  (``cores / (decode CPU per image + forward CPU per image)``, measured);
* ``extract_ratio``: files_ips / min(inmemory_ips, decode_bound_ips) (target >= 0.95);
* ``cache_speedup``: the same extraction again, now read from the feature cache (target >= 20);
* ``train_cold_s`` / ``train_warm_s``: ``train()`` of the default model on DATA, from the call
  to the trained model, with an empty cache then with the cache just filled (targets 60 / 10).

Runs in a temporary cache folder. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "horse-or-human" / "train"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _temporary_folder() -> str:
    """A feature cache folder of this run's own, removed when it ends."""
    folder = tempfile.mkdtemp(prefix="hh-pretrained-bench-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _round(paths, size, forward, extractor, key) -> dict:
    """One round: decode CPU, the in-memory forward, then extraction from the files into an
    empty cache and again from that cache."""
    import numpy as np

    from horsehuman_gui.core.feature_cache import FeatureCache
    from horsehuman_gui.core.features import extract_features
    from horsehuman_gui.core.images import load_array

    cpu = _cpu()
    images = np.stack([load_array(p, size) for p in paths])
    decode_cpu = (_cpu() - cpu) / len(paths)
    cpu, start = _cpu(), time.perf_counter()
    for i in range(0, len(images), 32):
        np.asarray(forward(images[i:i + 32]))
    inmemory = len(images) / (time.perf_counter() - start)
    forward_cpu = (_cpu() - cpu) / len(images)
    del images

    cache = FeatureCache(_temporary_folder())
    start = time.perf_counter()
    first = extract_features(paths, extractor, key, cache=cache)
    files = len(paths) / (time.perf_counter() - start)
    start = time.perf_counter()
    again = extract_features(paths, extractor, key, cache=cache)
    cached = len(paths) / (time.perf_counter() - start)
    cache.close()
    assert again.computed == 0 and np.allclose(first.vectors, again.vectors)
    return {"decode_cpu": decode_cpu, "forward_cpu": forward_cpu, "inmemory": inmemory,
            "files": files, "cached": cached}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--count", type=int, default=0, help="at most this many files (0: all)")
    parser.add_argument("--rounds", type=int, default=2, help="best of this many rounds")
    args = parser.parse_args()
    os.environ["HORSEHUMAN_CACHE_DIR"] = _temporary_folder()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))

    import numpy as np

    from horsehuman_gui.core.backbones import BACKBONES, DEFAULT_BACKBONE
    from horsehuman_gui.core.config import TrainConfig
    from horsehuman_gui.core.dataset import scan_dataset
    from horsehuman_gui.core.feature_cache import FeatureKey
    from horsehuman_gui.core.features import _compiled
    from horsehuman_gui.core.images import load_array
    from horsehuman_gui.core.training import train
    from horsehuman_gui.core.transfer import feature_extractor, load_backbone

    report = scan_dataset(args.data)
    items = list(report.train + report.validation)
    if args.count:
        items = items[:args.count]
    paths = [item.path for item in items]
    size = BACKBONES[DEFAULT_BACKBONE].input_size
    extractor = feature_extractor(load_backbone(DEFAULT_BACKBONE), size)
    forward = _compiled(extractor, size)
    key = FeatureKey(DEFAULT_BACKBONE, size)

    forward(np.stack([load_array(p, size) for p in paths[:32]]))  # traced once, untimed
    rounds = [_round(paths, size, forward, extractor, key) for _ in range(args.rounds)]
    # The best round of each figure: the machine may be shared, and a slow moment must not
    # count as the pipeline's loss (the rounds alternate, so both sides get their chance).
    decode_cpu = min(r["decode_cpu"] for r in rounds)
    forward_cpu = min(r["forward_cpu"] for r in rounds)
    inmemory = max(r["inmemory"] for r in rounds)
    files = max(r["files"] for r in rounds)
    cached = max(r["cached"] for r in rounds)
    cores = os.cpu_count() or 1
    bound = cores / (decode_cpu + forward_cpu)

    os.environ["HORSEHUMAN_CACHE_DIR"] = _temporary_folder()
    times = []
    for _ in range(2):  # cold, then warm
        start = time.perf_counter()
        train(report, TrainConfig())
        times.append(time.perf_counter() - start)

    figures = {"inmemory_ips": inmemory, "files_ips": files, "decode_bound_ips": bound,
               "extract_ratio": files / min(inmemory, bound), "cache_speedup": cached / files,
               "train_cold_s": times[0], "train_warm_s": times[1]}
    print(f"{len(paths)} files of {args.data}, backbone {DEFAULT_BACKBONE} at {size} px")
    print(f"in memory {inmemory:.0f} images/s; decode bound {bound:.0f} images/s "
          f"(decode {decode_cpu * 1000:.1f} ms + forward {forward_cpu * 1000:.1f} ms CPU each)")
    print(f"files {files:.0f} images/s = {figures['extract_ratio']:.2f} of the lower bound; "
          f"from the cache {cached:.0f} images/s = {figures['cache_speedup']:.0f}x")
    print(f"train() default model: cold {times[0]:.1f} s, warm {times[1]:.1f} s")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
