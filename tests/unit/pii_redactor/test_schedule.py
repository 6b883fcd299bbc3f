from datetime import UTC, datetime, timedelta

from pii_redactor.clock import Clock
from pii_redactor.schedule import after_closing, after_shipment

T = datetime(2026, 8, 10, tzinfo=UTC)
DAY = timedelta(days=1)


def test_the_first_of_completion_cancellation_and_shipment_starts_the_clock() -> None:
    assert after_closing(None, None, T, "completed") == (T, "completed")
    assert after_closing(T, "completed", T + DAY, "cancelled") == (T, "completed")
    assert after_shipment(None, None, T) == (T, "shipment")
    # A shipment confirmed after completion is a fulfilment again: the clock restarts from it.
    assert after_shipment(T, "completed", T + 5 * DAY) == (T + 5 * DAY, "shipment")
    # Completion after a shipment started the clock does not move it.
    assert after_closing(T, "shipment", T + DAY, "completed") == (T, "shipment")
    assert after_closing(T, "shipment", T - DAY, "completed") == (T, "shipment")


def test_late_events_never_move_the_clock_backwards_past_a_refulfilment() -> None:
    assert after_shipment(T + 5 * DAY, "shipment", T) == (T + 5 * DAY, "shipment")
    assert after_closing(T + 5 * DAY, "cancelled", T, "completed") == (T, "completed")


def test_the_clock_only_moves_forward() -> None:
    clock = Clock(lambda: T)
    assert clock.advance(DAY) == T + DAY
    try:
        clock.advance(-DAY)
    except ValueError:
        pass
    else:
        raise AssertionError("went back in time")
    assert clock() == T + DAY
