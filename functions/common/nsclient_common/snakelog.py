"""The lines of snakemake's log that say a job started and that it finished (snakemake 7 to 9), read
by the live progress view (snakeprogress) and the run report's timeline (timeline)."""

from __future__ import annotations

import re

RULE_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# "rule filter:", "localrule all:" or "checkpoint clades:", opening a job's block.
JOB_STARTS = re.compile(rf"^(?P<local>local)?(?:rule|checkpoint) (?P<rule>{RULE_NAME}):\s*$")
# "Finished job 4." (snakemake 7, 8) or "Finished jobid: 4 (Rule: filter)" (snakemake 9).
JOB_FINISHED = re.compile(r"^Finished job(?:id:)? (?P<jobid>\d+)")
