"""TLS certificate for the API domain: ACM, validated by DNS records in an existing Route 53 zone.

`TlsCertificate(name, TlsCertificateArgs(domain="api.example.com", hosted_zone_id="Z123..."))`

Args (`TlsCertificateArgs`):
- `domain: str` the certificate's primary name (required, a DNS name, no scheme).
- `hosted_zone_id: Input[str]` the Route 53 public hosted zone that serves `domain` (required).
- `subject_alternative_names: Sequence[str] = ()` extra names, e.g. `("*.api.example.com",)`.
- `key_algorithm: str = "RSA_2048"` (or `EC_prime256v1`: smaller, faster; RSA reaches old clients).
- `validation_record_ttl: int = 60`.

Outputs: `certificate_arn` comes from the `CertificateValidation`, not from the certificate, so a
listener that uses it is created only once ACM has issued the certificate; `domain`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

_DNS_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
KEY_ALGORITHMS = ("RSA_2048", "EC_prime256v1", "EC_secp384r1")


def require_dns_name(component: str, name: str) -> None:
    """Refuse anything but a lower-case DNS name (no scheme, no trailing dot)."""
    if not _DNS_NAME.match(name):
        raise ValueError(f"{component}: {name!r} is not a lower-case DNS name")


@dataclass(frozen=True)
class TlsCertificateArgs:
    domain: str
    hosted_zone_id: pulumi.Input[str]
    subject_alternative_names: Sequence[str] = ()
    key_algorithm: str = "RSA_2048"
    validation_record_ttl: int = 60

    def __post_init__(self) -> None:
        for name in (self.domain, *self.subject_alternative_names):
            require_dns_name("TlsCertificate", name)
        if self.key_algorithm not in KEY_ALGORITHMS:
            raise ValueError(
                f"TlsCertificate: key_algorithm must be one of {KEY_ALGORITHMS}, "
                f"got {self.key_algorithm!r}"
            )

    @property
    def names(self) -> list[str]:
        """Every name on the certificate, primary first, without duplicates."""
        return list(dict.fromkeys((self.domain, *self.subject_alternative_names)))


def _validation_field(
    options: Sequence[aws.acm.outputs.CertificateDomainValidationOption], domain: str, field: str
) -> str:
    """Pick one field of the validation option for `domain` (ACM returns them unordered)."""
    for option in options:
        if option.domain_name == domain:
            value = getattr(option, field)
            if value:
                return str(value)
    raise ValueError(f"ACM returned no {field} for {domain}")


class TlsCertificate(pulumi.ComponentResource):
    """An ACM certificate issued once its DNS validation records resolve."""

    certificate_arn: pulumi.Output[str]
    domain: str

    def __init__(
        self, name: str, args: TlsCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:certificate:TlsCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.domain = args.domain

        certificate = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.domain,
            subject_alternative_names=list(args.subject_alternative_names) or None,
            validation_method="DNS",
            key_algorithm=args.key_algorithm,
            options=aws.acm.CertificateOptionsArgs(
                certificate_transparency_logging_preference="ENABLED"
            ),
            tags={"Name": args.domain},
            opts=child,
        )

        # A wildcard and its apex share one validation record: one record per distinct name,
        # allow_overwrite so that the shared record (or a leftover from an earlier certificate)
        # does not block the deploy.
        options = certificate.domain_validation_options
        records = [
            aws.route53.Record(
                f"{name}-validation-{index}",
                zone_id=args.hosted_zone_id,
                name=_validation_output(options, domain, "resource_record_name"),
                type=_validation_output(options, domain, "resource_record_type"),
                records=[_validation_output(options, domain, "resource_record_value")],
                ttl=args.validation_record_ttl,
                allow_overwrite=True,
                opts=child,
            )
            for index, domain in enumerate(_names_needing_records(args.names))
        ]

        validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn for record in records],
            opts=child,
        )
        self.certificate_arn = validation.certificate_arn
        self.register_outputs({"certificate_arn": self.certificate_arn, "domain": self.domain})


def _validation_output(
    options: pulumi.Output[Sequence[aws.acm.outputs.CertificateDomainValidationOption]],
    domain: str,
    field: str,
) -> pulumi.Output[str]:
    return options.apply(lambda found: _validation_field(found, domain, field))


def _names_needing_records(names: Sequence[str]) -> list[str]:
    """Names whose validation record is distinct (`*.x` is validated by the record of `x`)."""
    bare = set(names)
    return [n for n in names if not (n.startswith("*.") and n[2:] in bare)]
