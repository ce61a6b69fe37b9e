"""At most so many requests in flight to one FHIR server, per worker: a bulkhead.

A FHIR server that never answers holds every request sent to it until the budget ends. With
only the worker's limit (CDS_FHIR_CONCURRENCY), a burst of calls naming it started that many
requests, each some CPU to prepare, connect and send, and took every fetch slot of the worker:
the other calls, with complete prefetch or naming a server that answers, waited behind them.
Each server now has slots of its own (CDS_FHIR_SERVER_CONCURRENCY); a request that finds none
free before the budget ends is not sent, and counts as not answered in time, as it would have.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from cds_service.data.fhir_client import MAX_SERVERS
from cds_service.data.fhir_servers import BaseUrl


class ServerSlots:
    def __init__(self, per_server: int, servers: int = MAX_SERVERS) -> None:
        self.per_server = per_server
        self._servers = servers
        self._slots: OrderedDict[str, threading.BoundedSemaphore] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, server: BaseUrl, timeout: float) -> threading.BoundedSemaphore | None:
        """A slot for one request to `server`, waiting at most `timeout` seconds for one to come
        free; None if none did. The caller releases what it got once the request has ended."""
        slots = self._slots_of(f"{server.scheme}://{server.host}:{server.port}")
        return slots if slots.acquire(timeout=max(timeout, 0.0)) else None

    def _slots_of(self, origin: str) -> threading.BoundedSemaphore:
        with self._lock:
            slots = self._slots.get(origin)
            if slots is None:
                slots = self._slots[origin] = threading.BoundedSemaphore(self.per_server)
                if len(self._slots) > self._servers:
                    # The least recently used server's: requests holding its slots still end
                    # and release them; a new call to it starts with a fresh set.
                    self._slots.popitem(last=False)
            else:
                self._slots.move_to_end(origin)
            return slots
