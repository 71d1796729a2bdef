"""The recommendation among the plans `plans` searched: the cheapest distinct plan whose p99
meets the target, the next cheapest its runner-up, and why in one paragraph; and the plans as text."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .plan_types import Plan, PlanSet, Recommendation, duration_text

__all__ = ["PART_NAMES", "Recommendation", "duration_text", "recommend", "table"]

PART_NAMES = {
    "requests": "Lambda's request charge",
    "duration": "Lambda duration (GB-s)",
    "provisioned": "the provisioned-concurrency fee",
    "http_api": "the HTTP API",
    "pods": "pod-hours",
    "control_plane": "the EKS control plane",
    "load_balancer": "the load balancer",
}


def _usd(value: float) -> str:
    return f"${value:,.4f}" if value < 100 else f"${value:,.0f}"


def _p99(plan: Plan) -> str:
    if math.isfinite(plan.p99_ms):
        return f"p99 {plan.p99_ms:,.1f} ms"
    return f"p99 beyond any answer ({plan.failed:,} requests failed)"


def _share(fraction: float) -> str:
    return "under 0.01%" if 0 < fraction < 0.0001 else f"{fraction:.2%}"


def _more(cost: float, than: float) -> str:
    if than <= 0:
        return "more"
    ratio = cost / than
    return f"{ratio:.1f}x as much" if ratio >= 2 else f"{ratio - 1:+.0%}"


def recommend(plans: Sequence[Plan], p99_target_ms: float, *, context: str = "") -> Recommendation:
    """The cheapest distinct plan whose p99 meets the target, the next cheapest, and why.
    When none meets it: the plan with the lowest p99, and the next lowest."""
    distinct = [plan for plan in plans if plan.same_as is None]
    if not distinct:
        raise ValueError("no plans to recommend from")
    meeting = sorted((p for p in distinct if p.meets(p99_target_ms)), key=lambda p: (p.cost["total"], p.p99_ms))
    if meeting:
        chosen, runner_up = meeting[0], (meeting[1] if len(meeting) > 1 else None)
    else:
        closest = sorted(distinct, key=lambda p: (p.p99_ms, p.cost["total"]))
        chosen, runner_up = closest[0], (closest[1] if len(closest) > 1 else None)
    why = _why(chosen, runner_up, plans, p99_target_ms, met=bool(meeting), context=context)
    return Recommendation(chosen.name, runner_up.name if runner_up else None, bool(meeting), why,
                          [p.name for p in meeting])  # fmt: skip


def _largest_part(plan: Plan) -> str:
    parts = {k: v for k, v in plan.cost.items() if k != "total" and v > 0}
    if not parts or plan.cost["total"] <= 0:
        return ""
    part = max(parts, key=parts.__getitem__)
    share = parts[part] / plan.cost["total"]
    return f"; its largest cost is {PART_NAMES.get(part, part)} ({_usd(parts[part])}, {share:.0%})"


def _note(plan: Plan) -> str:
    """How the plan is priced or why its search came out so, where the plan says (a plan the same as an earlier
    one says so elsewhere)."""
    return f" ({plan.note})" if plan.note and not plan.same_as else ""


def _why(chosen: Plan, runner_up: Plan | None, plans: Sequence[Plan], target: float, *, met: bool, context: str) -> str:
    distinct = [plan for plan in plans if plan.same_as is None]
    cost = chosen.cost["total"]
    head = f"{context}<b>{chosen.label}</b> ({chosen.setting})"
    if met:
        sentences = [
            f"{head} is the cheapest plan that keeps p99 within {target:g} ms: {_usd(cost)} for the run "
            f"({_usd(chosen.per_million_usd)} per million requests), {_p99(chosen)}, "
            f"{_share(chosen.cold_start_fraction)} of requests cold{_largest_part(chosen)}{_note(chosen)}."
        ]
        if runner_up:
            sentences.append(
                f"The runner-up, {runner_up.label} ({runner_up.setting}), costs {_usd(runner_up.cost['total'])} "
                f"({_more(runner_up.cost['total'], cost)}) at {_p99(runner_up)}{_largest_part(runner_up)}"
                f"{_note(runner_up) if runner_up.note != chosen.note else ''}."
            )
        else:
            sentences.append("No other plan meets the target.")
        cheaper = [p for p in distinct if p.cost["total"] < cost]
        if cheaper:
            sentences.append(
                "Cheaper, but missing the target: "
                + "; ".join(f"{p.label} at {_usd(p.cost['total'])}, {_p99(p)}" for p in cheaper)
                + "."
            )
    else:
        sentences = [
            f"No plan keeps p99 within {target:g} ms. {head} comes closest, {_p99(chosen)}, at {_usd(cost)} "
            f"for the run{_largest_part(chosen)}."
        ]
        if runner_up:
            sentences.append(f"Next: {runner_up.label} at {_p99(runner_up)}, {_usd(runner_up.cost['total'])}.")
    rest = [p for p in distinct if p is not chosen and p is not runner_up and p.cost["total"] >= cost]
    if rest:
        others = [f"{p.label} {_usd(p.cost['total'])} ({_more(p.cost['total'], cost)}), {_p99(p)}" for p in rest]
        sentences.append("The others: " + "; ".join(others) + ".")
    labels = {p.name: p.label for p in plans}
    same = [f"{p.label} comes out as {labels.get(p.same_as, p.same_as)}" + (f" ({p.note})" if p.note else "")
            for p in plans if p.same_as]  # fmt: skip
    if same:
        sentences.append("; ".join(same) + ".")
    return " ".join(sentences)


def table(plans: PlanSet) -> str:
    """The plans as text, the recommendation below."""
    t = plans.targets
    lines = [
        f"plans for the {plans.profile} profile: {plans.requests:,} requests over {duration_text(plans.duration_s)}; "
        f"p99 target {t.p99_ms:g} ms, cold-start budget {t.cold_start_budget:.2%}; "
        f"prices checked {plans.prices_checked}",
        f"{'plan':<44} {'cost USD':>10} {'USD/M req':>10} {'p99 ms':>9} {'cold':>8} {'failed':>7} {'p99 ok':>7}"
        "  setting",
    ]
    for plan in plans.plans:
        p99 = f"{plan.p99_ms:9,.1f}" if math.isfinite(plan.p99_ms) else f"{'-':>9}"
        mark = {plans.recommendation.plan: " <- recommended", plans.recommendation.runner_up: " <- runner-up"}
        setting = f"same as {plans.plan(plan.same_as).label}" if plan.same_as else plan.setting
        lines.append(
            f"{plan.label:<44} {plan.cost['total']:>10.4f} {plan.per_million_usd:>10.4f} {p99} "
            f"{plan.cold_start_fraction:>8.3%} {plan.failed:>7,} {'yes' if plan.meets(t.p99_ms) else 'NO':>7}  "
            f"{setting}{mark.get(plan.name, '') if not plan.same_as else ''}"
        )
    why = plans.recommendation.why.replace("<b>", "").replace("</b>", "")
    lines.append(f"why: {why}")
    lines.append(f"(searched in {plans.seconds:.1f} s, {plans.simulations} simulations on one arrival sequence)")
    return "\n".join(lines)
