"""A client-side token bucket, so a normal run stays under a service's published rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` requests per second on average, bursts of up to ``burst``.

    ``acquire`` blocks (through the injected ``sleep``) until a token is free.
    """

    def __init__(self, rate: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()
        #: Seconds spent waiting, for figures.
        self.waited = 0.0

    def acquire(self) -> None:
        """Take one token, waiting for it if needed."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self.rate
            self._tokens = 0.0
            # The token is this caller's from ``now + wait`` on: callers on other threads
            # queue behind it, each a further 1/rate later, so threads never add rate.
            self._last = now + wait
            self.waited += wait
        self.sleep(wait)
