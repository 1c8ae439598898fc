"""What the collector remembers between cycles changes nothing it reports."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.netdev import ParsedLines, parse_net_dev
from tests.fixtures.proc_trees import NET_DEV_HEADER

NUMBER = st.sampled_from(["0", "1", "1500", "4294967295", "18446744073709551615", "-1", "x"])
LINE = st.one_of(
    st.builds(
        lambda name, numbers, glued: f"{name}:{'' if glued else ' '}{' '.join(numbers)}",
        st.sampled_from(["eth0", "  eth0", "veth1", "wg0", "", "a:b"]),
        st.lists(NUMBER, min_size=15, max_size=17),
        st.booleans(),
    ),
    st.sampled_from(["garbage", "", " face |bytes"]),
)
TEXTS = st.lists(
    st.lists(LINE, max_size=6).map(lambda ls: NET_DEV_HEADER + "\n".join(ls)), max_size=6
)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_parsing_with_the_previous_lines_gives_what_parsing_afresh_gives(texts: list[str]) -> None:
    known: ParsedLines = {}
    for text in texts:
        assert parse_net_dev(text, known) == parse_net_dev(text)
        fresh, _ = parse_net_dev(text)
        assert set(known) <= set(text.splitlines())  # only this file's lines are kept
        assert {name for name, _ in known.values()} == set(fresh)


def test_an_unchanged_line_is_not_parsed_again() -> None:
    known: ParsedLines = {}
    text = NET_DEV_HEADER + "  eth0: " + " ".join(["7"] * 16) + "\n"
    rows, _ = parse_net_dev(text, known)
    again, _ = parse_net_dev(text, known)
    assert again["eth0"] is rows["eth0"]
