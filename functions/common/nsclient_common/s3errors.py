"""What S3 answers when an object is not there: one reading for the functions and the client."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

# GetObject's NoSuchKey (NoSuchVersion for a version id that is gone); HEAD has no body to carry a code, so
# its answer is the bare status (404), which moto and some clients spell NotFound.
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_missing(error: ClientError) -> bool:
    """The error says the object (or that version of it) does not exist."""
    return error_code(error) in MISSING_CODES
