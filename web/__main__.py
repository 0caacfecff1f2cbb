"""Run the web: ``python -m web --config config.ini``."""

import sys

from mesh.cli import run_service
from web.service import WebService

if __name__ == "__main__":
    sys.exit(run_service(WebService))
