"""API keys: creation, salted hashing, verification and the failed-authentication limit.

A key reads ``sg_<key id>_<secret>``. The key id is public and indexes the ``api_keys``
row; the row keeps a per-key random salt and the scrypt hash of the whole key, never the
key itself, which is shown once, when it is created. Verification recomputes the hash
and compares in constant time. Verified keys are remembered in memory for a few minutes
(by their SHA-256, not in clear) so that a busy client does not pay scrypt per request.

Failed authentications are counted per client address in a sliding window; past the
limit the address gets 429 until old failures leave the window, whatever key it sends.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shiftguard.service.storage import ApiKey

KEY_PREFIX = "sg"
#: scrypt cost: 16 MiB and some 40 ms per hash on one core of a small server.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_CACHE_SECONDS = 300.0
_CACHE_SIZE = 4096
#: Addresses tracked by the failure limiter before the quiet ones are forgotten.
_MAX_CLIENTS = 10_000


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: ``key`` is for the user (once), the rest for the database."""

    key: str
    key_id: str
    salt: bytes
    digest: bytes


def hash_key(key: str, salt: bytes) -> bytes:
    return hashlib.scrypt(key.encode(), salt=salt, **_SCRYPT)


def new_key() -> NewKey:
    key_id = secrets.token_hex(8)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    salt = secrets.token_bytes(16)
    return NewKey(key=key, key_id=key_id, salt=salt, digest=hash_key(key, salt))


def add_key(session: Session, project_id: int) -> NewKey:
    """Store a new key of ``project_id`` (hash only) and return it with its clear text."""
    made = new_key()
    session.add(ApiKey(project_id=project_id, key_id=made.key_id, salt=made.salt,
                       digest=made.digest))
    return made


class KeyVerifier:
    """Resolves a presented key to its project id, with a short-lived in-memory cache."""

    def __init__(self) -> None:
        self._cache: collections.OrderedDict[bytes, tuple[int, float]] = \
            collections.OrderedDict()
        self._lock = threading.Lock()

    def project_of(self, session: Session, key: str) -> int | None:
        """The project of ``key``, or ``None`` when the key is unknown or wrong."""
        fingerprint = hashlib.sha256(key.encode()).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(fingerprint)
            if hit is not None and hit[1] > now:
                return hit[0]
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        row = session.scalar(select(ApiKey).where(ApiKey.key_id == parts[1]))
        if row is None or not hmac.compare_digest(hash_key(key, row.salt), row.digest):
            return None
        with self._lock:
            self._cache[fingerprint] = (row.project_id, now + _CACHE_SECONDS)
            self._cache.move_to_end(fingerprint)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return row.project_id


class FailureLimiter:
    """At most ``limit`` failed authentications per client address in ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> collections.deque[float]:
        times = self._failures.setdefault(client, collections.deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again (0 when it may now)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.limit:
                if not times:
                    self._failures.pop(client, None)
                return 0.0
            return times[len(times) - self.limit] + self.window - now

    def record(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(client, now).append(now)
            if len(self._failures) > _MAX_CLIENTS:  # forget addresses that went quiet
                for quiet in [c for c, t in self._failures.items() if t[-1] <= now - self.window]:
                    del self._failures[quiet]
