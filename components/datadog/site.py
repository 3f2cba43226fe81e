"""Where a Datadog site's API and web app live (https://docs.datadoghq.com/getting_started/site/)."""

from __future__ import annotations

DATADOG_SITES = (
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
)
# The sites whose web app sits on an `app.` host; the others serve it on the site name itself.
_APP_PREFIXED_SITES = frozenset({"datadoghq.com", "datadoghq.eu", "ddog-gov.com"})


def check_site(site: str) -> str:
    if site not in DATADOG_SITES:
        expected = ", ".join(DATADOG_SITES)
        raise ValueError(f"unknown Datadog site {site!r}; expected one of {expected}")
    return site


def api_url(site: str) -> str:
    """The provider's `api_url` (no `/api/` suffix, as the provider requires)."""
    return f"https://api.{check_site(site)}/"


def app_url(site: str) -> str:
    """Base URL of the Datadog web app for links to dashboards, SLOs and tests."""
    host = f"app.{site}" if check_site(site) in _APP_PREFIXED_SITES else site
    return f"https://{host}"
