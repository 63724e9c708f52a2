"""The S3 key layout of a builds bucket.

inbox/<name>.zip                  upload; starts a run; lifecycle-expired
inbox/<name>.env.d                the build's environment variables (an env.d zip), uploaded before
                                  the build; not a .zip name, so it starts nothing
runs/<run-id>/run.json            the run record: the durable index
runs/<run-id>/workdir.zip         input, then results (the Batch job writes back into it)
runs/<run-id>/env.d.zip           the variables, moved here from inbox/ for the job, which deletes them
runs/<run-id>/logs/build.log      archived job log
runs/<run-id>/notice.json         the notice sent (written once: guards against a second notice)
runs/<run-id>/report.json         the run report: timeline, use against request, advice
runs/<run-id>/report.html         the same, one self-contained page
"""

from __future__ import annotations

INBOX_PREFIX = "inbox/"
RUNS_PREFIX = "runs/"
UPLOAD_SUFFIX = ".zip"
ENVD_SUFFIX = ".env.d"
# Where a Batch job logs unless its definition names another awslogs group (jobfacts.log_group_of):
# the account's shared group, which an existing Nextstrain setup uses.
DEFAULT_LOG_GROUP = "/aws/batch/job"


def inbox_key(name: str) -> str:
    return f"{INBOX_PREFIX}{name}{UPLOAD_SUFFIX}"


def inbox_envd_key(name: str) -> str:
    return f"{INBOX_PREFIX}{name}{ENVD_SUFFIX}"


def envd_key_for_upload(upload_key: str) -> str:
    """The env.d sent with the upload at this key."""
    return upload_key.removesuffix(UPLOAD_SUFFIX) + ENVD_SUFFIX


def run_prefix(run_id: str) -> str:
    return f"{RUNS_PREFIX}{run_id}/"


def record_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}run.json"


def workdir_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}workdir.zip"


def envd_key(run_id: str) -> str:
    # The image's entrypoint takes only an s3://....zip URL.
    return f"{run_prefix(run_id)}env.d.zip"


def log_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}logs/build.log"


def notice_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}notice.json"


def report_json_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}report.json"


def report_html_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}report.html"


def s3_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def is_upload_key(key: str) -> bool:
    """True for keys that start a run: a .zip directly or deeper under inbox/."""
    return key.startswith(INBOX_PREFIX) and key.endswith(UPLOAD_SUFFIX) and len(key) > len(INBOX_PREFIX + UPLOAD_SUFFIX)
