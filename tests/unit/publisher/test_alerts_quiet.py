"""The quiet-link shortcut of alert evaluation decides as the full evaluation does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.alerts import OFF, AlertEvaluator, Override, Thresholds
from tests.unit.publisher.test_alerts import tick

KEYS = ("rx_errors", "tx_errors", "rx_dropped", "tx_dropped")
QUIET = dict.fromkeys(KEYS, 0)
DELTA = st.sampled_from([0, 1, 50, None])
LIMIT = st.sampled_from([0.0, 0.5, 5.0, OFF, -1.0])
SAMPLE = st.tuples(
    st.sampled_from(["eth0", "eth0", "wg0"]),
    st.sampled_from([10.0, 10.0, None]),
    st.one_of(
        st.just(QUIET),  # quiet, then one counter that is not: the shortcut's border
        st.builds(lambda key, value: {**QUIET, key: value}, st.sampled_from(KEYS), DELTA),
        st.fixed_dictionaries(dict.fromkeys(KEYS, DELTA)),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(SAMPLE, max_size=12),
    LIMIT,
    LIMIT,
    st.sampled_from([None, -1.0, 0.0, OFF]),
)
def test_shortcut_and_full_evaluation_agree(
    samples: list[tuple[str, float | None, dict[str, int | None]]],
    errors: float,
    drops: float,
    wg_errors: float | None,
) -> None:
    thresholds = Thresholds(errors, drops, [Override("wg*", wg_errors, None)])
    fast = AlertEvaluator("h1", thresholds)
    full = AlertEvaluator("h1", thresholds)
    full._stays_quiet = lambda sample: False  # type: ignore[method-assign]
    for n, (iface, interval, deltas) in enumerate(samples):
        s = tick(n, iface, interval, **deltas)
        assert fast.evaluate(s) == full.evaluate(s)
