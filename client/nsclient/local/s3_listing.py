"""moto's ListObjectsV2, answered from the page's own keys instead of the whole bucket.

moto 5.2.5 builds every page from a scan of the bucket: each key's latest version looked up, every key
and folder sorted, then the ones before the continuation token dropped one by one. A listing of 15,000
keys in ten pages so reads 150,000 keys. Here the bucket's names under the prefix are sorted once per
request, the page starts at a bisection, and only the keys it returns are looked up. The answer is moto's
own, quirks included: the same keys, folders and order, the same truncation and continuation tokens
(moto's _truncate_result makes them), and a folder even where each key in it is a delete marker.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

MAX_CHARACTER = 0x10FFFF


def _after_folder(names: list[str], folder: str, start: int) -> int:
    """The index of the first name past those that start with folder (they follow each other in order)."""
    if ord(folder[-1]) < MAX_CHARACTER:
        return bisect_left(names, folder[:-1] + chr(ord(folder[-1]) + 1), start)
    while start < len(names) and names[start].startswith(folder):
        start += 1
    return start


def list_objects_v2(
    backend: Any,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    continuation_token: str | None,
    start_after: str | None,
    max_keys: int,
) -> tuple[list[Any], bool, str | None] | None:
    """moto's S3Backend.list_objects_v2 answer; None where moto's own must answer (a table bucket, a token
    it does not know, which moto fails on in its own way)."""
    from moto.s3.models import FakeDeleteMarker, FakeTableStorageBucket

    if isinstance(bucket, FakeTableStorageBucket):
        return None
    after = start_after or None
    if continuation_token:
        after = backend._pagination_tokens.get(continuation_token)
        if after is None:
            return None
    prefix = prefix or ""
    keys = bucket.keys
    # One copy of the names (as moto copies the dict, so concurrent writes cannot break the iteration).
    names = sorted(name for name in list(dict.keys(keys)) if name.startswith(prefix))
    page: list[Any] = []
    index = bisect_right(names, after) if after is not None else 0
    # One entry past the page tells moto's _truncate_result that there are more.
    while index < len(names) and len(page) <= max_keys:
        name = names[index]
        rest = name[len(prefix) :]
        if delimiter and delimiter in rest:
            folder = f"{prefix}{rest.split(delimiter)[0]}{delimiter}"
            index = _after_folder(names, folder, index)
            if after is None or folder > after:
                page.append(folder)
            continue
        key = keys[name]
        if not isinstance(key, FakeDeleteMarker):
            page.append(key)
        index += 1
    truncated: tuple[list[Any], bool, str | None] = backend._truncate_result(page, max_keys)
    return truncated
