"""The admin panel's side of the AWS stack, under mocks: hosted sign-in with a code-flow client,
the session key in a KMS-encrypted secret only the execution role reads, the task's ADMIN_*
variables, and the WAF rule restricting /admin only when networks are listed."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.aws.admin_panel import AdminPanel, AdminPanelArgs, default_prefix
from components.aws.edge import ADMIN_RULE, WebAcl, WebAclArgs
from components.settings import SettingsError
from ops.offline import RecordedResource, Recording, run_program
from tests.infra.policy_helpers import as_list, by_sid, statements

DOMAIN = "api.awaterra.test"
POOL_ID = "us-east-1_pool"
PROD_SECRETS = {"datadogApiKey": "dd-api-key-value", "datadogAppKey": "dd-app-key-value"}
ALB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api/50dc6c49"
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def _panel() -> Recording:
    def program() -> None:
        panel = AdminPanel("admin", AdminPanelArgs(user_pool_id=POOL_ID, domain=DOMAIN))
        pulumi.export("client_id", panel.client_id)
        pulumi.export("sign_in_domain", panel.sign_in_domain)
        pulumi.export("secret_arn", panel.session_key_secret_arn)

    return run_program("dev", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def panel() -> Recording:
    return _panel()


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program("dev")


@pytest.fixture(scope="module")
def prod() -> Recording:
    return run_program("prod", PROD_SECRETS)


def test_the_panel_client_is_code_flow_only_with_our_callback_and_no_secret(
    panel: Recording,
) -> None:
    client = panel.one("aws:cognito/userPoolClient:UserPoolClient").inputs
    assert client["userPoolId"] == POOL_ID
    assert client["allowedOauthFlowsUserPoolClient"] is True
    assert client["allowedOauthFlows"] == ["code"]  # no implicit flow, no client credentials
    assert client["allowedOauthScopes"] == ["openid", "email"]
    assert client["callbackUrls"] == [f"https://{DOMAIN}/admin/callback"]
    assert client["defaultRedirectUri"] == f"https://{DOMAIN}/admin/callback"
    assert client["logoutUrls"] == [f"https://{DOMAIN}/admin/signed-out"]
    assert client["supportedIdentityProviders"] == ["COGNITO"]
    # A public client: PKCE binds the code; no generated secret to end up in state.
    assert client["generateSecret"] is False
    assert "ALLOW_USER_PASSWORD_AUTH" not in client["explicitAuthFlows"]
    assert "ALLOW_USER_SRP_AUTH" not in client["explicitAuthFlows"]
    assert client["preventUserExistenceErrors"] == "ENABLED"


def test_the_hosted_sign_in_has_a_domain_of_the_pool(panel: Recording) -> None:
    domain = panel.one("aws:cognito/userPoolDomain:UserPoolDomain").inputs
    assert domain["userPoolId"] == POOL_ID
    assert domain["domain"] == default_prefix("awaterra", "dev", "123456789012")
    assert panel.outputs["sign_in_domain"] == (
        f"{domain['domain']}.auth.us-east-1.amazoncognito.com"
    )
    for word in ("aws", "amazon", "cognito"):
        assert word not in domain["domain"]


def test_the_session_key_is_random_secret_and_encrypted_with_its_own_key(
    panel: Recording,
) -> None:
    value = panel.one("random:index/randomPassword:RandomPassword").inputs
    assert value["length"] >= 32 and value["special"] is False
    key = panel.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    secret = panel.one("aws:secretsmanager/secret:Secret").inputs
    assert secret["kmsKeyId"] == key.outputs["arn"]
    version = panel.one("aws:secretsmanager/secretVersion:SecretVersion").inputs
    # The value reaches the provider only as a secret (encrypted in state).
    assert version["secretString"][SECRET_SIG] is not None


def _task(recording: Recording) -> RecordedResource:
    return recording.one("aws:ecs/taskDefinition:TaskDefinition", "api-task")


def _container(recording: Recording, name: str) -> dict[str, Any]:
    task = _task(recording)
    (found,) = [c for c in json.loads(task.inputs["containerDefinitions"]) if c["name"] == name]
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_task_gets_the_panels_settings_and_its_key_from_the_secret(
    stack: str, request: pytest.FixtureRequest
) -> None:
    recording: Recording = request.getfixturevalue(stack)
    app = _container(recording, "app")
    env = {e["name"]: e["value"] for e in app["environment"]}
    client = recording.one("aws:cognito/userPoolClient:UserPoolClient", "admin-client")
    domain = recording.config["awaterra:domain"]
    assert env["ADMIN_OIDC_CLIENT_ID"] == client.id
    assert env["ADMIN_BASE_URL"] == f"https://{domain}"
    links = json.loads(env["ADMIN_LINKS"])
    assert links["API docs"] == f"https://{domain}/docs"
    assert links["Service logs (CloudWatch)"].endswith("$252Fawaterra$252F" + stack + "$252Fapi")
    datadog = {label for label in links if label.startswith("Datadog")}
    if stack == "prod":  # Datadog on: its dashboards, SLOs, synthetics and logs
        assert datadog == {"Datadog dashboards", "Datadog SLOs", "Datadog synthetic tests",
                           "Datadog logs"}
        assert all("env%3Aprod" in links[label] for label in datadog - {"Datadog dashboards"})
    else:
        assert datadog == set()
    # The issuer the API trusts is the one the panel signs in through.
    assert env["AUTH_ISSUER"].startswith("https://cognito-idp.")
    secret = recording.one("aws:secretsmanager/secret:Secret", "admin-session-key")
    secrets = {s["name"]: s["valueFrom"] for s in app["secrets"]}
    assert secrets["ADMIN_SESSION_KEY"] == secret.outputs["arn"]
    assert "ADMIN_SESSION_KEY" not in env


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_only_the_execution_role_reads_the_session_key(
    stack: str, request: pytest.FixtureRequest
) -> None:
    recording: Recording = request.getfixturevalue(stack)
    secret_arn = recording.one("aws:secretsmanager/secret:Secret", "admin-session-key").outputs[
        "arn"
    ]
    key_arn = recording.one("aws:kms/key:Key", "admin-session-key-kms").outputs["arn"]
    execution = recording.one("aws:iam/rolePolicy:RolePolicy", "api-execution-permissions")
    read = by_sid(execution, "ReadSecrets")
    assert secret_arn in as_list(read["Resource"])
    assert read["Action"] == ["secretsmanager:GetSecretValue"]
    decrypt = by_sid(execution, "DecryptSecrets")
    assert key_arn in as_list(decrypt["Resource"]) and decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"]
    # Nothing else in the stack may read it: no other policy names the secret or its key.
    for resource in recording.of_type("aws:iam/rolePolicy:RolePolicy"):
        if resource.name == "api-execution-permissions":
            continue
        for statement in statements(resource):
            resources = as_list(statement.get("Resource", []))
            assert secret_arn not in resources and key_arn not in resources, resource.name
            if resource.name == "api-maintenance-execution-permissions":
                continue  # reads the database secret (test_the_jobs_never_get_the_session_key)
            assert not any(a.startswith("secretsmanager:") for a in as_list(statement["Action"]))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_jobs_never_get_the_session_key(stack: str, request: pytest.FixtureRequest) -> None:
    """migrate (the task's init container) and maintain (a task of its own) get the database
    settings alone; the role that runs maintain cannot read the session key or its KMS key."""
    recording: Recording = request.getfixturevalue(stack)
    secret = recording.one("aws:secretsmanager/secret:Secret", "admin-session-key")
    key_arn = recording.one("aws:kms/key:Key", "admin-session-key-kms").outputs["arn"]
    maintenance = recording.one("aws:ecs/taskDefinition:TaskDefinition", "api-maintenance-task")
    (maintain,) = json.loads(maintenance.inputs["containerDefinitions"])
    database = recording.one("aws:rds/instance:Instance").outputs["masterUserSecrets"][0]
    for container in (_container(recording, "migrate"), maintain):
        names = {e["name"] for e in container["environment"]} | {
            s["name"] for s in container["secrets"]
        }
        assert names == {"ENVIRONMENT", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER",
                         "DB_PASSWORD", "DB_SSLMODE", "LOG_LEVEL", "DB_APP_ROLE",
                         "DB_APP_ROLE_IAM"}, container["name"]  # fmt: skip
        referenced = {s["valueFrom"].split(":")[6] for s in container["secrets"]}
        assert referenced == {database["secretArn"].split(":")[6]}, container["name"]
        assert secret.outputs["arn"] not in json.dumps(container)
    # The maintenance task runs with an execution role of its own that reads the database
    # secret (and its key) and nothing else.
    assert maintenance.inputs["executionRoleArn"] != _task(recording).inputs["executionRoleArn"]
    [role] = [
        r for r in recording.of_type("aws:iam/role:Role")
        if r.outputs["arn"] == maintenance.inputs["executionRoleArn"]
    ]  # fmt: skip
    [policy] = [
        p for p in recording.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id
    ]  # fmt: skip
    read = by_sid(policy, "ReadSecrets")
    assert as_list(read["Resource"]) == [database["secretArn"]]
    granted = json.dumps(statements(policy))
    assert secret.outputs["arn"] not in granted and key_arn not in granted


def _waf(cidrs: tuple[str, ...]) -> Recording:
    def program() -> None:
        WebAcl("waf", WebAclArgs(load_balancer_arn=ALB_ARN, admin_allowed_cidrs=cidrs))

    return run_program("prod", program=program, use_stack_file=False)


def test_waf_restricts_admin_to_the_listed_networks() -> None:
    recording = _waf(("203.0.113.0/24", "198.51.100.7/32", "2001:db8::/48"))
    sets = {s.inputs["ipAddressVersion"]: s for s in recording.of_type("aws:wafv2/ipSet:IpSet")}
    assert sets["IPV4"].inputs["addresses"] == ["198.51.100.7/32", "203.0.113.0/24"]
    assert sets["IPV6"].inputs["addresses"] == ["2001:db8::/48"]
    assert all(s.inputs["scope"] == "REGIONAL" for s in sets.values())
    rules = recording.one("aws:wafv2/webAcl:WebAcl").inputs["rules"]
    rule = min(rules, key=lambda r: r["priority"])
    assert rule["name"] == ADMIN_RULE and rule["priority"] == 0
    assert rule["action"]["block"]["customResponse"]["responseCode"] == 403
    path, negated = rule["statement"]["andStatement"]["statements"]
    match = path["byteMatchStatement"]
    assert match["searchString"] == "/admin" and match["positionalConstraint"] == "STARTS_WITH"
    assert "uriPath" in match["fieldToMatch"]
    either = negated["notStatement"]["statement"]["orStatement"]["statements"]
    assert {s["ipSetReferenceStatement"]["arn"] for s in either} == {
        s.outputs["arn"] for s in sets.values()
    }
    # Every rule keeps a priority of its own.
    assert len({r["priority"] for r in rules}) == len(rules)


def test_waf_has_no_admin_rule_without_networks() -> None:
    recording = _waf(())
    assert recording.of_type("aws:wafv2/ipSet:IpSet") == []
    rules = recording.one("aws:wafv2/webAcl:WebAcl").inputs["rules"]
    assert ADMIN_RULE not in {r["name"] for r in rules}
    assert min(r["priority"] for r in rules) == 0


def test_prod_with_admin_networks_wires_them_into_its_web_acl() -> None:
    recording = run_program(
        "prod", {**PROD_SECRETS, "adminAllowedCidrs": '["192.0.2.0/24"]'}
    )
    (ip_set,) = recording.of_type("aws:wafv2/ipSet:IpSet")
    assert ip_set.inputs["addresses"] == ["192.0.2.0/24"]
    rules = recording.one("aws:wafv2/webAcl:WebAcl").inputs["rules"]
    assert any(r["name"] == ADMIN_RULE for r in rules)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('["192.0.2.1/24"]', "no host bits"),
        ('["not-a-network"]', "CIDR form"),
        ('["192.0.2.1"]', "CIDR form"),
        ('["192.0.2.0/24", "192.0.2.0/24"]', "twice"),
    ],
)
def test_bad_admin_networks_are_refused(value: str, words: str) -> None:
    with pytest.raises(SettingsError) as raised:
        run_program("prod", {**PROD_SECRETS, "adminAllowedCidrs": value})
    assert any("adminAllowedCidrs" in p and words in p for p in raised.value.problems), (
        raised.value.problems
    )


def test_admin_networks_need_the_waf() -> None:
    with pytest.raises(SettingsError) as raised:
        run_program("dev", {"adminAllowedCidrs": '["192.0.2.0/24"]'})
    assert any("needs wafEnabled" in p for p in raised.value.problems), raised.value.problems


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"domain": "https://api.awaterra.test"}, "host name"),
        ({"domain_prefix": "my-aws-admin"}, "without 'aws'"),
        ({"domain_prefix": "Upper"}, "lower-case"),
        ({"id_token_minutes": 2}, "5..1440"),
    ],
)
def test_bad_panel_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AdminPanelArgs(**{"user_pool_id": POOL_ID, "domain": DOMAIN, **kwargs})
