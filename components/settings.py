"""The stack's configuration, read once from Pulumi config, typed and validated.

Only this module reads `pulumi.Config` (components/settings_gcp.py, its Google Cloud half,
validates what it is handed). Every problem names the config key it comes from
(`awaterra:dbBackupRetentionDays must be >= 0, got -1`), and all problems are reported together
so one failed `pulumi preview` shows everything that needs fixing.

The defaults below mirror the `config:` block of `Pulumi.yaml` (a test keeps them in step);
`Pulumi.<stack>.yaml` holds every difference between dev and prod. `awaterra:cloud` (aws or gcp)
decides which keys a stack may set: a key of the other cloud is an error naming it.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import pulumi

from components.aws.database import default_max_connections
from components.settings_firebase import FirebaseSettings, read_firebase
from components.settings_gcp import GcpSettings, other_cloud_problems, read_gcp

NAMESPACE = "awaterra"

ENVIRONMENTS = ("dev", "prod")
CLOUDS = ("aws", "gcp")
NAT_MODES = ("none", "single", "per-az")
AUTH_MODES = ("cognito", "external")
MFA_MODES = ("OFF", "OPTIONAL", "ON")
MfaMode = Literal["OFF", "OPTIONAL", "ON"]
COGNITO_TIERS = ("LITE", "ESSENTIALS", "PLUS")
CognitoTier = Literal["LITE", "ESSENTIALS", "PLUS"]
DATADOG_SHIPPING_MODES = ("none", "sidecar", "firelens")
MONITORING_MODES = ("datadog", "prometheus", "both", "none")
DATADOG_SITES = (
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
)
# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
# Fargate CPU units -> allowed memory (MiB).
FARGATE_MEMORY: Mapping[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# Share of max_connections the service may use at full scale (the rest: migrations, operators).
CONNECTION_BUDGET_SHARE = 0.75
PROD_MIN_DB_BACKUP_RETENTION_DAYS = 14
PROD_MIN_SERVICE_TASKS = 2

_INSTANCE_CLASS = re.compile(r"^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_AZ_NAME = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")
_DB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_LOCAL_ORIGIN = re.compile(r"^http://(localhost|127\.0\.0\.1)(:\d{1,5})?$")

# Pulumi.yaml declares the same defaults; tests/infra/test_settings.py keeps them equal.
DEFAULTS: Mapping[str, Any] = {
    "cloud": "aws",
    "environment": "dev",
    "vpcCidr": "10.0.0.0/16",
    "azCount": 2,
    "availabilityZones": [],
    "natMode": "none",
    "flowLogs": False,
    "dbInstanceClass": "db.t4g.micro",
    "dbAllocatedStorageGb": 20,
    "dbMaxAllocatedStorageGb": 100,
    "dbMultiAz": False,
    "dbBackupRetentionDays": 7,
    "dbDeletionProtection": False,
    "dbPerformanceInsights": True,
    "dbName": "awaterra",
    "dbEngineVersion": "16",
    "serviceCpu": 512,
    "serviceMemory": 1024,
    "serviceMinCount": 1,
    "serviceMaxCount": 2,
    "serviceWorkers": 2,
    "servicePoolSize": 5,
    "logRetentionDays": 30,
    "imageTag": "",
    "lbDeletionProtection": False,
    "lbAccessLogs": False,
    "httpRedirect": False,
    "authMode": "cognito",
    "authIssuer": "",
    "authJwksUrl": "",
    "authAudience": "",
    "cognitoMfa": "OPTIONAL",
    "cognitoTier": "ESSENTIALS",
    "wafEnabled": False,
    "wafRateLimit": 2000,
    "adminAllowedCidrs": [],
    "backupRetentionDays": 7,
    "backupCopyRegion": "us-west-2",
    "backupVaultLock": False,
    "corsAllowedOrigins": [],
    "bucketAccessLogs": False,
    "forceDestroy": False,
    "datadogEnabled": False,
    "datadogSite": "datadoghq.com",
    "datadogNotify": "",
    "datadogAwsIntegration": False,
    "datadogShipping": "none",
    # Unset: taken from the older datadogEnabled (true -> datadog, false -> none).
    "monitoring": "",
    "prometheusAlertEmails": [],
    "grafanaUrl": "",
    # Google Cloud stacks only (awaterra:cloud gcp): components/gcp_settings.py.
    "gcpDnsZone": "",
    "gcpBackupLocation": "",
    "dbTier": "db-custom-1-3840",
    # On with datadogEnabled: Datadog's keyless Google Cloud integration (one per project).
    "datadogGcpIntegration": True,
    # Any stack: the mobile apps in Firebase (components/settings_firebase.py); {}: none.
    "firebase": {},
}
REQUIRED_KEYS = ("domain", "hostedZoneId")
SECRET_KEYS = ("datadogApiKey", "datadogAppKey", "grafanaToken")
# Every `awaterra:` key a stack may set: the one list a new key is added to (with its default in
# DEFAULTS and its declaration in Pulumi.yaml; tests/infra/test_settings.py keeps all three equal).
KNOWN_KEYS: tuple[str, ...] = (*DEFAULTS, *REQUIRED_KEYS, *SECRET_KEYS)

# The stand-ins the stack files ship with: planned offline (loudly), refused by a real deployment.
_PLACEHOLDER_DOMAIN = re.compile(r"(^|\.)example\.(com|net|org)$")
_PLACEHOLDER_ZONE = re.compile(r"^Z0+[0-9A-Z]*EXAMPLE$|^Z0+$")
_PLACEHOLDER_GCP_ZONE = re.compile(r"^example(-(com|net|org))?$")

_offline_plan = False


@contextmanager
def offline_plan() -> Iterator[None]:
    """Mark the program as running under the offline mocks (ops/offline.py sets it): placeholder
    domains and zones are then warned about instead of refused. Nothing else sets it, so a real
    `pulumi preview`/`up` always refuses them."""
    global _offline_plan
    previous, _offline_plan = _offline_plan, True
    try:
        yield
    finally:
        _offline_plan = previous


def is_offline_plan() -> bool:
    return _offline_plan


class SettingsError(pulumi.RunError, ValueError):
    """The stack configuration is invalid; `problems` holds one line per offending key.

    A RunError: the Python language host logs its message as one error and exits without a
    traceback. load_settings logs each problem with pulumi.log.error first, so the message itself
    is only the count.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        super().__init__(
            f"invalid stack configuration: {count} problem{'s' if count != 1 else ''} "
            "(each logged above)"
        )


