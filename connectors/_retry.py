"""One retry layer for a connector's client calls (tenacity), shared by the connectors.

A :class:`Caller` runs a client call, retries it while the failure is
transient — for reads also a failure only a read may repeat (a 500, an
unparsable body: a write may have taken effect before either), for other
idempotent calls any transient failure, for the rest only a refusal that
guarantees nothing happened (a 429) — waiting what the server asked
(``Retry-After``) or backing off exponentially with jitter, and never more than
``max_retries`` times or ``max_wait`` seconds in all. The service clients' own
retries are off: this is the one retry layer per client. Whatever still
fails is translated by the subclass into a typed, secret-free error, and the
original exception (which may carry request headers) is not chained.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from okr_sync.errors import OkrSyncError

log = logging.getLogger(__name__)
T = TypeVar("T")


class Caller:
    """Retry policy plus error translation; subclasses say what is transient and how to word errors."""

    def __init__(self, source: str, *, max_retries: int, max_wait: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self.source = source
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.sleep = sleep
        #: Retries made over this caller's life (for figures); messages count per call.
        self.retries = 0

    # --- what subclasses decide ---------------------------------------------------
    def status(self, exc: BaseException) -> int | None:
        """The HTTP status of a failure, if it has one."""
        return getattr(exc, "status_code", None)

    def retry_after(self, exc: BaseException) -> float | None:
        """Seconds the server asked to wait, if it said."""
        return None

    def transient(self, exc: BaseException) -> bool:
        """Worth retrying for an idempotent call."""
        return False

    def read_transient(self, exc: BaseException) -> bool:
        """Worth retrying on a read only (a 500, an unparsable body), on top of :meth:`transient`.

        A read changes nothing, so repeating it is safe whatever went wrong on the
        server; a write that met the same may have taken effect, so it is not repeated.
        """
        return False

    def refused(self, exc: BaseException) -> bool:
        """Refused before anything happened: safe to retry even a non-idempotent call."""
        return self.status(exc) == 429

    def translate(self, exc: BaseException, what: str, *, selector: str | None, write: bool,
                  retries: int) -> OkrSyncError:  # fmt: skip
        """A typed, secret-free error for a call that failed for good."""
        raise NotImplementedError

    # --- the loop -------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        told = self.retry_after(exc) if exc else None
        if told is None:  # no instruction: exponential backoff with jitter
            told = min(30.0, 2.0 ** (state.attempt_number - 1)) * random.uniform(0.7, 1.3)
        return told

    def _stop(self, state: RetryCallState) -> bool:
        if stop_after_attempt(self.max_retries + 1)(state):
            return True
        exc = state.outcome.exception() if state.outcome else None
        upcoming = self._wait(state) if exc else 0.0
        # Cap the total wait: a quota 429 asking for half an hour is reported, not slept on.
        return state.idle_for + upcoming > self.max_wait

    def call(self, what: str, func: Callable[..., T], *args: Any, idempotent: bool = True,
             selector: str | None = None, write: bool = False, read: bool | None = None,
             **kwargs: Any) -> T:  # fmt: skip
        """Call ``func`` with retries and typed errors.

        Args:
            what: the request in words, for messages ("search", "PATCH page of KR-3").
            func: the client method.
            *args: positional arguments of ``func``.
            idempotent: whether the call may be repeated safely.
            selector: the query selector this call serves, for error messages.
            write: raise WriteError rather than SourceError.
            read: whether the call only reads (default: not ``write``); a read is also
                retried on what :meth:`read_transient` accepts.
            **kwargs: keyword arguments of ``func``.
        """
        tries = [0]

        def before_sleep(state: RetryCallState) -> None:
            self.retries += 1
            tries[0] += 1
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "%s: %s failed (%s), retry %d in %.1f s", self.source, what,
                (self.status(exc) if exc else None) or type(exc).__name__, state.attempt_number,
                state.next_action.sleep if state.next_action else 0.0,
            )  # fmt: skip

        reads = (not write) if read is None else read

        def retriable(exc: BaseException) -> bool:
            if not idempotent:
                return self.refused(exc)
            return self.transient(exc) or (reads and self.read_transient(exc))

        retrying = Retrying(
            retry=retry_if_exception(retriable),
            wait=self._wait,
            stop=self._stop,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(func, *args, **kwargs)
        except OkrSyncError:
            raise
        except Exception as exc:  # translated below; never chained (it may carry headers)
            error = self.translate(exc, what, selector=selector, write=write, retries=tries[0])
        raise error
