"""The `embodied-memory` command: help, meaningful exit codes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memory_nodes import cli


def test_help_lists_every_subcommand_and_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("bench", "check", "demo", "query", "sim"):
        assert command in out
    assert "exit codes" in out


def test_no_subcommand_is_a_usage_error(capsys):
    assert cli.main([]) == cli.EXIT_USAGE


def test_unknown_benchmark_is_a_usage_error(capsys):
    assert cli.main(["bench", "no-such-benchmark"]) == cli.EXIT_USAGE
    assert "choose from" in capsys.readouterr().err


def test_bad_option_exits_with_usage_code():
    with pytest.raises(SystemExit) as exited:
        cli.main(["bench", "--no-such-option"])
    assert exited.value.code == cli.EXIT_USAGE


def test_check_reports_a_complete_installation(capsys):
    assert cli.main(["check"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "rclpy" in out and "MISSING" not in out.split("chromadb")[0]


def test_console_script_is_installed(child_env):
    # Beside the interpreter in a virtualenv; on PATH in a sourced colcon workspace.
    search = os.pathsep.join([str(Path(sys.executable).parent), child_env.get("PATH", "")])
    exe = shutil.which("embodied-memory", path=search)
    assert exe, "the embodied-memory console script is not on PATH"
    done = subprocess.run([exe, "--help"], env=child_env, capture_output=True, text=True)
    assert done.returncode == 0 and "bench" in done.stdout
