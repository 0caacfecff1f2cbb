"""``python -m forecast_service --config config.ini``: run the forecast stage."""

from forecast_service.service import ForecastService
from mesh.cli import run_service

raise SystemExit(run_service(ForecastService))
