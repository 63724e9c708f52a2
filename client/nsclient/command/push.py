"""Upload a build folder and start it running; returns at once unless --wait.

Zips DIR (leaving out .git/, .snakemake/ except its log/ metadata/ storage/, environment*,
*.pyc, __pycache__/ and your --exclude-from-upload globs), uploads it to the backend's
inbox/, and prints the run id. The backend takes it from there: nothing here needs to stay
running. As with `nextstrain build DIR [TARGET...]`, the targets and snakemake options after DIR go
to snakemake (`nsclient push zika/ results/aligned.fasta --forceall`), and so does everything after
`--` (for a snakemake option push has too, such as `-q`).

With --wait it follows the run to its end and then, as `nextstrain build` does, downloads the
results into DIR (a failed build's too: what it made before failing), unless --no-download.
Ctrl-C only detaches: the run goes on.

Environment variables for the build, as `nextstrain build` takes them: --env NAME=VALUE, --env NAME
(its value here), --envdir DIR (a folder of files, one per variable: the file's name is the name,
its first line the value) and NEXTSTRAIN_RUNTIME_ENVDIRS. Their values go in a separate S3 object
that the job reads and deletes: never in the Batch job request, the run record, the notice or the log.

Defaults (first found wins): option > NEXTSTRAIN_AWS_BATCH_CPUS / _MEMORY > [aws-batch] cpus /
memory in ~/.nextstrain/config > the job definition's own. Memory takes 14GiB, 14gib, 14000MB or
a number of MiB. --notify defaults to NSCLIENT_NOTIFY or [nsclient] notify.
"""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nsclient import buildenv, config
from nsclient.backend import chosen_kind, connect
from nsclient.command.common import add_parser, info
from nsclient.command.pull import add_download_options, say_pulled
from nsclient.errors import EXIT_INTERRUPTED, UserError
from nsclient.local.requirements import check_local_requirements
from nsclient.transfer.pull import pull
from nsclient.transfer.push import check_build_folder, push
from nsclient.watch import exit_code_of, follow
from nsclient_common.record import RunRecord, RunStatus
from nsclient_common.request import CPUS, MEMORY, BuildRequest, InvalidRequest, parse_request
from nsclient_common.settings import UNLIMITED

if TYPE_CHECKING:
    from nsclient.backend import Backend

