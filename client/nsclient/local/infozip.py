"""Info-ZIP's `unzip -: -o` and `zip -u -r .`, as the stock image's job entrypoint runs them on a
build's workdir zip, so a local job sees and returns what a job on AWS does without zip tools.

Extracting (`unzip -: -o ARCHIVE` in the folder): each member's Unix mode and modification time are
restored (the time from the UT extra field when there is one, else the DOS time read in the job's
UTC clock); symlink members become links; `..` members land above the folder (-:), a leading / is
dropped; existing files are overwritten (-o). Folders get their times last, after their contents.

Updating (`zip -u ARCHIVE -r .`): every file and folder below the root that the filter keeps is
added when the archive lacks it and replaced when its time is newer than its entry's (both in DOS
time, which zip rounds up to even seconds); links are followed, so a link is stored as its target's
content; entries of files no longer there stay; unchanged entries are copied as they are.
"""

from __future__ import annotations

import calendar
import os
import shutil
import stat
import struct
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_UNIX = 3  # ZipInfo.create_system of an archive made on Unix: external_attr's high 16 bits are st_mode
_EXTENDED_TIMESTAMP = 0x5455  # the "UT" extra field
_MSDOS_DIRECTORY = 0x10
DosTime = tuple[int, int, int, int, int, int]


def _unix_mode(member: zipfile.ZipInfo) -> int:
    return member.external_attr >> 16 if member.create_system == _UNIX else 0


def _extended_mtime(extra: bytes) -> int | None:
    """The modification time of a UT extra field, if the member has one."""
    offset = 0
    while offset + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + size]
        if tag == _EXTENDED_TIMESTAMP and size >= 5 and body[0] & 1:
            return int(struct.unpack_from("<i", body, 1)[0])
        offset += 4 + size
    return None


def member_mtime(member: zipfile.ZipInfo) -> int:
    """The time unzip gives the extracted file, in a UTC clock (the job's)."""
    extended = _extended_mtime(member.extra)
    return extended if extended is not None else calendar.timegm((*member.date_time, 0, 0, -1))


def _target(root: Path, name: str) -> Path:
    # unzip keeps `..` with -: but never writes to / itself: a leading slash is dropped.
    return root / PurePosixPath(name.lstrip("/"))


def _clear(path: Path) -> None:
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()


def extract_all(archive_path: Path, root: Path, say: Callable[[str], None] = print) -> None:
    """`unzip -: -o archive_path`, run in root."""
    folders: list[tuple[Path, zipfile.ZipInfo]] = []
    say(f"Archive:  {archive_path}")
    with zipfile.ZipFile(archive_path) as archive:
        for member in archive.infolist():
            target = _target(root, member.filename)
            mode = _unix_mode(member)
            if member.is_dir():
                say(f"   creating: {member.filename}")
                target.mkdir(parents=True, exist_ok=True)
                folders.append((target, member))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            _clear(target)
            if stat.S_ISLNK(mode):
                link = archive.read(member).decode()
                say(f"    linking: {member.filename}  -> {link}")
                target.symlink_to(link)
                continue
            say(f"  inflating: {member.filename}")
            with archive.open(member) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1024 * 1024)
            if mode:
                target.chmod(stat.S_IMODE(mode) & 0o777)  # unzip drops setuid/setgid/sticky without -K
            mtime = member_mtime(member)
            os.utime(target, (mtime, mtime))
    for folder, member in reversed(folders):  # deepest last-listed first, as unzip sets them at the end
        mode = _unix_mode(member)
        if mode:
            folder.chmod(stat.S_IMODE(mode) & 0o777)
        mtime = member_mtime(member)
        os.utime(folder, (mtime, mtime))


def dos_time(mtime: float) -> DosTime:
    """A file's time as zip stores and compares it: rounded up to even seconds, in the job's UTC clock."""
    even = (int(mtime) + 1) & ~1
    year, month, day, hour, minute, second = time.gmtime(even)[:6]
    return (year, month, day, hour, minute, second)


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """(name in zip, path) of every folder and file below root, links followed, as `zip -r .` lists them."""
    for directory, dirnames, filenames in os.walk(root, followlinks=True):
        base = Path(directory)
        dirnames.sort()
        for name in dirnames:
            yield (base / name).relative_to(root).as_posix() + "/", base / name
        for name in sorted(filenames):
            yield (base / name).relative_to(root).as_posix(), base / name


def _new_member(name: str, path: Path) -> zipfile.ZipInfo:
    found = path.stat()  # of the link's target: zip without -y stores what a link points to
    info = zipfile.ZipInfo(name, date_time=dos_time(found.st_mtime))
    info.create_system = _UNIX
    info.external_attr = (found.st_mode & 0xFFFF) << 16
    if stat.S_ISDIR(found.st_mode):
        info.external_attr |= _MSDOS_DIRECTORY
    else:
        info.compress_type = zipfile.ZIP_DEFLATED
    info.extra = struct.pack("<HHBi", _EXTENDED_TIMESTAMP, 5, 1, int(found.st_mtime))
    return info


def _copy_entry(source: zipfile.ZipFile, sink: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    copy = zipfile.ZipInfo(member.filename, date_time=member.date_time)
    copy.create_system, copy.external_attr = member.create_system, member.external_attr
    copy.compress_type, copy.extra, copy.comment = member.compress_type, member.extra, member.comment
    with source.open(member) as reading, sink.open(copy, "w") as writing:
        shutil.copyfileobj(reading, writing, 1024 * 1024)


def _write_new(sink: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> None:
    if info.is_dir():
        sink.writestr(info, b"")
        return
    with path.open("rb") as reading, sink.open(info, "w") as writing:
        shutil.copyfileobj(reading, writing, 1024 * 1024)


def update(archive_path: Path, root: Path, keep: Callable[[str], bool], say: Callable[[str], None] = print) -> int:
    """`zip -u archive_path -r .` in root, over the names `keep` accepts; how many entries it wrote."""
    with zipfile.ZipFile(archive_path) as existing:
        entries = {member.filename: member for member in existing.infolist()}
    changed: dict[str, Path] = {}
    for name, path in _walk(root):
        if not keep(name) or not path.exists():
            continue  # a dangling link: zip warns and skips it
        entry = entries.get(name)
        if entry is None or dos_time(path.stat().st_mtime) > entry.date_time:
            changed[name] = path
    if not changed:
        return 0
    written = len(changed)
    partial = archive_path.with_name(archive_path.name + ".partial")
    with zipfile.ZipFile(archive_path) as source, zipfile.ZipFile(partial, "w") as sink:
        for name, member in entries.items():
            if name in changed:
                path = changed.pop(name)
                say(f"updating: {name}")
                _write_new(sink, _new_member(name, path), path)
            else:
                _copy_entry(source, sink, member)
        for name, path in changed.items():
            say(f"  adding: {name}")
            _write_new(sink, _new_member(name, path), path)
    partial.replace(archive_path)
    return written
