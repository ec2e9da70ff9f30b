"""The relay's adaptive poll: at once after a full batch, short after a partial one, doubling
while idle up to the cap."""

from producers.relay.polling import next_wait


def test_full_batch_polls_again_at_once() -> None:
    assert next_wait(1000, 1000, 0.02, 0.005, 0.02) == 0.0


def test_partial_batch_waits_the_minimum() -> None:
    assert next_wait(3, 1000, 0.02, 0.005, 0.02) == 0.005


def test_idle_backs_off_to_the_cap() -> None:
    waits, wait = [], 0.0
    for _ in range(5):
        wait = next_wait(0, 1000, wait, 0.005, 0.02)
        waits.append(wait)
    assert waits == [0.005, 0.01, 0.02, 0.02, 0.02]
