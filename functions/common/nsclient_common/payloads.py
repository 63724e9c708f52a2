"""AWS's documented limits on the payloads the pipeline sends, and how big a value is as AWS counts it.

One home for both sides: the backend keeps what it writes under them (the log tail passed between
states and put in notices), and the local backend refuses what AWS would refuse.
"""

from __future__ import annotations

import json
from typing import Any

KIB = 1024
MIB = 1024 * KIB

# Step Functions: a state's input or output, and an execution's input, as UTF-8 JSON. Over it a state fails
# with States.DataLimitExceeded, which no States.ALL catcher or retrier matches: the execution fails.
STATE_DATA_BYTES = 256 * KIB
# Lambda Invoke: the request and the response of a synchronous invocation; an asynchronous one's request.
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * MIB
LAMBDA_ASYNC_PAYLOAD_BYTES = 1 * MIB
# EventBridge PutEvents: one entry (Time counts 14 bytes, Source, DetailType, Detail and each resource theirs).
EVENT_ENTRY_BYTES = 256 * KIB
# SNS Publish: the message.
SNS_MESSAGE_BYTES = 256 * KIB
# S3: an object's user-defined metadata, each name and value as UTF-8.
S3_USER_METADATA_BYTES = 2 * KIB
# Batch SubmitJob: the whole request (its overrides included).
BATCH_SUBMIT_JOB_BYTES = 30 * KIB

# A log line in the notice's tail is cut to this many bytes (what is cut is said in the line): the tail
# travels between states and in notices, so 40 lines of any length stay far below STATE_DATA_BYTES and
# SNS_MESSAGE_BYTES.
TAIL_LINE_BYTES = 500
# Room kept at the end of a cut line to say how much was cut (" … [N more bytes]").
_CUT_NOTE_BYTES = 32


def json_size(value: Any) -> int:
    """The bytes of a value as compact UTF-8 JSON (a string counts as itself)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8"))


def event_entry_size(entry: dict[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge calculates it."""
    size = 14 if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name) or "").encode("utf-8"))
    return size + sum(len(str(resource).encode("utf-8")) for resource in entry.get("Resources") or [])


def cut_line(line: str, limit: int = TAIL_LINE_BYTES) -> str:
    """The line if it fits in `limit` bytes; else its start and how many bytes were cut, within `limit`
    (so a line cut once is left as it is). A lone surrogate, which a log event's JSON can carry and UTF-8
    cannot, becomes "?" as in the archived log: the tail goes on to SNS and mail, which encode it."""
    encoded = line.encode("utf-8", "replace")
    if len(encoded) <= limit:
        return encoded.decode("utf-8")
    kept = encoded[: limit - _CUT_NOTE_BYTES].decode("utf-8", errors="ignore")
    return f"{kept} … [{len(encoded) - len(kept.encode('utf-8'))} more bytes]"
