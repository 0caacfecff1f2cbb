"""A well-behaved service: records its pid, runs until SIGTERM, then exits 0."""

import os
import signal
import sys

from fake import record_pid, sleep_forever


def _stop(signum, frame):
    print(f"steady stopping, pid {os.getpid()}", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, _stop)
record_pid("steady")
print(f"steady up, pid {os.getpid()}, args {' '.join(sys.argv[1:])}", flush=True)
print("steady says hello on stderr", file=sys.stderr, flush=True)
sleep_forever()
