"""A service that starts a grandchild which ignores SIGTERM, and leaves it behind on exit."""

import os
import signal
import subprocess
import sys

from fake import record_pid, sleep_forever

GRANDCHILD = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('grandchild up', flush=True)\n"
    "while True: time.sleep(0.1)\n"
)


def _stop(signum, frame):
    os._exit(0)  # without waiting for, or stopping, the grandchild


signal.signal(signal.SIGTERM, _stop)
record_pid("forker")
grandchild = subprocess.Popen([sys.executable, "-c", GRANDCHILD])
record_pid("grandchild", grandchild.pid)
print(f"forker up, pid {os.getpid()}, grandchild {grandchild.pid}", flush=True)
sleep_forever()
