"""Hosted-mode caps: on only with TUNING_HOSTED, and applied the same way wherever they are read."""

from tuning.data.csv_source import CsvLimits
from tuning.services.hosting import HostedLimits


def test_a_local_install_is_not_capped(monkeypatch):
    monkeypatch.delenv("TUNING_HOSTED", raising=False)
    local = HostedLimits.from_env()
    limits = CsvLimits(max_bytes=123, max_rows=45, max_columns=6)
    assert not local.enabled and local.search_epochs() is None and local.csv_limits(limits) == limits


def test_hosted_mode_caps_searches_and_csv_files(monkeypatch):
    monkeypatch.setenv("TUNING_HOSTED", "1")
    hosted = HostedLimits.from_env()
    limits = hosted.csv_limits(CsvLimits(max_bytes=10**9, max_rows=10**7, max_columns=7, min_rows=3))
    assert hosted.enabled and hosted.search_epochs() == hosted.max_epochs
    assert limits == CsvLimits(max_bytes=hosted.max_bytes, max_rows=hosted.max_rows, max_columns=7, min_rows=3)
