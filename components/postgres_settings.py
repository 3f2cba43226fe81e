"""PostgreSQL server settings both clouds' databases run with, and the benchmark's cluster too
(bench/run.py), so what the benchmark measures is what production runs.

Kept free of any provider import: the benchmark reads it without loading Pulumi.
"""

from __future__ import annotations

from collections.abc import Mapping

# Full-page images dominate the WAL of writes spread over many pages (an erasure touches a
# page per stored row; after each checkpoint the first change to a page logs all 8 kB of it).
# LZ4 compresses them at little CPU cost: the benchmark prints the WAL an erasure of a user with
# 1,000 events writes (83 kB, 183 kB with `--pg-option wal_compression=off`; README, "Data at
# scale"), and less WAL is less to fsync while other users' commits wait. RDS builds PostgreSQL
# with LZ4; on Cloud SQL it is unverified (docs/infra-components.md says how to override it).
WAL_COMPRESSION = "lz4"

SERVER_SETTINGS: Mapping[str, str] = {
    "wal_compression": WAL_COMPRESSION,
}
