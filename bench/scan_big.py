"""Scanning big dataset folders: seconds and peak memory, cold and warm, at growing sizes.

    python bench/scan_big.py [DATA] [--counts 1000,10000,100000]

DATA is a folder of class folders (default: ../shared/data/horse-or-human/train next to the
repository). For each count, a temporary folder under /tmp gets that many images spread over
DATA's classes in proportion: cycled copies of DATA's files (hard links when on the same file
system, else copies) named ``c0003_<name>``, plus three bad files (empty, truncated, text named
.png). It is then scanned twice, each time in a fresh process with the same private scan
cache: cold (empty cache; the files' bytes are in the page cache either way) and warm
(unchanged folder). The folder is removed afterwards.

Prints a table (seconds, walk seconds, peak RSS and the scan's share of it, whether images
were decoded or header-checked, bad files reported), then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "horse-or-human" / "train"
BAD = {"empty.png": "empty file (0 bytes)", "truncated.png": "corrupt or truncated image",
       "notes.png": "not an image (unrecognised content)"}


def _status(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(folder: str) -> None:
    """Run in a fresh process: scan ``folder`` and print what was measured as JSON."""
    sys.path.insert(0, str(REPO))
    from horsehuman_gui.core.dataset import scan_dataset

    base = _status("VmRSS")
    walked = {}
    start = time.perf_counter()

    def on_progress(done, total):
        walked.setdefault("s", time.perf_counter() - start)

    report = scan_dataset(folder, on_progress=on_progress)
    seconds = time.perf_counter() - start
    reasons = {s.path.name: s.reason for s in report.skipped}
    print(json.dumps({
        "seconds": round(seconds, 2), "walk_s": round(walked.get("s", 0.0), 2),
        "peak_mb": round(_status("VmHWM")), "base_mb": round(base),
        "images": len(report.train) + len(report.validation), "decoded": report.decoded,
        "bad_reported": sum(reasons.get(name) == reason for name, reason in BAD.items()),
    }))


def _place(source: Path, target: Path) -> bool:
    """Hard link ``source`` at ``target`` (else copy it); True when linked."""
    try:
        os.link(source, target)
        return True
    except OSError:
        shutil.copyfile(source, target)
        return False


def make_folder(data: Path, folder: Path, count: int) -> str:
    classes = {p.name: sorted(f for f in p.iterdir() if f.is_file())
               for p in sorted(data.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    total = sum(map(len, classes.values()))
    linked = copied = 0
    for c, (name, files) in enumerate(classes.items()):
        (folder / name).mkdir(parents=True)
        share = count * len(files) // total if c < len(classes) - 1 \
            else count - sum(count * len(f) // total for f in list(classes.values())[:-1])
        for i in range(share):
            cycle, source = divmod(i, len(files))
            if _place(files[source], folder / name / f"c{cycle:04d}_{files[source].name}"):
                linked += 1
            else:
                copied += 1
    first = next(iter(classes))
    sample = classes[first][0].read_bytes()
    (folder / first / "empty.png").write_bytes(b"")
    (folder / first / "truncated.png").write_bytes(sample[:len(sample) // 2])
    (folder / list(classes)[-1] / "notes.png").write_text("not a picture\n")
    return "hard links" if linked and not copied else "copies" if copied and not linked \
        else "hard links and copies"


def scan(folder: Path, cache: Path) -> dict:
    env = dict(os.environ, HORSEHUMAN_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, __file__, "--child", str(folder)], env=env,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--counts", default="1000,10000,100000")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    results = {}
    print(f"{'images':>8} {'run':>5} {'seconds':>8} {'walk s':>7} {'peak MB':>8} "
          f"{'scan MB':>8} {'checked':>8} {'bad':>4}", flush=True)
    for count in [int(c) for c in args.counts.split(",")]:
        with tempfile.TemporaryDirectory(prefix="scan_big_", dir="/tmp") as tmp:
            folder, cache = Path(tmp) / "data", Path(tmp) / "cache"
            how = make_folder(args.data, folder, count)
            for run in ("cold", "warm"):
                found = scan(folder, cache)
                results[f"{count}_{run}"] = found
                print(f"{count:>8,} {run:>5} {found['seconds']:>8.1f} {found['walk_s']:>7.1f} "
                      f"{found['peak_mb']:>8} {found['peak_mb'] - found['base_mb']:>8} "
                      f"{'decoded' if found['decoded'] else 'headers':>8} "
                      f"{found['bad_reported']}/{len(BAD)}", flush=True)
        print(f"  ({count:,} images as {how}, plus {len(BAD)} bad files)", flush=True)
    print(json.dumps({f"scan_{key}_{field}": value[field] for key, value in results.items()
                      for field in ("seconds", "peak_mb", "bad_reported")}))


if __name__ == "__main__":
    main()
