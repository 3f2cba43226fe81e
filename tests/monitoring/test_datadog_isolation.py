"""Datadog stays out unless a stack enables it: no resources, and pulumi_datadog never imported.

Each check runs in a fresh interpreter, because this test session may already have imported
pulumi_datadog for the Monitoring tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def test_importing_every_other_component_does_not_load_pulumi_datadog() -> None:
    result = _run(
        "import importlib, json, pkgutil, sys\n"
        "import components\n"
        "names = [m.name for m in pkgutil.walk_packages(components.__path__, 'components.')]\n"
        "for name in names:\n"
        # The shared Datadog monitoring and its two cloud subclasses are the only importers.
        "    if not name.endswith('.monitoring'):\n"
        "        importlib.import_module(name)\n"
        "print(json.dumps({'loaded': 'pulumi_datadog' in sys.modules, 'modules': names}))\n"
    )
    assert "components.aws.datadog_shipping" in result["modules"]  # type: ignore[operator]
    assert result["loaded"] is False


def test_a_stack_with_datadog_disabled_creates_and_imports_nothing_datadog() -> None:
    result = _run(
        "import json, sys\n"
        "from ops.offline import run_program\n"
        "recording = run_program('dev', {'datadogEnabled': 'false', 'datadogShipping': 'none'})\n"
        "names = [f'{r.type} {r.name}' for r in recording]\n"
        "task_definitions = [r.inputs.get('containerDefinitions', '[]') for r in recording\n"
        "                    if r.type == 'aws:ecs/taskDefinition:TaskDefinition']\n"
        "print(json.dumps({'loaded': 'pulumi_datadog' in sys.modules, 'names': names,\n"
        "                  'tasks': task_definitions}))\n"
    )
    assert result["loaded"] is False
    names = result["names"]
    assert isinstance(names, list) and len(names) > 20  # the program really ran
    datadog_things = [
        n for n in names if "datadog" in n.lower() or n.startswith("awaterra:monitoring:")
    ]
    assert datadog_things == []
    tasks = result["tasks"]
    assert isinstance(tasks, list) and tasks
    for document in tasks:
        containers = json.loads(document)
        assert {c["name"] for c in containers}.isdisjoint({"datadog-agent", "log-router"})
        for container in containers:
            driver = container.get("logConfiguration", {}).get("logDriver")
            assert driver in (None, "awslogs"), container["name"]


def test_prod_with_datadog_builds_monitoring_and_ships_from_the_task() -> None:
    from ops.offline import run_program

    recording = run_program("prod", {"datadogApiKey": "dd-api", "datadogAppKey": "dd-app"})
    recording.one("awaterra:monitoring:Monitoring")
    for output in ("dashboard_url", "availability_slo_url", "latency_slo_url", "synthetic_url"):
        assert recording.outputs[output].startswith("https://app.datadoghq.com/"), output
    # The dashboard and monitors watch this stack's own resources.
    lb_suffix = recording.one("aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    hosts = next(r for r in recording if r.name == "monitoring-error-rate")
    assert f"loadbalancer:{lb_suffix.lower()}" in hosts.inputs["query"]
    task = recording.one("aws:ecs/taskDefinition:TaskDefinition", "api-task")
    containers = {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}
    assert {"datadog-agent", "log-router"} <= set(containers)
    app = containers["app"]
    environment = {e["name"]: e["value"] for e in app["environment"]}
    assert environment["DD_TRACE_ENABLED"] == "true"
    assert environment["DD_SERVICE"] == "awaterra-api"
    assert "com.datadoghq.ad.checks" in app["dockerLabels"]
    assert app["logConfiguration"]["logDriver"] == "awsfirelens"
    # Every container logging to CloudWatch writes streams the execution role may create.
    execution = recording.named("api-execution-permissions")
    statements = json.loads(execution.inputs["policy"])["Statement"]
    (logs,) = [s for s in statements if "logs:CreateLogStream" in s["Action"]]
    for name, definition in containers.items():
        options = definition.get("logConfiguration", {}).get("options", {})
        if definition["logConfiguration"]["logDriver"] == "awslogs":
            prefix = options["awslogs-stream-prefix"]
            assert any(r.endswith(f":log-stream:{prefix}/*") for r in logs["Resource"]), name


def test_gcp_dev_without_datadog_creates_and_imports_nothing_datadog() -> None:
    result = _run(
        "import json, sys\n"
        "from ops.offline import run_program\n"
        "recording = run_program('gcp-dev')\n"
        "names = [f'{r.type} {r.name}' for r in recording]\n"
        "print(json.dumps({'loaded': 'pulumi_datadog' in sys.modules, 'names': names,\n"
        "                  'dashboard': recording.outputs['dashboard_url']}))\n"
    )
    assert result["loaded"] is False
    names = result["names"]
    assert isinstance(names, list) and len(names) > 20  # the program really ran
    assert [n for n in names if "datadog" in n.lower() or "GcpMonitoring" in n] == []
    assert result["dashboard"] is None
