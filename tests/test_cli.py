"""The `embodied-memory` command: help, meaningful exit codes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memory_nodes.tools import cli


def test_help_lists_every_subcommand_and_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("bench", "check", "demo", "query", "sim", "up", "bag"):
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


@pytest.mark.ros
def test_up_runs_the_nodes_from_the_yaml_with_overrides_and_saves_on_the_way_out(tmp_path, child_env):
    """`up` brings the long-term node up with a --set override, and stops cleanly after --duration."""
    memory = tmp_path / "mem"
    result = subprocess.run(
        [sys.executable, "-m", "memory_nodes.tools.cli", "up", "--nodes", "long_term_memory",
         "--set", f"long_term_memory.memory_dir={memory}", "--set", "long_term_memory.text_index=none",
         "--duration", "1.5"],
        env=child_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"memory 'default' in {memory}" in result.stderr  # the override reached the node


@pytest.mark.ros
def test_up_saves_memory_on_a_clean_shutdown(tmp_path, child_env):
    """The simulator feeds memory for a few seconds; stopping saves it even with periodic saves far off."""
    memory = tmp_path / "mem"
    result = subprocess.run(
        [sys.executable, "-m", "memory_nodes.tools.cli", "up", "--sim",
         "--set", f"long_term_memory.memory_dir={memory}",
         "--set", "long_term_memory.snapshot_interval_s=3600", "--set", "long_term_memory.text_index=none",
         "--duration", "6"],
        env=child_env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    from scene_graph.store import MemoryStore
    assert len(MemoryStore(memory).load("default").graph) > 0


@pytest.mark.parametrize("bad, message", [
    (["--set", "no_dot=1"], "NODE.PARAM=VALUE"),
    (["--nodes", "no_such_node"], "unknown node"),
    (["--params", "/nonexistent.yaml"], "cannot read parameter file"),
    (["--nodes", "long_term_memory", "--set", "long_term_memory.pose_source=gps",
      "--set", "long_term_memory.text_index=none"], "pose_source must be one of"),
    (["--nodes", "long_term_memory", "--set", "long_term_memory.fusion_stride=99",
      "--set", "long_term_memory.text_index=none"], "fusion_stride"),
])
def test_up_refuses_bad_arguments_with_one_line(bad, message, capsys):
    assert cli.main(["up", *bad, "--duration", "0"]) == cli.EXIT_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_benchmark_hands_its_arguments_to_the_suite_runner(tmp_path, capsys):
    """`benchmark` declares no options of its own: they (and its --help) come from benchmarks.suite.run."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["benchmark", "--help"])
    assert exited.value.code == 0
    assert "--tasks" in capsys.readouterr().out
    assert cli.main(["benchmark", "--tasks", str(tmp_path / "none.json"), "--json"]) == cli.EXIT_FAILED
    assert "none.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main(["benchmark", "--no-such-option"])
    assert exited.value.code == cli.EXIT_USAGE


def test_other_subcommands_refuse_unknown_arguments():
    with pytest.raises(SystemExit) as exited:
        cli.main(["check", "--no-such-option"])
    assert exited.value.code == cli.EXIT_USAGE
