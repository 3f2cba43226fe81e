"""Pulumi components of the awaterra backend, a package per cloud and the shared parts beside.

- `aws/`: the Amazon Web Services components and `aws/stack.py`, the AWS composition.
- `gcp/`: the Google Cloud components and `gcp/stack.py`, the Google Cloud composition.
- `datadog/`: Datadog as code shared by both clouds (site, metrics, monitors, widgets).
- beside them, cloud-neutral: `settings` (reads and validates every stack's configuration; the
  only module that reads config), `settings_gcp`, `firebase`, `image_build`,
  `monitoring_thresholds`, `stack_outputs`.
"""
