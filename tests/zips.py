"""Zips made and read without S3, for tests of what push uploads and pull writes: the build folder
zipped whole, and a planned member written with zipfile, both through the client's own rules."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from nsclient.transfer.download import set_member_mtime
from nsclient.transfer.folder import upload_members
from nsclient.transfer.zipstream import zip_stream

if TYPE_CHECKING:
    import zipfile
    from collections.abc import Iterable
    from pathlib import Path


def write_zip(root: Path, destination: IO[bytes], exclude: Iterable[str] = ()) -> int:
    """The build folder zipped as push streams it (links followed to their content); the member count."""
    return zip_stream(upload_members(root, exclude), destination.write)


def extract(results: zipfile.ZipFile, member: zipfile.ZipInfo, destination: Path) -> Path:
    """One member written into `destination` as pull writes it (whole or not at all, its mtime restored)."""
    target = destination / member.filename
    if destination.resolve() not in target.resolve().parents:
        raise ValueError(f"refusing to write outside {destination}: {member.filename}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".nsclient-partial")
    with results.open(member) as source, partial.open("wb") as sink:
        while chunk := source.read(1024 * 1024):
            sink.write(chunk)
    partial.replace(target)
    set_member_mtime(target, member)
    return target
