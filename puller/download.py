"""Downloading a CSV export over http(s), with a timeout and readable errors."""

from __future__ import annotations

import email.message
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from puller.sources import PROG, Source, SourceError, redact

__all__ = ["Download", "download", "url_sheet"]


@dataclass
class Download:
    """The bytes of one HTTP answer and what its headers say about them."""

    data: bytes
    filename: str | None = None
    content_type: str = ""


def download(url: str, timeout: float) -> Download:
    """GET ``url``; raises SourceError on HTTP errors, timeouts and HTML pages."""
    # Only http(s) URLs get here (puller.sources): no file: or custom schemes.
    request = urllib.request.Request(url, headers={"User-Agent": f"{PROG} (QPlan mesh)"})  # noqa: S310
    shown = redact(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            data = answer.read()
            headers: email.message.Message = answer.headers
    except urllib.error.HTTPError as exc:
        raise SourceError(f"{shown}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        raise SourceError(f"{shown}: cannot fetch: {reason}") from None
    except TimeoutError:
        raise SourceError(f"{shown}: no answer within {timeout:g} s") from None
    except (HTTPException, OSError, ValueError) as exc:
        raise SourceError(f"{shown}: cannot fetch: {exc}") from None
    content_type = headers.get_content_type()
    if content_type in ("text/html", "application/xhtml+xml"):
        # A sign-in or error page: the sheet is private or the link is not an export link.
        raise SourceError(f"{shown}: the answer is an HTML page, not a CSV export")
    return Download(data, headers.get_filename(), content_type)


def url_sheet(source: Source, got: Download) -> tuple[str, str]:
    """The sheet name and the delimiter of a downloaded table."""
    segment = urllib.parse.unquote(urllib.parse.urlsplit(source.location).path.rsplit("/", 1)[-1])
    for candidate in (got.filename, segment):
        if candidate and Path(candidate).stem.strip():
            file_name = Path(candidate)
            break
    else:
        file_name = Path("sheet")
    tab = file_name.suffix.lower() == ".tsv" or got.content_type == "text/tab-separated-values"
    return source.sheet or file_name.stem, "\t" if tab else ","
