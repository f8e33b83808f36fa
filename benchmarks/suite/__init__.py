"""KARMA-style task benchmark: generated task suites, memory ablations, metrics, tables and plots."""
from benchmarks.suite.run import run_suite, run_task_file

__all__ = ["run_suite", "run_task_file"]
