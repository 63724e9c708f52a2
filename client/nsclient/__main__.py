"""Entry point: `python -m nsclient` and the `nsclient` console script."""

from __future__ import annotations

import sys

from nsclient.cli import run
from nsclient.pipes import exit_quietly_on_closed_pipe


def main() -> None:
    sys.exit(exit_quietly_on_closed_pipe(lambda: run(sys.argv[1:])))


if __name__ == "__main__":
    main()
