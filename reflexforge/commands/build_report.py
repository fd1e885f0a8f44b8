"""The figures ``build`` and ``train`` print: the validation table, the candidates of model
selection, notes on tree size."""

from __future__ import annotations


def report_build(report, output: str, train_opts, quiet: bool) -> None:
    """What ``build`` and ``train`` print once the file is written: each warning as one
    stderr line (also when quiet), then one summary line (quiet) or the tables."""
    import sys

    from reflexforge.commands.options import shown

    for note in build_warnings(report, train_opts):
        print(shown(f"{output}: warning: {note}"), file=sys.stderr)
    if quiet:
        print(shown(summary_line(report, output, train_opts)))
    else:
        print_report(report, output, train_opts)


def print_report(report, output: str, train_opts=None) -> None:
    """The validation figures as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from reflexforge.commands.options import shown

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    def us(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}"

    table = Table(title=Text(shown(f"{output}: validation on the last "
                                   f"{report.validation_windows} of {report.windows} windows")))
    table.add_column("policy")
    table.add_column("exact match", justify="right")
    table.add_column("mean J regret (us)", justify="right")
    table.add_row("reflex (quantized trees)", pct(report.model.exact_match),
                  us(report.model.mean_regret_us))
    n, d = report.static_pair
    table.add_row(f"best static pair in hindsight here ({n}, {d}us)",
                  pct(report.static.exact_match),
                  us(report.static.mean_regret_us))
    table.add_row("reflex on its training windows", pct(report.model_train.exact_match),
                  us(report.model_train.mean_regret_us))
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    if len(report.candidates) > 1:
        console.print(candidates_table(report, train_opts))
    console.print(table)
    console.print(
        f"oracle mean J {us(report.oracle_mean_j_us)} us; label switches "
        f"{report.label_switches_plain} plain -> {report.label_switches_trained} trained; "
        f"nodes {report.node_counts[0]} + {report.node_counts[1]}",
        highlight=False,
    )


def summary_line(report, output: str, train_opts=None) -> str:
    """``build --quiet``'s one line: the file, the winner and its validation gap closed."""
    cand, leaves, sc = report.candidates[report.winner]
    label = "the model" if train_opts is None else cand.label(train_opts)
    gap = "-" if sc is None or sc.gap_closed is None else f"{100 * sc.gap_closed:.1f}%"
    return (f"{output}: {label} ({leaves} {'leaf' if leaves == 1 else 'leaves'}), "
            f"validation gap closed {gap}"
            + (", refitted on all windows" if report.refitted else ""))


def build_warnings(report, train_opts) -> list[str]:
    """What ``build`` warns about on stderr: training windows too few for the depth and leaf
    size asked, and a model selection in which no candidate would pass the gate."""
    if train_opts is None:
        return []
    out = size_notes(report, train_opts)
    scored = [sc for _, _, sc in report.candidates if sc is not None]
    # one candidate that is not the static pair: the grid of --select off (no span to replay;
    # --model static selects among the static pair alone, which is no skipped selection)
    if train_opts.select == "closed-loop" and len(report.candidates) == 1 \
            and report.candidates[0][0].model != "static":
        out.append(f"model selection did not run: no validation span to replay "
                   f"({report.validation_windows} of {report.windows} windows; a span needs "
                   f"a complete window after the training ones), so this is the "
                   f"{report.candidates[0][0].model} of --select off; a longer trace lets the "
                   f"candidates compete")
    if len(scored) > 1 and not any(sc.eligible for sc in scored):
        out.append("no candidate passes the gate's checks on the validation span (∆p95, mean "
                   "J, oscillations; see the table), so the simplest one wins; the shadow "
                   "gate may refuse it on this kind of traffic")
    return out


def size_notes(report, train_opts) -> list[str]:
    """Say so when the training windows are too few for the depth and leaf size asked."""
    depth = train_opts.max_depth
    out = []
    for leaf in sorted({c.min_leaf for c, _, _ in report.candidates if c.min_leaf}):
        most = report.train_windows // leaf
        if most < 2**depth:
            count = max(1, most)
            out.append(f"{report.train_windows} training windows allow at most {count} "
                       f"{'leaf' if count == 1 else 'leaves'} of {leaf} windows (--min-leaf), "
                       f"fewer than the {2**depth} of "
                       f"depth {depth}: such trees are smaller (see their leaves)")
    return out


def candidates_table(report, train_opts):
    """Every candidate's closed-loop validation figures; the winner marked with *."""
    from rich.table import Table

    from reflexforge.pipeline import candidate_key

    table = Table(title="model selection: closed-loop replay of the validation span "
                  "(* the winner; eligible: passes the gate's checks there)")
    for name in ("", "candidate", "leaves", "mean J µs", "gap closed", "∆p95", "sw/min",
                 "osc/30s", "eligible", "train J µs"):
        # The candidate's name wraps on a narrow console; the mark and the figures never
        # shrink to an ellipsis (the * of the winner was lost when piped).
        table.add_column(name, justify="left" if name in ("", "candidate") else "right",
                         no_wrap=name != "candidate", min_width=max(1, len(name)),
                         overflow="fold" if name == "candidate" else "ellipsis")
    for i, (cand, leaves, sc) in enumerate(report.candidates):
        mark = "*" if i == report.winner else ""
        label = f"{candidate_key(i)} {cand.label(train_opts)}"
        if sc is None:
            table.add_row(mark, label, str(leaves), *["-"] * 7)
            continue
        table.add_row(mark, label, str(leaves), f"{sc.mean_j_us:.1f}",
                      "-" if sc.gap_closed is None else f"{100 * sc.gap_closed:.1f}%",
                      "-" if sc.delta_p95 is None else f"{100 * sc.delta_p95:+.1f}%",
                      f"{sc.switches_per_min:.1f}", str(sc.oscillations_max_per_30s),
                      "yes" if sc.eligible else "no",
                      "-" if sc.train_mean_j_us is None else f"{sc.train_mean_j_us:.1f}")
    return table
