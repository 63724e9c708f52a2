"""isotime reads AWS's ISO UTC times to what botocore's dateutil parsing gives, and leaves it every other form."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.utils import parse_timestamp as botocore_parse

from nsclient.isotime import fast_utc, parse_timestamp


def test_iso_utc_times_read_as_botocore_reads_them() -> None:
    rng = random.Random(3)
    start = datetime(1990, 1, 1, tzinfo=UTC)
    for _ in range(2000):
        moment = start + timedelta(seconds=rng.randint(0, 60 * 365 * 86400), microseconds=rng.randint(0, 999999))
        for text in (
            moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        ):
            fast, slow = parse_timestamp(text), botocore_parse(text)
            assert fast_utc(text) is not None
            # The same moment and offset (botocore's tzinfo is dateutil's tzlocal where the machine's zone is UTC).
            assert (fast, fast.utcoffset(), fast.isoformat()) == (slow, slow.utcoffset(), slow.isoformat()), text


def test_other_forms_are_botocores() -> None:
    values: tuple[Any, ...] = (
        "2026-12-05T03:15:00+01:00",
        "Thu, 05 Dec 2026 03:15:00 GMT",
        "2026-12-05",
        1796445381,
        "1796445381",
    )
    for value in values:
        assert fast_utc(value) is None
        assert parse_timestamp(value) == botocore_parse(value)
