"""Datadog as code, the parts every cloud shares: the site, the metric names, the monitor and
SLO model, the dashboard widgets. Each cloud's package supplies its own metric scope, runbook
text and integration (components/aws/monitoring.py, components/gcp/monitoring.py).
"""
