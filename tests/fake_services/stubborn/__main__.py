"""A service that ignores SIGTERM: only SIGKILL ends it."""

import os
import signal

from fake import record_pid, sleep_forever

signal.signal(signal.SIGTERM, signal.SIG_IGN)
record_pid("stubborn")
print(f"stubborn up, pid {os.getpid()}; SIGTERM will not stop me", flush=True)
sleep_forever()
