"""How quickly the window appears, and how long the GUI event loop ever stalls while working.

(a) Seconds from process start to the main window's first paint (the app prints a timestamp
    when HORSEHUMAN_GUI_REPORT_SHOWN=1), median of several runs of ``python -m horsehuman_gui``.
(b) The longest gap between ticks of a 10 ms QTimer on the GUI thread while TensorFlow imports,
    while the dataset is scanned, when the Train tab is first opened (its plot is built then),
    while the classic model trains on real data through that tab, while the trained model is
    saved automatically, while that file is opened again (File > Open model…), and while the
    Classify tab classifies 1,000 images (PredictionPane.set_bundle / add_paths / classify).
    Each phase's longest gap is printed with the second, from the phase's start, at which it
    began.

Runs offscreen unless DISPLAY is set (then on that display). Settings, saved models and the
config folder go to a temporary directory. Prints the figures, then one JSON line.

    python bench/gui_responsiveness.py [--data DIR] [--runs 5] [--epochs 1] [--max-batches 0]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qt_loop import run_for, wait_until

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/horse-or-human/train"
TMP = Path(tempfile.mkdtemp(prefix="hh-gui-bench-"))  # settings and saved models (~0.8 GB)
atexit.register(shutil.rmtree, TMP, ignore_errors=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "xcb" if env.get("DISPLAY") else "offscreen")
    env.update(XDG_CONFIG_HOME=str(TMP / "config"), HORSEHUMAN_DATA_DIR=str(TMP / "data"),
               TF_CPP_MIN_LOG_LEVEL="3")
    return env


def window_seconds(runs: int) -> list[float]:
    """Process start -> first paint of the main window, one figure per run."""
    env = {**_env(), "HORSEHUMAN_GUI_REPORT_SHOWN": "1", "HORSEHUMAN_GUI_QUIT_AFTER_MS": "50"}
    # A person's start finds the project's modules compiled (pip compiles an installed package;
    # the first start of an editable one writes its __pycache__). A shell that forbids writing
    # bytecode made every start here compile ~75 modules first (~0.15 s); one start unmeasured.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    figures = []
    for run in range(runs + 1):
        start = time.time()
        done = subprocess.run([sys.executable, "-m", "horsehuman_gui"], env=env,
                              capture_output=True, text=True, timeout=300)
        line = next((l for l in done.stdout.splitlines() if l.startswith("{")), None)
        if done.returncode != 0 or line is None:
            raise SystemExit(f"the app did not report its window:\n{done.stderr[-2000:]}")
        shown = json.loads(line)
        if shown["tensorflow_imported"]:
            raise SystemExit("TensorFlow was imported before the window showed")
        if run:
            figures.append(shown["shown_at"] - start)
    return figures


class StallMeter:
    """A 10 ms precise QTimer; records the gaps between its ticks per named phase."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.gaps: dict[str, list[float]] = {}
        self.longest: dict[str, tuple[float, float]] = {}  # phase -> (gap ms, start s)
        self.phase: str | None = None
        self._last = time.perf_counter()
        self.timer = QTimer(timerType=Qt.TimerType.PreciseTimer, interval=10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.phase is not None:
            gap = (now - self._last) * 1000
            self.gaps.setdefault(self.phase, []).append(gap)
            if gap > self.longest.get(self.phase, (0.0, 0.0))[0]:  # when, for a diagnosis
                self.longest[self.phase] = (gap, self._last - self._started)
        self._last = now

    def start(self, phase: str) -> None:
        self.phase, self._last = phase, time.perf_counter()
        self._started = self._last

    def stop(self) -> None:
        self.phase = None

    def summary(self, phase: str) -> dict[str, float]:
        gaps = sorted(self.gaps.get(phase, [0.0]))
        return {"max_ms": round(gaps[-1], 1), "p99_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 1),
                "ticks": len(gaps), "max_at_s": round(self.longest.get(phase, (0, 0))[1], 2)}


def _wait(app, condition, timeout_s: float, what: str) -> None:
    """Run the real event loop until ``condition()`` (the bench stops with a message if not)."""
    try:
        wait_until(condition, timeout_s, what)
    except TimeoutError as exc:
        raise SystemExit(str(exc)) from None


def measure_stalls(args) -> dict[str, dict[str, float]]:
    os.environ.update({k: v for k, v in _env().items() if k != "QT_QPA_PLATFORM"})
    os.environ.setdefault("QT_QPA_PLATFORM", _env()["QT_QPA_PLATFORM"])
    from horsehuman_gui import app as app_module

    app = app_module.create_application()
    window = app_module.create_main_window(app)
    window.resize(1280, 820)
    window.show()
    meter = StallMeter()
    _wait(app, window.isVisible, 10, "the window")

    meter.start("tf_import")
    window.start_background_loading()
    _wait(app, lambda: window.tf_loader.is_ready, 300, "TensorFlow")
    meter.stop()

    meter.start("scan")
    window.open_dataset(args.data)
    _wait(app, lambda: window.dataset_pane.report is not None, 300, "the dataset scan")
    meter.stop()

    _train(app, window, meter, args)
    saved: list[Path] = []
    window.models.saved.connect(saved.append)
    meter.start("autosave")  # the trained model is saved in the background (a clone + h5 write)
    _wait(app, lambda: saved and not window.models.is_busy(), 600, "the automatic save")
    meter.stop()
    opened = []
    window.models.opened.connect(opened.append)
    meter.start("open_model")  # File > Open model… on the file just saved
    window.models.open(saved[0])
    _wait(app, lambda: opened, 600, "the model to open")
    meter.stop()
    opened.clear()  # the bench must not be what holds a model between cycles
    _classify(app, window, meter, args)
    rss = [_rss_mb()]
    print(f"  GUI process resident after train + classify: {rss[0]:.0f} MB")
    for cycle in range(2, args.cycles + 1):  # nothing may accumulate over a long session
        _train(app, window, meter, args, again=True)
        _wait(app, lambda: len(saved) >= cycle and not window.models.is_busy(), 600,
              "the automatic save")
        _classify(app, window, meter, args)
        rss.append(_rss_mb())
        print(f"  cycle {cycle}: resident {rss[-1]:.0f} MB")
    window.close()
    stalls = {phase: meter.summary(phase) for phase in PHASES}
    stalls["memory"] = {"rss_mb": rss}
    return stalls


def _rss_mb() -> float:
    """This process's resident memory now (not its peak), after a full collection."""
    import gc

    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


PHASES = ("tf_import", "scan", "train_tab", "training", "autosave", "open_model", "classify",
          "train_tab_again")


def _train(app, window, meter, args, again: bool = False) -> None:
    form, pane = window.training_pane.form, window.training_pane
    form.model.setCurrentIndex(form.model.findData(args.model))
    form.patience.setValue(0)  # the run length the bench asks for
    form.image_size.setValue(args.image_size)
    form.epochs.setValue(args.epochs)
    form.batch_size.setValue(args.batch_size)
    results = []

    def keep(result, report):  # disconnected below: a lasting connection would hold the model
        results.append(result)

    pane.trained.connect(keep)
    meter.start("train_tab" if not again else "train_tab_again")
    window.tabs.setCurrentWidget(pane)  # the Train button is on this tab: a user opens it first
    _wait(app, lambda: pane.plot.isVisible(), 60, "the Train tab")
    run_for(0.3)
    meter.stop()
    if args.max_batches and not again:
        pane.progress.valueChanged.connect(
            lambda v: v >= args.max_batches and pane.is_running() and pane.stop())
    meter.start("training")
    started = time.perf_counter()
    pane.start()
    _wait(app, lambda: results, 3600, "training")
    meter.stop()
    pane.trained.disconnect(keep)
    result = results.pop()  # the bench keeps no model: the window holds what a person's would
    print(f"  trained {len(result.history)} epoch(s) in {time.perf_counter() - started:.1f} s"
          f"{' (stopped)' if result.stopped else ''}")


def _classify(app, window, meter, args) -> None:
    """Classify with the current model, as a person does: the trained one, or in the first
    cycle the file just opened (the Classify tab follows the current model)."""
    from horsehuman_gui.core.files import walk_images

    pane = window.prediction_pane
    assert window.models.bundle is not None and pane._bundle.model is window.models.bundle.model
    images, _ = walk_images(Path(args.data), recursive=True)
    images = sorted(images)[: args.predict_count]
    window.tabs.setCurrentWidget(pane)
    pane.add_paths(images, recursive=False)
    # listed (in later cycles the same files are listed again: wait for that job too), and on
    # screen for a moment, as when a person looks at the list before pressing Classify
    _wait(app, lambda: pane.model.total() >= len(images) and not pane.tasks.current("listing"),
          120, "the image listing")
    run_for(0.3)

    meter.start("classify")
    started = time.perf_counter()
    pane.classify()
    # the progress bar shows until the last result is in (a cheap check: a condition looking
    # at 1,000 results every 20 ms was itself a share of what the meter measured)
    _wait(app, lambda: not pane.progress.isVisibleTo(pane), 3600, "classification")
    meter.stop()
    seconds = time.perf_counter() - started
    missing = sum(1 for item in pane.model.items() if item.prediction is None)
    if missing:
        raise SystemExit(f"classification ended with {missing} pictures without a result")
    print(f"  classified {len(images)} images in {seconds:.1f} s ({len(images) / seconds:.1f}/s)")


def _cpu_times() -> list[int] | None:
    """The machine's CPU time counters (/proc/stat: user ... steal), or None off Linux."""
    try:
        with open("/proc/stat") as handle:
            return [int(v) for v in handle.readline().split()[1:9]]
    except (OSError, ValueError):
        return None


def _steal_share(before, after) -> float | None:
    """Share of the CPU time the hypervisor gave to other machines meanwhile (a virtual
    machine's "steal"): stalls measured then say more about the host than about the app."""
    if before is None or after is None:
        return None
    spent = [b - a for a, b in zip(before, after)]
    return round(spent[7] / sum(spent), 3) if sum(spent) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=5, help="start-up runs (median reported)")
    parser.add_argument("--model", default="classic")
    parser.add_argument("--image-size", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-batches", type=int, default=0,
                        help="stop training after this many batches (0: run every epoch)")
    parser.add_argument("--predict-count", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=5,
                        help="train + classify this many times in one session (memory growth)")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--skip-stalls", action="store_true")
    args = parser.parse_args()

    figures: dict = {}
    if not args.skip_startup:
        runs = window_seconds(args.runs)
        figures["window_seconds"] = round(statistics.median(runs), 3)
        figures["window_seconds_runs"] = [round(r, 3) for r in runs]
        print(f"window visible after {figures['window_seconds']:.3f} s (median of {len(runs)}: "
              f"{', '.join(f'{r:.3f}' for r in runs)})")
    if not args.skip_stalls:
        print(f"GUI stalls ({args.model} at {args.image_size} px, batch {args.batch_size}, "
              f"{args.epochs} epoch(s), data {args.data}):")
        cpu_before = _cpu_times()
        stalls = measure_stalls(args)
        steal = _steal_share(cpu_before, _cpu_times())
        rss = stalls.pop("memory")["rss_mb"]
        for phase, summary in stalls.items():
            print(f"  {phase:10s} longest gap {summary['max_ms']:7.1f} ms (from "
                  f"{summary['max_at_s']:.2f} s in), 99th percentile {summary['p99_ms']:6.1f} ms "
                  f"over {summary['ticks']} ticks")
        figures["max_stall_ms_training"] = stalls["training"]["max_ms"]
        figures["max_stall_ms_predict"] = stalls["classify"]["max_ms"]
        figures["max_stall_ms_tf_import"] = stalls["tf_import"]["max_ms"]
        figures["max_stall_ms_scan"] = stalls["scan"]["max_ms"]
        figures["max_stall_ms_autosave"] = stalls["autosave"]["max_ms"]
        figures["max_stall_ms_open_model"] = stalls["open_model"]["max_ms"]
        figures["max_stall_ms_train_tab"] = stalls["train_tab"]["max_ms"]
        figures["max_stall_ms_all"] = max(s["max_ms"] for s in stalls.values())
        figures["gui_rss_mb"] = round(rss[0], 1)
        figures["gui_rss_cycles_mb"] = [round(r) for r in rss]
        figures["gui_rss_growth"] = round(rss[-1] / rss[0], 3)
        figures["load_average"] = round(os.getloadavg()[0], 2)  # other work on the machine
        figures["cpu_steal_share"] = steal
        if steal is not None:
            print(f"  CPU time the hypervisor gave to other machines meanwhile (steal): "
                  f"{steal:.1%}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
