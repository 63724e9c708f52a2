"""The cost estimate against sums done by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nsclient_common.cost import BadCostRates, describe, estimate, rates_for

START = datetime(2026, 11, 30, 1, 0, 0, tzinfo=UTC)


def test_a_90_minute_job_of_4_cpus_and_8_gib_at_c5_on_demand_prices() -> None:
    # 4 vCPUs x 1.5 h = 6 vCPU-hours at $0.0357 = $0.2142; 8 GiB x 1.5 h = 12 GiB-hours at $0.00342 = $0.04104.
    # Orchestration: 9 state transitions at $0.000025 = $0.000225, and 30 GB-seconds of Lambda at
    # $0.0000166667 = $0.0005. In all $0.255965.
    cost = estimate(
        cpus=4,
        memory_mib=8192,
        started=START,
        stopped=START + timedelta(minutes=90),
        rates=rates_for("on-demand", "c5.xlarge,c5.2xlarge"),
        lambda_seconds=30,
    )
    assert (cost.vcpu_hours, cost.gib_hours) == (6.0, 12.0)
    assert cost.job_usd == pytest.approx(0.2552, abs=1e-4)
    assert cost.orchestration_usd == pytest.approx(0.0007, abs=1e-4)
    assert cost.total_usd == pytest.approx(0.2560, abs=1e-4)
    assert describe(cost) == (
        "about $0.26 (estimate: 6 vCPU-hours and 12 GiB-hours at c5 on-demand prices = $0.2552, orchestration $0.0007)"
    )


def test_spot_prices_and_a_rerun_on_the_on_demand_queue() -> None:
    # The same job at Spot (35 % of on-demand: $0.0893394); the rerun adds 3 transitions ($0.000075), so
    # orchestration is 12 x $0.000025 = $0.0003.
    cost = estimate(
        cpus=4,
        memory_mib=8192,
        started=START,
        stopped=START + timedelta(minutes=90),
        rates=rates_for("spot", "c5"),
        jobs=2,
    )
    assert cost.job_usd == pytest.approx(0.0893, abs=1e-4)
    assert cost.orchestration_usd == pytest.approx(0.0003, abs=1e-4)


def test_a_deployments_own_rates() -> None:
    # 2 vCPUs and 4 GiB for 3 h at $0.04 and $0.005: 6 x 0.04 + 12 x 0.005 = $0.30
    rates = rates_for("0.04/0.005")
    cost = estimate(cpus=2, memory_mib=4096, started=START, stopped=START + timedelta(hours=3), rates=rates)
    assert cost.job_usd == pytest.approx(0.30)
    assert "at $0.04/vCPU-hour and $0.005/GiB-hour" in describe(cost)


def test_a_job_that_never_started_costs_only_its_orchestration() -> None:
    cost = estimate(cpus=4, memory_mib=8192, started=None, stopped=None, rates=rates_for("on-demand"))
    assert (cost.vcpu_hours, cost.job_usd) == (0.0, 0.0)
    assert cost.total_usd == pytest.approx(0.0002, abs=1e-4)
    # Under a cent is said to a hundredth of one, not rounded to nothing
    assert describe(cost).startswith("about $0.0002 (estimate: 0 vCPU-hours")


def test_unknown_families_are_priced_as_m5_and_bad_rates_are_refused() -> None:
    assert rates_for("on-demand", "optimal").basis == "m5 on-demand prices"
    assert rates_for("on-demand", "g4dn.xlarge").basis == "m5 on-demand prices"
    with pytest.raises(BadCostRates, match=r"^CostRates must be on-demand, spot or VCPU_HOUR_USD/GIB_HOUR_USD"):
        rates_for("cheap")
