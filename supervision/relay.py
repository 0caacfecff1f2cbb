"""Children's output relayed line by line, and the banner of a service that keeps failing."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from supervision.settings import MAX_LINE

__all__ = ["LineSplitter", "prefix", "failing_banner"]


class LineSplitter:
    """Cuts a byte stream into lines; a line longer than ``MAX_LINE`` comes out in pieces."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines in what has arrived so far, without their line ends."""
        *lines, self._pending = (self._pending + data).split(b"\n")
        while len(self._pending) > self.max_line:
            lines.append(self._pending[: self.max_line])
            self._pending = self._pending[self.max_line :]
        return [piece for line in lines for piece in self._cut(line.removesuffix(b"\r"))]

    def _cut(self, line: bytes) -> list[bytes]:
        if len(line) <= self.max_line:
            return [line]
        return [line[i : i + self.max_line] for i in range(0, len(line), self.max_line)]

    def finish(self) -> list[bytes]:
        """What is left at the end of the stream (a last line without a line end)."""
        rest, self._pending = self._pending, b""
        return [rest.removesuffix(b"\r")] if rest else []


def prefix(name: str, width: int) -> bytes:
    """The aligned prefix of a relayed line: ``snapshot_service  | ``."""
    return f"{name:<{width}} | ".encode()


def _collapse(lines: Iterable[str]) -> list[str]:
    # A service that dies the same way each time would fill the banner with one line.
    runs: list[list] = []
    for line in lines:
        if runs and runs[-1][0] == line:
            runs[-1][1] += 1
        else:
            runs.append([line, 1])
    return [line if count == 1 else f"{line}  (x{count})" for line, count in runs]


def failing_banner(
    name: str,
    failures: int,
    window: float,
    retry: float,
    last_exit: int | None,
    log: Path,
    tail: Iterable[str],
) -> str:
    """The multi-line notice printed on stderr when ``name`` starts failing over and over."""
    rule = "!" * 72
    where = str(log) if log.exists() else f"{log} (not written: it died before logging)"
    lines = [
        rule,
        f"run_all: {name} is FAILING: it exited {failures} times within {window:g} s "
        f"(last exit code {last_exit}).",
        f"run_all: it is restarted every {retry:g} s until it stays up; the other services "
        "keep running.",
        f"run_all: its log: {where}",
    ]
    tail = _collapse(tail)
    if tail:
        lines.append("run_all: its last output:")
        lines += [f"    {line}" for line in tail]
    lines += [
        f"run_all: fix the cause; `run_all.py restart {name}` retries at once.",
        rule,
    ]
    return "\n".join(lines) + "\n"
