"""Where the database's backups and the media objects live so that they outlive a zone and a region.

`DisasterRecovery(primary_region="us-central1", secondary_region="us-east1")`

No extra resources: the design is two locations fed into `DatabaseArgs` and `MediaBucketArgs`.

- Zone loss: Cloud SQL `REGIONAL` availability (a synchronous standby in a second zone, automatic
  failover: RPO 0, RTO about a minute); the bucket is at least regional (objects in several
  zones). Nothing to restore.
- Region loss, database: automated backups and the transaction logs for point-in-time recovery
  are stored in `secondary_region` (`backup_configuration.location`), so a new instance can be
  restored there from the last daily backup (RPO up to 24 hours; minutes of log shipping are
  not available outside the region). RTO: creating and restoring an instance, about an hour for
  this size. A cross-region read replica (`DatabaseArgs.replica_region`, off by default: it
  doubles the instance cost) brings the RPO to the replication lag (seconds) and the RTO to a
  promotion (minutes).
- Region loss, objects: a configurable dual-region bucket (`<continent>` location with data in
  both regions, `custom_placement_config`) with turbo replication (`rpo="ASYNC_TURBO"`: 100 % of
  new objects in the second region within 15 minutes, under Google's SLA). Reads and writes keep
  working through the same bucket name: RPO 15 minutes, RTO 0. No Storage Transfer job to
  operate, no second bucket name for the service to know.

See docs/infra-components.md for the restore steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REGION = re.compile(r"^([a-z]+)(-[a-z]+)+\d+$")
# The continent-wide locations a configurable dual-region's two regions must share.
_CONTINENTS = {"us": "US", "europe": "EU", "asia": "ASIA"}


@dataclass(frozen=True)
class DisasterRecovery:
    primary_region: str
    secondary_region: str

    def __post_init__(self) -> None:
        for region in (self.primary_region, self.secondary_region):
            if not _REGION.match(region):
                raise ValueError(f"DisasterRecovery: {region!r} is not a region like us-east1")
        if self.primary_region == self.secondary_region:
            raise ValueError("DisasterRecovery: secondary_region must differ from primary_region")
        if self.bucket_location is None:
            raise ValueError(
                "DisasterRecovery: a dual-region bucket needs both regions on one continent "
                f"(US, EU or ASIA), got {self.primary_region} and {self.secondary_region}"
            )

    @property
    def sql_backup_location(self) -> str:
        """Cloud SQL stores automated backups and PITR logs here instead of the home region."""
        return self.secondary_region

    @property
    def bucket_location(self) -> str | None:
        """The multi-region code the two regions' dual-region bucket is declared in."""
        continents = {
            _CONTINENTS.get(region.split("-")[0])
            for region in (self.primary_region, self.secondary_region)
        }
        (continent,) = continents if len(continents) == 1 else (None,)
        return continent

    @property
    def bucket_data_locations(self) -> tuple[str, str]:
        return (self.primary_region.upper(), self.secondary_region.upper())
