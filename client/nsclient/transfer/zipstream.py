"""A build folder as a zip stream, compressed in parallel, for uploading while it is being made.

Every file is cut into chunks that worker threads deflate independently with ISA-L (igzip, several
times zlib's speed at level 1 for the same size; it releases the GIL); each chunk but a file's last
ends on a byte boundary (Z_SYNC_FLUSH), so the chunks joined in order are one valid deflate stream,
and their CRCs combine into the file's. While compressing harder gets the build up sooner (the link,
not the CPU, is slow: see nsclient.transfer.pace), chunks go through DENSE_LEVEL, so a slow link carries fewer
bytes and a fast one waits on no extra CPU; each chunk's level is chosen as a worker takes it up, so the
choice follows the link without lagging the chunks read ahead. Data that does not shrink (xz, zstd,
gzip inputs) is stored: a sample of each large file is deflated first, and a chunk that deflate would
grow goes as deflate's stored blocks. The stock job entrypoint runs `unzip`, so members are plain
deflate or stored, with a data descriptor only for files of more than one chunk (their sizes are known
once written). Zip64 records appear only when needed.
"""

from __future__ import annotations

import os
import queue
import struct
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from isal import isal_zlib

from nsclient.transfer.pace import Pace

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

CHUNK_SIZE = 1024 * 1024
# Uncompressed bytes read ahead of the writer: bounds memory whatever the build's size.
READ_AHEAD_BYTES = 32 * 1024 * 1024
LEVEL = 1
# When the link is slower than compression, zlib's level 9 is worth its time: its long match search
# finds the near-copies of sequence data (FASTA of one pathogen) that fast levels miss, often
# making chunks ten times smaller (zlib's levels 1 to 7 and ISA-L's all miss them alike). Pace
# chooses it while it moves more of the build a second.
DENSE_LEVEL = 9
# A file of more than one chunk is stored when deflating its first SAMPLE_SIZE bytes at the fast
# level saves less than this fraction: already compressed data costs CPU and gains nothing.
SAMPLE_SIZE = 64 * 1024
STORE_BELOW_SAVING = 0.05
ZIP64_LIMIT = 0xFFFFFFFF
FLAG_DATA_DESCRIPTOR = 0x08
FLAG_UTF8 = 0x800
DEFLATED, STORED = 8, 0


# --- members ---


@dataclass
class Chunk:
    size: int
    crc: int
    data: bytes  # deflated, or the raw bytes of a stored member


def _read(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(size)


def _deflate(library: Any, level: int, raw: bytes, last: bool) -> bytes:
    compressor = library.compressobj(level, zlib.DEFLATED, -15)
    return bytes(compressor.compress(raw) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH))


def _compress(path: Path, offset: int, size: int, last: bool, pace: Pace) -> Chunk:
    raw = _read(path, offset, size)
    # Either encoder's raw deflate joins with the other's: a member may mix them chunk by chunk.
    dense = pace.next_dense()
    started = time.perf_counter()
    data = _deflate(zlib, DENSE_LEVEL, raw, last) if dense else _deflate(isal_zlib, LEVEL, raw, last)
    pace.compressed(dense, len(raw), len(data), time.perf_counter() - started)
    if len(data) >= len(raw):
        # A one-chunk member that does not shrink is stored; a chunk of a longer one goes as stored
        # blocks (level 0: the bytes as they are, five bytes of framing per 64 KiB).
        data = raw if last and offset == 0 else _deflate(zlib, 0, raw, last)
    return Chunk(len(raw), isal_zlib.crc32(raw), data)


def _store(path: Path, offset: int, size: int) -> Chunk:
    raw = _read(path, offset, size)
    return Chunk(len(raw), isal_zlib.crc32(raw), raw)


def shrinks(path: Path) -> bool:
    """Whether deflate saves anything worth its CPU on this file, judged from a sample of its start."""
    sample = _read(path, 0, SAMPLE_SIZE)
    return len(_deflate(isal_zlib, LEVEL, sample, True)) < len(sample) * (1 - STORE_BELOW_SAVING)


