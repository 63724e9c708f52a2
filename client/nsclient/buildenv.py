"""The build's environment variables from `push --env` and `--envdir`, as `nextstrain build` takes them.

Envdirs (NEXTSTRAIN_RUNTIME_ENVDIRS first, then each --envdir) are read in turn, later ones winning;
then --env NAME=VALUE, or --env NAME for NAME's value in this environment, overrides them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from nsclient.errors import UserError
from nsclient_common.envdir import Env, InvalidEnv, check_name, read_dir

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

ENVDIRS_VARIABLE = "NEXTSTRAIN_RUNTIME_ENVDIRS"


def env_option(text: str) -> tuple[str, str | None]:
    """argparse type of --env: (name, value), value None when it is to come from the environment."""
    name, sep, value = text.partition("=")
    try:
        check_name(name)
    except InvalidEnv as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name, value if sep else None


def envdir_option(text: str) -> Path:
    """argparse type of --envdir: an existing folder."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder: an envdir is a folder of one file per variable")
    return path


def collect(
    envs: Sequence[tuple[str, str | None]], envdirs: Sequence[Path], environ: Mapping[str, str] = os.environ
) -> Env:
    """The variables to send with the build; raises UserError for one that can't be had."""
    folders = [Path(d) for d in environ.get(ENVDIRS_VARIABLE, "").split(os.pathsep) if d]
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder} (in {ENVDIRS_VARIABLE}) is not a folder.")
    env: Env = {}
    for folder in [*folders, *envdirs]:
        try:
            env.update(read_dir(folder))
        except InvalidEnv as error:
            raise UserError(f"Envdir {folder}: {error}.") from None
    for name, value in envs:
        if value is None:
            if name not in environ:
                raise UserError(
                    f"--env {name}: {name} is not set in your environment; set it, or give --env {name}=VALUE."
                )
            value = environ[name]
        env[name] = value
    return env
