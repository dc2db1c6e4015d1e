"""The app as people who only want to use it install it: a wheel, into an environment of its
own (what ``pipx install`` does). Built from a copy of the source, installed into a fresh
virtual environment, started offscreen from there, and its launcher points at that environment.

Offline: the wheel is built with this environment's setuptools (``--no-build-isolation``; when
setuptools is missing, pip fetches it from PyPI) and installed with ``--no-deps``; the fresh
environment sees the dependencies already installed here through a folder of links, which
leaves out this checkout's editable install of the app itself.
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import horsehuman_gui

pytestmark = pytest.mark.slow

SOURCE = Path(horsehuman_gui.__file__).resolve().parents[1]
#: In resources/ for the README only, not shipped.
NOT_SHIPPED = {"screenshot.png"}


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=kwargs.pop("timeout", 300), **kwargs)
    assert done.returncode == 0, f"{shlex.join(map(str, args))}\n{done.stdout}\n{done.stderr}"
    return done


def _build_wheel(work: Path) -> Path:
    """From a copy of what the repository holds (a build writes build/ and *.egg-info)."""
    src = work / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in ("horsehuman_gui", "resources"):
        shutil.copytree(SOURCE / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(SOURCE / name, src / name)
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", work / "dist",
          src])
    (wheel,) = (work / "dist").glob("horsehuman_gui-*.whl")
    return wheel


def _dependencies_folder(work: Path) -> Path:
    """Links to everything installed here except the app (its editable install's finder and
    metadata would shadow the wheel's)."""
    here = Path(sysconfig.get_paths()["purelib"])
    deps = work / "deps"
    deps.mkdir()
    for entry in here.iterdir():
        if entry.name.startswith(("horsehuman_gui", "__editable__", "horsehuman-gui")) \
                or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    return deps


def _fresh_environment(work: Path, deps: Path) -> Path:
    env = work / "env"
    _run([sys.executable, "-m", "venv", env])  # its own pip (ensurepip: offline)
    site = Path(_run([env / "bin" / "python", "-c",
                      "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "zz_dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel, environment) with the wheel installed into a fresh environment."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the launcher is for freedesktop.org desktops")
    work = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(work)
    env = _fresh_environment(work, _dependencies_folder(work))
    _run([env / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", wheel])
    return wheel, env


def _isolated_env(tmp_path: Path, env: Path) -> dict:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**keep, "HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share"),
            "XDG_CONFIG_HOME": str(home / ".config"), "QT_QPA_PLATFORM": "offscreen",
            "PATH": os.pathsep.join([str(env / "bin"), "/usr/bin", "/bin"])}


def test_the_wheel_carries_every_module_and_resource(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    package = SOURCE / "horsehuman_gui"
    modules = {f"horsehuman_gui/{p.relative_to(package).as_posix()}"
               for p in package.rglob("*.py") if "__pycache__" not in p.parts}
    assert modules - names == set()  # a package folder left out of pyproject's list
    resources = {f"horsehuman_gui/resources/{p.relative_to(SOURCE / 'resources').as_posix()}"
                 for p in (SOURCE / "resources").rglob("*")
                 if p.is_file() and p.name not in NOT_SHIPPED}
    assert any(name.endswith(".desktop") for name in resources)
    assert resources - names == set()
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "horsehuman-gui = horsehuman_gui.app:main" in text
    assert "horsehuman = horsehuman_gui.cli:main" in text


def test_the_installed_app_starts_offscreen_from_its_environment(installed, tmp_path):
    _, env = installed
    environ = _isolated_env(tmp_path, env)
    where = _run([env / "bin" / "python", "-c",
                  "import horsehuman_gui; from horsehuman_gui.ui.common.resources import "
                  "resources_dir; print(horsehuman_gui.__file__); print(resources_dir())"],
                 cwd=tmp_path, env=environ).stdout.split("\n")
    assert Path(where[0]).is_relative_to(env) and Path(where[1]).is_relative_to(env)
    started = _run([env / "bin" / "horsehuman-gui"], cwd=tmp_path, timeout=180,
                   env={**environ, "HORSEHUMAN_GUI_QUIT_AFTER_MS": "300",
                        "HORSEHUMAN_GUI_REPORT_SHOWN": "1"})
    shown = json.loads(started.stdout.strip().splitlines()[0])
    assert shown["tensorflow_imported"] is False  # the window first, TensorFlow after
    _run([env / "bin" / "horsehuman", "--help"], cwd=tmp_path, env=environ)


def test_the_installed_launcher_points_at_that_environment(installed, tmp_path):
    _, env = installed
    environ = _isolated_env(tmp_path, env)
    clone = tmp_path / "clone" / ".venv" / "bin"  # another installation, first on PATH
    clone.mkdir(parents=True)
    (clone / "horsehuman-gui").write_text("#!/bin/sh\nexit 0\n")
    (clone / "horsehuman-gui").chmod(0o755)
    environ["PATH"] = os.pathsep.join([str(clone), environ["PATH"]])
    desktop = Path(environ["XDG_DATA_HOME"]) / "applications" / "horsehuman-gui.desktop"
    for command in ([env / "bin" / "horsehuman-gui"],
                    [env / "bin" / "python", "-m", "horsehuman_gui"]):
        _run([*command, "--install-launcher"], cwd=tmp_path, env=environ)
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        parser.read(desktop, encoding="utf-8")
        argv = shlex.split(parser["Desktop Entry"]["Exec"])
        assert Path(argv[0]) == (env / "bin" / "horsehuman-gui").resolve(), command
        assert argv[1:] == ["%F"]
    icon = Path(environ["XDG_DATA_HOME"]) / "icons/hicolor/256x256/apps/horsehuman-gui.png"
    assert icon.read_bytes() == (SOURCE / "resources" / "horsehuman-gui.png").read_bytes()
