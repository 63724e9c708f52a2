"""Entry point: `python -m nsclient` and the `nsclient` console script."""

from __future__ import annotations

import sys

from nsclient.cli import run


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
