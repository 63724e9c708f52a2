"""What AWS does to Batch jobs on its own, injected into the local backend's jobs by the tests.

JobFaults is the Batch runtime's disruption hook (batch_runtime.BatchRuntime.disruptions): the
`job_faults` fixture (tests/conftest.py) registers one with the session's backend, and a test puts
the faults it wants in `job_faults.faults` (with monkeypatch, so they go when the test ends).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nsclient.local.batch_runtime import ESSENTIAL_CONTAINER_EXITED, SIGKILL_EXIT, BatchJob, Disruption

JOB_RESOURCE_REQUIREMENT_WAIT = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than that "
    "can be met by the CE(s) attached to the job queue."
)


@dataclass
class JobFault:
    """A disruption for the jobs it matches: on their name (the run id) and, if given, their queue's name.
    Use the constructors: they carry the reasons Batch reports for each fault."""

    name_prefix: str
    disruption: Disruption
    queue: str | None = None

    def matches(self, job: BatchJob) -> bool:
        return job.name.startswith(self.name_prefix) and self.queue in (None, job.queue)

    @classmethod
    def host_terminated(cls, name_prefix: str, *, queue: str | None = None, after: float = 0.5) -> JobFault:
        """The instance goes away under the running job (a Spot reclaim): no exit code."""
        reason = "Host EC2 (instance i-0a1b2c3d4e5f67890) terminated."
        return cls(name_prefix, Disruption(kill_after_seconds=after, status_reason=reason, exit_code=None), queue)

    @classmethod
    def out_of_memory(cls, name_prefix: str, *, after: float = 0.5) -> JobFault:
        """The container goes over its memory and the kernel's OOM killer ends it."""
        return cls(
            name_prefix,
            Disruption(
                kill_after_seconds=after,
                status_reason=ESSENTIAL_CONTAINER_EXITED,
                container_reason="OutOfMemoryError: Container killed due to memory usage",
                exit_code=SIGKILL_EXIT,
            ),
        )

    @classmethod
    def attempt_timeout(cls, name_prefix: str, seconds: int) -> JobFault:
        """The job's attempt may last `seconds` (Batch then stops it: 'Job attempt duration exceeded timeout')."""
        return cls(name_prefix, Disruption(attempt_duration_seconds=seconds))

    @classmethod
    def too_large(cls, name_prefix: str) -> JobFault:
        """No instance type in the compute environment can hold the job: it waits RUNNABLE."""
        return cls(name_prefix, Disruption(blocked_reason=JOB_RESOURCE_REQUIREMENT_WAIT))


@dataclass
class JobFaults:
    """The faults to inject; the first that matches a job as it starts is inflicted on it."""

    faults: list[JobFault] = field(default_factory=list)

    def __call__(self, job: BatchJob) -> Disruption | None:
        return next((fault.disruption for fault in list(self.faults) if fault.matches(job)), None)
