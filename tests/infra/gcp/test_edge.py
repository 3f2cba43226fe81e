"""Edge: global external HTTPS LB, Cloud Armor WAF + rate rule, /metrics 404, DNS A record."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.gcp.edge import DEFAULT_WAF_RULES, Edge, EdgeArgs
from ops.offline import Recording, run_program
from ops.offline_gcp_edge import EDGE_ADDRESS

PROJECT = "awaterra-prod"
DOMAIN = "api.example.com"
POLICY = "gcp:compute/securityPolicy:SecurityPolicy"
BACKEND = "gcp:compute/backendService:BackendService"
URL_MAP = "gcp:compute/uRLMap:URLMap"
RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
NEG = "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup"
ADDRESS = "gcp:compute/globalAddress:GlobalAddress"
HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy"


def _args(**overrides: Any) -> EdgeArgs:
    values: dict[str, Any] = {
        "project": PROJECT,
        "region": "europe-west1",
        "cloud_run_service": "api",
        "domain": DOMAIN,
        "dns_zone": "example-com",
        **overrides,
    }
    return EdgeArgs(**values)


def _run(args: EdgeArgs) -> Recording:
    def program() -> None:
        edge = Edge("edge", args)
        pulumi.export("ip_address", edge.ip_address)
        pulumi.export("url", edge.url)
        pulumi.export("url_map_name", edge.url_map_name)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return _run(_args())


def _rules(recording: Recording) -> dict[int, dict[str, Any]]:
    return {r["priority"]: r for r in recording.one(POLICY).inputs["rules"]}


def test_external_managed_everywhere(recording: Recording) -> None:
    assert recording.one(BACKEND).inputs["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    for rule in recording.of_type(RULE):
        assert rule.inputs["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    schemes = {
        r.inputs.get("loadBalancingScheme") for r in recording if "loadBalancingScheme" in r.inputs
    }
    assert schemes == {"EXTERNAL_MANAGED"}


def test_serverless_neg_points_at_the_cloud_run_service(recording: Recording) -> None:
    neg = recording.one(NEG)
    assert neg.inputs["networkEndpointType"] == "SERVERLESS"
    assert neg.inputs["region"] == "europe-west1"
    assert neg.inputs["cloudRun"] == {"service": "api"}
    backend = recording.one(BACKEND).inputs
    assert backend["backends"] == [{"group": neg.id}]
    assert "healthChecks" not in backend  # not allowed with a serverless NEG


def test_backend_logs_and_is_protected_by_cloud_armor(recording: Recording) -> None:
    backend = recording.one(BACKEND).inputs
    assert backend["logConfig"] == {"enable": True, "sampleRate": 1.0}
    assert backend["securityPolicy"] == recording.one(POLICY).outputs["selfLink"]
    assert backend["customResponseHeaders"] == [
        "Strict-Transport-Security: max-age=31536000; includeSubDomains",
        "X-Content-Type-Options: nosniff",
    ]


def test_every_preconfigured_waf_rule_denies_with_403(recording: Recording) -> None:
    waf = {
        r["match"]["expr"]["expression"]: r
        for r in _rules(recording).values()
        if "expr" in r["match"]
    }
    expected = {f"evaluatePreconfiguredWaf('{n}', {{'sensitivity': 1}})" for n in DEFAULT_WAF_RULES}
    assert set(waf) == expected
    assert {"sqli-v33-stable", "xss-v33-stable", "lfi-v33-stable", "rce-v33-stable",
            "scannerdetection-v33-stable", "protocolattack-v33-stable",
            "cve-canary"} == set(DEFAULT_WAF_RULES)  # fmt: skip
    for rule in waf.values():
        assert rule["action"] == "deny(403)"
        assert rule["preview"] is False


def test_rate_rule_is_first_and_keyed_on_the_client_ip(recording: Recording) -> None:
    rules = _rules(recording)
    rate = rules[min(rules)]
    assert rate["action"] == "throttle"
    assert rate["match"] == {"versionedExpr": "SRC_IPS_V1", "config": {"srcIpRanges": ["*"]}}
    options = rate["rateLimitOptions"]
    assert options["enforceOnKey"] == "IP"
    assert options["conformAction"] == "allow"
    assert options["exceedAction"] == "deny(429)"
    assert options["rateLimitThreshold"] == {"count": 600, "intervalSec": 60}
    assert "banDurationSec" not in options


def test_default_rule_allows_at_the_lowest_priority(recording: Recording) -> None:
    rules = _rules(recording)
    assert max(rules) == 2147483647
    assert rules[2147483647]["action"] == "allow"
    assert rules[2147483647]["match"]["config"] == {"srcIpRanges": ["*"]}
    policy = recording.one(POLICY).inputs
    assert policy["type"] == "CLOUD_ARMOR"
    assert policy["advancedOptionsConfig"]["jsonParsing"] == "STANDARD"
    assert "adaptiveProtectionConfig" not in policy


def test_metrics_is_answered_404_for_every_host(recording: Recording) -> None:
    url_map = recording.one(URL_MAP).inputs
    backend = recording.one(BACKEND).id
    assert url_map["defaultService"] == backend
    assert url_map["hostRules"] == [{"hosts": ["*"], "pathMatcher": "api"}]
    (matcher,) = url_map["pathMatchers"]
    assert matcher["defaultService"] == backend
    (blocked,) = matcher["pathRules"]
    assert blocked["paths"] == ["/metrics", "/metrics/*"]
    abort = blocked["routeAction"]["faultInjectionPolicy"]["abort"]
    assert abort == {"httpStatus": 404, "percentage": 100}


def test_tls_policy_certificate_and_https_only(recording: Recording) -> None:
    ssl = recording.one("gcp:compute/sSLPolicy:SSLPolicy")
    assert ssl.inputs["profile"] == "RESTRICTED"
    assert ssl.inputs["minTlsVersion"] == "TLS_1_2"
    cert = recording.one("gcp:compute/managedSslCertificate:ManagedSslCertificate")
    assert cert.inputs["managed"] == {"domains": [DOMAIN]}
    proxy = recording.one(HTTPS_PROXY).inputs
    assert proxy["sslPolicy"] == ssl.id
    assert proxy["sslCertificates"] == [cert.id]
    assert proxy["urlMap"] == recording.one(URL_MAP).id
    (rule,) = recording.of_type(RULE)
    assert rule.inputs["portRange"] == "443"
    assert rule.inputs["target"] == recording.one(HTTPS_PROXY).id
    assert recording.of_type(HTTP_PROXY) == []
    assert all(r.inputs["portRange"] != "80" for r in recording.of_type(RULE))


def test_dns_a_record_points_at_the_reserved_address(recording: Recording) -> None:
    address = recording.one(ADDRESS)
    assert address.inputs["addressType"] == "EXTERNAL"
    assert address.inputs["ipVersion"] == "IPV4"
    (rule,) = recording.of_type(RULE)
    assert rule.inputs["ipAddress"] == EDGE_ADDRESS == address.outputs["address"]
    record = recording.one("gcp:dns/recordSet:RecordSet").inputs
    assert record == {
        "project": PROJECT,
        "managedZone": "example-com",
        "name": f"{DOMAIN}.",
        "type": "A",
        "ttl": 300,
        "rrdatas": [EDGE_ADDRESS],
    }
    assert recording.outputs["ip_address"] == EDGE_ADDRESS
    assert recording.outputs["url"] == f"https://{DOMAIN}"


def test_children_are_parented(recording: Recording) -> None:
    component = recording.one("awaterra:gcp:Edge")
    assert all(r.parent == component.urn for r in recording if r.custom)


def test_http_redirect_adds_port_80_that_only_redirects() -> None:
    recording = _run(_args(http_redirect=True))
    rules = {r.inputs["portRange"]: r for r in recording.of_type(RULE)}
    assert set(rules) == {"443", "80"}
    assert rules["80"].inputs["ipAddress"] == rules["443"].inputs["ipAddress"]
    http_proxy = recording.one(HTTP_PROXY)
    assert rules["80"].inputs["target"] == http_proxy.id
    redirect = recording.one(URL_MAP, "redirect")
    assert http_proxy.inputs["urlMap"] == redirect.id
    assert redirect.inputs["defaultUrlRedirect"] == {
        "httpsRedirect": True,
        "stripQuery": False,
        "redirectResponseCode": "MOVED_PERMANENTLY_DEFAULT",
    }
    # The redirect map sends nothing to the backend.
    assert "defaultService" not in redirect.inputs
    assert "pathMatchers" not in redirect.inputs


def test_opt_outs() -> None:
    recording = _run(
        _args(
            ssl_profile="MODERN",
            min_tls_version="TLS_1_3",
            rate_limit_action="rate_based_ban",
            rate_limit_count=100,
            rate_limit_interval_seconds=10,
            ban_duration_seconds=600,
            adaptive_protection=True,
            waf_sensitivity=2,
            waf_preview=True,
            waf_rules=("sqli-v33-stable",),
            json_parsing=False,
            log_sample_rate=0.25,
            blocked_paths=(),
            hsts_max_age_seconds=0,
        )
    )
    ssl = recording.one("gcp:compute/sSLPolicy:SSLPolicy").inputs
    assert (ssl["profile"], ssl["minTlsVersion"]) == ("MODERN", "TLS_1_3")
    rules = _rules(recording)
    rate = rules[min(rules)]
    assert rate["action"] == "rate_based_ban"
    assert rate["rateLimitOptions"]["banDurationSec"] == 600
    assert rate["rateLimitOptions"]["rateLimitThreshold"] == {"count": 100, "intervalSec": 10}
    expressions = [r["match"]["expr"]["expression"] for r in rules.values() if "expr" in r["match"]]
    assert expressions == ["evaluatePreconfiguredWaf('sqli-v33-stable', {'sensitivity': 2})"]
    assert [r["preview"] for r in rules.values() if "expr" in r["match"]] == [True]
    policy = recording.one(POLICY).inputs
    assert policy["adaptiveProtectionConfig"] == {"layer7DdosDefenseConfig": {"enable": True}}
    assert policy["advancedOptionsConfig"]["jsonParsing"] == "DISABLED"
    backend = recording.one(BACKEND).inputs
    assert backend["logConfig"]["sampleRate"] == 0.25
    assert backend["customResponseHeaders"] == ["X-Content-Type-Options: nosniff"]
    assert "pathRules" not in recording.one(URL_MAP).inputs["pathMatchers"][0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"domain": "not a domain"}, "domain is not a host name"),
        ({"domain": "API.example.com"}, "domain is not a host name"),
        ({"dns_zone": "example.com."}, "dns_zone must be"),
        ({"ssl_profile": "COMPATIBLE"}, "ssl_profile must be"),
        ({"min_tls_version": "TLS_1_0"}, "min_tls_version must be"),
        ({"blocked_paths": ("metrics",)}, "blocked_paths must start"),
        ({"log_sample_rate": 0.0}, "log_sample_rate must be"),
        ({"waf_rules": ()}, "waf_rules must be"),
        ({"waf_rules": ("sqli-v33-stable", "sqli-v33-stable")}, "waf_rules must be"),
        ({"waf_rules": ("x'); true; ('",)}, "waf_rules must be"),
        ({"waf_sensitivity": 5}, "waf_sensitivity must be"),
        ({"rate_limit_count": 0}, "rate_limit_count must be"),
        ({"rate_limit_interval_seconds": 45}, "rate_limit_interval_seconds must be"),
        ({"rate_limit_action": "deny"}, "rate_limit_action must be"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _args(**overrides)


def test_the_https_url_maps_name_is_an_output(recording: Recording) -> None:
    url_map = recording.one("gcp:compute/uRLMap:URLMap", "urlmap")
    assert recording.outputs["url_map_name"] == url_map.outputs["name"]
    proxy = recording.one("gcp:compute/targetHttpsProxy:TargetHttpsProxy")
    assert proxy.inputs["urlMap"] == url_map.id
