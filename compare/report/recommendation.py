"""The report's opening section: the recommended plan for the profile and price book, why, one table, one chart.

The chart (cost of the run against p99, the target marked) is written as a PNG beside the report
and embedded in the page as inline SVG, so the page stays one self-contained file.
"""

from __future__ import annotations

import html
import io
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in CI
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..plan_types import Plan, PlanSet
from .charts import COLORS

PLAN_COLORS = COLORS  # a plan's run is named after the plan: one palette for both
CSS = """
table.plans tr.recommended td, table.plans tr.recommended th { background: #f0fff4; font-weight: 600; }
table.plans tr.runner-up td, table.plans tr.runner-up th { background: #f7fafc; }
table.plans td.setting { text-align: left; color: #4a5568; }
.recommendation svg { max-width: 100%; height: auto; }
"""


def plans_figure(plans: PlanSet) -> Figure:
    """Cost of the run against p99 for each distinct plan; the target a line, the recommended plan a star."""
    target = plans.targets.p99_ms
    shown = [p for p in plans.plans if p.same_as is None]
    finite = [p.p99_ms for p in shown if math.isfinite(p.p99_ms)] or [target]
    beyond = max(*finite, target) * 3  # where a plan failing over 1 % of requests is drawn
    fig, ax = plt.subplots(figsize=(10, 4.8))
    ax.axvspan(target, beyond * 2, color="#fed7d7", alpha=0.4, label=f"misses the p99 target ({target:g} ms)")
    ax.axvline(target, color="#c53030", linestyle="--", linewidth=1)
    recommended, runner_up = plans.recommendation.plan, plans.recommendation.runner_up
    for plan in shown:
        x = plan.p99_ms if math.isfinite(plan.p99_ms) else beyond
        marker = "*" if plan.name == recommended else ("D" if plan.name == runner_up else "o")
        role = " (recommended)" if plan.name == recommended else (" (runner-up)" if plan.name == runner_up else "")
        p99 = f"p99 {plan.p99_ms:,.1f} ms" if math.isfinite(plan.p99_ms) else "over 1 % failed"
        ax.scatter([x], [plan.cost["total"]], s=320 if role == " (recommended)" else 90, marker=marker,
                   color=PLAN_COLORS.get(plan.name, "gray"), edgecolor="black", linewidth=0.6, zorder=3,
                   label=f"{plan.label}{role}: ${plan.cost['total']:,.4f}, {p99}")  # fmt: skip
    costs = [p.cost["total"] for p in shown]
    if min(costs) > 0 and max(costs) / min(costs) > 20:
        ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlim(min(*finite, target) / 2, beyond * 2)
    ax.margins(y=0.2)
    ax.set_xlabel("p99 latency over every request (ms, log)")
    ax.set_ylabel("cost of the run (USD)")
    ax.set_title(f"Plans for the {plans.profile} profile: cost against p99 (prices checked {plans.prices_checked})")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def plans_chart(plans: PlanSet, path: Path) -> tuple[Path, str]:
    """Write the chart as a PNG at `path`; return it and the same chart as an inline <svg> element."""
    fig = plans_figure(plans)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    return path, svg[svg.index("<svg") :]


def _row(plan: Plan, plans: PlanSet) -> str:
    target, chosen = plans.targets.p99_ms, plans.recommendation
    css = "recommended" if plan.name == chosen.plan else ("runner-up" if plan.name == chosen.runner_up else "")
    tag = {"recommended": " (recommended)", "runner-up": " (runner-up)"}.get(css, "")
    if plan.same_as:
        setting = f"same as {plans.plan(plan.same_as).label}" + (f": {plan.note}" if plan.note else "")
    else:
        setting = plan.setting + (f" ({plan.note})" if plan.note else "")
    p99 = f"{plan.p99_ms:,.1f}" if math.isfinite(plan.p99_ms) else "over 1 % failed"
    cells = [
        f"{plan.cost['total']:,.4f}",
        f"{plan.per_million_usd:,.4f}",
        p99,
        f"{plan.cold_start_fraction:.3%}",
        f"{plan.failed:,}",
        "yes" if plan.meets(target) else "no",
    ]
    return (
        f'<tr class="{css}"><th>{html.escape(plan.label + tag)}</th>'
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
        + f'<td class="setting">{html.escape(setting)}</td></tr>'
    )


def plans_table(plans: PlanSet) -> str:
    head = ["plan", "cost of the run (USD)", "USD per million requests", "p99 (ms)", "cold starts", "failed",
            f"p99 within {plans.targets.p99_ms:g} ms", "setting"]  # fmt: skip
    rows = "".join(_row(plan, plans) for plan in plans.plans)
    return '<table class="plans"><tr>' + "".join(f"<th>{html.escape(h)}</th>" for h in head) + f"</tr>{rows}</table>"


def _why_html(why: str) -> str:
    """The why paragraph, escaped, with only its own <b> emphasis kept."""
    return re.sub(r"&lt;(/?)b&gt;", r"<\1b>", html.escape(why))


def recommendation_section(plans: PlanSet, out_dir: Path) -> str:
    """The HTML that opens the report (the chart's PNG goes into `out_dir`)."""
    chosen = plans.plan(plans.recommendation.plan)
    _, svg = plans_chart(plans, out_dir / "plans.png")
    t = plans.targets
    verdict = "Recommendation" if plans.recommendation.meets_target else "No plan meets the target; closest"
    note = (
        f"Every plan is simulated on the same {plans.requests:,} arrivals; costs are for the run, from the book "
        f"({plans.region}, checked {plans.prices_checked}). p99 counts every request, a failed one as slower than any "
        f"answer. Provisioned concurrency: cheapest level within a cold-start budget of {t.cold_start_budget:.2%} "
        f"of requests, constant or by {t.schedule_minutes}-minute slot of the day. Hybrid: always-on pods, a request "
        f"beyond {t.queue_per_pod} held by every pod going to Lambda. Knative: the manifest's KPA (scale to zero) "
        "and the same at min-scale 1, pods priced for the seconds they exist, the cluster's fees for the whole run. "
        f"Searched in {plans.seconds:.1f} s, "
        f"{plans.simulations} simulations (`python -m compare plans`)."
    )
    return f"""<section class="recommendation" id="recommendation">
<style>{CSS}</style>
<h2>{html.escape(verdict)}: {html.escape(chosen.label)}</h2>
<p>{_why_html(plans.recommendation.why)}</p>
{plans_table(plans)}
{svg}
<p class="note">{html.escape(note)}</p>
</section>
"""
