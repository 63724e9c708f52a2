"""The S3 key layout of a builds bucket.

Everything a person reads or writes is under a folder of their own, named by their IAM unique id
(`aws:userid`: AIDA... for an IAM user, AROA...:session for a role session such as SSO), so that
the users' policy can say "your own folder" with the policy variable ${aws:userid}. A run belongs
to whoever uploaded it: IAM lets nobody else write into their inbox folder.

inbox/<owner>/<name>.zip            upload; starts a run; lifecycle-expired
inbox/<owner>/<name>.env.d          the build's environment variables (an env.d zip), uploaded before
                                    the build; not a .zip name, so it starts nothing
inbox/<owner>/<run-id>.cancel       a request to cancel the owner's run (the backend checks it is theirs)
inbox/<owner>/<email>.subscribe     a request to email <email> the notices of the owner's runs
inbox/<owner>/<email>.unsubscribe   a request to stop doing so
runs/<owner>/notices/<email>.json   what the backend did with the owner's last such request for <email>
runs/<owner>/<run-id>/run.json      the run record: the durable index
runs/<owner>/<run-id>/workdir.zip   input, then results (the Batch job writes back into it)
runs/<owner>/<run-id>/env.d.zip     the variables, moved here from inbox/ for the job, which deletes them
runs/<owner>/<run-id>/logs/build.log  archived job log
runs/<owner>/<run-id>/logs/timeline.json  what the report reads of that log, read from it as it was archived
runs/<owner>/<run-id>/notice.json   the notice sent (written once: guards against a second notice)
runs/<owner>/<run-id>/report.json   the run report: timeline, use against request, advice
runs/<owner>/<run-id>/report.html   the same, one self-contained page
runs/<owner>/index/<newest-first>.<run-id>.<stage>.<summary>  an empty object whose name carries what a
                                    listing shows (runindex), newest run first: listings read no record
runs/<owner>/index/!since.<time>    when the backend began that index (runs before it have only the next)
runs/<owner>/<run-id>.<stage>.<summary>  the index as backends before that one wrote it, beside the folder

An upload directly under inbox/ (by an administrator or a tool with bucket-wide access), and every run
made before owners had folders, has no owner: its folder is runs/<run-id>/, which only admins read.
"""

from __future__ import annotations

INBOX_PREFIX = "inbox/"
RUNS_PREFIX = "runs/"
UPLOAD_SUFFIX = ".zip"
ENVD_SUFFIX = ".env.d"
CANCEL_SUFFIX = ".cancel"
SUBSCRIBE_SUFFIX = ".subscribe"
UNSUBSCRIBE_SUFFIX = ".unsubscribe"
# Where a Batch job logs unless its definition names another awslogs group (describedjob.log_group_of):
# the account's shared group, which an existing Nextstrain setup uses.
DEFAULT_LOG_GROUP = "/aws/batch/job"


def _folder(owner: str | None) -> str:
    if owner is not None and (not owner or "/" in owner):
        raise ValueError(f"not an owner id: {owner!r}")
    return f"{owner}/" if owner else ""


def inbox_prefix(owner: str | None) -> str:
    return f"{INBOX_PREFIX}{_folder(owner)}"


def inbox_key(name: str, owner: str | None) -> str:
    return f"{inbox_prefix(owner)}{name}{UPLOAD_SUFFIX}"


def inbox_envd_key(name: str, owner: str | None) -> str:
    return f"{inbox_prefix(owner)}{name}{ENVD_SUFFIX}"


def cancel_request_key(run_id: str, owner: str) -> str:
    return f"{inbox_prefix(owner)}{run_id}{CANCEL_SUFFIX}"


def owner_of_inbox_key(key: str) -> str | None:
    """The owner of an object under inbox/: its folder, or None directly under inbox/."""
    rest = key.removeprefix(INBOX_PREFIX)
    owner, separator, _ = rest.partition("/")
    return owner if separator and owner else None


