"""The command line every entry point shares: ``--config PATH`` and ``--set SECTION.KEY=VALUE``.

``QPlanError`` is turned into one line on stderr (``prog: message``) and the
error's exit code; nothing else a user sees is a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from mesh.config import Config
from mesh.errors import QPlanError
from mesh.logs import logging_from_config

__all__ = ["base_parser", "load_config", "report", "run_service", "DEFAULT_CONFIG"]

DEFAULT_CONFIG = "config.ini"


def base_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with ``--config`` and ``--set``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        metavar="PATH",
        help=f"the configuration file (default: {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config.ini value (repeatable)",
    )
    return parser


def load_config(args: argparse.Namespace) -> Config:
    """The Config named by ``--config`` with the ``--set`` overrides applied."""
    return Config(args.config, args.set)


def report(prog: str, exc: QPlanError) -> int:
    """Print ``exc`` as one line on stderr and return its exit code."""
    text = " ".join(str(exc).split("\n"))
    print(f"{prog}: error: {text}", file=sys.stderr, flush=True)
    return exc.exit_code


def run_service(service_class: Callable, argv: list[str] | None = None) -> int:
    """Parse the command line, load config.ini, set up logging and run the service."""
    name = service_class.name
    parser = base_parser(name, (service_class.__doc__ or name).strip().splitlines()[0])
    args = parser.parse_args(argv)
    try:
        config = load_config(args)
        logging_from_config(name, config)
        service = service_class(config)
        return asyncio.run(service.run())
    except QPlanError as exc:
        return report(name, exc)
    except KeyboardInterrupt:
        return 130
