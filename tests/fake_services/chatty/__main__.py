"""A service that prints a partial line, a CRLF line and a very long line, then waits."""

import os
import signal
import sys

from fake import record_pid, sleep_forever

signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
record_pid("chatty")
out = sys.stdout.buffer
out.write(b"first part, ")
out.flush()
out.write(b"second part\r\n")
out.write(b"x" * 70000 + b"\n")
out.write(f"chatty done, pid {os.getpid()}\n".encode())
out.flush()
sleep_forever()
