"""The wheel is complete on its own: built from this checkout, installed into a clean venv, its entry
points run with no repository on the path.

What a user who runs `pip install copytrader` gets must not depend on files that only a checkout has
(a `.tcss` style sheet, the simulator's example config, a module left out of `packages.find`). The
clean venv gets the wheel alone; the wheel's dependencies are borrowed from the test venv through a
`.pth` line (no network, no index), and nothing of the repository is importable there: every import is
checked to come from the clean venv's own site-packages.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("protocol", "actors", "keystore", "tui", "simulator")


def _run(cmd: list[str], *, cwd: pathlib.Path, env: dict[str, str] | None = None, timeout: float = 180) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("wheel")
    # built from a copy of the sources, so no build/ or egg-info is left in (or reused from) the checkout
    src = out / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv*",
            "build",
            "*.egg-info",
            "__pycache__",
            ".hypothesis",
            ".pytest_cache",
            ".mypy_cache",
            ".ruff_cache",
            "logs",
            "run",
            "var",
            "docs",
            "tests",
        ),
    )
    # the locked setuptools of the test venv builds it (no build isolation: no download)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(src)], cwd=out)
    (built,) = out.glob("copytrader-*.whl")
    return built


def test_wheel_holds_every_package_and_its_data_files(wheel: pathlib.Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names, f"package {package} missing from the wheel"
    for data in ("tui/app.tcss", "simulator/example.toml"):
        assert data in names, f"{data} missing from the wheel (package-data)"
    assert not any(n.startswith(("tests/", "docs/", "scripts/", "bench/")) for n in names), "the wheel ships test, benchmark or dev files"


def test_entry_points_run_from_a_clean_venv(wheel: pathlib.Path, tmp_path: pathlib.Path) -> None:
    venv = tmp_path / "clean"
    # nothing of the checkout on the path, for pip too: with PYTHONPATH at the checkout (scripts/test
    # sets it) pip would find its copytrader.egg-info, take copytrader as installed, and skip the wheel
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=clean)
    py = venv / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        cwd=tmp_path,
        env=clean,
    )
    site = pathlib.Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path).strip())
    # the dependencies (msgspec, zmq, textual, ...) from the test venv, after the clean venv's own
    # site-packages; a directory named in a .pth is not itself scanned for .pth files, so the test
    # venv's editable install of this checkout does not come along
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = dict(clean)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    where = _run(
        [str(py), "-c", f"import importlib, sys\nfor n in {PACKAGES!r}: print(importlib.import_module(n).__file__)"], cwd=tmp_path, env=env
    )
    for line in where.split():
        assert line.startswith(str(site)), f"imported from outside the clean venv: {line}"

    usage = _run([str(venv / "bin" / "copytrader"), "--help"], cwd=tmp_path, env=env)
    assert "copytrader" in usage and "status" in usage
    usage = _run([str(py), "-m", "simulator", "--help"], cwd=tmp_path, env=env)
    assert "--config" in usage
    # the simulator's shipped example config is found and parsed from the installed package
    _run(
        [
            str(py),
            "-c",
            "import pathlib, simulator, tomllib\n"
            "p = pathlib.Path(simulator.__file__).with_name('example.toml')\n"
            "assert tomllib.loads(p.read_text())",
        ],
        cwd=tmp_path,
        env=env,
    )
