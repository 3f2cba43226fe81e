"""DisasterRecovery: the second locations that let data outlive its region."""

from __future__ import annotations

import pytest

from components.gcp.backup import DisasterRecovery


def test_us_pair() -> None:
    recovery = DisasterRecovery(primary_region="us-central1", secondary_region="us-east1")
    assert recovery.sql_backup_location == "us-east1"
    assert recovery.bucket_location == "US"
    assert recovery.bucket_data_locations == ("US-CENTRAL1", "US-EAST1")


@pytest.mark.parametrize(
    ("primary", "secondary", "continent"),
    [("europe-west1", "europe-west4", "EU"), ("asia-northeast1", "asia-northeast2", "ASIA")],
)
def test_other_continents(primary: str, secondary: str, continent: str) -> None:
    assert DisasterRecovery(primary, secondary).bucket_location == continent


@pytest.mark.parametrize(
    ("primary", "secondary", "message"),
    [
        ("us-central1", "us-central1", "must differ"),
        ("us-central1", "europe-west1", "both regions on one continent"),
        ("northamerica-northeast1", "us-east1", "both regions on one continent"),
        ("uscentral", "us-east1", "is not a region"),
    ],
)
def test_bad_pairs_are_refused(primary: str, secondary: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DisasterRecovery(primary, secondary)
