"""Memory quantities as users type them for --memory: parsed to whole MiB, or refused with a hint."""

from __future__ import annotations

import pytest

from nsclient_common.memory import InvalidMemory, parse_memory_mib


@pytest.mark.parametrize(
    ("typed", "mib"),
    [
        ("14GiB", 14 * 1024),
        ("14gib", 14 * 1024),
        ("14 GiB", 14 * 1024),
        ("14000MB", 13351),  # 14000 * 10^6 bytes, rounded down to MiB as the Nextstrain CLI does
        ("14GB", 13351),
        ("7400MiB", 7400),
        ("7400", 7400),  # a plain number is MiB, as in [aws-batch] memory
        (" 7400 ", 7400),
        ("0.5GiB", 512),
        ("1.5gib", 1536),
        ("2097152KiB", 2048),
        ("1048576b", 1),
        ("1TiB", 1024 * 1024),  # over any limit, but read, so the refusal can say "over the limit"
        (7400, 7400),
    ],
)
def test_parse_memory_mib_reads_the_forms_users_type(typed: str | int, mib: int) -> None:
    assert parse_memory_mib(typed) == mib


@pytest.mark.parametrize("typed", ["lots", "", "GiB", "14 gigs", "14GiBs", "-1GiB", "1e3", "14,000MB", "14.GiB"])
def test_parse_memory_mib_refuses_unreadable_forms_with_examples(typed: str) -> None:
    with pytest.raises(InvalidMemory) as refused:
        parse_memory_mib(typed)
    message = str(refused.value)
    assert repr(typed) in message
    assert "14GiB" in message  # the message shows a form that works


@pytest.mark.parametrize("typed", ["0", "0GiB", "1000KB", "0.5MiB"])
def test_parse_memory_mib_refuses_less_than_one_mib(typed: str) -> None:
    with pytest.raises(InvalidMemory, match="less than 1 MiB"):
        parse_memory_mib(typed)


@pytest.mark.parametrize("typed", [0, -5])
def test_parse_memory_mib_refuses_non_positive_integers(typed: int) -> None:
    with pytest.raises(InvalidMemory, match="positive"):
        parse_memory_mib(typed)


def test_parse_memory_mib_error_is_a_value_error() -> None:
    # Callers that only know ValueError (argparse type= functions) still get a clean refusal.
    with pytest.raises(ValueError, match="can't read memory"):
        parse_memory_mib("lots")
