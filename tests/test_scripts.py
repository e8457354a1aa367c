"""scripts/: what each entry point installs (run against a stand-in Python that only records
what it is asked to do)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sandbox(tmp_path: Path) -> Path:
    """A copy of scripts/ and pyproject.toml whose .venv/bin/python records its arguments."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/calls\n')
    python.chmod(0o755)
    return tmp_path


def _installs(root: Path) -> list[str]:
    return [c for c in (root / "calls").read_text().splitlines() if "pip install" in c]


def test_serve_installs_the_runtime_dependencies_only(tmp_path: Path) -> None:
    """scripts/serve installs the project without its test extras, once."""
    root = _sandbox(tmp_path)
    for _ in range(2):
        subprocess.run([root / "scripts" / "serve", "--version"], check=True, cwd=root)
    installs = _installs(root)
    assert len(installs) == 1 and installs[0].endswith("-e ."), installs


def test_serve_after_test_installs_nothing_more(tmp_path: Path) -> None:
    """The test install includes the runtime one: scripts/serve after it installs nothing."""
    root = _sandbox(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(["bash", "-c", "source scripts/_setup.sh"], check=True, cwd=root, env=env)
    subprocess.run([root / "scripts" / "serve", "--version"], check=True, cwd=root, env=env)
    installs = _installs(root)
    assert len(installs) == 1 and installs[0].endswith("-e .[test]"), installs
