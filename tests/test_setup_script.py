"""scripts/setup.sh refuses a bad machine with one clear sentence, not a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETUP = REPO / "scripts" / "setup.sh"


def _run(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SETUP)], env=env, capture_output=True, text=True, timeout=60)


def _assert_one_clear_failure(done: subprocess.CompletedProcess, words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    failure_lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(failure_lines) == 1, done.stderr
    assert words in failure_lines[0]


def test_unsupported_python_version_is_refused(tmp_path):
    fake = tmp_path / "python3.9"
    # Answers the version question like Python 3.9 would and fails everything else.
    fake.write_text('#!/bin/sh\ncase "$2" in *print*) echo 3.9 ;; *) exit 1 ;; esac\n')
    fake.chmod(0o755)
    done = _run({**os.environ, "PYTHON": str(fake), "EMBODIED_MEMORY_USE_WHEELS": "1"})
    _assert_one_clear_failure(done, "needs Python 3.10, 3.11 or 3.12")


def test_missing_compiler_is_refused(tmp_path):
    # A PATH with every usual tool except the C and C++ compilers.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    compilers = {"cc", "c++", "gcc", "g++", "clang", "clang++"} | {f"{c}-12" for c in ("gcc", "g++")}
    for folder in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for tool in Path(folder).glob("*"):
            name = tool.name
            if name in compilers or "gcc" in name or "g++" in name or (bin_dir / name).exists():
                continue
            (bin_dir / name).symlink_to(tool)
    env = {**os.environ, "PATH": str(bin_dir), "PYTHON": sys.executable, "EMBODIED_MEMORY_USE_WHEELS": "1"}
    done = _run(env)
    _assert_one_clear_failure(done, "no C/C++ compiler")
