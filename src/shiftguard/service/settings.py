"""Service settings, read from ``SHIFTGUARD_*`` environment variables.

=================================  ===============================  =========================
variable                           meaning                          default
=================================  ===============================  =========================
``SHIFTGUARD_DATABASE_URL``        SQLAlchemy URL: ``sqlite:///``   ``sqlite:///./shiftguard.db``
                                   file or ``postgresql+psycopg://``
``SHIFTGUARD_ADMIN_KEY``           key that may create projects     unset: no project creation
``SHIFTGUARD_MAX_REQUEST_BYTES``   largest request body (413 above) 64 MiB
``SHIFTGUARD_AUTH_FAILURES``       failed authentications allowed   20
                                   per client address and window
``SHIFTGUARD_AUTH_WINDOW``         sliding window, seconds          60
``SHIFTGUARD_WEBHOOK_ATTEMPTS``    deliveries tried per alert       5
``SHIFTGUARD_WEBHOOK_BACKOFF``     first retry delay, seconds       1 (doubles each time)
``SHIFTGUARD_WEBHOOK_PRIVATE``     allow webhooks to loopback,      ``0``: only public
                                   private and link-local addresses addresses
=================================  ===============================  =========================

Webhook targets are refused by default when their host is or resolves to an address that is
not globally routable (``127.0.0.1``, ``10.0.0.0/8``, ``169.254.169.254``...): a project's key
must not let its holder make the server call into its own network. Set
``SHIFTGUARD_WEBHOOK_PRIVATE=1`` where the receivers are internal.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from shiftguard.errors import ParameterError

DEFAULT_DATABASE_URL = "sqlite:///./shiftguard.db"

_ENV = {
    "database_url": ("SHIFTGUARD_DATABASE_URL", str),
    "admin_key": ("SHIFTGUARD_ADMIN_KEY", str),
    "max_request_bytes": ("SHIFTGUARD_MAX_REQUEST_BYTES", int),
    "auth_failures": ("SHIFTGUARD_AUTH_FAILURES", int),
    "auth_window": ("SHIFTGUARD_AUTH_WINDOW", float),
    "webhook_attempts": ("SHIFTGUARD_WEBHOOK_ATTEMPTS", int),
    "webhook_backoff": ("SHIFTGUARD_WEBHOOK_BACKOFF", float),
    "webhook_private": ("SHIFTGUARD_WEBHOOK_PRIVATE", "flag"),
}
_FLAGS = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Configuration of one service instance (see the module docstring for the variables).

    ``admin_key`` is left out of ``repr`` so that it never reaches a log line.
    """

    database_url: str = DEFAULT_DATABASE_URL
    admin_key: str | None = dataclasses.field(default=None, repr=False)
    max_request_bytes: int = 64 * 2**20
    auth_failures: int = 20
    auth_window: float = 60.0
    webhook_attempts: int = 5
    webhook_backoff: float = 1.0
    webhook_timeout: float = 5.0
    webhook_private: bool = False

    def __post_init__(self) -> None:
        for name in ("max_request_bytes", "auth_failures", "webhook_attempts"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("auth_window", "webhook_backoff", "webhook_timeout"):
            if not getattr(self, name) > 0:
                raise ParameterError(f"{name} must be positive, got {getattr(self, name)}")
        if self.admin_key is not None and len(self.admin_key) < 16:
            raise ParameterError("SHIFTGUARD_ADMIN_KEY must be at least 16 characters long")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``environ`` (default: ``os.environ``); ``overrides`` win.

        Raises
        ------
        ParameterError
            A variable does not parse (the message names it) or is out of range.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, (variable, kind) in _ENV.items():
            text = environ.get(variable)
            if text is None or text == "":
                continue
            if kind == "flag":
                if text.lower() not in _FLAGS:
                    raise ParameterError(f"{variable}={text!r} is not one of "
                                         f"{', '.join(_FLAGS)}")
                values[field] = _FLAGS[text.lower()]
                continue
            try:
                values[field] = kind(text)
            except ValueError:
                raise ParameterError(f"{variable}={text!r} is not a valid {kind.__name__}") \
                    from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
