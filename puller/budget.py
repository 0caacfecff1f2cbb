"""A bound on how much cell text one pull may hold: ``[snapshot_service] max_payload``.

The store refuses a PUT larger than max_payload, so reading more than that is
wasted memory. A ``Budget`` is charged for every cell read (a character is at
least one byte, so charging characters never refuses what the store would
take) and stops the read with a message naming the file as soon as the total
passes the limit.
"""

from __future__ import annotations

from mesh.config import Config

__all__ = ["Budget", "megabytes"]


def megabytes(size: int) -> str:
    """A byte count as ``12.3 MB`` (``900 bytes`` under a megabyte)."""
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size} bytes"


class Budget:
    """The cell text left before a pull passes ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    @classmethod
    def from_config(cls, config: Config) -> Budget:
        """The budget of ``[snapshot_service] max_payload``."""
        return cls(config.size("snapshot_service", "max_payload"))

    def message(self, where: str, what: str) -> str:
        """The sentence of a refusal."""
        return (
            f"{where}: {what}, more than the store takes in one pull "
            f"([snapshot_service] max_payload = {megabytes(self.limit)}); "
            "split the workbook or raise max_payload"
        )

    def over(self, amount: int) -> bool:
        """Charge ``amount``; True when the total is now over the limit."""
        self.used += amount
        return self.used > self.limit
