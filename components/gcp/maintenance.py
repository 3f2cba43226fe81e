"""`python -m service maintain` once a day on Google Cloud: a Cloud Run job and its trigger.

`MaintenanceJob(name, MaintenanceJobArgs(service=<CloudRunServiceArgs>, job_name=...))` creates
- a Cloud Run **job** running `python -m service maintain` from the service's image (by
  digest), as the jobs' account (`CloudRunServiceArgs.jobs_service_account_email`, default the
  service's; the stack gives it the schema owner's, the database user that owns the tables
  `migrate` created: dropping and attaching partitions needs the owner, and that account has
  no bucket and no signing grant), with the service's Direct VPC egress (the path the database
  admits) and only the job's share of its environment and secrets
  (components/job_variables.py: database, logging, retention; no bucket, no issuer) with the
  jobs' own variables over them; it is granted no Secret Manager secret (IAM database sign-in
  needs none);
- a service account of its own for the trigger, whose only grant is `roles/run.invoker` on that
  one job (it may run it, nothing else: no project role, no other job, no service);
- a Cloud Scheduler job that calls the Cloud Run Admin API's `jobs.run` for that job with an
  OAuth token of the trigger's account, daily at `schedule` (cron, UTC), retried on failure.

The job is not executed on deploy (no execution token): the schedule runs it, or a person does
(`gcloud run jobs execute <job> --region <region> --wait`, docs/ops.md). Overlapping runs are
safe: `maintain` takes an advisory lock and is idempotent.

Outputs: `job_name`, `trigger_email`, `scheduler_job_name`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_gcp as gcp

if TYPE_CHECKING:
    from components.gcp.cloud_run import CloudRunServiceArgs

DEFAULT_SCHEDULE = "17 3 * * *"  # 03:17 UTC daily, off the hour when other jobs pile up
TIME_ZONE = "Etc/UTC"
INVOKER_ROLE = "roles/run.invoker"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
CRON = re.compile(r"\S+( \S+){4}")
ACCOUNT_ID = re.compile(r"[a-z]([-a-z0-9]{4,28}[a-z0-9])")


def run_job_uri(project: str, location: str, job: str) -> str:
    return f"https://run.googleapis.com/v2/projects/{project}/locations/{location}/jobs/{job}:run"


@dataclass(frozen=True)
class MaintenanceJobArgs:
    service: CloudRunServiceArgs
    job_name: str
    trigger_account_id: str
    schedule: str = DEFAULT_SCHEDULE
    timeout_seconds: int = 1800
    retries: int = 1

    def __post_init__(self) -> None:
        if not CRON.fullmatch(self.schedule):
            raise ValueError(
                f"MaintenanceJob: schedule must be a 5-field cron, got {self.schedule!r}"
            )
        if not ACCOUNT_ID.fullmatch(self.trigger_account_id):
            raise ValueError(
                f"MaintenanceJob: {self.trigger_account_id!r} is not a service account id "
                "(6-30 lowercase letters, digits, '-')"
            )


class MaintenanceJob(pulumi.ComponentResource):
    job_name: pulumi.Output[str]
    trigger_email: pulumi.Output[str]
    scheduler_job_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: MaintenanceJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        from components.gcp.cloud_run import one_command_job

        super().__init__("awaterra:gcp:MaintenanceJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        service = args.service
        labels = {"app": "awaterra", "component": name, **service.labels}
        job = gcp.cloudrunv2.Job(
            f"{name}-job",
            name=args.job_name,
            project=service.project,
            location=service.location,
            launch_stage=service.launch_stage,
            deletion_protection=service.deletion_protection,
            labels=labels,
            template=one_command_job(
                service,
                container="maintain",
                command="maintain",
                timeout_seconds=args.timeout_seconds,
                retries=args.retries,
                labels=labels,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(service.depends_on)),
        )
        trigger = gcp.serviceaccount.Account(
            f"{name}-trigger",
            project=service.project,
            account_id=args.trigger_account_id,
            display_name="awaterra: runs the maintenance job (Cloud Scheduler)",
            opts=child,
        )
        invoker = gcp.cloudrunv2.JobIamMember(
            f"{name}-trigger-runs-job",
            project=service.project,
            location=service.location,
            name=job.name,
            role=INVOKER_ROLE,
            member=trigger.email.apply(lambda email: f"serviceAccount:{email}"),
            opts=child,
        )
        scheduler = gcp.cloudscheduler.Job(
            f"{name}-schedule",
            project=service.project,
            region=service.location,
            description="python -m service maintain: events retention, next months' partitions",
            schedule=args.schedule,
            time_zone=TIME_ZONE,
            attempt_deadline="320s",
            retry_config=gcp.cloudscheduler.JobRetryConfigArgs(
                retry_count=3, min_backoff_duration="60s", max_backoff_duration="600s"
            ),
            http_target=gcp.cloudscheduler.JobHttpTargetArgs(
                http_method="POST",
                uri=pulumi.Output.all(service.project, job.name).apply(
                    lambda v: run_job_uri(v[0], service.location, v[1])
                ),
                oauth_token=gcp.cloudscheduler.JobHttpTargetOauthTokenArgs(
                    service_account_email=trigger.email, scope=SCOPE
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[invoker]),
        )
        self.job_name = job.name
        self.trigger_email = trigger.email
        self.scheduler_job_name = scheduler.name
        self.register_outputs(
            {
                "job_name": self.job_name,
                "trigger_email": self.trigger_email,
                "scheduler_job_name": self.scheduler_job_name,
            }
        )
