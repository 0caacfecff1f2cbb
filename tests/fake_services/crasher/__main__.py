"""A service that fails at once, every time."""

import os
import sys

from fake import record_pid

record_pid("crasher")
print(f"crasher: cannot work today, pid {os.getpid()}", file=sys.stderr, flush=True)
sys.exit(1)
