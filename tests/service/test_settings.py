"""Service settings from the environment."""

from __future__ import annotations

import pytest

from shiftguard.errors import ParameterError
from shiftguard.service.settings import DEFAULT_DATABASE_URL, Settings


def test_settings_come_from_the_environment_and_bad_values_name_the_variable():
    admin = "a-long-admin-key-0123456789"
    settings = Settings.from_env({"SHIFTGUARD_ADMIN_KEY": admin,
                                  "SHIFTGUARD_MAX_REQUEST_BYTES": "1000",
                                  "SHIFTGUARD_AUTH_WINDOW": "2.5"})
    assert (settings.admin_key, settings.max_request_bytes, settings.auth_window) == (
        admin, 1000, 2.5)
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert admin not in repr(settings)
    assert Settings.from_env({}, database_url="sqlite:///x.db").database_url == "sqlite:///x.db"
    with pytest.raises(ParameterError, match="SHIFTGUARD_MAX_REQUEST_BYTES"):
        Settings.from_env({"SHIFTGUARD_MAX_REQUEST_BYTES": "lots"})
    with pytest.raises(ParameterError, match="auth_failures"):
        Settings.from_env({"SHIFTGUARD_AUTH_FAILURES": "0"})
    with pytest.raises(ParameterError, match="at least 16"):
        Settings.from_env({"SHIFTGUARD_ADMIN_KEY": "short"})


def test_private_webhooks_are_off_unless_the_flag_says_so():
    assert Settings.from_env({}).webhook_private is False
    assert Settings.from_env({"SHIFTGUARD_WEBHOOK_PRIVATE": "1"}).webhook_private is True
    assert Settings.from_env({"SHIFTGUARD_WEBHOOK_PRIVATE": "No"}).webhook_private is False
    with pytest.raises(ParameterError, match="SHIFTGUARD_WEBHOOK_PRIVATE"):
        Settings.from_env({"SHIFTGUARD_WEBHOOK_PRIVATE": "sometimes"})
