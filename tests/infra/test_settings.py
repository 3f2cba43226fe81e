"""Stack settings: stack files load, Pulumi.yaml declares every key, bad values name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.settings import (
    DEFAULTS,
    KNOWN_KEYS,
    REQUIRED_KEYS,
    SECRET_KEYS,
    SettingsError,
    StackSettings,
    load_settings,
)
from ops.offline import run_program

ROOT = Path(__file__).resolve().parents[2]
PROD_SECRETS = {"datadogApiKey": "dd-api", "datadogAppKey": "dd-app"}


def settings_for(
    stack: str, overrides: dict[str, str] | None = None, **kwargs: Any
) -> StackSettings:
    captured: list[StackSettings] = []
    run_program(stack, overrides, program=lambda: captured.append(load_settings()), **kwargs)
    return captured[0]


def error_for(stack: str, overrides: dict[str, str], **kwargs: Any) -> str:
    with pytest.raises(SettingsError) as raised:
        settings_for(stack, overrides, **kwargs)
    return "\n".join(raised.value.problems)


def project_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]


def stack_keys(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


# --- the files


def test_project_runs_python_in_the_repository_venv() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "awaterra"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


def test_pulumi_yaml_declares_every_key_with_type_description_and_the_code_default() -> None:
    declared = {k: v for k, v in project_config().items() if ":" not in k}
    assert set(declared) == set(DEFAULTS) | set(REQUIRED_KEYS) | set(SECRET_KEYS)
    python_types = {"string": str, "integer": int, "boolean": bool, "array": list}
    for key, spec in declared.items():
        assert spec.get("description"), key
        if "type" not in spec:
            # An object (the firebase block): Pulumi's config types cannot declare one.
            assert spec["default"] == DEFAULTS[key] == {}, key
            continue
        assert spec["type"] in python_types, key
        if key in REQUIRED_KEYS:
            assert "default" not in spec, f"{key} must be set per stack"
        elif key in SECRET_KEYS:
            assert spec["secret"] is True and spec["default"] == ""
        else:
            assert spec["default"] == DEFAULTS[key], key
            assert isinstance(spec["default"], python_types[spec["type"]]), key


def test_config_declarations_use_only_what_the_project_schema_allows() -> None:
    # Pulumi's project schema: a plain value, or {type, items, description, secret, default}
    # with type one of string/integer/boolean/array, and items for arrays.
    for key, spec in project_config().items():
        if not isinstance(spec, dict):
            assert isinstance(spec, (str, int, bool)), key
            continue
        assert set(spec) <= {"type", "items", "description", "secret", "default"}, key
        if "type" not in spec:
            # Not explicitly typed: Pulumi checks no type, so only an object's declaration.
            assert isinstance(spec["default"], dict), key
            continue
        assert spec["type"] in ("string", "integer", "boolean", "array"), key
        if spec["type"] == "array":
            assert spec["items"] == {"type": "string"}, key


@pytest.mark.parametrize("stack", ["dev", "prod", "gcp-dev", "gcp-prod"])
def test_stack_files_only_set_declared_keys_and_no_secret_in_plain_text(stack: str) -> None:
    declared = set(project_config())
    for key, value in stack_keys(stack).items():
        namespace, _, bare = key.partition(":")
        if namespace in ("aws", "gcp"):
            continue
        assert namespace == "awaterra" and bare in declared, key
        assert bare not in SECRET_KEYS or isinstance(value, dict), f"{key} must be a secure value"


@pytest.mark.parametrize("stack", ["dev", "prod", "gcp-dev", "gcp-prod"])
def test_stack_values_have_the_declared_types(stack: str) -> None:
    # What `pulumi config` checks against Pulumi.yaml before it runs the program.
    python_types = {"string": str, "integer": int, "boolean": bool, "array": list}
    declared = project_config()
    for key, value in stack_keys(stack).items():
        namespace, _, bare = key.partition(":")
        if namespace != "awaterra":
            continue
        if "type" not in declared[bare]:
            assert isinstance(value, dict), key  # the firebase block
            continue
        expected = python_types[declared[bare]["type"]]
        assert isinstance(value, expected) and not (expected is int and isinstance(value, bool)), (
            key
        )


def test_dev_stack_is_small_and_disposable() -> None:
    settings = settings_for("dev")
    assert settings.environment == "dev" and not settings.is_prod
    assert settings.network.az_count == 2
    assert settings.network.nat_mode == "none"
    assert settings.database.multi_az is False
    assert settings.bucket.force_destroy is True
    assert settings.datadog.enabled is False and settings.datadog.api_key is None


def test_prod_stack_is_redundant_and_protected() -> None:
    settings = settings_for("prod", PROD_SECRETS)
    assert settings.is_prod
    assert (settings.network.az_count, settings.network.nat_mode) == (3, "per-az")
    assert settings.network.flow_logs
    database = settings.database
    assert database.multi_az and database.deletion_protection
    assert database.backup_retention_days >= 14
    assert settings.service.min_count >= 2
    assert settings.backup.retention_days == 35
    assert settings.backup.copy_region != settings.region
    assert settings.bucket.force_destroy is False and settings.bucket.access_logs
    assert settings.load_balancer.deletion_protection and settings.load_balancer.access_logs
    assert settings.edge.waf_enabled
    assert all(origin.startswith("https://") for origin in settings.bucket.cors_allowed_origins)
    assert isinstance(settings.datadog.api_key, pulumi.Output)


def test_connection_budget_fits_the_instance_in_both_stacks() -> None:
    # RDS default max_connections ~ memory/9.5MB: ~84 on db.t4g.micro, ~873 on db.m7g.large.
    dev = settings_for("dev").service
    assert dev.connections_per_worker == 5 + 2
    assert dev.max_database_connections == 2 * 1 * 7 <= 0.75 * 84
    prod = settings_for("prod", PROD_SECRETS).service
    assert prod.connections_per_worker == 10 + 2
    assert prod.max_database_connections == 10 * 2 * 12 <= 0.75 * 873


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_default_tags_name_the_project_and_environment(stack: str) -> None:
    secrets = PROD_SECRETS if stack == "prod" else {}
    assert settings_for(stack, secrets).default_tags == {
        "project": "awaterra",
        "environment": stack,
        "managed-by": "pulumi",
    }


def test_malformed_default_tags_are_refused() -> None:
    assert "aws:defaultTags must be" in error_for("dev", {"aws:defaultTags": '["x"]'})


def test_unset_keys_take_the_declared_defaults() -> None:
    settings = settings_for(
        "dev", {"domain": "api.example.org", "hostedZoneId": "Z123ABC"}, use_stack_file=False
    )
    assert settings.environment == DEFAULTS["environment"]
    assert settings.network.vpc_cidr == DEFAULTS["vpcCidr"]
    assert settings.database.instance_class == DEFAULTS["dbInstanceClass"]
    assert settings.service.pool_size == DEFAULTS["servicePoolSize"]
    assert settings.backup.copy_region == DEFAULTS["backupCopyRegion"]
    assert settings.service.image_tag is None
    assert settings.default_tags == {}


def test_list_config_accepts_json_and_comma_separated() -> None:
    as_json = settings_for("dev", {"corsAllowedOrigins": '["https://a.example.com"]'})
    as_csv = settings_for(
        "dev", {"corsAllowedOrigins": "https://a.example.com,https://b.example.com"}
    )
    assert as_json.bucket.cors_allowed_origins == ("https://a.example.com",)
    assert as_csv.bucket.cors_allowed_origins == ("https://a.example.com", "https://b.example.com")


# --- bad input names its key


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"domain": ""}, "awaterra:domain is required"),
        ({"domain": "https://api.example.com"}, "awaterra:domain must be a DNS name"),
        (
            {"hostedZoneId": "example.com"},
            "awaterra:hostedZoneId must be a Route 53 hosted zone id",
        ),
        (
            {"dbInstanceClass": "m5.large"},
            "awaterra:dbInstanceClass must look like db.<family>.<size>",
        ),
        ({"dbInstanceClass": "db.t4g"}, "awaterra:dbInstanceClass must look like"),
        ({"dbBackupRetentionDays": "-1"}, "awaterra:dbBackupRetentionDays must be >= 0, got -1"),
        ({"dbBackupRetentionDays": "36"}, "awaterra:dbBackupRetentionDays must be <= 35"),
        ({"logRetentionDays": "-5"}, "awaterra:logRetentionDays must be >= 1, got -5"),
        ({"logRetentionDays": "45"}, "awaterra:logRetentionDays must be a CloudWatch retention"),
        ({"backupRetentionDays": "0"}, "awaterra:backupRetentionDays must be >= 1"),
        ({"azCount": "1"}, "awaterra:azCount must be >= 2"),
        ({"azCount": "two"}, "awaterra:azCount must be a whole number"),
        ({"dbMultiAz": "yes"}, "awaterra:dbMultiAz must be true or false"),
        ({"httpRedirect": "301"}, "awaterra:httpRedirect must be true or false"),
        ({"natMode": "gateway"}, "awaterra:natMode must be one of none, single, per-az"),
        ({"vpcCidr": "10.0.0.0/8"}, "awaterra:vpcCidr must be an IPv4 network between /16 and /24"),
        ({"dbEngineVersion": "15"}, "awaterra:dbEngineVersion must be PostgreSQL 16"),
        ({"dbMaxAllocatedStorageGb": "20"}, "awaterra:dbMaxAllocatedStorageGb must be greater"),
        ({"serviceCpu": "300"}, "awaterra:serviceCpu must be a Fargate CPU size"),
        (
            {"serviceCpu": "512", "serviceMemory": "8192"},
            "awaterra:serviceMemory must be between 1024 and 4096",
        ),
        ({"serviceMaxCount": "0"}, "awaterra:serviceMaxCount must be >= 1"),
        ({"corsAllowedOrigins": '["*"]'}, "awaterra:corsAllowedOrigins must list explicit origins"),
        ({"corsAllowedOrigins": '["http://evil.example.com"]'}, "http:// only for localhost"),
        ({"corsAllowedOrigins": '["https://a.example.com/path"]'}, "(no path)"),
        (
            {"backupCopyRegion": "us-east-1"},
            "awaterra:backupCopyRegion must differ from aws:region",
        ),
        ({"backupCopyRegion": "mars"}, "awaterra:backupCopyRegion must be an AWS region"),
        ({"authMode": "external"}, "awaterra:authIssuer is required when authMode is external"),
        ({"cognitoMfa": "maybe"}, "awaterra:cognitoMfa must be one of OFF, OPTIONAL, ON"),
        ({"datadogEnabled": "true"}, "awaterra:datadogApiKey is required when Datadog is on"),
        ({"monitoring": "both"}, "awaterra:datadogApiKey is required when Datadog is on"),
        ({"monitoring": "grafana"}, "awaterra:monitoring must be one of datadog, prometheus, both"),
        (
            {"monitoring": "prometheus", "datadogEnabled": "true"},
            "awaterra:monitoring is 'prometheus' but awaterra:datadogEnabled is true: they "
            "disagree",
        ),
        (
            {"prometheusAlertEmails": '["ops@example.com", "pager"]'},
            "awaterra:prometheusAlertEmails must be e-mail addresses like ops@example.com, "
            "got 'pager'",
        ),
        (
            {"grafanaUrl": "http://grafana.example.com"},
            "awaterra:grafanaUrl must be the https:// base URL of a Grafana",
        ),
        ({"grafanaUrl": "https://g.example.com"}, "awaterra:grafanaToken is required when"),
        ({"grafanaToken": "glsa_x"}, "awaterra:grafanaToken is set but grafanaUrl is not"),
        ({"datadogSite": "example.com"}, "awaterra:datadogSite must be one of"),
        ({"wafRateLimit": "5"}, "awaterra:wafRateLimit must be >= 10"),
        ({"environment": "staging"}, "awaterra:environment must be one of dev, prod"),
        ({"imageTag": "-bad tag"}, "awaterra:imageTag must be a Docker tag"),
    ],
)
def test_bad_value_fails_naming_the_key(overrides: dict[str, str], expected: str) -> None:
    assert expected in error_for("dev", overrides)


def test_config_errors_end_the_program_without_a_traceback() -> None:
    assert issubclass(SettingsError, pulumi.RunError)


def test_missing_domain_and_zone_fail_without_a_stack_file() -> None:
    message = error_for("dev", {}, use_stack_file=False)
    assert "awaterra:domain is required" in message
    assert "awaterra:hostedZoneId is required" in message


def test_every_problem_is_reported_at_once() -> None:
    message = error_for(
        "dev", {"domain": "", "dbInstanceClass": "large", "dbBackupRetentionDays": "-1"}
    )
    for key in ("awaterra:domain", "awaterra:dbInstanceClass", "awaterra:dbBackupRetentionDays"):
        assert key in message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"dbBackupRetentionDays": "7"},
            "awaterra:dbBackupRetentionDays must be >= 14 in prod, got 7",
        ),
        ({"serviceMinCount": "1"}, "awaterra:serviceMinCount must be >= 2 in prod, got 1"),
        ({"forceDestroy": "true"}, "awaterra:forceDestroy is refused in prod"),
        ({"natMode": "none"}, "awaterra:natMode must be per-az in prod"),
        ({"corsAllowedOrigins": '["http://localhost:3000"]'}, "must use https:// origins in prod"),
        ({"datadogApiKey": ""}, "awaterra:datadogApiKey is required"),
        ({"dbMultiAz": "false"}, "awaterra:dbMultiAz must be true in prod"),
        ({"flowLogs": "false"}, "awaterra:flowLogs must be true in prod"),
        ({"wafEnabled": "false"}, "awaterra:wafEnabled must be true in prod"),
        ({"lbAccessLogs": "false"}, "awaterra:lbAccessLogs must be true in prod"),
        ({"bucketAccessLogs": "false"}, "awaterra:bucketAccessLogs must be true in prod"),
    ],
)
def test_prod_minimums_are_enforced(overrides: dict[str, str], expected: str) -> None:
    assert expected in error_for("prod", {**PROD_SECRETS, **overrides})


@pytest.mark.parametrize(
    ("overrides", "mode"),
    [
        ({}, "none"),  # the dev stack file: datadogEnabled false
        ({"datadogEnabled": "true", **{k: "x" for k in ("datadogApiKey", "datadogAppKey")}},
         "datadog"),
        ({"monitoring": "prometheus"}, "prometheus"),
        ({"monitoring": "prometheus", "datadogEnabled": "false"}, "prometheus"),
        ({"monitoring": "none"}, "none"),
    ],
)
def test_monitoring_mode_and_the_older_datadog_switch(
    overrides: dict[str, str], mode: str
) -> None:
    settings = settings_for("dev", overrides)
    assert settings.monitoring.mode == mode
    assert settings.datadog.enabled is (mode in ("datadog", "both"))
    assert settings.monitoring.prometheus is (mode in ("prometheus", "both"))


def test_prod_needs_an_alerting_path() -> None:
    message = error_for("prod", {**PROD_SECRETS, "monitoring": "none", "datadogEnabled": ""})
    assert "awaterra:monitoring must name an alerting path in prod" in message
    message = error_for("prod", {**PROD_SECRETS, "datadogEnabled": "false"})
    assert "awaterra:datadogEnabled must name an alerting path in prod" in message
    settings = settings_for("prod", {**PROD_SECRETS, "monitoring": "both"})
    assert settings.monitoring.datadog and settings.monitoring.prometheus


def test_the_prometheus_path_reads_its_subscriptions_and_grafana() -> None:
    settings = settings_for(
        "dev",
        {
            "monitoring": "prometheus",
            "prometheusAlertEmails": '["ops@example.com"]',
            "grafanaUrl": "https://grafana.example.com/",
            "grafanaToken": "glsa_token",
        },
    )
    assert settings.monitoring.alert_emails == ("ops@example.com",)
    assert settings.monitoring.grafana_url == "https://grafana.example.com"
    assert settings.monitoring.grafana_token is not None


def test_the_same_values_pass_in_dev() -> None:
    settings = settings_for(
        "dev", {"dbBackupRetentionDays": "1", "serviceMinCount": "1", "forceDestroy": "true"}
    )
    assert settings.database.backup_retention_days == 1
    assert settings.service.image_tag is None


def test_prod_deletion_protection_can_be_lifted_for_teardown() -> None:
    settings = settings_for(
        "prod", {**PROD_SECRETS, "dbDeletionProtection": "false", "lbDeletionProtection": "false"}
    )
    assert not settings.database.deletion_protection
    assert not settings.load_balancer.deletion_protection


def test_image_tag_override_is_kept() -> None:
    assert settings_for("dev", {"imageTag": "3f2a9c1b7d0e"}).service.image_tag == "3f2a9c1b7d0e"


def test_external_auth_takes_issuer_jwks_and_audience() -> None:
    settings = settings_for(
        "dev",
        {
            "authMode": "external",
            "authIssuer": "https://securetoken.google.com/awaterra-app",
            "authJwksUrl": "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
            "authAudience": "awaterra-app",
        },
    )
    assert settings.auth.mode == "external"
    assert settings.auth.audience == "awaterra-app"
    assert "must be an https:// URL" in error_for(
        "dev",
        {
            "authMode": "external",
            "authIssuer": "http://issuer.example.com",
            "authJwksUrl": "https://issuer.example.com/jwks",
            "authAudience": "x",
        },
    )


def test_deploy_guide_documents_every_key() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for key in {*DEFAULTS, *REQUIRED_KEYS, *SECRET_KEYS}:
        assert f"`{key}`" in guide, key


def test_a_connection_budget_beyond_the_instance_is_flagged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(
        pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message)
    )
    real_names = {"domain": "api.dev.awaterra.test", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}
    settings_for("dev", real_names)
    assert warnings == []
    settings_for(
        "dev",
        {**real_names, "serviceMaxCount": "4", "serviceWorkers": "2", "servicePoolSize": "10"},
    )
    (message,) = warnings
    assert "awaterra:serviceMaxCount" in message and "96 connections" in message
    assert "db.t4g.micro's ~84 max_connections" in message


# --- placeholders, unknown keys, the Cognito plan


def test_placeholders_are_refused_outside_the_offline_plan() -> None:
    captured: list[str] = []

    def program() -> None:
        try:
            load_settings(offline=False)
        except SettingsError as error:
            captured.extend(error.problems)

    run_program("prod", PROD_SECRETS, program=program)
    assert captured[:2] == [
        "awaterra:domain is the stack file's placeholder 'api.example.com', not a real domain: "
        "set yours (`pulumi config set domain api.yourcompany.com`)",
        "awaterra:hostedZoneId is the stack file's placeholder 'Z0000000000000EXAMPLE', not a "
        "real hosted zone: set yours (`pulumi config set hostedZoneId Z...`)",
    ]
    # The rest are the firebase block's (tests/infra/test_firebase_wiring.py).
    assert captured[2:] and all(p.startswith("awaterra:firebase.") for p in captured[2:])


@pytest.mark.parametrize(
    "domain", ["api.example.com", "example.org", "api.staging.example.net", "API.Example.COM"]
)
def test_every_example_domain_is_a_placeholder(domain: str) -> None:
    def program() -> None:
        load_settings(offline=False)

    with pytest.raises(SettingsError) as raised:
        run_program(
            "dev", {"domain": domain, "hostedZoneId": "Z0123456789ABCDEFGHIJ"}, program=program
        )
    (problem,) = raised.value.problems
    assert problem.startswith("awaterra:domain is the stack file's placeholder")


def test_real_names_pass_outside_the_offline_plan() -> None:
    captured: list[StackSettings] = []
    real = {"domain": "api.example-corp.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}
    run_program("dev", real, program=lambda: captured.append(load_settings(offline=False)))
    assert captured[0].domain == "api.example-corp.com"


def test_the_offline_plan_only_warns_about_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(
        pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message)
    )
    assert settings_for("dev").domain == "api.dev.example.com"
    assert len(warnings) == 2
    assert all(w.startswith("PLACEHOLDER (refused by a real preview/up): ") for w in warnings)


def test_each_problem_is_logged_as_one_error_and_the_run_error_only_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors: list[str] = []
    monkeypatch.setattr(
        pulumi.log, "error", lambda message, *args, **kwargs: errors.append(message)
    )
    with pytest.raises(SettingsError) as raised:
        settings_for("dev", {"natMode": "x", "azCount": "one"})
    assert errors == list(raised.value.problems) == [
        "awaterra:azCount must be a whole number, got 'one'",
        "awaterra:natMode must be one of none, single, per-az, got 'x'",
    ]
    assert str(raised.value) == "invalid stack configuration: 2 problems (each logged above)"


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("awaterra:dbMultiaz", "awaterra:dbMultiAz"),
        ("awaterra:cognitoTeir", "awaterra:cognitoTier"),
        ("awaterra:wafEnable", "awaterra:wafEnabled"),
        ("awaterra:hostedZone", "awaterra:hostedZoneId"),
    ],
)
def test_unknown_keys_are_refused_with_the_nearest_known_key(key: str, suggestion: str) -> None:
    message = error_for("dev", {key: "true"})
    assert message == (
        f"{key} is not a setting of this program (Pulumi.yaml declares every key); "
        f"did you mean {suggestion}?"
    )


def test_keys_of_other_namespaces_are_left_to_their_providers() -> None:
    settings = settings_for(
        "dev", {"gcp:project": "p", "datadog:site": "x", "aws:profile": "dev", "random:x": "1"}
    )
    assert settings.environment == "dev"


def test_every_declared_key_is_known() -> None:
    declared = {k for k in project_config() if ":" not in k}
    assert set(KNOWN_KEYS) == declared


@pytest.mark.parametrize(("stack", "tier"), [("dev", "ESSENTIALS"), ("prod", "PLUS")])
def test_each_stack_chooses_its_cognito_plan(stack: str, tier: str) -> None:
    overrides = PROD_SECRETS if stack == "prod" else {}
    assert settings_for(stack, overrides).auth.cognito_tier == tier
    pool = run_program(stack, overrides).one("aws:cognito/userPool:UserPool").inputs
    assert pool["userPoolTier"] == tier
    # Threat protection is what PLUS is paid for; the cheaper plans have none.
    assert ("userPoolAddOns" in pool) is (tier == "PLUS")


def test_an_unknown_cognito_plan_is_refused() -> None:
    assert "awaterra:cognitoTier must be one of LITE, ESSENTIALS, PLUS, got 'GOLD'" in error_for(
        "dev", {"cognitoTier": "GOLD"}
    )
