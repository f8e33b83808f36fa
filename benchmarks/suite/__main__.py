"""``python -m benchmarks.suite --suite default --json`` or ``--tasks FILE``."""
from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.suite.generate import SUITES
from benchmarks.suite.run import run_suite, run_task_file


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suite", description=__doc__)
    parser.add_argument("--suite", choices=sorted(SUITES), default="default")
    parser.add_argument("--tasks", type=Path, help="run this task file (KARMA's format) instead of a suite")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the suite's)")
    parser.add_argument("--out", type=Path, default=Path("benchmark_output"), help="folder for tables and plots")
    parser.add_argument("--workers", type=int, help="worker processes (default: up to 2)")
    parser.add_argument("--nodes", action="store_true", help="through the real ROS 2 nodes")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if args.tasks:
        run_task_file(args.tasks, args.seeds or (0,), args.json, args.out, workers=args.workers, nodes=args.nodes)
    else:
        run_suite(args.suite, args.seeds, args.json, args.out, workers=args.workers, nodes=args.nodes)


if __name__ == "__main__":
    main()
