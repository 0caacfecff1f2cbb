"""The puller: spreadsheets into dataset raw (the logic behind ``pull_raw.py``).

Modules by role:

- ``sources``: what a source is (workbook, .csv/.tsv file, folder, URL, ``NAME=SOURCE``).
- ``readers``: reading a source into sheets, workbooks by content (``xlsx``: the
  bounded, formula-aware .xlsx reader); ``budget``: the max_payload bound.
- ``download``: http(s) CSV exports.
- ``tsv``: sheets as raw TSV files (escaping lives in ``formats.raw``).
- ``pull``: the one pull path, read -> PUT -> log, one sheet merged or a whole dataset.
- ``service``: the mesh component, for one pull and for ``--watch``.

It imports only ``mesh`` and ``formats``.
"""

from puller.budget import Budget
from puller.download import Download, download
from puller.pull import Batch, pull, put_fields, read_batch, summary
from puller.readers import (
    Sheet,
    decode_text,
    parse_text_table,
    read_folder,
    read_sheets,
    read_text_file,
    read_workbook,
)
from puller.service import DEFAULT_INTERVAL, Puller, probe
from puller.sources import PROG, Source, SourceError, resolve_source
from puller.tsv import format_cell, raw_files, sheet_tsv
from puller.tsv import store_name as sheet_file_name

__all__ = [
    "DEFAULT_INTERVAL",
    "PROG",
    "Batch",
    "Budget",
    "Download",
    "Puller",
    "Sheet",
    "Source",
    "SourceError",
    "decode_text",
    "download",
    "format_cell",
    "parse_text_table",
    "probe",
    "pull",
    "put_fields",
    "raw_files",
    "read_batch",
    "read_folder",
    "read_sheets",
    "read_text_file",
    "read_workbook",
    "resolve_source",
    "sheet_file_name",
    "sheet_tsv",
    "summary",
]
