"""A customer-managed Cloud KMS key (CMEK) for one Google service, and that service's grant.

`EncryptionKey(name, EncryptionKeyArgs(project="p", location="europe-west1",
service="artifactregistry.googleapis.com"))`

Creates a key ring and a software symmetric key in `location` (a resource encrypted with it must
live in the same location), rotated every `rotation_days` (CIS GCP 1.10: at most 90), with
versions destroyed only `destroy_after_days` after a destroy is scheduled (the recovery window).
The service's agent (`gcp.projects.ServiceIdentity`, created if the project has none yet) gets
`roles/cloudkms.cryptoKeyEncrypterDecrypter` on this one key, nothing else: no person and no
other account may use it. Key rings cannot be deleted in Cloud KMS; `pulumi destroy` schedules
the key's versions for destruction and leaves the empty ring.

Outputs: `key_name` (the key's id, `projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>`, for
a resource's `kms_key_name`), `agent_email`. Pass `grant` in `depends_on` of the encrypted
resource: it must not be created before its service may use the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

KMS_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
DAY_SECONDS = 86_400
_SERVICE = re.compile(r"^[a-z][a-z0-9-]*\.googleapis\.com$")
_LOCATION = re.compile(r"^[a-z]+(-[a-z]+[0-9]+)?$")


@dataclass(frozen=True)
class EncryptionKeyArgs:
    project: pulumi.Input[str]
    location: str
    service: str
    rotation_days: int = 90
    destroy_after_days: int = 30
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _LOCATION.match(self.location):
            raise ValueError(f"EncryptionKey: location must be a region, got {self.location!r}")
        if not _SERVICE.match(self.service):
            raise ValueError(
                f"EncryptionKey: service must be a Google API like "
                f"artifactregistry.googleapis.com, got {self.service!r}"
            )
        if not 1 <= self.rotation_days <= 90:
            raise ValueError(
                "EncryptionKey: rotation_days must be 1..90 (CIS GCP 1.10), "
                f"got {self.rotation_days}"
            )
        if not 1 <= self.destroy_after_days <= 120:
            raise ValueError(
                "EncryptionKey: destroy_after_days must be 1..120 (Cloud KMS limits), "
                f"got {self.destroy_after_days}"
            )


class EncryptionKey(pulumi.ComponentResource):
    key_name: pulumi.Output[str]
    agent_email: pulumi.Output[str]
    grant: gcp.kms.CryptoKeyIAMMember

    def __init__(
        self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:gcp:EncryptionKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ring = gcp.kms.KeyRing(
            f"{name}-ring",
            name=f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}".lower(),
            project=args.project,
            location=args.location,
            opts=child,
        )
        key = gcp.kms.CryptoKey(
            f"{name}-key",
            name=name,
            key_ring=ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=f"{args.rotation_days * DAY_SECONDS}s",
            destroy_scheduled_duration=f"{args.destroy_after_days * DAY_SECONDS}s",
            version_template=gcp.kms.CryptoKeyVersionTemplateArgs(
                algorithm="GOOGLE_SYMMETRIC_ENCRYPTION", protection_level="SOFTWARE"
            ),
            labels=dict(args.labels) or None,
            opts=child,
        )
        agent = gcp.projects.ServiceIdentity(
            f"{name}-agent", project=args.project, service=args.service, opts=child
        )
        self.grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-agent-use",
            crypto_key_id=key.id,
            role=KMS_ROLE,
            member=pulumi.Output.concat("serviceAccount:", agent.email),
            opts=child,
        )
        self.key_name = key.id
        self.agent_email = agent.email
        self.register_outputs({"key_name": self.key_name, "agent_email": self.agent_email})
