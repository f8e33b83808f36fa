"""``python -m benchmarks.suite --suite default --json`` or ``--tasks FILE``."""
from __future__ import annotations

import argparse

from benchmarks.suite.run import add_arguments, run_arguments


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suite", description=__doc__)
    add_arguments(parser)
    run_arguments(parser.parse_args())


if __name__ == "__main__":
    main()
