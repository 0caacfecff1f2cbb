"""``python -m condition_service --config config.ini``: run the conditioning stage."""

from condition_service.service import ConditionService
from mesh.cli import run_service

raise SystemExit(run_service(ConditionService))