EXAMPLES = """
  nsclient push zika/                              # upload, print the run id, return
  nsclient push zika/ --cpus 8 --memory 14GiB      # ask Batch for 8 vCPUs and 14 GiB
  nsclient push zika/ --wait -- --forceall         # follow to the end; snakemake gets --forceall
  nsclient push zika/ results/aligned.fasta        # snakemake builds this target only
  nsclient push zika/ --notify me@example.org --json
  nsclient push zika/ --wait --download 'auspice/*'  # follow, then download only auspice/
  nsclient push zika/ --env GISAID_TOKEN --env DEBUG=1 --envdir ~/secrets.d
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.usage = "%(prog)s [options] <dir> [<target> | <snakemake option>...] [-- <snakemake argument>...]"
    parser.allow_abbrev = False  # a snakemake option is never taken for the push option it starts
    parser.add_argument("directory", metavar="<dir>", type=Path, help="The build folder (holding its Snakefile)")
    parser.add_argument(
        "--cpus", dest="cpus", metavar="<n>", type=whole_number_of_cpus, help="vCPUs for the job (snakemake --cores)"
    )
    parser.add_argument(
        "--memory", dest="memory", metavar="<quantity>", type=memory_quantity, help="Memory for the job, e.g. 14GiB"
    )
    parser.add_argument(
        "--image", dest="image", metavar="<image>", help="Container image (default: the job definition's)"
    )
    parser.add_argument("--notify", dest="notify", metavar="<email>", help="Email the notice to this address too")
    parser.add_argument(
        "--exclude-from-upload",
        dest="exclude",
        metavar="<glob>",
        action="append",
        default=[],
        help="Leave matching files out of the upload (repeatable)",
    )
    parser.add_argument(
        "--env",
        dest="envs",
        metavar="<name>[=<value>]",
        type=buildenv.env_option,
        action="append",
        default=[],
        help="Set this variable for the build, to <value> or to its value here (repeatable; overrides --envdir)",
    )
    parser.add_argument(
        "--envdir",
        dest="envdirs",
        metavar="<dir>",
        type=buildenv.envdir_option,
        action="append",
        default=[],
        help="Set the variables of this envdir, a folder of one file per variable (repeatable)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--detach", dest="wait", action="store_false", help="Return once uploaded (the default)")
    mode.add_argument("--wait", dest="wait", action="store_true", help="Follow status and log to the end")
    parser.add_argument("--json", dest="json", action="store_true", help='Print {"run_id": ...} for scripts')
    parser.add_argument(
        "--no-download",
        dest="download",
        action="store_false",
        help="With --wait: leave the results in the backend (pull them later)",
    )
    add_download_options(parser)
    parser.set_defaults(wait=False, snakemake_args=[])


def _read(field: str, text: str) -> BuildRequest:
    # The backend's own reading of a request's fields, without its limits: those are checked once connected.
    return parse_request({field: text}, UNLIMITED)


def whole_number_of_cpus(text: str) -> int:
    """--cpus: a usage error (exit 2) unless the backend would read it as a number of cpus."""
    try:
        return int(_read(CPUS, text).cpus or 0)
    except InvalidRequest as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def memory_quantity(text: str) -> str:
    """--memory: a usage error (exit 2) unless the backend would read it as a quantity of memory."""
    try:
        _read(MEMORY, text)
    except InvalidRequest as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _setting(setting: config.Setting, field: str) -> BuildRequest:
    """A cpus or memory setting from the environment or the config file: an error naming where it is."""
    try:
        return _read(field, setting.value or "")
    except InvalidRequest as error:
        raise UserError(f"{error} (from {setting.origin}).") from None


def build_request(opts: argparse.Namespace) -> BuildRequest:
    cpus_setting = config.resolve("aws-batch", "cpus", str(opts.cpus) if opts.cpus is not None else None)
    memory_setting = config.resolve("aws-batch", "memory", opts.memory)
    cpus = _setting(cpus_setting, CPUS).cpus if cpus_setting.value else None
    memory = _setting(memory_setting, MEMORY).memory_mib if memory_setting.value else None
    args = list(opts.snakemake_args)
    return BuildRequest(
        cpus=cpus,
        memory_mib=memory,
        snakemake_args=args,
        image=opts.image,
        notify=config.value("nsclient", "notify", opts.notify),
        submitter=f"{getpass.getuser()}@{socket.gethostname()}",
    )


def run(opts: argparse.Namespace) -> int:
    check_build_folder(opts.directory)
    if chosen_kind(opts.backend) == "local":
        check_local_requirements()
    request = build_request(opts)
    env = buildenv.collect(opts.envs, opts.envdirs)
    backend = connect(opts.backend)
    run_id = push(backend, opts.directory, request, opts.exclude, opts.quiet, env=env)
    print(json.dumps({"run_id": run_id}) if opts.json else run_id, flush=True)
    info(f"Pushed {opts.directory} as run {run_id} ({backend.kind} backend).", opts.quiet)
    if opts.image and backend.kind == "local":
        info(f"The local backend runs this machine's snakemake, not a container: {opts.image} is not used.")
    if not opts.wait:
        info(f"Follow it with `nsclient status {run_id}` or `nsclient logs --follow {run_id}`.", opts.quiet)
        return 0
    try:
        final = follow(backend, run_id, quiet=opts.quiet, log_stream=sys.stderr if opts.json else sys.stdout)
    except KeyboardInterrupt:
        info(
            f"\nDetached: run {run_id} goes on without you. Come back with `nsclient logs --follow {run_id}`, "
            f"`nsclient status {run_id}`, or `nsclient cancel {run_id}` to stop it."
        )
        return EXIT_INTERRUPTED
    if final.reason:
        info(final.reason, opts.quiet)
    download(backend, final, opts)
    return exit_code_of(final)


def download(backend: Backend, final: RunRecord, opts: argparse.Namespace) -> None:
    """As `nextstrain build` does: the results into the pushed folder, and a failed build's what it made."""
    if not opts.download or final.status == RunStatus.REJECTED:
        if final.status == RunStatus.SUCCEEDED:
            info(f"Get the results with `nsclient pull {final.run_id}`.", opts.quiet)
        return
    try:
        plan, written = pull(backend, final.run_id, opts.directory, opts.downloads, opts.exclusions, opts.quiet)
    except UserError as error:
        info(f"Nothing to download: {error}")
        return
    say_pulled(plan, written, opts.directory, opts.quiet)
