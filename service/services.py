"""What the handlers share for the life of the process: database, store, verifier, limits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from service.auth import TokenVerifier
from service.checks import SharedCheck
from service.mapstore import MapStore
from service.practice_list_cache import PracticeListCache
from service.queries import Queries
from service.ratelimit import RateLimiter
from service.seen import SeenUsers
from service.settings import Settings
from service.storage import Storage


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    # The same pool without transactions: single statements need no BEGIN/COMMIT round trips.
    autocommit: AsyncEngine
    queries: Queries
    map_store: MapStore
    storage: Storage
    verifier: TokenVerifier
    limiter: RateLimiter
    seen: SeenUsers
    database_check: SharedCheck
    storage_check: SharedCheck
    practice_list: PracticeListCache = field(default_factory=PracticeListCache)
    started_at: float = field(default_factory=time.monotonic)
