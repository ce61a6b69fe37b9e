"""Replay protection: a token id (`jti`) is accepted once within the token's lifetime.

The ids live in the service database, not in process memory, so a token replayed against
another gunicorn worker or another host is refused too. A row keeps the SHA-256 of issuer and
jti (fixed length, nothing an attacker chose verbatim) until the token could no longer pass
the expiry check; expired rows are purged now and then.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, String, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from cds_service.db import Base, UtcDateTime


class SeenToken(Base):
    __tablename__ = "seen_token"

    token_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


SEEN = insert(SeenToken.__table__)


def token_key(issuer: str, jti: str) -> str:
    return hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()


class ReplayGuard:
    """Records token ids; `first_use` is True only the first time an id is presented."""

    def __init__(self, engine: Engine, purge_every: float = 60.0) -> None:
        self.engine = engine
        self.purge_every = purge_every
        self._last_purge = 0.0
        self._lock = threading.Lock()

    def first_use(self, issuer: str, jti: str, keep_until: float) -> bool:
        """`keep_until`: epoch seconds after which the token fails the expiry check anyway."""
        until = datetime.fromtimestamp(keep_until, UTC)
        self._maybe_purge()
        # Core on a connection, not an ORM session: this write is on every signed call's path,
        # and the session's unit of work cost more than the insert.
        try:
            with self.engine.begin() as connection:
                connection.execute(SEEN, {"token_key": token_key(issuer, jti), "expires_at": until})
        except IntegrityError:
            return False
        return True

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_purge < self.purge_every:
                return
            self._last_purge = now
        cutoff = datetime.now(UTC) - timedelta(seconds=1)
        with Session(self.engine) as session, session.begin():
            session.execute(delete(SeenToken).where(SeenToken.expires_at < cutoff))
