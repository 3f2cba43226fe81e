"""The erasure function's constants agree with the code that writes beside it."""

from __future__ import annotations

import importlib

from service import erasure, userlock

MIGRATION = importlib.import_module("service.migrations.versions.0004_erase_user_function")


def test_the_function_takes_the_lock_the_writers_share() -> None:
    assert f"pg_advisory_xact_lock({userlock.NAMESPACE}, hashtext(erased_user))" in (
        MIGRATION.FUNCTION
    )


def test_the_function_audits_with_the_action_the_panel_lists() -> None:
    assert f"'{erasure.ERASE_ACTION}'" in MIGRATION.FUNCTION


def test_the_function_audits_the_counts_under_the_keys_python_writes() -> None:
    for key in erasure.Erased(1, 2, 3).counts():
        assert f"'{key}'" in MIGRATION.FUNCTION
