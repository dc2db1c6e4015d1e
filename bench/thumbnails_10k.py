"""A folder of 10,000 images in the real prediction pane: first screen, memory, scrolling.

    python bench/thumbnails_10k.py [--count 10000] [--source DIR] [--keep DIR]

Writes ``count`` small JPEG and PNG files (re-encoded from a few pictures of ``--source``, by
default ../shared/data/rock-paper-scissors next to the repository, else generated) into a
temporary folder, opens a PredictionPane offscreen in a 1280x800 window and measures:

* seconds from ``show_folder`` to every thumbnail on the first screen being painted-ready
  (listing the folder included);
* extra resident memory (RSS) over the pane before the folder, after the first screen and after
  scrolling through everything (the larger is reported);
* the longest gap between ticks of a 10 ms QTimer on the GUI thread while the grid is scrolled
  programmatically from top to bottom (half a screen every 16 ms, like a fast flick).

Prints a table, then one JSON line: thumbs_first_screen_s, thumbs_extra_mb, max_stall_ms_scroll.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from qt_loop import run_for, wait_until

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "rock-paper-scissors"
VARIANTS = 40  # distinct encoded files; the rest are copies under other names


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _source_images(source: Path, count: int):
    from PIL import Image

    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if files:
        step = max(1, len(files) // count)
        return [Image.open(p).convert("RGB") for p in files[::step][:count]]
    import numpy as np

    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8))
            for _ in range(count)]


def make_folder(folder: Path, count: int, source: Path) -> None:
    encoded = []
    for i, img in enumerate(_source_images(source, VARIANTS)):
        buffer = io.BytesIO()
        fmt = "JPEG" if i % 2 == 0 else "PNG"
        img.save(buffer, format=fmt, **({"quality": 85} if fmt == "JPEG" else {}))
        encoded.append((buffer.getvalue(), ".jpg" if fmt == "JPEG" else ".png"))
    for i in range(count):
        data, suffix = encoded[i % len(encoded)]
        (folder / f"img_{i:05d}{suffix}").write_bytes(data)


def run(folder: Path, settings_file: Path) -> dict:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication.instance() or QApplication([])
    from horsehuman_gui.ui.classify.prediction_pane import PredictionPane
    from horsehuman_gui.ui.common.settings import Settings
    from horsehuman_gui.ui.common.tf_loader import TensorFlowLoader

    settings = Settings(QSettings(str(settings_file), QSettings.Format.IniFormat))
    window = QMainWindow()
    pane = PredictionPane(settings, TensorFlowLoader())
    window.setCentralWidget(pane)
    window.resize(1280, 800)
    window.show()
    run_for(0.5)
    base = rss_mb()

    start = time.perf_counter()
    pane.show_folder(folder)
    wait_until(lambda: _first_screen_ready(pane), 60, "the first screen of thumbnails",
               poll_ms=5)
    first_screen = time.perf_counter() - start
    run_for(0.5)
    after_first = rss_mb()

    stall, p99, ticks, frames = _scroll_through(app, pane)
    run_for(0.5)
    after_scroll = rss_mb()
    result = {
        "files": pane.model.total(),
        "visible_on_first_screen": len(pane.view.visible_rows()),
        "thumbs_first_screen_s": round(first_screen, 3),
        "rss_base_mb": round(base, 1),
        "extra_mb_first_screen": round(after_first - base, 1),
        "extra_mb_after_scroll": round(after_scroll - base, 1),
        "thumbs_extra_mb": round(max(after_first, after_scroll) - base, 1),
        "max_stall_ms_scroll": round(stall, 1),
        "p99_tick_gap_ms": round(p99, 1),
        "load_average_1min": os.getloadavg()[0],
        "timer_ticks": ticks,
        "scroll_frames": frames,
        "rows_fetched_at_end": pane.model.rowCount(),
    }
    pane.shutdown()
    window.close()
    return result


def _first_screen_ready(pane) -> bool:
    from PySide6.QtCore import Qt

    rows = pane.view.visible_rows()
    if pane.model.total() == 0 or len(rows) == 0:
        return False
    proxy = pane.proxy
    return all(proxy.index(r, 0).data(Qt.ItemDataRole.DecorationRole) is not None for r in rows)


def _scroll_through(app, pane) -> tuple[float, float, int, int]:
    """Scroll half a screen every 16 ms until the end; return (max and 99th percentile tick
    gap in ms, ticks, scroll steps)."""
    from PySide6.QtCore import QTimer

    gaps, last = [], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000)
        last[0] = now

    timer = QTimer(interval=10)
    timer.timeout.connect(tick)
    bar = pane.view.verticalScrollBar()
    frames = [0]
    done = [False]

    def scroll():
        frames[0] += 1
        if bar.value() >= bar.maximum() and not pane.model.canFetchMore():
            done[0] = True
            return
        bar.setValue(bar.value() + pane.view.viewport().height() // 2)

    scroller = QTimer(interval=16)
    scroller.timeout.connect(scroll)
    last[0] = time.perf_counter()
    timer.start()
    scroller.start()
    try:
        wait_until(lambda: done[0], 120, "scrolling to the end", poll_ms=5)
    except TimeoutError:
        pass  # reported by the frame count
    scroller.stop()
    timer.stop()
    if not gaps:
        return float("nan"), float("nan"), 0, frames[0]
    ordered = sorted(gaps)
    return ordered[-1], ordered[int(0.99 * (len(ordered) - 1))], len(gaps), frames[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--keep", type=Path, help="write the images here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thumbs-bench-") as tmp:
        folder = args.keep or Path(tmp) / "images"
        folder.mkdir(parents=True, exist_ok=True)
        if not any(folder.iterdir()):
            t = time.perf_counter()
            make_folder(folder, args.count, args.source)
            print(f"wrote {args.count:,} files in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        result = run(folder, Path(tmp) / "settings.ini")
    rows = [("files in the folder", result["files"], ""),
            ("thumbnails on the first screen", result["visible_on_first_screen"], ""),
            ("first screen of thumbnails", result["thumbs_first_screen_s"], "s (target <= 1)"),
            ("extra RSS after first screen", result["extra_mb_first_screen"], "MB"),
            ("extra RSS after scrolling to the end", result["extra_mb_after_scroll"], "MB"),
            ("extra RSS (larger of the two)", result["thumbs_extra_mb"], "MB (target <= 300)"),
            ("longest 10 ms tick gap while scrolling", result["max_stall_ms_scroll"], "ms"),
            ("99th percentile tick gap", result["p99_tick_gap_ms"], "ms"),
            ("machine load average (1 min, 2 cores)", result["load_average_1min"], ""),
            ("scroll steps / timer ticks",
             f"{result['scroll_frames']} / {result['timer_ticks']}", "")]
    for name, value, unit in rows:
        print(f"{name:<42} {value!s:>12} {unit}")
    print(json.dumps({k: result[k] for k in ("thumbs_first_screen_s", "thumbs_extra_mb",
                                             "max_stall_ms_scroll")}))


if __name__ == "__main__":
    main()
