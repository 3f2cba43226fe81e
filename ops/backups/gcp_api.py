"""The two Google Cloud REST APIs the backup tools use (Cloud SQL Admin v1, Cloud Storage JSON v1).

Plain HTTPS through google-auth's `AuthorizedSession` (no generated client library). The base
URLs can be overridden with `SQLADMIN_ENDPOINT` and `STORAGE_ENDPOINT` (a private endpoint, or
the tests' fake server on loopback).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import google.auth
import requests
from google.auth.credentials import Credentials
from google.auth.exceptions import DefaultCredentialsError, RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession

from ops.backups.clients import BackupToolError

SQLADMIN_ENDPOINT = "https://sqladmin.googleapis.com"
STORAGE_ENDPOINT = "https://storage.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
TIMEOUT_SECONDS = 60


class GcpApiError(Exception):
    """An HTTP error answer from a Google API: the status and Google's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def _segment(value: str) -> str:
    return quote(value, safe="")


class GcpApi:
    """One authorised session; methods return the APIs' JSON answers as dicts."""

    def __init__(self, credentials: Credentials | None = None) -> None:
        self._credentials = credentials
        self._session: AuthorizedSession | None = None
        self.sqladmin = os.environ.get("SQLADMIN_ENDPOINT", SQLADMIN_ENDPOINT).rstrip("/")
        self.storage = os.environ.get("STORAGE_ENDPOINT", STORAGE_ENDPOINT).rstrip("/")

    def require_credentials(self) -> None:
        """Fail early, with a sentence, when Application Default Credentials find nothing."""
        if self._credentials is None:
            try:
                self._credentials, _ = google.auth.default(scopes=SCOPES)
            except DefaultCredentialsError as exc:
                raise BackupToolError(
                    "no Google Cloud credentials found: run `gcloud auth application-default "
                    "login`, set GOOGLE_APPLICATION_CREDENTIALS, or run where a service account "
                    f"is attached ({exc})"
                ) from None
        self._session = AuthorizedSession(self._credentials)

    def request(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if self._session is None:
            self.require_credentials()
        assert self._session is not None
        try:
            answer = self._session.request(method, url, json=body, timeout=TIMEOUT_SECONDS)
        except RefreshError as exc:
            raise BackupToolError(f"Google Cloud rejected the credentials: {exc}") from None
        except (TransportError, requests.ConnectionError, requests.Timeout) as exc:
            raise BackupToolError(f"cannot reach {url.split('/v1/')[0]}: {exc}") from None
        if answer.status_code == 401:
            raise BackupToolError(
                "Google Cloud rejected the credentials (HTTP 401): refresh them with "
                "`gcloud auth application-default login`"
            )
        if answer.status_code >= 400:
            try:
                message = answer.json().get("error", {}).get("message", answer.text)
            except ValueError:
                message = answer.text
            raise GcpApiError(answer.status_code, str(message).strip()[:500])
        if not answer.content:
            return {}
        data = answer.json()
        return data if isinstance(data, dict) else {}

    def _instances(self, project: str) -> str:
        return f"{self.sqladmin}/v1/projects/{_segment(project)}/instances"

    def get_instance(self, project: str, instance: str) -> dict[str, Any]:
        return self.request("GET", f"{self._instances(project)}/{_segment(instance)}")

    def backup_runs(self, project: str, instance: str) -> Iterator[dict[str, Any]]:
        url = f"{self._instances(project)}/{_segment(instance)}/backupRuns"
        token: str | None = None
        while True:
            page = self.request("GET", url + (f"?pageToken={quote(token)}" if token else ""))
            yield from page.get("items", [])
            token = page.get("nextPageToken")
            if not token:
                return

    def list_databases(self, project: str, instance: str) -> list[dict[str, Any]]:
        url = f"{self._instances(project)}/{_segment(instance)}/databases"
        return list(self.request("GET", url).get("items", []))

    def clone(self, project: str, source: str, clone_context: dict[str, Any]) -> dict[str, Any]:
        url = f"{self._instances(project)}/{_segment(source)}/clone"
        return self.request("POST", url, {"cloneContext": clone_context})

    def patch_instance(self, project: str, instance: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", f"{self._instances(project)}/{_segment(instance)}", body)

    def delete_instance(self, project: str, instance: str) -> dict[str, Any]:
        return self.request("DELETE", f"{self._instances(project)}/{_segment(instance)}")

    def get_operation(self, project: str, operation: str) -> dict[str, Any]:
        url = f"{self.sqladmin}/v1/projects/{_segment(project)}/operations/{_segment(operation)}"
        return self.request("GET", url)

    def get_bucket(self, bucket: str) -> dict[str, Any]:
        return self.request("GET", f"{self.storage}/storage/v1/b/{_segment(bucket)}")
