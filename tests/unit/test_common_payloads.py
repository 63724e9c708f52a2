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


def test_a_lone_surrogate_in_a_log_line_reads_as_in_the_archived_log_and_can_be_sent() -> None:
    # CloudWatch returns a message's "\\ud800" escape as a lone surrogate, which UTF-8 cannot encode
    for line in ("bad \ud800 byte", "é" * 600 + "\udcff"):
        cut = cut_line(line)
        assert "\ud800" not in cut and "\udcff" not in cut
        assert len(cut.encode("utf-8")) <= TAIL_LINE_BYTES
    assert cut_line("bad \ud800 byte") == "bad ? byte"