def uploader_name(owner: str | None) -> str | None:
    """Who dropped an upload into their inbox folder, for a record without a submitter: a role session's name
    (`AROA...:alice@example.org`: alice@example.org), else the IAM unique id itself. Never the account id,
    which names everyone in it; None for an upload directly under inbox/."""
    if not owner:
        return None
    _, _, session = owner.partition(":")
    return session or owner


def cancel_request(key: str) -> tuple[str, str] | None:
    """(owner, run id) of a cancel request's key, or None for any other key."""
    owner = owner_of_inbox_key(key)
    if owner is None or not key.endswith(CANCEL_SUFFIX):
        return None
    name = key.removeprefix(inbox_prefix(owner)).removesuffix(CANCEL_SUFFIX)
    return (owner, name) if name and "/" not in name else None


def subscription_request_key(email: str, owner: str, *, subscribe: bool) -> str:
    if "/" in email:
        raise ValueError(f"not an address a request can name: {email!r}")
    return f"{inbox_prefix(owner)}{email}{SUBSCRIBE_SUFFIX if subscribe else UNSUBSCRIBE_SUFFIX}"


def subscription_request(key: str) -> tuple[str, str, bool] | None:
    """(owner, address, subscribe?) of a subscription request's key, or None for any other key."""
    owner = owner_of_inbox_key(key)
    if owner is None:
        return None
    name = key.removeprefix(inbox_prefix(owner))
    for suffix, subscribe in ((SUBSCRIBE_SUFFIX, True), (UNSUBSCRIBE_SUFFIX, False)):
        if name.endswith(suffix) and "/" not in name and len(name) > len(suffix):
            return owner, name.removesuffix(suffix), subscribe
    return None


def subscription_key(email: str, owner: str) -> str:
    return f"{runs_prefix(owner)}notices/{email.lower()}.json"


def envd_key_for_upload(upload_key: str) -> str:
    """The env.d sent with the upload at this key."""
    return upload_key.removesuffix(UPLOAD_SUFFIX) + ENVD_SUFFIX


def runs_prefix(owner: str | None) -> str:
    """Where an owner's run folders are (with None: every run folder, for admins)."""
    return f"{RUNS_PREFIX}{_folder(owner)}"


def index_prefix(owner: str | None) -> str:
    """The owner's run index (runindex); `index` is never a run id, which ends in a digest."""
    return f"{runs_prefix(owner)}index/"


def run_prefix(run_id: str, owner: str | None) -> str:
    return f"{runs_prefix(owner)}{run_id}/"


def record_key(run_id: str, owner: str | None) -> str:
    return f"{run_prefix(run_id, owner)}run.json"


def workdir_key(run_id: str, owner: str | None) -> str:
    return f"{run_prefix(run_id, owner)}workdir.zip"


def envd_key(run_id: str, owner: str | None) -> str:
    # The image's entrypoint takes only an s3://....zip URL.
    return f"{run_prefix(run_id, owner)}env.d.zip"


def log_key(run_id: str, owner: str | None) -> str:
    return f"{run_prefix(run_id, owner)}logs/build.log"


def timeline_key(run_id: str, owner: str | None) -> str:
    return f"{run_prefix(run_id, owner)}logs/timeline.json"


def notice_key(run_id: str, owner: str | None) -> str:
    return f"{run_prefix(run_id, owner)}notice.json"


def report_json_key(run_id: str, owner: str | None) -> str:
    return f"{run_prefix(run_id, owner)}report.json"


def report_html_key(run_id: str, owner: str | None) -> str:
    return f"{run_prefix(run_id, owner)}report.html"


def s3_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def is_upload_key(key: str) -> bool:
    """True for keys that start a run: a .zip directly under inbox/ or in a folder of it."""
    return key.startswith(INBOX_PREFIX) and key.endswith(UPLOAD_SUFFIX) and len(key) > len(INBOX_PREFIX + UPLOAD_SUFFIX)
