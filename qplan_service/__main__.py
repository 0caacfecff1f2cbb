"""``python -m qplan_service --config config.ini``: run the planning stage and what-if server."""

from mesh.cli import run_service
from qplan_service.service import QplanService

raise SystemExit(run_service(QplanService))