@dataclass(frozen=True)
class NetworkSettings:
    vpc_cidr: str
    az_count: int
    availability_zones: tuple[str, ...]  # empty: ask AWS for the region's zones
    nat_mode: str
    flow_logs: bool


@dataclass(frozen=True)
class DatabaseSettings:
    instance_class: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    multi_az: bool
    backup_retention_days: int
    deletion_protection: bool
    performance_insights: bool
    name: str
    engine_version: str


@dataclass(frozen=True)
class ServiceSettings:
    cpu: int
    memory: int
    min_count: int
    max_count: int
    workers: int
    pool_size: int
    log_retention_days: int
    image_tag: str | None

    @property
    def connections_per_worker(self) -> int:
        """What one uvicorn worker may hold with DB_POOL_SIZE=pool_size: the request-path pool
        (service/mapstore.py, pool_size) plus the SQLAlchemy pool (service/db.py, a quarter of
        it, at least 2; no overflow)."""
        return self.pool_size + max(2, self.pool_size // 4)

    @property
    def max_database_connections(self) -> int:
        """Connections the service may hold at full scale: tasks x workers x per worker."""
        return self.max_count * self.workers * self.connections_per_worker


@dataclass(frozen=True)
class LoadBalancerSettings:
    deletion_protection: bool
    access_logs: bool
    # A port-80 listener that only redirects to HTTPS (and port 80 open to the internet).
    http_redirect: bool


@dataclass(frozen=True)
class AuthSettings:
    mode: str
    issuer: str | None
    jwks_url: str | None
    audience: str | None
    cognito_mfa: MfaMode
    # The Cognito feature plan; PLUS adds threat protection (advanced security), ENFORCED.
    cognito_tier: CognitoTier


@dataclass(frozen=True)
class EdgeSettings:
    waf_enabled: bool
    waf_rate_limit: int
    # Networks the WAF lets reach the admin panel; empty: open (sign-in still required).
    admin_allowed_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackupSettings:
    retention_days: int
    copy_region: str
    vault_lock: bool


@dataclass(frozen=True)
class BucketSettings:
    cors_allowed_origins: tuple[str, ...]
    access_logs: bool
    force_destroy: bool


@dataclass(frozen=True)
class DatadogSettings:
    enabled: bool
    site: str
    api_key: pulumi.Output[str] | None
    app_key: pulumi.Output[str] | None
    notify: str
    aws_integration: bool
    shipping: str
    gcp_integration: bool = False  # gcp stacks only: datadogGcpIntegration while enabled


@dataclass(frozen=True)
class MonitoringSettings:
    """Which alerting paths the stack builds (`awaterra:monitoring`) and the Prometheus path's
    configuration."""

    mode: str  # datadog, prometheus, both or none
    alert_emails: tuple[str, ...]  # subscribed to the Prometheus alerts' SNS topic
    grafana_url: str | None  # an existing Grafana; None: an Amazon Managed Grafana workspace
    grafana_token: pulumi.Output[str] | None  # its service-account token (secret)

    @property
    def datadog(self) -> bool:
        return self.mode in ("datadog", "both")

    @property
    def prometheus(self) -> bool:
        return self.mode in ("prometheus", "both")


@dataclass(frozen=True)
class StackSettings:
    cloud: str  # aws or gcp: which composition __main__.py builds
    gcp: GcpSettings | None  # set on gcp stacks only
    environment: str
    domain: str
    hosted_zone_id: str
    region: str
    # aws:defaultTags (the default provider applies them; explicit providers need them passed).
    default_tags: Mapping[str, str]
    network: NetworkSettings
    database: DatabaseSettings
    service: ServiceSettings
    load_balancer: LoadBalancerSettings
    auth: AuthSettings
    edge: EdgeSettings
    backup: BackupSettings
    bucket: BucketSettings
    datadog: DatadogSettings
    monitoring: MonitoringSettings
    firebase: FirebaseSettings | None = None  # the optional `firebase` block

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"


T = TypeVar("T")


class _Reader:
    """Reads raw config strings, converts them and collects every problem with its key."""

    def __init__(self, config: pulumi.Config) -> None:
        self.config = config
        self.problems: list[str] = []

    def key(self, name: str) -> str:
        return f"{NAMESPACE}:{name}"

    def fail(self, name: str, message: str) -> None:
        self.problems.append(f"{self.key(name)} {message}")

    def raw(self, name: str) -> str | None:
        value = self.config.get(name)
        return None if value is None or value == "" else value

    def text(self, name: str) -> str:
        value = self.raw(name)
        return str(DEFAULTS[name]) if value is None else value.strip()

    def required(self, name: str, example: str) -> str:
        value = self.raw(name)
        if value is None:
            self.fail(name, f"is required (e.g. `pulumi config set {name} {example}`)")
            return ""
        return value.strip()

    def optional(self, name: str) -> str | None:
        value = self.raw(name)
        return None if value is None else value.strip()

    def secret(self, name: str) -> pulumi.Output[str] | None:
        """A secret value (empty counts as unset); it stays an Output and never becomes plain."""
        return None if self.raw(name) is None else self.config.get_secret(name)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name)
        if value not in allowed:
            self.fail(name, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def boolean(self, name: str) -> bool:
        value = self.raw(name)
        if value is None:
            return bool(DEFAULTS[name])
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        self.fail(name, f"must be true or false, got {value!r}")
        return bool(DEFAULTS[name])

    def integer(self, name: str, minimum: int, maximum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return int(DEFAULTS[name])
        try:
            number = int(value.strip())
        except ValueError:
            self.fail(name, f"must be a whole number, got {value!r}")
            return int(DEFAULTS[name])
        if number < minimum:
            self.fail(name, f"must be >= {minimum}, got {number}")
        elif maximum is not None and number > maximum:
            self.fail(name, f"must be <= {maximum}, got {number}")
        return number

    def string_list(self, name: str) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return tuple(DEFAULTS[name])
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            # `pulumi config set corsAllowedOrigins a,b` stores a plain string.
            parsed = [item for item in value.split(",") if item.strip()]
        if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
            self.fail(name, f"must be a list of strings, got {value!r}")
            return ()
        return tuple(item.strip() for item in parsed)

    def check(self, name: str, condition: bool, message: str) -> None:
        if not condition:
            self.fail(name, message)

    def validated(self, name: str, value: T, predicate: Callable[[T], bool], message: str) -> T:
        self.check(name, predicate(value), message)
        return value


def _admin_cidrs(read: _Reader, on_gcp: bool) -> tuple[str, ...]:
    cidrs = read.string_list("adminAllowedCidrs")
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=True)
            valid = "/" in cidr
        except ValueError:
            valid = False
        read.check(
            "adminAllowedCidrs",
            valid,
            f"must list networks in CIDR form such as 203.0.113.0/24 (no host bits), got {cidr!r}",
        )
    read.check("adminAllowedCidrs", len(set(cidrs)) == len(cidrs), "lists a network twice")
    if cidrs:
        read.check(
            "adminAllowedCidrs",
            not on_gcp,
            "is enforced by the AWS web ACL; Google Cloud stacks do not support it yet",
        )
        read.check(
            "adminAllowedCidrs",
            on_gcp or read.boolean("wafEnabled"),
            "needs wafEnabled: true (the web ACL is what restricts /admin)",
        )
    return cidrs


def _valid_cidr(value: str) -> bool:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        return False
    return 16 <= network.prefixlen <= 24


def unknown_key_problems(keys: Iterable[str]) -> list[str]:
    """One problem per `awaterra:` key that no setting reads, with the nearest known key.

    Other namespaces (aws:, gcp:, datadog:, ...) belong to their providers and are left alone.
    """
    problems = []
    for key in sorted(keys):
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE or name in KNOWN_KEYS:
            continue
        by_lower = {known.lower(): known for known in KNOWN_KEYS}
        near = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
        hint = f"; did you mean {NAMESPACE}:{by_lower[near[0]]}?" if near else ""
        problems.append(
            f"{key} is not a setting of this program (Pulumi.yaml declares every key){hint}"
        )
    return problems


def _config_keys() -> set[str]:
    """Every config key the engine passed to the program (explicitly set or via PULUMI_CONFIG)."""
    from pulumi.runtime import config as runtime_config

    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


_PLACEHOLDER_KINDS = {"hostedZoneId": "hosted zone", "gcpDnsZone": "Cloud DNS managed zone"}


def placeholder_problem(name: str, value: str, example: str) -> str:
    return (
        f"{NAMESPACE}:{name} is the stack file's placeholder {value!r}, not a real "
        f"{_PLACEHOLDER_KINDS.get(name, 'domain')}: set yours "
        f"(`pulumi config set {name} {example}`)"
    )


def load_settings(
    config: pulumi.Config | None = None,
    aws_config: pulumi.Config | None = None,
    gcp_config: pulumi.Config | None = None,
    *,
    offline: bool | None = None,
) -> StackSettings:
    """Read and validate the whole stack configuration; raise SettingsError naming every bad key.

    Each problem is also logged with pulumi.log.error, so `pulumi preview` shows one line per
    problem and no traceback. `offline` (default: whether ops/offline.py is running the program)
    turns the placeholder domain and zone from errors into warnings.
    """
    offline = is_offline_plan() if offline is None else offline
    read = _Reader(config or pulumi.Config(NAMESPACE))
    aws = aws_config or pulumi.Config("aws")
    region = aws.get("region") or "us-east-1"
    if config is None:
        read.problems.extend(unknown_key_problems(_config_keys()))

    cloud = read.choice("cloud", CLOUDS)
    on_gcp = cloud == "gcp"
    read.problems.extend(other_cloud_problems(read, cloud, KNOWN_KEYS))
    environment = read.choice("environment", ENVIRONMENTS)
    prod = environment == "prod"

    domain = read.required("domain", "api.dev.example.com").lower()
    if domain:
        read.check(
            "domain",
            bool(_HOSTNAME.match(domain)),
            f"must be a DNS name like api.example.com, got {domain!r}",
        )
    gcp: GcpSettings | None = None
    hosted_zone_id = ""
    if on_gcp:
        gcp = read_gcp(read, gcp_config or pulumi.Config("gcp"), environment)
        region = gcp.region
    else:
        hosted_zone_id = read.required("hostedZoneId", "Z0123456789ABCDEFGHIJ")
    if hosted_zone_id:
        read.check(
            "hostedZoneId",
            bool(_HOSTED_ZONE_ID.match(hosted_zone_id)),
            f"must be a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ, got {hosted_zone_id!r}",
        )
    firebase = read_firebase(read)
    placeholders = [
        placeholder_problem(name, value, example)
        for name, value, example, pattern in (
            ("domain", domain, "api.yourcompany.com", _PLACEHOLDER_DOMAIN),
            ("hostedZoneId", hosted_zone_id, "Z...", _PLACEHOLDER_ZONE),
            ("gcpDnsZone", gcp.dns_zone if gcp else "", "your-zone", _PLACEHOLDER_GCP_ZONE),
        )
        if value and pattern.search(value)
    ]
    placeholders.extend(firebase.placeholders() if firebase else ())
    if offline:
        for problem in placeholders:
            pulumi.log.warn(f"PLACEHOLDER (refused by a real preview/up): {problem}")
    else:
        read.problems.extend(placeholders)

    # natMode's per-az rule is the AWS network's; Google Cloud's has no NAT to choose.
    network = _network(read, prod and not on_gcp)
    database = _database(read, prod)
    if on_gcp:
        read.check(
            "dbBackupRetentionDays",
            database.backup_retention_days >= 1,
            "must be >= 1 on Google Cloud (the number of daily backups Cloud SQL keeps), "
            f"got {database.backup_retention_days}",
        )
    # Cloud Run may scale a dev service to zero; an ECS service keeps a task.
    service = _service(read, prod, min_tasks=0 if on_gcp else 1)
    load_balancer = LoadBalancerSettings(
        deletion_protection=read.boolean("lbDeletionProtection"),
        access_logs=read.boolean("lbAccessLogs"),
        http_redirect=read.boolean("httpRedirect"),
    )
    auth = _auth(read)
    edge = EdgeSettings(
        waf_enabled=read.boolean("wafEnabled"),
        # WAF rate-based rules accept 10..2,000,000,000 requests per 5-minute window.
        waf_rate_limit=read.integer("wafRateLimit", 10, 2_000_000_000),
        admin_allowed_cidrs=_admin_cidrs(read, on_gcp),
    )
    backup = _backup(read, region)
    bucket = _bucket(read, prod)
    monitoring = _monitoring(read, prod, on_gcp)
    datadog = _datadog(read, monitoring.datadog, on_gcp)
    default_tags = _default_tags(read, aws.get("defaultTags"))
    if prod:
        # The protections the issue and the policy pack require of prod; the two deletion
        # protections stay switchable (with a warning) because teardown needs them off.
        # On Google Cloud, Cloud Armor and the load balancer's logs are always on (no key).
        for key, enabled, why in (
            ("dbMultiAz", database.multi_az, "a standby in a second zone"),
            ("flowLogs", network.flow_logs, "VPC flow logs"),
            ("wafEnabled", edge.waf_enabled or on_gcp, "the web ACL in front of the load balancer"),
            ("lbAccessLogs", load_balancer.access_logs or on_gcp, "load balancer access logs"),
            ("bucketAccessLogs", bucket.access_logs, "media bucket access logs"),
        ):
            read.check(key, enabled, f"must be true in prod ({why})")

    if read.problems:
        for problem in read.problems:
            pulumi.log.error(problem)
        raise SettingsError(read.problems)
    capacity = None if on_gcp else default_max_connections(database.instance_class)
    if capacity and service.max_database_connections > capacity * CONNECTION_BUDGET_SHARE:
        pulumi.log.warn(
            f"{read.key('serviceMaxCount')} x serviceWorkers x (servicePoolSize + a quarter) = "
            f"{service.max_database_connections} connections exceeds "
            f"{CONNECTION_BUDGET_SHARE:.0%} of {database.instance_class}'s ~{capacity} "
            "max_connections (see docs/deploy.md)"
        )
    if prod and not database.deletion_protection:
        pulumi.log.warn(
            f"{read.key('dbDeletionProtection')} is false in prod: only for tearing the stack down"
        )
    if prod and not on_gcp and not load_balancer.deletion_protection:
        pulumi.log.warn(
            f"{read.key('lbDeletionProtection')} is false in prod: only for tearing the stack down"
        )

    return StackSettings(
        cloud=cloud,
        gcp=gcp,
        environment=environment,
        domain=domain,
        hosted_zone_id=hosted_zone_id,
        region=region,
        default_tags=default_tags,
        network=network,
        database=database,
        service=service,
        load_balancer=load_balancer,
        auth=auth,
        edge=edge,
        backup=backup,
        bucket=bucket,
        datadog=datadog,
        monitoring=monitoring,
        firebase=firebase,
    )


def _default_tags(read: _Reader, raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        parsed = None
    tags = parsed.get("tags") if isinstance(parsed, dict) else None
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        read.problems.append(f'aws:defaultTags must be {{"tags": {{name: value}}}}, got {raw!r}')
        return {}
    return dict(tags)


def _network(read: _Reader, prod: bool) -> NetworkSettings:
    vpc_cidr = read.text("vpcCidr")
    read.check(
        "vpcCidr",
        _valid_cidr(vpc_cidr),
        f"must be an IPv4 network between /16 and /24, got {vpc_cidr!r}",
    )
    # RDS subnet groups and load balancers need at least two zones.
    az_count = read.integer("azCount", 2, 6)
    zones = read.string_list("availabilityZones")
    for zone in zones:
        read.check(
            "availabilityZones",
            bool(_AZ_NAME.match(zone)),
            f"must list zone names like us-east-1a, got {zone!r}",
        )
    if zones:
        read.check(
            "availabilityZones",
            len(zones) >= az_count,
            f"lists {len(zones)} zones but azCount is {az_count}",
        )
    nat_mode = read.choice("natMode", NAT_MODES)
    if prod:
        read.check(
            "natMode",
            nat_mode == "per-az",
            f"must be per-az in prod (no single point of failure), got {nat_mode!r}",
        )
    return NetworkSettings(
        vpc_cidr=vpc_cidr,
        az_count=az_count,
        availability_zones=zones[:az_count] if zones else (),
        nat_mode=nat_mode,
        flow_logs=read.boolean("flowLogs"),
    )


def _database(read: _Reader, prod: bool) -> DatabaseSettings:
    instance_class = read.text("dbInstanceClass")
    read.check(
        "dbInstanceClass",
        bool(_INSTANCE_CLASS.match(instance_class)),
        f"must look like db.<family>.<size> (e.g. db.t4g.micro), got {instance_class!r}",
    )
    allocated = read.integer("dbAllocatedStorageGb", 20, 65536)
    max_allocated = read.integer("dbMaxAllocatedStorageGb", 20, 65536)
    read.check(
        "dbMaxAllocatedStorageGb",
        max_allocated > allocated,
        f"must be greater than dbAllocatedStorageGb ({allocated}) so storage can autoscale, "
        f"got {max_allocated}",
    )
    retention = read.integer("dbBackupRetentionDays", 0, 35)
    if prod and retention >= 0:
        read.check(
            "dbBackupRetentionDays",
            retention >= PROD_MIN_DB_BACKUP_RETENTION_DAYS,
            f"must be >= {PROD_MIN_DB_BACKUP_RETENTION_DAYS} in prod, got {retention}",
        )
    engine_version = read.text("dbEngineVersion")
    read.check(
        "dbEngineVersion",
        bool(re.match(r"^16(\.\d+)?$", engine_version)),
        f'must be PostgreSQL 16 ("16" or "16.x"), got {engine_version!r}',
    )
    name = read.text("dbName")
    read.check(
        "dbName",
        bool(_DB_NAME.match(name)),
        f"must start with a letter and hold only letters, digits and _, got {name!r}",
    )
    return DatabaseSettings(
        instance_class=instance_class,
        allocated_storage_gb=allocated,
        max_allocated_storage_gb=max_allocated,
        multi_az=read.boolean("dbMultiAz"),
        backup_retention_days=retention,
        deletion_protection=read.boolean("dbDeletionProtection"),
        performance_insights=read.boolean("dbPerformanceInsights"),
        name=name,
        engine_version=engine_version,
    )


def _service(read: _Reader, prod: bool, *, min_tasks: int = 1) -> ServiceSettings:
    cpu = read.integer("serviceCpu", 256)
    memory = read.integer("serviceMemory", 512)
    if cpu not in FARGATE_MEMORY:
        read.fail(
            "serviceCpu",
            f"must be a Fargate CPU size ({', '.join(map(str, FARGATE_MEMORY))}), got {cpu}",
        )
    elif memory not in FARGATE_MEMORY[cpu]:
        allowed = FARGATE_MEMORY[cpu]
        read.fail(
            "serviceMemory",
            f"must be between {allowed[0]} and {allowed[-1]} MiB in Fargate steps "
            f"for serviceCpu {cpu}, got {memory}",
        )
    minimum_tasks = PROD_MIN_SERVICE_TASKS if prod else 1
    min_count = read.integer("serviceMinCount", min_tasks)
    if prod and min_count >= min_tasks:
        read.check(
            "serviceMinCount",
            min_count >= minimum_tasks,
            f"must be >= {minimum_tasks} in prod, got {min_count}",
        )
    max_count = read.integer("serviceMaxCount", 1, 100)
    read.check(
        "serviceMaxCount",
        max_count >= min_count,
        f"must be >= serviceMinCount ({min_count}), got {max_count}",
    )
    log_retention = read.integer("logRetentionDays", 1)
    read.check(
        "logRetentionDays",
        log_retention in LOG_RETENTION_DAYS or log_retention < 1,
        f"must be a CloudWatch retention ({', '.join(map(str, LOG_RETENTION_DAYS))}), "
        f"got {log_retention}",
    )
    return ServiceSettings(
        cpu=cpu,
        memory=memory,
        min_count=min_count,
        max_count=max_count,
        workers=read.integer("serviceWorkers", 1, 32),
        pool_size=read.integer("servicePoolSize", 1, 100),
        log_retention_days=log_retention,
        image_tag=read.validated(
            "imageTag",
            read.optional("imageTag"),
            lambda tag: tag is None or bool(_IMAGE_TAG.match(tag)),
            "must be a Docker tag (letters, digits, _ . -, at most 128, not starting with . or -)",
        ),
    )


def _auth(read: _Reader) -> AuthSettings:
    mode = read.choice("authMode", AUTH_MODES)
    issuer = read.optional("authIssuer")
    jwks_url = read.optional("authJwksUrl")
    audience = read.optional("authAudience")
    if mode == "external":
        for name, value in (("authIssuer", issuer), ("authJwksUrl", jwks_url)):
            if value is None:
                read.fail(name, "is required when authMode is external")
            else:
                read.check(
                    name, value.startswith("https://"), f"must be an https:// URL, got {value!r}"
                )
        if audience is None:
            read.fail(
                "authAudience",
                "is required when authMode is external (e.g. the Firebase project id)",
            )
    return AuthSettings(
        mode=mode,
        issuer=issuer,
        jwks_url=jwks_url,
        audience=audience,
        cognito_mfa=cast(MfaMode, read.choice("cognitoMfa", MFA_MODES)),
        cognito_tier=cast(CognitoTier, read.choice("cognitoTier", COGNITO_TIERS)),
    )


def _backup(read: _Reader, region: str) -> BackupSettings:
    # AWS Backup keeps recovery points for at least a day.
    retention = read.integer("backupRetentionDays", 1, 36500)
    copy_region = read.text("backupCopyRegion")
    if not _REGION.match(copy_region):
        read.fail("backupCopyRegion", f"must be an AWS region like us-west-2, got {copy_region!r}")
    else:
        read.check(
            "backupCopyRegion",
            copy_region != region,
            f"must differ from aws:region ({region}): "
            "a copy in the same region does not survive losing it",
        )
    return BackupSettings(
        retention_days=retention,
        copy_region=copy_region,
        vault_lock=read.boolean("backupVaultLock"),
    )


def _bucket(read: _Reader, prod: bool) -> BucketSettings:
    origins = read.string_list("corsAllowedOrigins")
    for origin in origins:
        if origin == "*":
            read.fail("corsAllowedOrigins", "must list explicit origins, not '*'")
        elif not _ORIGIN.match(origin):
            read.fail(
                "corsAllowedOrigins",
                f"must hold origins like https://app.example.com (no path), got {origin!r}",
            )
        elif prod and not origin.startswith("https://"):
            read.fail("corsAllowedOrigins", f"must use https:// origins in prod, got {origin!r}")
        elif not origin.startswith("https://") and not _LOCAL_ORIGIN.match(origin):
            read.fail("corsAllowedOrigins", f"may use http:// only for localhost, got {origin!r}")
    force_destroy = read.boolean("forceDestroy")
    if prod:
        read.check(
            "forceDestroy",
            not force_destroy,
            "is refused in prod: it would delete every object with the bucket",
        )
    return BucketSettings(
        cors_allowed_origins=origins,
        access_logs=read.boolean("bucketAccessLogs"),
        force_destroy=force_destroy,
    )


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _monitoring(read: _Reader, prod: bool, on_gcp: bool) -> MonitoringSettings:
    """`monitoring`, or the older `datadogEnabled` when it is unset; both set must agree."""
    legacy = read.raw("datadogEnabled")
    datadog_enabled = read.boolean("datadogEnabled")
    raw = read.raw("monitoring")
    if raw is None:
        mode = "datadog" if datadog_enabled else "none"
    else:
        mode = read.choice("monitoring", MONITORING_MODES)
        if legacy is not None and datadog_enabled != (mode in ("datadog", "both")):
            read.fail(
                "monitoring",
                f"is {mode!r} but awaterra:datadogEnabled is {legacy.strip().lower()}: they "
                "disagree; remove datadogEnabled (monitoring replaces it) or make them match",
            )
    # Both clouds: gcp stacks wire the datadog path (components/gcp/stack.py).
    if mode == "none" and prod:
        read.fail(
            "monitoring" if raw is not None else "datadogEnabled",
            "must name an alerting path in prod (monitoring: datadog, prometheus or both); "
            "none is for dev only",
        )
    if on_gcp and mode in ("prometheus", "both"):
        read.fail("monitoring", f"{mode!r} is built for AWS stacks only; use datadog or none")
    emails = read.string_list("prometheusAlertEmails")
    for email in emails:
        read.check(
            "prometheusAlertEmails",
            bool(_EMAIL.match(email)),
            f"must be e-mail addresses like ops@example.com, got {email!r}",
        )
    grafana_url = read.optional("grafanaUrl")
    grafana_token = read.secret("grafanaToken")
    if grafana_url is not None:
        read.check(
            "grafanaUrl",
            grafana_url.startswith("https://") and "/" not in grafana_url[8:].rstrip("/"),
            f"must be the https:// base URL of a Grafana, got {grafana_url!r}",
        )
        if grafana_token is None:
            read.fail(
                "grafanaToken",
                "is required when grafanaUrl is set (a Grafana service-account token: "
                "`pulumi config set --secret grafanaToken ...`)",
            )
    elif grafana_token is not None:
        read.fail("grafanaToken", "is set but grafanaUrl is not: name the Grafana it is for")
    return MonitoringSettings(
        mode=mode,
        alert_emails=emails,
        grafana_url=grafana_url.rstrip("/") if grafana_url else None,
        grafana_token=grafana_token,
    )


def _datadog(read: _Reader, enabled: bool, on_gcp: bool) -> DatadogSettings:
    api_key = read.secret("datadogApiKey")
    app_key = read.secret("datadogAppKey")
    # Read (and checked) on every gcp stack; it only matters while Datadog is on.
    gcp_integration = on_gcp and read.boolean("datadogGcpIntegration")
    if enabled:
        for name, value in (("datadogApiKey", api_key), ("datadogAppKey", app_key)):
            if value is None:
                read.fail(
                    name,
                    "is required when Datadog is on (monitoring datadog or both, or the "
                    f"older datadogEnabled true) (`pulumi config set --secret {name} ...`)",
                )
    return DatadogSettings(
        enabled=enabled,
        site=read.choice("datadogSite", DATADOG_SITES),
        api_key=api_key,
        app_key=app_key,
        notify=read.text("datadogNotify"),
        aws_integration=read.boolean("datadogAwsIntegration"),
        shipping=read.choice("datadogShipping", DATADOG_SHIPPING_MODES),
        gcp_integration=enabled and gcp_integration,
    )
