"""Monthly partitions of `events` on PostgreSQL: their names, bounds and DDL.

A partition holds the events *received* in one calendar month (UTC), named `events_pYYYY_MM`.
Partitioning by arrival rather than by the client's `occurredAt` means every write lands in the
current month whatever a device's clock says, so no catch-all partition is needed, and retention
counts how long the service has held an event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

PARENT = "events"
_NAME = re.compile(r"^events_p(\d{4})_(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @staticmethod
    def of(moment: datetime) -> Month:
        moment = moment.astimezone(UTC)
        return Month(moment.year, moment.month)

    @staticmethod
    def from_name(name: str) -> Month | None:
        match = _NAME.match(name)
        if match is None:
            return None
        year, month = int(match.group(1)), int(match.group(2))
        return Month(year, month) if 1 <= month <= 12 else None

    def plus(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.plus(1).start

    @property
    def name(self) -> str:
        return f"{PARENT}_p{self.year:04d}_{self.month:02d}"

    def bounds_sql(self) -> str:
        return f"FROM ('{self.start.isoformat()}') TO ('{self.end.isoformat()}')"


def is_partition_name(name: str) -> bool:
    return Month.from_name(name) is not None


def months_between(first: Month, last: Month) -> list[Month]:
    months: list[Month] = []
    month = first
    while month <= last:
        months.append(month)
        month = month.plus(1)
    return months

# Partitions exist for the current month and this many after it: `maintain` runs daily, so a
# lapse of weeks still leaves somewhere for writes to land.
MONTHS_AHEAD = 3
