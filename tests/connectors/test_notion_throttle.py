"""Threads add no rate: the token bucket queues them behind one another.

Page writes run a few at a time; what keeps a run under Notion's 3 requests/s is
the connector's token bucket, which every thread passes. With the clock stopped,
each acquisition's wait is the moment its token is granted: however many threads
ask at once, no window of T seconds is granted more than ``burst + rate × T``.
"""

from __future__ import annotations

import threading

import pytest

from connectors._throttle import TokenBucket
from connectors.notion.client import NotionCaller


@pytest.mark.parametrize("threads", [1, 4, 16])
def test_a_bucket_shared_by_threads_never_grants_more_than_its_rate(threads: int) -> None:
    rate, burst, each = 3.0, 3, 25
    waits: list[float] = []
    bucket = TokenBucket(rate, burst, clock=lambda: 0.0, sleep=waits.append)
    start = threading.Barrier(threads)

    def worker() -> None:
        start.wait()
        for _ in range(each):
            bucket.acquire()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()

    total = threads * each
    granted = sorted([0.0] * (total - len(waits)) + waits)
    assert len(granted) == total and granted.count(0.0) == burst  # the burst, then the rate
    for i, moment in enumerate(granted):
        # The i-th token (0-based) is never granted before (i - burst + 1) / rate ...
        assert moment >= (i - burst + 1) / rate - 1e-9
        # ... and no window [moment, moment + T) holds more than burst + rate × T of them.
        for window in (0.5, 1.0, 5.0):
            inside = sum(1 for g in granted if moment <= g < moment + window)
            assert inside <= burst + rate * window + 1e-9
    # The last token comes when the rate says: threads made it neither slower nor faster.
    assert granted[-1] == pytest.approx((total - burst) / rate)


def test_writes_in_flight_follow_rate_times_latency() -> None:
    caller = NotionCaller("notion", rate=2.8, max_retries=0, max_wait=1.0, sleep=lambda _s: None)
    assert caller.slots() == 1  # nothing measured yet: one at a time
    for latency, slots in ((0.02, 2), (0.5, 3), (1.0, 4), (10.0, 8)):
        caller.latency = latency
        assert caller.slots() == slots, latency