@dataclass
class Entry:
    name: bytes
    offset: int
    method: int
    crc: int
    compressed: int
    size: int
    dos_time: int
    dos_date: int
    mode: int
    descriptor: bool


def _dos_time(mtime: float) -> tuple[int, int]:
    # As zipfile.ZipFile.write: local time, at two-second resolution, from 1980.
    year, month, day, hour, minute, second = time.localtime(mtime)[:6]
    if year < 1980:
        year, month, day, hour, minute, second = 1980, 1, 1, 0, 0, 0
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


def _needs_zip64(entry: Entry) -> bool:
    return entry.size >= ZIP64_LIMIT or entry.compressed >= ZIP64_LIMIT or entry.offset >= ZIP64_LIMIT


def _local_header(entry: Entry, zip64: bool) -> bytes:
    flags = FLAG_UTF8 | (FLAG_DATA_DESCRIPTOR if entry.descriptor else 0)
    crc, compressed, size = (0, 0, 0) if entry.descriptor else (entry.crc, entry.compressed, entry.size)
    extra = b""
    if zip64:
        extra = struct.pack("<HHQQ", 1, 16, size, compressed)
        compressed = size = ZIP64_LIMIT
    header = struct.pack(
        "<IHHHHHIIIHH",
        0x04034B50,
        45 if zip64 else 20,
        flags,
        entry.method,
        entry.dos_time,
        entry.dos_date,
        crc,
        compressed,
        size,
        len(entry.name),
        len(extra),
    )
    return header + entry.name + extra


def _central_header(entry: Entry) -> bytes:
    values = []
    compressed, size, offset = entry.compressed, entry.size, entry.offset
    if size >= ZIP64_LIMIT:
        values.append(size)
        size = ZIP64_LIMIT
    if compressed >= ZIP64_LIMIT:
        values.append(compressed)
        compressed = ZIP64_LIMIT
    if offset >= ZIP64_LIMIT:
        values.append(offset)
        offset = ZIP64_LIMIT
    extra = struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values) if values else b""
    version = 45 if values else 20
    flags = FLAG_UTF8 | (FLAG_DATA_DESCRIPTOR if entry.descriptor else 0)
    header = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        (3 << 8) | version,  # made on Unix, so `unzip` restores the mode
        version,
        flags,
        entry.method,
        entry.dos_time,
        entry.dos_date,
        entry.crc,
        compressed,
        size,
        len(entry.name),
        len(extra),
        0,
        0,
        0,
        (entry.mode & 0xFFFF) << 16,
        offset,
    )
    return header + entry.name + extra


def _end_records(entries: list[Entry], directory_offset: int, directory_size: int) -> bytes:
    count = len(entries)
    records = b""
    if count >= 0xFFFF or directory_offset >= ZIP64_LIMIT or directory_size >= ZIP64_LIMIT:
        zip64_end = directory_offset + directory_size
        records += struct.pack(
            "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, directory_size, directory_offset
        )
        records += struct.pack("<IIQI", 0x07064B50, 0, zip64_end, 1)
    records += struct.pack(
        "<IHHHHIIH",
        0x06054B50,
        0,
        0,
        min(count, 0xFFFF),
        min(count, 0xFFFF),
        min(directory_size, ZIP64_LIMIT),
        min(directory_offset, ZIP64_LIMIT),
        0,
    )
    return records


@dataclass
class _Member:
    name: str
    stat: os.stat_result
    chunks: int
    stored: bool = False


_DONE = object()


