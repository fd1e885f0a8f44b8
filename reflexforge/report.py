"""The shadow report: report.json (schema in spec/validation.md), a rich table and a PNG."""

from __future__ import annotations

import io
import json
import os

from reflexfmt.atomic import atomic_write_bytes
from reflexforge.gate import (
    DELTA_P95_MAX_PERCENT,
    DURATION_TOLERANCE_PERCENT,
    OSCILLATIONS_MAX_PER_30S,
    PROMOTION_MIN_DURATION_S,
)
from reflexforge.shadow import REPORT_SCHEMA, PolicyResult, ShadowReport, notes


def _policy(report: ShadowReport, result: PolicyResult) -> dict:
    out = {
        "name": result.name,
        "pair": None if result.pair is None else {"flush_threshold": result.pair[0],
                                                  "max_batch_delay_us": result.pair[1]},
        "p95_us": result.p95_ns / 1000.0,
        "delta_p95": report.delta_p95(result),
        "mean_J": result.mean_J,
        "gap_closed": report.gap_closed(result),
        "vs_best_static": report.vs_best_static(result),
        "flushes": result.flushes,
        "flushes_per_s": report.flushes_per_s(result),
        "delta_flushes": report.delta_flushes(result),
    }
    if result.stats is not None:
        out.update(result.stats.as_dict())
    return out


def report_dict(report: ShadowReport) -> dict:
    """The report.json document (spec/validation.md, "report.json")."""
    opts = report.options
    open_loop = _policy(report, report.open_loop)
    closed_loop = _policy(report, report.closed_loop)
    deltas = [v for v in (open_loop["delta_p95"], closed_loop["delta_p95"]) if v is not None]
    gaps = [v for v in (open_loop["gap_closed"], closed_loop["gap_closed"]) if v is not None]
    worse = max(report.open_loop.stats, report.closed_loop.stats,
                key=lambda s: (s.oscillations_max_per_30s, s.switches_per_min))
    return {
        "schema": REPORT_SCHEMA,
        "promoted": report.verdict.promoted,
        "gate_passed": report.verdict.gate_passed,
        "promotable": report.promotable,
        "reasons": list(report.verdict.reasons),
        "notes": notes(report),
        "outside_training_range": report.outside,
        "checks": dict(report.verdict.checks),
        "gate": {
            "delta_p95_max": DELTA_P95_MAX_PERCENT / 100,
            "mean_J_not_above_incumbent": report.gate_j,
            "vs_best_static_min_points": report.gate_static,
            "oscillation_lookback_steps": report.lookback_steps,
            "oscillations_max_per_30s": OSCILLATIONS_MAX_PER_30S,
            "min_duration_s": PROMOTION_MIN_DURATION_S,
            "min_duration_tolerance_percent": DURATION_TOLERANCE_PERCENT,
        },
        "vs_best_static": {
            "open_loop": open_loop["vs_best_static"],
            "closed_loop": closed_loop["vs_best_static"],
        },
        "delta_p95_open_loop": open_loop["delta_p95"],
        "delta_p95_closed_loop": closed_loop["delta_p95"],
        "delta_p95": max(deltas) if len(deltas) == 2 else None,
        "oscillations_max_per_30s": worse.oscillations_max_per_30s,
        "switches_per_min": worse.switches_per_min,
        "median_dwell_s": worse.median_dwell_s,
        "gap_closed": min(gaps) if len(gaps) == 2 else None,
        "gap_closed_open_loop": open_loop["gap_closed"],
        "gap_closed_closed_loop": closed_loop["gap_closed"],
        "p95_us": {
            "incumbent": report.incumbent.p95_ns / 1000.0,
            "open_loop": report.open_loop.p95_ns / 1000.0,
            "closed_loop": report.closed_loop.p95_ns / 1000.0,
        },
        "mean_J": {
            "incumbent": report.incumbent.mean_J,
            "open_loop": report.open_loop.mean_J,
            "closed_loop": report.closed_loop.mean_J,
            "oracle": report.oracle_mean_J,
        },
        "open_loop": open_loop,
        "closed_loop": closed_loop,
        "raw_decisions": {
            "open_loop": report.raw_stats_open.as_dict(),
            "closed_loop": report.raw_stats_closed.as_dict(),
        },
        "baselines": {
            "incumbent": _policy(report, report.incumbent),
            "best_static_p95": _policy(report, report.static_p95),
            "best_static_J": _policy(report, report.static_J),
            "hill_climber": _policy(report, report.climber),
            "oracle": {"name": "per-window oracle in hindsight", "mean_J": report.oracle_mean_J,
                       "gap_closed": 1.0 if report.gap_closed(report.incumbent) is not None
                       else None},
        },
        "trace": dict(report.trace, duration_s=report.duration_s),
        "min_duration_s": report.min_duration_s,
        "model": report.model,
        "options": {
            "lambda": opts.lam,
            "incumbent": {"flush_threshold": opts.incumbent[0],
                          "max_batch_delay_us": opts.incumbent[1]},
            "flush_cost_ns": opts.flush_cost_ns,
            "link_bps": opts.link_bps,
            "window_ns": 200_000_000,
            "step_ns": 100_000_000,
        },
    }


def report_json(report: ShadowReport) -> bytes:
    """report.json bytes: sorted keys, two-space indent, repr floats; deterministic."""
    return (json.dumps(report_dict(report), indent=2, sort_keys=True, ensure_ascii=False,
                       allow_nan=False) + "\n").encode("utf-8")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1%}"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}"


