"""Memory quantities in the forms Nextstrain users type: 14GiB, 14gib, 14000MB, 1TiB, or plain MiB."""

from __future__ import annotations

import re

_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tb": 1000**4,
    "tib": 1024**4,
}
_QUANTITY = re.compile(r"^(?P<number>[0-9]*\.?[0-9]+)\s*(?P<unit>[kmgt]i?b|b)?$", re.IGNORECASE)


class InvalidMemory(ValueError):
    pass


def parse_memory_mib(value: str | int) -> int:
    """Parse a memory quantity to whole MiB (rounded down, as the Nextstrain CLI does).

    A number without a unit is MiB, as in `[aws-batch] memory` and NEXTSTRAIN_AWS_BATCH_MEMORY.
    """
    if isinstance(value, int):
        if value <= 0:
            raise InvalidMemory(f"memory must be positive, not {value}")
        return value
    match = _QUANTITY.match(value.strip())
    if not match:
        raise InvalidMemory(
            f"can't read memory {value!r}: use a number of MiB or a quantity such as 14GiB, 7400MiB or 14000MB"
        )
    number = float(match["number"])
    unit = match["unit"]
    mib = int(number) if unit is None else int(number * _UNITS[unit.lower()]) // 1024**2
    if mib <= 0:
        raise InvalidMemory(f"memory {value!r} is less than 1 MiB")
    return mib
