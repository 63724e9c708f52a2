"""Is an upload a build we can run? Checked from the zip's central directory alone.

Nothing is extracted here: the Batch job unzips. So everything that would make that unzip
unsafe or ruinous (escaping paths, symlinks, bombs) is refused before a job exists.
"""

from __future__ import annotations

import stat
import zipfile
from typing import IO, TYPE_CHECKING

from pydantic import BaseModel

from nsclient_common.buildfolder import SNAKEFILES, unsafe_member_problem

if TYPE_CHECKING:
    from nsclient_common.settings import Limits

# Ratios are only meaningful for members big enough to matter; small text compresses well.
_RATIO_FLOOR_BYTES = 1024 * 1024


class UploadRejected(Exception):
    """The upload is not a build we will run; str() is a sentence for the person who sent it."""


class BuildArchive(BaseModel):
    members: int
    compressed_bytes: int
    uncompressed_bytes: int
    snakefile: str


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    problem = unsafe_member_problem(name)
    if problem:
        return problem
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"contains a symbolic link ({name!r}); zip the files it points to instead"
    return None


def check_build_archive(fileobj: IO[bytes], size: int, limits: Limits) -> BuildArchive:
    """Raise UploadRejected with a plain reason, or describe the archive."""
    if size > limits.max_upload_bytes:
        raise UploadRejected(
            f"The upload is {size:,} bytes, over this deployment's limit of {limits.max_upload_bytes:,}."
        )
    try:
        archive = zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile:
        raise UploadRejected(
            "The upload is not a zip archive, or it is truncated (its table of contents is missing)."
        ) from None
    except (OSError, EOFError, ValueError) as error:
        raise UploadRejected(f"The upload could not be read as a zip archive ({error}).") from None

    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise UploadRejected(f"The archive holds {len(infos):,} entries, over the limit of {limits.max_members:,}.")
    names: set[str] = set()
    total = compressed = 0
    for info in infos:
        problem = _member_problem(info)
        if problem:
            raise UploadRejected(f"The archive {problem}.")
        if info.header_offset + info.compress_size > size:
            raise UploadRejected(f"The archive is truncated: {info.filename!r} runs past the end of the file.")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= _RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
            raise UploadRejected(
                f"{info.filename!r} expands {ratio:,.0f} times, over the limit of "
                f"{limits.max_compression_ratio:g}: this looks like a zip bomb."
            )
        total += info.file_size
        compressed += info.compress_size
        names.add(info.filename[2:] if info.filename.startswith("./") else info.filename)

    if total > limits.max_uncompressed_bytes:
        raise UploadRejected(
            f"The archive expands to {total:,} bytes, over the limit of {limits.max_uncompressed_bytes:,}: "
            "this looks like a zip bomb, or the build folder holds more than it should."
        )
    overall = total / max(compressed, 1)
    if total >= _RATIO_FLOOR_BYTES and overall > limits.max_compression_ratio:
        raise UploadRejected(
            f"The archive expands {overall:,.0f} times, over the limit of {limits.max_compression_ratio:g}: "
            "this looks like a zip bomb."
        )
    snakefile = next((s for s in SNAKEFILES if s in names), None)
    if snakefile is None:
        raise UploadRejected(
            "The archive has no Snakefile at its top level: zip the build folder's contents "
            "(the folder you would run `nextstrain build` on), not a folder above it."
        )
    return BuildArchive(members=len(infos), compressed_bytes=compressed, uncompressed_bytes=total, snakefile=snakefile)
