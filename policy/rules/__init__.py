"""The rule registry: every rule of the pack, in a stable order, ids unique."""

from __future__ import annotations

from policy.model import Rule
from policy.rules import (
    backup,
    containers,
    encryption,
    gcp_edge,
    gcp_iam,
    gcp_kms,
    gcp_network,
    gcp_run,
    gcp_sql,
    gcp_storage,
    iam,
    identity,
    loadbalancer,
    network,
    rds,
    s3,
)

RULES: tuple[Rule, ...] = (
    *rds.RULES,
    *s3.RULES,
    *network.RULES,
    *loadbalancer.RULES,
    *encryption.RULES,
    *containers.RULES,
    *iam.RULES,
    *identity.RULES,
    *backup.RULES,
    *gcp_sql.RULES,
    *gcp_storage.RULES,
    *gcp_network.RULES,
    *gcp_run.RULES,
    *gcp_edge.RULES,
    *gcp_iam.RULES,
    *gcp_kms.RULES,
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}

if len(RULES_BY_ID) != len(RULES):
    raise RuntimeError("duplicate rule ids in policy.rules")
