"""The supervisor behind ``run_all.py``: start every QPlan mesh service, keep it running.

``run_all.py [--config PATH] [--set SECTION.KEY=VALUE ...] [--print-supervisord]``
``run_all.py restart NAME|all [--config PATH]``

Modules: ``settings`` (the ``[run_all]`` section and the command lines), ``policy`` (when to
restart), ``relay`` (children's output, the failing banner), ``children`` (processes that die
with run_all), ``export`` (the supervisord equivalent), ``runner`` (the supervisor itself).

Each package named in ``[run_all] services`` runs as ``python -m <package>
--config <config> [--set ...]`` from the project folder, in its own process
group, with PR_SET_PDEATHSIG so that it gets SIGTERM even if run_all is
SIGKILLed. Its output (stdout and stderr merged) is relayed line by line to
run_all's stdout, prefixed with the service name.

A service that exits is restarted after a back-off that starts at
``backoff_initial`` seconds and doubles up to ``backoff_max``; a service that
stayed up ``failure_window`` seconds starts over from ``backoff_initial``.
After ``give_up_after`` exits within ``failure_window`` seconds it is
*failing*: run_all prints a banner on stderr, logs an error at every exit,
shows it on the dashboard, and keeps restarting it every ``backoff_max``
seconds — it never gives up on a service for good. ``run_all.py restart
NAME`` (or ``all``) resets a service's back-off and restarts it at once: it
writes the names to ``<log_dir>/run_all.restart`` and sends SIGUSR1 to the
pid in ``<log_dir>/run_all.pid``.

SIGINT or SIGTERM: SIGTERM to every process group, ``grace_period`` seconds to
exit, then SIGKILL to what is left (a second Ctrl-C skips the wait).

The heartbeat's ``detail`` (the web dashboard reads it)::

    {"children": {<name>: {"state": "starting" | "running" | "backoff" | "failing" | "stopped",
                           "pid": int | null, "restarts": int, "last_exit": int | null,
                           "next_start_in": float | null, "started_at": epoch | null}}}

``last_exit`` is the exit code, negative for a signal (-9: SIGKILL); ``pid``
and ``started_at`` belong to the process alive now; ``next_start_in`` is set
only in ``backoff`` and ``failing``.
"""

from supervision.export import supervisord_config
from supervision.policy import RestartPolicy
from supervision.relay import LineSplitter, failing_banner, prefix
from supervision.runner import RunAll, request_restart
from supervision.settings import (
    Settings,
    pull_command,
    read_settings,
    service_command,
    where_lines,
)

__all__ = [
    "RunAll",
    "Settings",
    "RestartPolicy",
    "LineSplitter",
    "read_settings",
    "where_lines",
    "service_command",
    "pull_command",
    "prefix",
    "failing_banner",
    "supervisord_config",
    "request_restart",
]
