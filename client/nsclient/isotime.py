"""AWS's ISO 8601 UTC times (2026-12-05T03:15:00.000Z), read without dateutil.

botocore reads every timestamp with dateutil's general parser, about 50 µs each: a listing's page holds a
thousand. A time of exactly this form is read by the standard library instead, to the same moment in UTC
(botocore's own tzinfo is dateutil's tzutc, or its tzlocal on a machine whose zone is UTC); any other form
is left to botocore.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from dateutil.tz import tzutc

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
_UTC = tzutc()


def fast_utc(value: Any) -> datetime | None:
    """The time, if value is an ISO 8601 UTC time of that form; None for anything else."""
    if isinstance(value, str) and ISO_UTC.fullmatch(value):
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=_UTC)
    return None


def parse_timestamp(value: Any) -> datetime:
    """botocore.utils.parse_timestamp, the same moment sooner."""
    from botocore.utils import parse_timestamp as botocore_parse

    parsed: datetime = fast_utc(value) or botocore_parse(value)
    return parsed
