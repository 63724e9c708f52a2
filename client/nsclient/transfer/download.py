"""Extract chosen members of a zip in S3 with ranged GETs, in parallel, without downloading the rest.

The central directory (read first, by ranged reads) gives each member's offset, so only the bytes
of the members to write are fetched. Neighbouring members are fetched in one GET when the gap
between them is small (a request costs a round trip); each GET streams its members through
inflate into their files, so memory stays bounded by the number of GETs in flight.
"""

from __future__ import annotations

import calendar
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nsclient.errors import UserError

if TYPE_CHECKING:
    import zipfile
    from pathlib import Path

    from nsclient.progress import Progress

WORKERS = 8
# Bytes of unwanted members worth fetching rather than paying another round trip.
MAX_GAP = 256 * 1024
GROUP_BYTES = 4 * 1024 * 1024
PIECE = 1024 * 1024
LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
LOCAL_HEADER_SIGNATURE = 0x04034B50
STORED, DEFLATED = 0, 8


@dataclass
class Group:
    start: int
    end: int  # exclusive
    members: list[zipfile.ZipInfo] = field(default_factory=list)


def plan_ranges(archive: zipfile.ZipFile, wanted: list[zipfile.ZipInfo]) -> list[Group]:
    """The byte ranges to GET: wanted members, joined across small gaps, up to about GROUP_BYTES each."""
    # A member ends where the next one (or the central directory) starts: that covers its data descriptor.
    boundaries = sorted({m.header_offset for m in archive.infolist()} | {archive.start_dir})
    following = {offset: boundaries[i + 1] for i, offset in enumerate(boundaries[:-1])}
    groups: list[Group] = []
    for member in sorted(wanted, key=lambda m: m.header_offset):
        start, end = member.header_offset, following[member.header_offset]
        last = groups[-1] if groups else None
        if last and start - last.end <= MAX_GAP and end - last.start <= GROUP_BYTES:
            last.end = end
            last.members.append(member)
        else:
            groups.append(Group(start, end, [member]))
    return groups


class _Body:
    """Exact reads from a streaming response body, counting what was consumed."""

    def __init__(self, body: Any, start: int):
        self._body, self.position = body, start

    def read(self, size: int) -> bytes:
        pieces = []
        remaining = size
        while remaining:
            piece = self._body.read(min(remaining, PIECE))
            if not piece:
                raise UserError("The results archive ended early while downloading; pull again.")
            pieces.append(piece)
            remaining -= len(piece)
        data = b"".join(pieces)
        self.position += len(data)
        return data

    def skip_to(self, offset: int) -> None:
        while self.position < offset:
            self.read(min(PIECE, offset - self.position))


def _write_member(body: _Body, member: zipfile.ZipInfo, destination: Path) -> Path:
    body.skip_to(member.header_offset)
    header = LOCAL_HEADER.unpack(body.read(LOCAL_HEADER.size))
    if header[0] != LOCAL_HEADER_SIGNATURE:
        raise UserError(f"The results archive is damaged at {member.filename}; it cannot be pulled.")
    body.read(header[9] + header[10])  # name and extra field
    if member.compress_type not in (STORED, DEFLATED):
        raise UserError(f"{member.filename} is compressed with a method pull does not read ({member.compress_type}).")
    inflate = zlib.decompressobj(-15) if member.compress_type == DEFLATED else None
    target = destination / member.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".nsclient-partial")
    crc = 0
    with partial.open("wb") as sink:
        remaining = member.compress_size
        while remaining:
            piece = body.read(min(PIECE, remaining))
            remaining -= len(piece)
            data = inflate.decompress(piece) if inflate else piece
            crc = zlib.crc32(data, crc)
            sink.write(data)
        if inflate:
            tail = inflate.flush()
            crc = zlib.crc32(tail, crc)
            sink.write(tail)
    if crc != member.CRC:
        partial.unlink()
        raise UserError(f"{member.filename} arrived damaged (CRC mismatch); pull again.")
    partial.replace(target)
    set_member_mtime(target, member)
    return target


def fetch_members(
    s3: Any,
    bucket: str,
    key: str,
    version_id: str | None,
    groups: list[Group],
    destination: Path,
    progress: Progress,
) -> list[Path]:
    """Write the groups' members into `destination` (their paths already checked), returning the files written."""
    version = {"VersionId": version_id} if version_id and version_id != "null" else {}

    def fetch(group: Group) -> list[Path]:
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={group.start}-{group.end - 1}", **version)
        body = _Body(response["Body"], group.start)
        try:
            written = [_write_member(body, member, destination) for member in group.members]
        finally:
            response["Body"].close()
        progress.update(group.end - group.start)
        return written

    with ThreadPoolExecutor(WORKERS, thread_name_prefix="pull") as pool:
        return [path for written in pool.map(fetch, groups) for path in written]


def fetch_size(groups: list[Group]) -> int:
    return sum(group.end - group.start for group in groups)


def set_member_mtime(target: Path, member: zipfile.ZipInfo) -> None:
    # Zip times carry no zone; the job's clock is UTC, as the Nextstrain CLI assumes.
    mtime = calendar.timegm((*member.date_time, 0, 0, -1))
    os.utime(target, (mtime, mtime))
