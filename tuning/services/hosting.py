"""Limits for a hosted demo that a whole class opens at once (``TUNING_HOSTED=1``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from tuning.data.csv_source import CsvLimits
from tuning.engine.limits import SearchLimits


@dataclass(frozen=True)
class HostedLimits:
    """Per-session caps; ``enabled`` is False on a local install, where only the local caps apply."""

    enabled: bool = False
    # max_epochs, max_work and max_playground_epochs are 2.5x, 2.5x and 1.7x what they were before
    # the lean trainer: what its speed-up buys (README, "Measured")
    max_epochs: int = 50_000
    max_rows: int = 5_000
    max_bytes: int = 2_000_000
    n_jobs: int = 1
    max_playground_epochs: int = 500
    max_candidates: int = 500
    max_iter_values: int = 10
    max_weights: int = 200_000
    max_layers: int = 10
    max_fold_rows: int = 50_000  # 10 folds of 5,000 rows
    max_work: float = 2.5e12  # about ten minutes of training on one core

    @classmethod
    def from_env(cls) -> HostedLimits:
        return cls(enabled=os.environ.get("TUNING_HOSTED", "").lower() in ("1", "true", "yes"))

    def search_epochs(self) -> int | None:
        """The epoch cap for one search: ``max_epochs`` when hosted, else None (the engine's own cap)."""
        return self.max_epochs if self.enabled else None

    def search_limits(self) -> SearchLimits:
        """Every cost cap of one search: the hosted ones, or the local ones (``SearchLimits.from_env``)."""
        if not self.enabled:
            return SearchLimits.from_env()
        return SearchLimits(max_candidates=self.max_candidates, max_iter_values=self.max_iter_values,
                            max_weights=self.max_weights, max_layers=self.max_layers,
                            max_fold_rows=self.max_fold_rows, max_epochs=self.max_epochs, max_work=self.max_work,
                            max_n_jobs=self.n_jobs)

    def csv_limits(self, limits: CsvLimits) -> CsvLimits:
        """``limits`` with the hosted size and row caps in place (unchanged on a local install)."""
        return replace(limits, max_bytes=self.max_bytes, max_rows=self.max_rows) if self.enabled else limits

    def describe(self) -> str:
        return (f"Hosted demo limits: searches up to {self.max_epochs:,} epochs and {self.max_candidates:,} "
                f"candidates on {self.n_jobs} worker each, networks up to {self.max_weights:,} weights, "
                f"CSV files up to {self.max_rows:,} rows ({self.max_bytes // 1_000_000} MB), Playground up to "
                f"{self.max_playground_epochs} epochs. Run Tuning Lab locally for more.")