def _submit_all(
    members: Iterable[tuple[Path, str]],
    pool: ThreadPoolExecutor,
    items: queue.Queue[object],
    stop: threading.Event,
    pace: Pace,
) -> None:
    """Queue each member then its chunks' futures, in order; the queue's bound is the read-ahead."""
    try:
        for path, name in members:
            stat = path.stat()
            size = stat.st_size
            starts = range(0, size, CHUNK_SIZE)
            stored = len(starts) > 1 and not shrinks(path)
            items.put(_Member(name, stat, len(starts), stored))
            for start in starts:
                if stop.is_set():
                    return
                length = min(CHUNK_SIZE, size - start)
                if stored:
                    items.put(pool.submit(_store, path, start, length))
                    continue
                last = start + CHUNK_SIZE >= size
                items.put(pool.submit(_compress, path, start, length, last, pace))
        items.put(_DONE)
    except BaseException as error:  # handed to the writer, which raises it
        items.put(error)


def zip_stream(
    members: Iterable[tuple[Path, str]],
    write: Callable[[bytes], object],
    *,
    written: Callable[[int], None] | None = None,
    workers: int | None = None,
    pace: Pace | None = None,
) -> int:
    """Write the zip of `members` ((path, name in zip), in order) through `write`; returns the member count.

    Chunks are deflated on `workers` threads (default: all cores) while earlier members are written;
    `written` is told each member's uncompressed size once it has been written. `pace`, told how the
    upload goes, makes chunks smaller at more CPU while that gets the build up sooner (the link, not the
    CPU, is slow); without it every chunk is compressed fast.
    """
    workers = workers or os.cpu_count() or 1
    entries: list[Entry] = []
    offset = 0
    pace = pace or Pace()
    pace.workers = workers

    def emit(data: bytes) -> None:
        nonlocal offset
        if data:
            write(data)
            offset += len(data)

    def next_chunk() -> Chunk:
        item = items.get()
        assert isinstance(item, Future)
        return item.result()

    def write_member(member: _Member) -> None:
        dos_time, dos_date = _dos_time(member.stat.st_mtime)
        name = member.name.encode()
        if member.chunks <= 1:  # known whole before its header is written
            chunk = next_chunk() if member.chunks else Chunk(0, 0, b"")
            method = DEFLATED if len(chunk.data) < chunk.size else STORED
            entry = Entry(name, offset, method, chunk.crc, len(chunk.data), chunk.size, dos_time, dos_date, 0, False)
            entry.mode = member.stat.st_mode
            emit(_local_header(entry, _needs_zip64(entry)))
            emit(chunk.data)
            entries.append(entry)
            return
        method = STORED if member.stored else DEFLATED
        entry = Entry(name, offset, method, 0, 0, 0, dos_time, dos_date, member.stat.st_mode, True)
        zip64 = member.stat.st_size >= ZIP64_LIMIT // 2  # deflate may grow a little: decide with room to spare
        emit(_local_header(entry, zip64))
        for _ in range(member.chunks):
            chunk = next_chunk()
            entry.crc = isal_zlib.crc32_combine(entry.crc, chunk.crc, chunk.size)
            entry.size += chunk.size
            entry.compressed += len(chunk.data)
            emit(chunk.data)
        descriptor = "<IIQQ" if zip64 else "<IIII"
        emit(struct.pack(descriptor, 0x08074B50, entry.crc, entry.compressed, entry.size))
        entries.append(entry)

    items: queue.Queue[object] = queue.Queue(maxsize=max(4, READ_AHEAD_BYTES // CHUNK_SIZE))
    stop = threading.Event()
    with ThreadPoolExecutor(workers, thread_name_prefix="deflate") as pool:
        producer = threading.Thread(target=_submit_all, args=(members, pool, items, stop, pace), daemon=True)
        producer.start()
        try:
            while (item := items.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, _Member)
                write_member(item)
                if written is not None:
                    written(item.stat.st_size)
        finally:
            stop.set()
            while producer.is_alive():  # unblock it if it waits on a full queue
                try:
                    items.get_nowait()
                except queue.Empty:
                    producer.join(0.05)
    directory_offset = offset
    directory = b"".join(_central_header(entry) for entry in entries)
    emit(directory)
    emit(_end_records(entries, directory_offset, len(directory)))
    return len(entries)
