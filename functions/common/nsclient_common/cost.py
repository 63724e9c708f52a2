"""What a run cost, estimated: the job's vCPU-hours and GiB-hours priced from a small table, plus the
orchestration's own (Step Functions state transitions, Lambda GB-seconds). Always an estimate: the
bill depends on the instance Batch chose, how full it was and the Spot market of the hour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from datetime import datetime

# us-east-1 Linux prices, 2024. Each family's .large price split into a vCPU-hour and a GiB-hour rate
# with one memory rate for all ($0.00342/GiB-hour, from c5 against r5 at 2 vCPUs and 4 vs 16 GiB), so a
# job is charged for the share of an instance it reserves. Spot is taken as 35 % of on-demand, about
# what these families have cost on Spot; a deployment whose prices differ sets CostRates.
GIB_HOUR_USD = 0.00342
ON_DEMAND_VCPU_HOUR_USD: dict[str, float] = {
    "c5": 0.0357,
    "m5": 0.0343,
    "r5": 0.0357,
    "c6i": 0.0357,
    "m6i": 0.0343,
    "r6i": 0.0357,
    "c7i": 0.0378,
    "m7i": 0.0367,
    "r7i": 0.0388,
}
# Batch's "optimal" picks from the c, m and r families; m is their middle.
DEFAULT_FAMILY = "m5"
SPOT_FRACTION = 0.35
# Standard workflows: $0.025 per 1,000 state transitions. Lambda (x86): $0.0000166667 per GB-second.
STATE_TRANSITION_USD = 0.025 / 1000
LAMBDA_GB_SECOND_USD = 0.0000166667
# A run's path through the state machine, retries aside: PrepareRun, IsUploadAccepted, SubmitBuildJob,
# CollectLogs, IsSpotReclaimed, FinalizeRun, NotifyRun, DidBuildSucceed and the end state; a rerun on
# the on-demand queue adds RetryOnDemandJob, CollectLogs and IsSpotReclaimed.
TRANSITIONS_PER_RUN = 9
TRANSITIONS_PER_RERUN = 3


class Rates(BaseModel):
    vcpu_hour_usd: float
    gib_hour_usd: float
    basis: str  # in words, for the notice and the report


class CostEstimate(BaseModel):
    vcpu_hours: float
    gib_hours: float
    job_usd: float
    orchestration_usd: float
    total_usd: float
    basis: str


class BadCostRates(ValueError):
    pass


def family_of(instance_types: str) -> str:
    """The instance family the rates are taken from: the first of InstanceTypes ("c5.xlarge,r5" -> c5)."""
    first = instance_types.split(",")[0].strip().lower()
    family = first.split(".")[0]
    return family if family in ON_DEMAND_VCPU_HOUR_USD else DEFAULT_FAMILY


def rates_for(setting: str, instance_types: str = "optimal") -> Rates:
    """The rates CostRates asks for: `on-demand` (the default), `spot`, or `VCPU_HOUR_USD/GIB_HOUR_USD`."""
    choice = setting.strip().lower() or "on-demand"
    family = family_of(instance_types)
    if choice in ("on-demand", "spot"):
        fraction = SPOT_FRACTION if choice == "spot" else 1.0
        return Rates(
            vcpu_hour_usd=ON_DEMAND_VCPU_HOUR_USD[family] * fraction,
            gib_hour_usd=GIB_HOUR_USD * fraction,
            basis=f"{family} {choice} prices",
        )
    try:
        vcpu, gib = (float(part) for part in choice.split("/"))
    except ValueError:
        raise BadCostRates(
            f"CostRates must be on-demand, spot or VCPU_HOUR_USD/GIB_HOUR_USD (like 0.04/0.005), not {setting!r}."
        ) from None
    return Rates(vcpu_hour_usd=vcpu, gib_hour_usd=gib, basis=f"${vcpu}/vCPU-hour and ${gib}/GiB-hour")


def estimate(
    *,
    cpus: int | None,
    memory_mib: int | None,
    started: datetime | None,
    stopped: datetime | None,
    rates: Rates,
    jobs: int = 1,
    lambda_seconds: float = 0.0,
    lambda_memory_gb: float = 1.0,
) -> CostEstimate:
    """The job's reserved resources over its running time, and the state machine's and functions' share."""
    hours = max(0.0, (stopped - started).total_seconds()) / 3600 if started and stopped else 0.0
    vcpu_hours = (cpus or 0) * hours
    gib_hours = (memory_mib or 0) / 1024 * hours
    job = vcpu_hours * rates.vcpu_hour_usd + gib_hours * rates.gib_hour_usd
    transitions = TRANSITIONS_PER_RUN + TRANSITIONS_PER_RERUN * max(0, jobs - 1)
    orchestration = transitions * STATE_TRANSITION_USD + lambda_seconds * lambda_memory_gb * LAMBDA_GB_SECOND_USD
    return CostEstimate(
        vcpu_hours=round(vcpu_hours, 4),
        gib_hours=round(gib_hours, 4),
        job_usd=round(job, 4),
        orchestration_usd=round(orchestration, 4),
        total_usd=round(job + orchestration, 4),
        basis=rates.basis,
    )


def usd(amount: float) -> str:
    """Dollars to the cent; a run of a few cents or less to a hundredth of a cent."""
    return f"${amount:.2f}" if amount >= 0.01 else f"${amount:.4f}"


def describe(cost: CostEstimate) -> str:
    """One line, always saying it is an estimate."""
    return (
        f"about {usd(cost.total_usd)} (estimate: {cost.vcpu_hours:g} vCPU-hours and {cost.gib_hours:g} GiB-hours "
        f"at {cost.basis} = ${cost.job_usd:.4f}, orchestration ${cost.orchestration_usd:.4f})"
    )