def _oscillations(stats) -> str:
    """The gate's count, and every reversal's when the load excused some."""
    osc, rev = stats.oscillations_max_per_30s, stats.reversals_max_per_30s
    return str(osc) if osc == rev else f"{osc} ({rev})"


def render_table(report: ShadowReport, console=None) -> None:
    """Print the baselines table and the verdict with rich."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal:
        console.width = max(console.width, 128)
    table = Table(title="shadow validation", caption_justify="left", caption=(
        f"osc/30s: reversals within a lookback of {report.lookback_steps} steps that the load "
        "did not call for, all reversals in parentheses; vs static: gap closed against the "
        "best static pair, in points; flushes: batches sent, the overhead batching saves"))
    for name in ("policy", "pair", "p95 µs", "∆p95", "flushes/s", "∆flushes", "mean J", "gap",
                 "vs static", "sw/min", "osc/30s"):
        table.add_column(name, justify="left" if name in ("policy", "pair") else "right",
                         no_wrap=True)
    rows = [report.incumbent, report.open_loop, report.closed_loop, report.static_p95,
            report.static_J, report.climber]
    for result in rows:
        stats = result.stats
        pair = "adaptive" if result.pair is None else f"{result.pair[0]},{result.pair[1]}us"
        table.add_row(result.name, pair, f"{result.p95_ns / 1000:.1f}",
                      _pct(report.delta_p95(result)), f"{report.flushes_per_s(result):.0f}",
                      _pct(report.delta_flushes(result)), f"{result.mean_J:.1f}",
                      _pct(report.gap_closed(result)), _points(report.vs_best_static(result)),
                      "—" if stats is None else f"{stats.switches_per_min:.1f}",
                      "—" if stats is None else _oscillations(stats))
    table.add_row("oracle", "hindsight", "—", "—", "—", "—", f"{report.oracle_mean_J:.1f}",
                  "+100.0%", "—", "—", "—")
    console.print(table)
    verdict = "[bold green]PROMOTED[/]" if report.promoted else "[bold red]NOT PROMOTED[/]"
    console.print(f"verdict: {verdict}")
    for reason in report.verdict.reasons:
        console.print(f"  - {reason}", markup=False)
    for note in notes(report):
        console.print(f"note: {note}", markup=False)


def plot_png(report: ShadowReport) -> bytes:
    """The figure over time: offered load, the reflex's policy, per-window p95 (PNG bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    s = report.series
    fig = Figure(figsize=(11, 9.5), dpi=100)
    ax_load, ax_n, ax_d, ax_p95 = fig.subplots(
        4, 1, sharex=True, gridspec_kw={"height_ratios": [1.2, 0.8, 0.8, 1.4]})
    ax_load.plot(s["step_start_s"], s["offered_pps"], lw=0.7, color="tab:gray")
    ax_load.set_yscale("symlog", linthresh=100)
    ax_load.set_ylabel("offered load (packets/s)")
    vs = report.vs_best_static(report.closed_loop)
    ax_load.set_title(
        f"shadow: {'PROMOTED' if report.promoted else 'NOT PROMOTED'} · "
        f"∆p95 open {_pct(report.delta_p95(report.open_loop))}, "
        f"closed {_pct(report.delta_p95(report.closed_loop))} · gap closed (closed loop) "
        f"{_pct(report.gap_closed(report.closed_loop))}, vs best static "
        f"{'—' if vs is None else f'{100 * vs:+.1f} points'}", fontsize=9)
    # The two knobs on their own axes, as steps with markers at each switch: a limit cycle
    # shows as a dense comb, a load-following policy as a few long steps.
    for ax, key, color, label, base in (
            (ax_n, "reflex_n", "tab:blue", "flush_threshold (pkt)", 2),
            (ax_d, "reflex_d_us", "tab:orange", "max_batch_delay (µs)", 10)):
        ax.step(s["step_start_s"], s[key], where="post", lw=0.9, color=color)
        ax.set_yscale("log", base=base)
        ax.set_ylabel(label, color=color, fontsize=8)
    stats = report.closed_loop.stats
    alt = None if stats is None else stats.longest_alternation
    ax_n.set_title(
        "policy in force (reflex, closed loop)"
        + ("" if alt is None or alt.pairs is None else
           f" · longest A/B alternation {alt.runs} runs, {alt.seconds:.1f} s: "
           f"{alt.pairs[0]} / {alt.pairs[1]}"), fontsize=9)
    ax_p95.plot(s["window_end_s"], s["p95_incumbent_us"], lw=0.7, label="incumbent")
    static = report.static_J.pair
    ax_p95.plot(s["window_end_s"], s["p95_reflex_us"], lw=0.7, color="tab:red",
                label="reflex (closed loop)")
    ax_p95.plot(s["window_end_s"], s["p95_static_us"], lw=0.9, color="tab:green", ls="--",
                label=f"best static pair by J {static}")
    ax_p95.set_yscale("log")
    ax_p95.set_ylabel("window p95 (µs)")
    ax_p95.set_xlabel("time (s)")
    ax_p95.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def write_plot(report: ShadowReport, path: str | os.PathLike[str]) -> None:
    """Write the PNG figure atomically."""
    atomic_write_bytes(path, plot_png(report))
