"""``python -m snapshot_service --config config.ini``: run the snapshot service."""

from mesh.cli import run_service
from snapshot_service.server import SnapshotService

if __name__ == "__main__":
    raise SystemExit(run_service(SnapshotService))
