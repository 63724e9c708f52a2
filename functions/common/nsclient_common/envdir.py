"""Environment variables for a build, carried as an envdir (one file per variable) zipped into an
env.d archive: the form the Nextstrain CLI uploads and the nextstrain/base image reads.

The conventions are daemontools' envdir, as the Nextstrain CLI writes and reads them: the file's name
is the variable's name; its first line, trailing whitespace removed, is the value, with NUL bytes
standing for newlines; an empty file unsets the variable.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import TYPE_CHECKING

from nsclient_common.submitjob import RESERVED_VARIABLES

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

Env = dict[str, str | None]  # None: unset the variable

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InvalidEnv(ValueError):
    """A variable name or an envdir we won't pass on; the message says which and why."""


def _check_syntax(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidEnv(
            f"{name!r} is not an environment variable name: use letters, digits and _, not starting with a digit"
        )
    return name


def check_name(name: str) -> str:
    """A name a build may set: well formed, and not one of the job contract's own."""
    _check_syntax(name)
    if name in RESERVED_VARIABLES:
        raise InvalidEnv(f"{name} is set by nsclient for every job and can't be given")
    return name


def encode_value(value: str | None) -> bytes:
    """A variable's envdir file contents (b"" unsets it)."""
    return b"" if value is None else (value.replace("\n", "\0") + "\n").encode()


def decode_value(contents: bytes) -> str | None:
    if not contents:
        return None
    return contents.decode().split("\n", 1)[0].rstrip().replace("\0", "\n")


def read_dir(directory: Path) -> Env:
    """The variables of an envdir folder, in name order."""
    if not directory.is_dir():
        raise InvalidEnv(f"{directory} is not a folder")
    env: Env = {}
    for path in sorted(directory.iterdir()):
        if path.is_dir():
            raise InvalidEnv(f"{path} is a folder: an envdir holds one file per variable")
        try:
            env[check_name(path.name)] = decode_value(path.read_bytes())
        except InvalidEnv as error:
            raise InvalidEnv(f"{error} (file {path})") from None
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidEnv(f"can't read {path}: {error}") from None
    return env


def to_archive(env: Mapping[str, str | None]) -> bytes:
    """The env.d zip of these variables."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in env.items():
            archive.writestr(check_name(name), encode_value(value))
    return buffer.getvalue()
