"""What every bucket of the stack shares: naming, location checks, the abort-uploads rule."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

MULTI_REGIONS = ("US", "EU", "ASIA")
DUAL_REGION_CONTINENTS = ("US", "EU", "ASIA")
_REGION = re.compile(r"^[A-Za-z]+(-[A-Za-z]+)+\d+$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")


def bucket_name(name: str, override: str | None) -> str:
    """`<project>-<stack>-<name>` unless the caller picks one (bucket names are global)."""
    chosen = override or f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}".lower()
    if not _BUCKET.match(chosen) or "goog" in chosen:
        raise ValueError(f"bucket name {chosen!r} is not a valid Cloud Storage bucket name")
    return chosen


def check_location(component: str, location: str, data_locations: Sequence[str]) -> None:
    if data_locations:
        if location.upper() not in DUAL_REGION_CONTINENTS:
            raise ValueError(
                f"{component}: a dual-region bucket's location is one of "
                f"{DUAL_REGION_CONTINENTS}, got {location!r}"
            )
        if len(data_locations) != 2 or len({d.upper() for d in data_locations}) != 2:
            raise ValueError(f"{component}: data_locations names exactly two regions")
        for region in data_locations:
            if not _REGION.match(region):
                raise ValueError(f"{component}: {region!r} in data_locations is not a region")
    elif location.upper() not in MULTI_REGIONS and not _REGION.match(location):
        raise ValueError(f"{component}: location must be a region or one of {MULTI_REGIONS}")


def abort_multipart_rule(days: int) -> gcp.storage.BucketLifecycleRuleArgs:
    return gcp.storage.BucketLifecycleRuleArgs(
        action=gcp.storage.BucketLifecycleRuleActionArgs(type="AbortIncompleteMultipartUpload"),
        condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=days),
    )
