"""Start and supervise every QPlan mesh service; Ctrl-C stops them all.

``run_all.py [--config PATH] [--set SECTION.KEY=VALUE ...] [--print-supervisord]``
``run_all.py restart NAME|all [--config PATH]``

A thin script over the ``supervision`` package, whose docstring tells what it does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from mesh.cli import base_parser, load_config, report
from mesh.errors import QPlanError
from mesh.logs import logging_from_config
from supervision import *  # noqa: F403 - the names other code imports from run_all
from supervision import RunAll, read_settings, request_restart, supervisord_config


def parser() -> argparse.ArgumentParser:
    """The command line of run_all.py."""
    result = base_parser(
        "run_all", "Start and supervise every QPlan mesh service; Ctrl-C stops them all."
    )
    result.add_argument(
        "--print-supervisord",
        action="store_true",
        help="print an equivalent supervisord configuration and exit",
    )
    return result


def restart_parser() -> argparse.ArgumentParser:
    """The command line of ``run_all.py restart``."""
    result = base_parser(
        "run_all restart",
        "Ask the running run_all to restart services now, their back-off reset.",
    )
    result.add_argument("names", nargs="+", metavar="NAME", help="a service, or all")
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the supervisor (or print its supervisord equivalent); returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["restart"]:
        return restart(argv[1:])
    args = parser().parse_args(argv)
    try:
        config = load_config(args)
        settings = read_settings(config)
        if args.print_supervisord:
            print(supervisord_config(config, settings, args.set), end="", flush=True)
            return 0
        logging_from_config(RunAll.name, config)
        return asyncio.run(RunAll(config, settings, args.set).run())
    except QPlanError as exc:
        return report("run_all", exc)
    except KeyboardInterrupt:
        return 130


def restart(argv: list[str]) -> int:
    """``run_all.py restart NAME...``: 0 when the request reached run_all, 1 when it did not."""
    args = restart_parser().parse_args(argv)
    try:
        settings = read_settings(load_config(args))
        print(request_restart(settings, args.names))
        return 0
    except QPlanError as exc:
        return report("run_all", exc)
    except OSError as exc:
        print(f"run_all restart: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
