"""A partner's request rate (GCRA), on an injected clock."""

from leadflow_intake.partners import Partner, PartnerRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_seconds_worth_at_once_then_one_per_interval() -> None:
    clock, partner = Clock(), Partner("p_1", "acme", 4.0)
    limiter = PartnerRateLimiter(clock)
    assert [limiter.retry_after(partner) for _ in range(5)] == [None, None, None, None, 1]
    clock.now += 0.2
    assert limiter.retry_after(partner) == 1  # the next slot opens at +0.25 s
    clock.now += 0.05
    assert limiter.retry_after(partner) is None
    assert limiter.retry_after(partner) == 1


def test_refused_requests_do_not_count_and_quiet_time_refills_the_burst() -> None:
    clock, partner = Clock(), Partner("p_1", "acme", 2.0)
    limiter = PartnerRateLimiter(clock)
    assert [limiter.retry_after(partner) for _ in range(10)] == [None, None] + [1] * 8
    clock.now += 0.5
    assert limiter.retry_after(partner) is None
    clock.now += 60
    assert [limiter.retry_after(partner) for _ in range(3)] == [None, None, 1]


def test_a_slow_partner_waits_whole_seconds_and_partners_are_apart() -> None:
    clock, slow, other = Clock(), Partner("p_slow", "slow", 0.1), Partner("p_2", "other", 1.0)
    limiter = PartnerRateLimiter(clock)
    assert limiter.retry_after(slow) is None
    assert limiter.retry_after(slow) == 10
    clock.now += 9.5
    assert limiter.retry_after(slow) == 1
    assert limiter.retry_after(other) is None
    clock.now += 0.5
    assert limiter.retry_after(slow) is None
