"""The run report as one self-contained HTML page: inline styles, no scripts, nothing fetched, so it
reads the same offline, from an email's link or a file on disk."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from nsclient_common.cost import usd
from nsclient_common.display import duration, memory_mib, size

if TYPE_CHECKING:
    from nsclient_common.report import RunReport

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
.advice{background:#eef6ee;border-left:4px solid #3a7;padding:.7em 1em;font-size:1.05em}
table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.gantt{position:relative;border-left:1px solid #999}
.row{display:flex;align-items:center;height:1.4em}
.label{width:12em;flex:none;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;font-size:.85em}
.track{position:relative;flex:1;height:1em}
.bar{position:absolute;height:100%;background:#4a80c8;border-radius:2px;min-width:2px}
.bar.failed{background:#c84a4a}.bar.open{background:#c8a24a}
""".strip()


def _with_code(text: str) -> str:
    """Text whose `backticked` options are shown as code, not as backticks."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick: shown as it is
        return escape(text)
    return "".join(f"<code>{escape(p)}</code>" if i % 2 else escape(p) for i, p in enumerate(pieces))


def _gantt(report: RunReport) -> str:
    if not report.jobs:
        return "<p>The log shows no snakemake jobs.</p>"
    span = max((bar.start_s + bar.seconds for bar in report.jobs), default=0.0) or 1.0
    rows = []
    for bar in report.jobs:
        left = 100 * bar.start_s / span
        width = 100 * bar.seconds / span
        kind = "failed" if bar.failed else "" if bar.finished else "open"
        title = f"{bar.rule} (job {bar.jobid}): {duration(bar.seconds)}{' - failed' if bar.failed else ''}"
        rows.append(
            f'<div class="row"><div class="label">{escape(bar.rule)}</div><div class="track">'
            f'<div class="bar {kind}" style="left:{left:.2f}%;width:{width:.2f}%" title="{escape(title)}"></div>'
            "</div></div>"
        )
    left_out = (
        f"<p>{report.jobs_left_out} more jobs started after these {len(report.jobs)}: they are in no bar, rule "
        "or path of this report.</p>"
        if report.jobs_left_out
        else ""
    )
    return f'<div class="gantt">{"".join(rows)}</div><p>Whole build: {duration(span)}.</p>{left_out}'


def _usage(report: RunReport) -> str:
    usage = report.usage
    asked_memory = memory_mib(report.memory_mib) if report.memory_mib else "the definition's default"
    asked_cpus = str(report.cpus) if report.cpus else "the definition's default"
    if usage is None:
        return f"<p>Asked for {escape(asked_cpus)} CPUs and {escape(asked_memory)}; nothing was measured.</p>"
    rows = [
        ("CPUs", asked_cpus, f"peak {usage.peak_cpus:.1f}, average {usage.average_cpus:.1f}"),
        ("Memory", asked_memory, f"peak {size(usage.peak_memory_bytes)}"),
        ("CPU time", "", duration(usage.cpu_seconds)),
        ("Wall time", "", duration(usage.wall_seconds)),
    ]
    body = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(asked)}</td><td>{escape(used)}</td></tr>" for name, asked, used in rows
    )
    return f"<table><tr><th></th><th>asked for</th><th>used (cgroup {escape(usage.cgroup)})</th></tr>{body}</table>"


def _rule_usage(report: RunReport) -> str:
    if not report.rule_usage:
        return "<p>No rule declares a <code>benchmark:</code> file, so there is no measure of each rule's use.</p>"
    rows = "".join(
        f'<tr><td>{escape(u.rule)}</td><td class="n">{u.jobs}</td><td class="n">{memory_mib(u.peak_rss_mib)}</td>'
        f'<td class="n">{duration(u.cpu_seconds)}</td><td class="n">{duration(u.longest_seconds)}</td></tr>'
        for u in report.rule_usage
    )
    return (
        '<table id="rule-usage"><tr><th>rule</th><th>jobs</th><th>peak memory</th><th>CPU time</th>'
        f"<th>longest</th></tr>{rows}</table>"
    )


def render_html(report: RunReport) -> str:
    rules = "".join(
        f'<tr><td>{escape(r.rule)}</td><td class="n">{r.jobs}</td><td class="n">{duration(r.total_seconds)}</td>'
        f'<td class="n">{duration(r.longest_seconds)}</td></tr>'
        for r in report.rules
    )
    path = " → ".join(escape(rule) for rule in report.critical_path) or "(none)"
    cost = (
        f"<p>Cost: about {usd(report.cost_estimate_usd)} (an estimate).</p>"
        if report.cost_estimate_usd is not None
        else ""
    )
    title = f"{report.build_name} {report.status}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} - nsclient run report</title>
<style>{_STYLE}</style></head><body>
<h1>{escape(report.build_name)}: {escape(report.status)}</h1>
<p>Run <code>{escape(report.run_id)}</code></p>
<h2>Next time</h2>
<p class="advice" id="advice">{_with_code(report.advice)}</p>
<h2>Used against asked for</h2>
{_usage(report)}
<p>At most {report.most_jobs_at_once} {"job" if report.most_jobs_at_once == 1 else "jobs"} ran at once.</p>
{cost}
<h2>Each rule's use (from its benchmark: files)</h2>
{_rule_usage(report)}
<h2>Timeline</h2>
{_gantt(report)}
<h2>Rules</h2>
<table id="rules"><tr><th>rule</th><th>jobs</th><th>total</th><th>longest</th></tr>{rules}</table>
<h2>Critical path</h2>
<p>{path} ({duration(report.critical_path_seconds)})</p>
</body></html>
"""
