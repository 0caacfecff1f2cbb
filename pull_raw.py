"""pull_raw: read spreadsheets and PUT their sheets into the store as dataset ``raw``.

``python pull_raw.py [SOURCE ...]`` where a SOURCE is a workbook (.xlsx, .xlsm,
.xls, .ods), a .csv or .tsv file, a folder of .csv/.tsv files, or an http(s)
URL of a CSV export, optionally as ``NAME=SOURCE`` to name the sheet it fills.
With no SOURCE the ``[pull_raw] sources`` of config.ini are pulled. A workbook
or a folder replaces the whole raw dataset; a single sheet replaces that sheet
and keeps the others (``--replace``: replace everything). All sources of one
call are one raw commit, whose SHA is the last line printed. ``--watch`` keeps
running as a mesh component and pulls again whenever a source changes.

The logic lives in the ``puller`` package; this script only reads its
arguments. ``read_sheets``, ``raw_files``, ``resolve_source`` and the other
names of ``puller`` stay importable from here.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from mesh.cli import base_parser, load_config, report
from mesh.config import Config
from mesh.errors import QPlanError
from mesh.logs import logging_from_config
from puller import *  # noqa: F403 - the names other code imports from pull_raw
from puller import DEFAULT_INTERVAL, PROG, Puller, Source, SourceError, resolve_source


def _parser() -> argparse.ArgumentParser:
    parser = base_parser(PROG, "Read spreadsheets and put their sheets into the store as raw.")
    parser.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="a .xlsx/.xlsm/.xls/.ods workbook, a .csv/.tsv file, a folder or a URL, "
        "optionally NAME=SOURCE (default: [pull_raw] sources of config.ini)",
    )
    parser.add_argument(
        "--sheet", metavar="NAME", help="pull only this sheet (or name a CSV/TSV file's sheet)"
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="the pulled sheets replace the whole raw dataset (default for workbooks/folders)",
    )
    parser.add_argument(
        "--watch", action="store_true", help="keep running; pull again when a source changes"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"with --watch: seconds between looks at the sources (default {DEFAULT_INTERVAL:g})",
    )
    return parser


def _sources(args: argparse.Namespace, config: Config) -> list[Source]:
    if args.sources:
        texts, base = args.sources, None
    else:
        texts, base = config.names("pull_raw", "sources"), config.root
        if not texts:
            raise SourceError(
                "no source given and [pull_raw] sources in config.ini is empty; "
                "name a workbook, a .csv/.tsv file, a folder or a URL"
            )
    if args.sheet is not None and len(texts) > 1:
        raise SourceError("--sheet names the sheet of one source; with several write NAME=SOURCE")
    return [resolve_source(text, args.sheet, base) for text in texts]


def _setup_logging(config: Config, console: bool) -> None:
    logging_from_config(PROG, config)
    if console:
        return
    # A single pull's errors are one line on stderr; its log (retries included) goes to the file.
    root = logging.getLogger()
    for handler in list(root.handlers):
        if not isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if not args.interval > 0:
            raise QPlanError(f"--interval {args.interval:g}: must be a number of seconds > 0")
        config = load_config(args)
        sources = _sources(args, config)
        _setup_logging(config, console=args.watch)
        puller = Puller(config, sources, replace=args.replace, interval=args.interval)
        if args.watch:
            return asyncio.run(puller.run())
        return asyncio.run(puller.once())
    except QPlanError as exc:
        return report(PROG, exc)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
