"""DNS for the API: alias records in an existing Route 53 hosted zone pointing at the load balancer.

`DnsRecord(name, DnsRecordArgs(domain, hosted_zone_id, lb_dns_name, lb_zone_id))`

Args (`DnsRecordArgs`):
- `domain: str` the record name, e.g. `api.example.com` (required).
- `hosted_zone_id: Input[str]` the existing zone, from config (required; no lookup invoke).
- `lb_dns_name: Input[str]`, `lb_zone_id: Input[str]` the load balancer's DNS name and its
  canonical hosted zone (`ContainerService.load_balancer_dns_name` / `load_balancer_zone_id`).
- `ipv6: bool = True` also create the AAAA alias (answers only once the load balancer is
  dual-stack; harmless before).
- `evaluate_target_health: bool = True`.

Outputs: `fqdn` (the A record's), `url` (`https://<domain>`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.certificate import require_dns_name


@dataclass(frozen=True)
class DnsRecordArgs:
    domain: str
    hosted_zone_id: pulumi.Input[str]
    lb_dns_name: pulumi.Input[str]
    lb_zone_id: pulumi.Input[str]
    ipv6: bool = True
    evaluate_target_health: bool = True

    def __post_init__(self) -> None:
        if self.domain.startswith("*."):
            raise ValueError(f"DnsRecord: domain must not be a wildcard, got {self.domain!r}")
        require_dns_name("DnsRecord", self.domain)


class DnsRecord(pulumi.ComponentResource):
    """A (and AAAA) alias records for the API domain."""

    fqdn: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: DnsRecordArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:dns:DnsRecord", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        alias = aws.route53.RecordAliasArgs(
            name=args.lb_dns_name,
            zone_id=args.lb_zone_id,
            evaluate_target_health=args.evaluate_target_health,
        )
        record_types = ["A", "AAAA"] if args.ipv6 else ["A"]
        records = [
            aws.route53.Record(
                f"{name}-{record_type.lower()}",
                zone_id=args.hosted_zone_id,
                name=args.domain,
                type=record_type,
                aliases=[alias],
                opts=child,
            )
            for record_type in record_types
        ]
        self.fqdn = records[0].fqdn
        self.url = pulumi.Output.from_input(f"https://{args.domain}")
        self.register_outputs({"fqdn": self.fqdn, "url": self.url})
