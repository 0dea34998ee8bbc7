"""The hosted demo's caps for this server (``TUNING_HOSTED=1``)."""

from __future__ import annotations

from tuning.services.hosting import HostedLimits


def hosted_limits() -> HostedLimits:
    return HostedLimits.from_env()
