"""The ``embodied-memory bag record|play`` subcommands; rclpy and rosbags load only when one runs."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, Callable

EXIT_OK, EXIT_FAILED, EXIT_ENVIRONMENT, EXIT_INTERRUPTED = 0, 1, 3, 130


def _run(job: Callable[[Any, threading.Event], Any], interrupted: int = EXIT_INTERRUPTED) -> tuple[int, Any]:
    """Run job(memory_nodes.tools.bag, stop) with Ctrl-C setting stop; return (exit code, job's result or None).

    ``interrupted`` is the exit code after Ctrl-C: 0 for record, where Ctrl-C is the normal way to
    stop (as with ``ros2 bag record``), 130 for play, where it cut the playback short."""
    try:
        from memory_nodes.tools import bag
    except ImportError as exc:
        print(f"embodied-memory: bag needs rclpy and rosbags ({exc}); run scripts/setup.sh", file=sys.stderr)
        return EXIT_ENVIRONMENT, None
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())  # never cut a bag mid-write
    try:
        result = job(bag, stop)
    except bag.BagError as exc:
        print(f"embodied-memory: {exc}", file=sys.stderr)
        return EXIT_FAILED, None
    finally:
        signal.signal(signal.SIGINT, previous)
    return (interrupted if stop.is_set() else EXIT_OK), result


def _cmd_record(args: argparse.Namespace) -> int:
    code, summary = _run(lambda bag, stop: bag.record(args.out, topics=args.topics, duration_s=args.duration,
                                                      stop_event=stop), interrupted=EXIT_OK)
    if summary is not None:
        print(f"recorded {summary.messages} messages ({summary.bytes / 1e6:.1f} MB) in {summary.duration_s:.1f} s "
              f"to {summary.folder}")
        for topic, count in summary.counts.items():
            print(f"  {topic}  {summary.types[topic]}  {count}")
        for topic, reason in summary.skipped.items():
            print(f"  {topic}  not recorded: {reason}")
    return code


def _cmd_play(args: argparse.Namespace) -> int:
    code, summary = _run(lambda bag, stop: bag.play(args.bag, rate=args.rate, topics=args.topics, loop=args.loop,
                                                    start_offset=args.start_offset, wait_for_subscribers=args.wait,
                                                    stop_event=stop))
    if summary is not None:
        skipped = f", skipped {', '.join(summary.skipped)}" if summary.skipped else ""
        print(f"played {sum(summary.counts.values())} messages on {len(summary.counts)} topics "
              f"in {summary.duration_s:.1f} s{skipped}")
    return code


def register(subparsers: Any) -> None:
    """Add ``bag record`` and ``bag play`` to the ``embodied-memory`` command's subparsers."""
    bag = subparsers.add_parser("bag", help="record topics to a rosbag2 (MCAP) folder or play one back")
    sub = bag.add_subparsers(dest="bag_command", metavar="BAG_COMMAND", required=True)
    rec = sub.add_parser("record", help="record topics until Ctrl-C or --duration",
                         description="Record topics into a new rosbag2 folder (MCAP storage) that ros2 bag can read.")
    rec.add_argument("out", metavar="OUT", help="folder to create for the bag (must not exist)")
    rec.add_argument("--topics", nargs="+", metavar="T", help="topics to record (default: every topic, as they appear)")
    rec.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: at Ctrl-C)")
    rec.set_defaults(func=_cmd_record)
    ply = sub.add_parser("play", help="publish a bag's messages with their recorded timing",
                         description="Play a rosbag2 folder (MCAP or sqlite3) into running nodes.")
    ply.add_argument("bag", metavar="BAG", help="the bag's folder")
    ply.add_argument("--rate", type=float, default=1.0, help="speed factor (default 1; 0 = as fast as possible)")
    ply.add_argument("--topics", nargs="+", metavar="T", help="topics to play (default: all)")
    ply.add_argument("--loop", action="store_true", help="play again from the start until Ctrl-C")
    ply.add_argument("--start-offset", type=float, default=0.0, metavar="S", help="skip the first S seconds")
    ply.add_argument("--wait", type=float, default=2.0, metavar="S",
                     help="wait up to S seconds for subscribers before playing (default 2)")
    ply.set_defaults(func=_cmd_play)
