"""How big a payload is as AWS counts it, and a log line cut to fit the notice's tail."""

from __future__ import annotations

from nsclient_common.payloads import TAIL_LINE_BYTES, cut_line, event_entry_size, json_size


def test_sizes_are_utf8_bytes() -> None:
    assert json_size("é") == 2
    assert json_size({"a": "é"}) == len('{"a":"é"}'.encode())


def test_an_event_entry_is_measured_as_eventbridge_measures_it() -> None:
    entry = {"Source": "s", "DetailType": "dt", "Detail": "{}", "Resources": ["r1", "r22"], "Time": 0}
    assert event_entry_size(entry) == 14 + 1 + 2 + 2 + 2 + 3


def test_a_long_line_is_cut_within_the_limit_saying_how_much_was_cut_and_a_cut_line_stays_as_it_is() -> None:
    line = "é" * 1000  # 2,000 bytes
    cut = cut_line(line)
    assert len(cut.encode()) <= TAIL_LINE_BYTES
    kept = cut.split(" … [")[0]
    assert set(kept) == {"é"}
    assert cut.endswith(f" … [{2000 - len(kept.encode())} more bytes]")
    assert cut_line(cut) == cut
    assert cut_line("short") == "short"
