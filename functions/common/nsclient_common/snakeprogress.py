"""How far a build has got, from snakemake's log as it is written: steps done of the total, and the
rules running now. Fed one line at a time, so a live log can be read as it grows."""

from __future__ import annotations

import re

from nsclient_common.snakelog import JOB_FINISHED, JOB_STARTS, RULE_NAME

_STEPS_DONE = re.compile(r"^(?P<done>\d+) of (?P<total>\d+) steps \(\d+%\) done")
_JOB_STATS_TOTAL = re.compile(r"^total\s+(?P<total>\d+)\s*$")
_ERROR_IN_RULE = re.compile(rf"^Error in rule (?P<rule>{RULE_NAME}):")
_JOB_ID = re.compile(r"^\s+jobid: (?P<job>\d+)\s*$")


class SnakemakeProgress:
    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None
        self._running: dict[str, str] = {}  # job id -> rule
        self._rule: str | None = None  # the rule block being read, until its jobid line
        self._failing = False

    @property
    def running(self) -> list[str]:
        """The rules of the jobs running now, in the order they started."""
        return list(self._running.values())

    def feed(self, line: str) -> None:
        if match := _STEPS_DONE.match(line):
            self.done, self.total = int(match["done"]), int(match["total"])
        elif (match := _JOB_STATS_TOTAL.match(line)) and self.total is None:
            self.total = int(match["total"])
        elif match := JOB_STARTS.match(line):
            self._rule, self._failing = match["rule"], False
        elif match := _ERROR_IN_RULE.match(line):
            self._rule, self._failing = match["rule"], True
        elif (match := _JOB_ID.match(line)) and self._rule is not None:
            if self._failing:
                self._running.pop(match["job"], None)
            else:
                self._running[match["job"]] = self._rule
            self._rule = None
        elif match := JOB_FINISHED.match(line):
            self._running.pop(match["jobid"], None)
