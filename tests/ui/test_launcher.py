"""The desktop launcher installs into a temporary HOME / XDG_DATA_HOME, valid and reversible."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from horsehuman_gui.launcher import (LauncherError, desktop_entry, install_launcher,
                                     launcher_files, uninstall_launcher)
from horsehuman_gui.ui.common.resources import ICON_PNG, ICON_SVG, resource_path


#: The freedesktop.org menu spec's main categories.
MAIN_CATEGORIES = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics",
                   "Network", "Office", "Science", "Settings", "System", "Utility"}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def fake_executable(tmp_path) -> Path:
    exe = tmp_path / "bin dir" / "horsehuman-gui"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def _parse_desktop(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_install_writes_a_valid_desktop_entry_into_home(home, fake_executable):
    files = install_launcher(command=[str(fake_executable)])

    assert files.desktop == home / ".local/share/applications/horsehuman-gui.desktop"
    entry = _parse_desktop(files.desktop)
    for key in ("Type", "Name", "Comment", "Exec", "Icon", "Terminal", "Categories"):
        assert entry.get(key), key
    assert entry["Type"] == "Application"
    assert entry["Terminal"] == "false"
    assert entry["Icon"] == "horsehuman-gui"
    categories = entry["Categories"].rstrip(";").split(";")
    assert len(set(categories) & MAIN_CATEGORIES) == 1, categories  # else listed in each menu
    assert "MimeType" not in entry  # inode/directory made it a handler for every folder
    argv = shlex.split(entry["Exec"])
    assert argv[-1] == "%F"
    assert Path(argv[0]) == fake_executable.resolve()  # quoted: the folder name has a space
    assert os.access(argv[0], os.X_OK)


def test_install_copies_both_icons_byte_identical(home, fake_executable):
    files = install_launcher(command=[str(fake_executable)])

    assert files.icon_png == home / ".local/share/icons/hicolor/256x256/apps/horsehuman-gui.png"
    assert files.icon_png.read_bytes() == resource_path(ICON_PNG).read_bytes()
    assert files.icon_svg.read_bytes() == resource_path(ICON_SVG).read_bytes()


def test_xdg_data_home_is_respected(tmp_path, monkeypatch, fake_executable):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    files = install_launcher(command=[str(fake_executable)])
    assert files.desktop == tmp_path / "xdg/applications/horsehuman-gui.desktop"
    assert files.desktop.is_file()


def test_reinstall_replaces_its_own_files(home, fake_executable, tmp_path):
    files = install_launcher(command=["/old/place/horsehuman-gui"])
    install_launcher(command=[str(fake_executable)])
    assert str(fake_executable.resolve()) in files.desktop.read_text()
    assert "/old/place" not in files.desktop.read_text()


def test_someone_elses_file_is_not_overwritten_without_force(home, fake_executable):
    target = launcher_files().desktop
    target.parent.mkdir(parents=True)
    target.write_text("[Desktop Entry]\nName=Somebody else's\n")

    with pytest.raises(LauncherError, match="did not write"):
        install_launcher(command=[str(fake_executable)])
    assert "Somebody else's" in target.read_text()
    assert not launcher_files().icon_png.exists()  # nothing half-installed

    install_launcher(command=[str(fake_executable)], force=True)
    assert "Somebody else's" not in target.read_text()


def test_uninstall_removes_what_install_wrote(home, fake_executable):
    files = install_launcher(command=[str(fake_executable)])
    removed = uninstall_launcher()
    assert set(removed) == set(files.all())
    assert not any(p.exists() for p in files.all())
    assert uninstall_launcher() == []


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils")
def test_desktop_file_validates_without_hints(home, fake_executable):
    files = install_launcher(command=[str(fake_executable)])
    done = subprocess.run(["desktop-file-validate", str(files.desktop)], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout


def test_uninstall_leaves_no_empty_folders_and_no_empty_mime_cache(home, fake_executable):
    files = install_launcher(command=[str(fake_executable)])
    cache = files.desktop.parent / "mimeinfo.cache"  # as an earlier version's install left it
    cache.write_text("[MIME Cache]\ninode/directory=horsehuman-gui.desktop;\n")
    uninstall_launcher()
    assert not cache.exists()
    assert not (home / ".local/share/icons").exists()


def test_mime_cache_keeps_other_applications(home, fake_executable):
    files = install_launcher(command=[str(fake_executable)])
    cache = files.desktop.parent / "mimeinfo.cache"
    cache.write_text("[MIME Cache]\ninode/directory=horsehuman-gui.desktop;files.desktop;\n"
                     "text/plain=editor.desktop;\n")
    install_launcher(command=[str(fake_executable)])  # a reinstall cleans up too
    assert cache.read_text() == ("[MIME Cache]\ninode/directory=files.desktop;\n"
                                 "text/plain=editor.desktop;\n")
    other = files.icon_png.parent / "other-app.png"
    other.write_bytes(b"theirs")
    uninstall_launcher()
    assert other.read_bytes() == b"theirs" and "editor.desktop" in cache.read_text()


def test_uninstall_leaves_foreign_files(home):
    files = launcher_files()
    files.icon_png.parent.mkdir(parents=True)
    files.icon_png.write_bytes(b"not our icon")
    with pytest.raises(LauncherError, match="Left alone"):
        uninstall_launcher()
    assert files.icon_png.read_bytes() == b"not our icon"


def test_exec_falls_back_to_python_module(home):
    entry = desktop_entry([sys.executable, "-m", "horsehuman_gui"])
    line = next(l for l in entry.splitlines() if l.startswith("Exec="))
    assert shlex.split(line[len("Exec="):]) == [sys.executable, "-m", "horsehuman_gui", "%F"]


def test_command_line_install_and_uninstall(home, tmp_path):
    env = {**os.environ, "HOME": str(home)}
    env.pop("XDG_DATA_HOME", None)
    install = subprocess.run([sys.executable, "-m", "horsehuman_gui", "--install-launcher"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert install.returncode == 0, install.stderr
    desktop = home / ".local/share/applications/horsehuman-gui.desktop"
    exec_argv = shlex.split(_parse_desktop(desktop)["Exec"])
    assert Path(exec_argv[0]).is_file() and os.access(exec_argv[0], os.X_OK)
    assert str(desktop) in install.stdout

    uninstall = subprocess.run([sys.executable, "-m", "horsehuman_gui", "--uninstall-launcher"],
                               env=env, capture_output=True, text=True, timeout=60)
    assert uninstall.returncode == 0, uninstall.stderr
    assert not desktop.exists()


def test_resources_are_found_in_an_installed_wheel_layout(tmp_path):
    """A wheel installs resources/ as the data-only package horsehuman_gui.resources."""

    import horsehuman_gui

    site = tmp_path / "site"
    shutil.copytree(Path(horsehuman_gui.__file__).parent, site / "horsehuman_gui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(resource_path(ICON_PNG).parent, site / "horsehuman_gui" / "resources")
    code = "from horsehuman_gui.ui.common.resources import resources_dir; print(resources_dir())"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == site / "horsehuman_gui" / "resources"


def test_launcher_does_not_start_qt():
    code = ("import sys, horsehuman_gui.launcher, horsehuman_gui.app; "
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'tensorflow'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _environment(tmp_path, name: str, with_executable: bool) -> Path:
    """tmp_path/name/bin/python (a link to this Python, as in a venv), and horsehuman-gui."""
    bin_dir = tmp_path / name / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    if with_executable:
        exe = bin_dir / "horsehuman-gui"
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    return bin_dir


def test_the_command_is_this_environments_not_the_first_on_path(tmp_path, monkeypatch):
    from horsehuman_gui import launcher

    mine = _environment(tmp_path, "pipx-venv", with_executable=True)
    clone = _environment(tmp_path, "clone-venv", with_executable=True)
    monkeypatch.setenv("PATH", str(clone))
    monkeypatch.setattr(sys, "executable", str(mine / "python"))
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/horsehuman_gui/__main__.py"])
    assert launcher.find_command() == [str((mine / "horsehuman-gui").resolve())]


def test_without_an_executable_the_environments_python_runs_the_module(tmp_path, monkeypatch):
    from horsehuman_gui import launcher

    mine = _environment(tmp_path, "venv", with_executable=False)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.setattr(sys, "executable", str(mine / "python"))
    monkeypatch.setattr(sys, "argv", ["-m"])
    # the link itself: the interpreter it points at does not see the environment's packages
    assert launcher.find_command() == [str(mine / "python"), "-m", "horsehuman_gui"]
