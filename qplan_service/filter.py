"""The planner as a filter: qplan streams text on stdin, plan JSON on stdout.

    python -m qplan_service.filter [--serial] < streams.txt > plan.json

Text that is not qplan streams v1 gets one line on stderr naming the bad
line, and exit code 2; nothing is written to stdout then.

A big input (``PARALLEL_LINES`` lines or more) is planned on two cores: a forked
child reads the same text and plans every track's view, writing their JSON into
memory both hold, while this process plans All (the biggest view: every item); the views
are independent, so the output is the same bytes. ``--serial`` plans on one
core; so does a system without ``os.fork`` and ``os.memfd_create``, or without orjson.
"""

from __future__ import annotations

import gc
import mmap
import os
import sys
from typing import NoReturn

from formats.streams import StreamsError, parse_streams
from planning.planner import (
    ALL,
    layout,
    orjson,
    plan_frame,
    plan_pieces,
    plan_to_bytes,
    track_view,
    track_view_json,
)

__all__ = ["main", "EXIT_BAD_INPUT", "PARALLEL_LINES"]

EXIT_BAD_INPUT = 2
PARALLEL_LINES = 2000  # below this, forking costs more than the second core saves


def main(argv: list[str] | None = None) -> int:
    """Read streams on stdin, write the plan on stdout; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if any(arg != "--serial" for arg in args):
        print(
            "usage: python -m qplan_service.filter [--serial] < streams > plan.json",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    # A filter lives for one plan and builds no reference cycles: the cyclic
    # collector would only rescan the model's objects again and again.
    gc.disable()
    try:
        text = sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        print(f"qplan filter: input is not UTF-8 (byte {exc.start})", file=sys.stderr)
        return EXIT_BAD_INPUT
    # Both processes read the text themselves: sharing a parsed model across a fork would
    # copy most of its pages again as each side touches the objects' reference counts.
    child = None
    if "--serial" not in args and _worth_a_second_core(text):
        child = _Child.start()
        if child.pid == 0:  # pragma: no cover - the forked child: every track but All
            child.run(text)
    try:
        model = parse_streams(text)
    except StreamsError as exc:
        print(f"qplan filter: bad streams input: {exc}", file=sys.stderr)
        if child is not None:
            child.wait()  # it found the same problem and said nothing
        return EXIT_BAD_INPUT
    lay = layout(model)
    plan = plan_frame(model, lay)
    out = sys.stdout.buffer
    if orjson is None:
        plan["by_track"] = {track: track_view(model, lay, track) for track in plan["tracks"]}
        out.write(plan_to_bytes(plan))
    else:
        views = {ALL: track_view_json(model, lay, ALL)}
        if child is None:
            views.update((track, track_view_json(model, lay, track)) for track in lay.tracks)
        else:
            views.update(child.receive())
        for piece in plan_pieces(plan, views):
            out.write(piece)
    out.write(b"\n")
    out.flush()
    if child is not None:
        child.close()
    return 0


def _worth_a_second_core(text: str) -> bool:
    """A big input (``PARALLEL_LINES`` lines or more), on a system with ``os.fork`` and
    ``os.memfd_create`` (Linux), with orjson."""
    if orjson is None or not hasattr(os, "fork") or not hasattr(os, "memfd_create"):
        return False
    return text.count("\n") >= PARALLEL_LINES


class _Child:
    """The forked process that plans every track but All and hands their JSON back.

    It writes the views one after another into an anonymous in-memory file
    (``os.memfd_create``) that both processes hold, then one line into a pipe: where
    each view is. The parent maps that file and writes the views out from there, as soon
    as the line comes, without copying them or waiting for the child to exit.
    """

    def __init__(self, pid: int, views: int, done: int) -> None:
        self.pid, self.views, self.done = pid, views, done
        self.mapped: mmap.mmap | None = None

    @classmethod
    def start(cls) -> _Child:
        views = os.memfd_create("qplan-views")
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(read_end)
            return cls(0, views, write_end)
        os.close(write_end)
        return cls(pid, views, read_end)

    def run(self, text: str) -> NoReturn:  # pragma: no cover - runs in the child
        """In the child: plan ``text``, write every track's view but All, and exit.

        Bad input ends it quietly: the parent reads the same text and says what is wrong.
        """
        status = 1
        try:
            model = parse_streams(text)
            lay = layout(model)
            where = []
            with open(self.views, "wb") as out:
                for track in lay.tracks:
                    pieces = track_view_json(model, lay, track)
                    where.append((track, sum(out.write(piece) for piece in pieces)))
            os.write(self.done, orjson.dumps(where) + b"\n")
            status = 0
        except StreamsError:
            status = EXIT_BAD_INPUT
        except BaseException:  # noqa: BLE001 - said on stderr; the parent then fails
            import traceback

            traceback.print_exc()
        finally:
            os._exit(status)  # never run the parent's clean-up or flush its buffers

    def receive(self) -> dict[str, list[memoryview]]:
        """In the parent: the child's views by track, each its JSON in the mapped file."""
        with open(self.done, "rb") as done:
            line = done.readline()
        if not line.endswith(b"\n"):  # it ended without writing them
            raise RuntimeError(f"the planner's second process failed (exit code {self.wait()})")
        where = orjson.loads(line)
        size = sum(length for _, length in where)
        if size == 0:
            return {track: [] for track, _ in where}
        self.mapped = mmap.mmap(self.views, size, prot=mmap.PROT_READ)
        whole, views, at = memoryview(self.mapped), {}, 0
        for track, length in where:
            views[track] = [whole[at : at + length]]
            at += length
        return views

    def close(self) -> int:
        """Wait for the child to end (its exit code); the views are unmapped then."""
        code = self.wait()
        os.close(self.views)
        return code

    def wait(self) -> int:
        """Wait for the child to end; its exit code."""
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written: skip the interpreter's teardown, which would free
    # the model and the plan object by object (a tenth of the run for big plans).
    os._exit(code)
