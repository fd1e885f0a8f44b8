"""Shadow validation: the gate, the verdict and the notes of run_shadow, and the traces and
models it refuses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from shadow_helpers import (  # tests/shadow_helpers.py
    FLUSH_COST,
    LINK,
    META,
    TRACE,
    as_trace,
    constant_reflex,
    make_trace,
    two_level_reflex,
)

from reflexfmt import FeatureScale, Node, OutputBounds, Reflex
from reflexforge.closedloop import MODE_CLOSED, run_loop
from reflexforge.config import ForgeOptions
from reflexforge.gate import delta_p95_passes, gate
from reflexforge.report import report_dict
from reflexforge.shadow import notes, run_shadow


def test_open_loop_with_incumbent_reflex_gives_zero_delta() -> None:
    ts, size, rtt = make_trace(11, 12.0, 5_000)
    report = run_shadow(constant_reflex(16, 1000), as_trace(ts, size, rtt), ForgeOptions(),
                        min_duration_s=10, workers=1)
    assert report.delta_p95(report.open_loop) == 0.0
    assert report.delta_p95(report.closed_loop) == 0.0
    assert report.open_loop.p95_ns == report.incumbent.p95_ns
    assert report.open_loop.stats.switches == 0
    assert not report.promoted and not report.promotable


def test_notes_follow_the_figures_and_never_change_the_verdict() -> None:
    ts, size, rtt = TRACE
    trace = as_trace(ts, size, rtt)
    trace.sha1 = "f" * 40  # not the models' telemetry_hash: a held-out trace
    incumbent = run_shadow(constant_reflex(16, 1000), trace, ForgeOptions(), min_duration_s=10,
                           workers=1)
    static = incumbent.static_J
    assert static.mean_J < incumbent.incumbent.mean_J  # this trace has a better static pair
    assert notes(incumbent) == [
        f"the best static pair by J, ({static.pair[0]}, {static.pair[1]} µs), has a lower mean "
        f"J ({static.mean_J:.1f} µs) than the reflex ({incumbent.open_loop.mean_J:.1f} µs, "
        "open loop): consider it as the incumbent, or retrain on several traces of this kind "
        "of traffic"]
    best = run_shadow(constant_reflex(*static.pair), trace, ForgeOptions(), min_duration_s=10,
                      workers=1)
    # the best static pair is judged as its one-leaf reflex runs (the incumbent for two
    # steps first), summed as a loop is: a reflex that is that pair has exactly its J
    assert best.open_loop.mean_J == static.mean_J and notes(best) == []
    worst = run_shadow(constant_reflex(1, 4000), trace, ForgeOptions(), min_duration_s=10,
                       workers=1)
    assert worst.open_loop.mean_J > worst.incumbent.mean_J
    assert notes(worst)[0].startswith("the reflex's mean J (")
    queue = run_shadow(two_level_reflex(0, 5_400), trace, ForgeOptions(), min_duration_s=10,
                       workers=1)
    gaps = (queue.gap_closed(queue.open_loop), queue.gap_closed(queue.closed_loop))
    disagree = [n for n in notes(queue) if n.startswith("the loops disagree")]
    assert queue.open_loop.pair is None and queue.closed_loop.pair is None  # two leaves
    assert best.closed_loop.pair == static.pair
    assert abs(gaps[0] - gaps[1]) > 0.10 and len(disagree) == 1
    trained_on = "the shadow trace is one the reflex was trained on (same sha1): these " \
        "figures are not held out"
    assert all(trained_on not in notes(r) for r in (incumbent, best, worst, queue))
    for sha1, files in ((META["telemetry_hash"], None), ("a" * 40, ["b" * 40, "f" * 40])):
        meta = {**META, "telemetry_hash": sha1}
        if files:
            meta["telemetry_files"] = files
        same = run_shadow(dataclasses.replace(constant_reflex(*static.pair), metadata=meta),
                          as_trace(ts, size, rtt) if files is None else trace, ForgeOptions(),
                          min_duration_s=10, workers=1)
        assert notes(same) == [trained_on]
    for report in (incumbent, best, worst, queue):
        assert report_dict(report)["notes"] == notes(report)
        assert report_dict(report)["promoted"] == report.verdict.promoted


@pytest.mark.parametrize(("reflex_ns", "passes"), [(900_000, True), (900_001, False),
                                                   (899_999, True), (1_000_000, False)])
def test_gate_delta_boundary_is_exact(reflex_ns: int, passes: bool) -> None:
    assert delta_p95_passes(reflex_ns, 1_000_000) is passes
    # 90 / 100 - 1 is -0.09999999999999998 in binary64: the gate must not use that float.
    assert delta_p95_passes(90, 100)
    verdict = gate(1_000_000, reflex_ns, 800_000, 0, True)
    assert verdict.promoted is passes
    assert verdict.gate_passed is passes


@pytest.mark.parametrize(("oscillations", "passes"), [(0, True), (1, True), (2, False)])
def test_gate_oscillation_boundary(oscillations: int, passes: bool) -> None:
    verdict = gate(1_000_000, 500_000, 500_000, oscillations, True)
    assert verdict.promoted is passes
    assert (verdict.reasons == []) is passes


def test_gate_uses_the_worse_loop_and_the_duration() -> None:
    assert not gate(1000, 500, 950, 0, True).promoted
    assert not gate(1000, 950, 500, 0, True).promoted
    verdict = gate(1000, 500, 500, 0, False, 60.0)
    assert verdict.gate_passed and not verdict.promoted
    assert "not promotable" in verdict.reasons[0]


def test_trace_shorter_than_min_duration_is_an_error() -> None:
    from reflexforge.errors import E_TRACE_SHORT, ForgeError

    ts, size, rtt = make_trace(3, 5.0, 2_000)
    with pytest.raises(ForgeError) as err:
        run_shadow(constant_reflex(16, 1000), as_trace(ts, size, rtt), ForgeOptions())
    assert err.value.code == E_TRACE_SHORT


def test_duration_covers_to_within_one_percent() -> None:
    """600 s are covered from 594 s on (the 1 % tolerance), to the nanosecond; an absurd
    --min-duration is never covered (no overflow)."""
    from reflexforge.gate import covered_s, covers

    assert covers(594 * 10**9, 600) and covers(600 * 10**9, 600)
    assert not covers(594 * 10**9 - 1, 600)
    assert covers(9_900_000_000, 10) and not covers(9_899_999_999, 10)
    assert covers(0, 0) and not covers(10**12, 1e300)
    assert covered_s(600) == 594


@pytest.mark.parametrize(("seconds", "promotable"), [(594.2, True), (593.7, False)])
def test_a_ten_minute_recording_a_little_short_is_promotable(seconds: float,
                                                             promotable: bool) -> None:
    """A recording of 10 minutes whose first and last packets fall a little inside them
    (594.2 s: 5943 steps) covers 600 s; 593.7 s (5938 steps) is below 594 s and is not, and
    with the default --min-duration it is E_TRACE_SHORT, whose line gives the 594 s."""
    from reflexforge.errors import E_TRACE_SHORT, ForgeError

    ts, size, rtt = make_trace(5, seconds, 50, bursty=False)
    trace = as_trace(ts, size, rtt)
    report = run_shadow(constant_reflex(16, 1000), trace, ForgeOptions(), min_duration_s=1,
                        gate_j=False, workers=1)
    assert report.duration_s < 600 and report.promotable is promotable
    if promotable:
        assert run_shadow(constant_reflex(16, 1000), trace, ForgeOptions(), gate_j=False,
                          workers=1).promotable
        return
    assert any("less than 600 s (at least 594 s with the 1 % tolerance)" in r
               for r in report.verdict.reasons)
    with pytest.raises(ForgeError) as err:
        run_shadow(constant_reflex(16, 1000), trace, ForgeOptions(), workers=1)
    assert err.value.code == E_TRACE_SHORT and "at least 594 s" in str(err.value)


def test_silence_does_not_count_toward_the_ten_minutes() -> None:
    """65 s of traffic and one packet 536 s later cover 601 s, but not 600 s of traffic:
    never promotable (a tester promoted a reflex so). A 600 s trace whose gaps are at most
    SILENCE_S stays promotable: the rule only takes out silences longer than that."""
    from reflexforge.gate import SILENCE_S
    from reflexforge.shadow import silence_ns

    ts, size, rtt = make_trace(4, 65.0, 2_000)
    pad = ts[0] + 601 * 10**9
    padded = as_trace(np.append(ts, pad), np.append(size, 100), np.append(rtt, -1))
    assert silence_ns(padded.ts_ns, chunk=1000) == pad - ts[-1]
    report = run_shadow(constant_reflex(16, 1000), padded, ForgeOptions(), gate_j=False)
    assert report.duration_s >= 600 and not report.promotable and not report.promoted
    assert report.trace["silent_s"] == pytest.approx((pad - ts[-1]) / 1e9, abs=1e-3)
    assert any("of traffic" in r and "silences over" in r for r in report.verdict.reasons)
    # Gaps of exactly SILENCE_S are not silence: 61 bursts 10 s apart cover 600 s.
    steady = np.arange(61, dtype=np.int64) * SILENCE_S * 10**9
    assert silence_ns(steady) == 0
    assert silence_ns(np.append(steady, steady[-1] + SILENCE_S * 10**9 + 1)) \
        == SILENCE_S * 10**9 + 1


def test_trace_spanning_too_many_steps_is_refused() -> None:
    from reflexforge.closedloop import MAX_STEPS
    from reflexforge.errors import E_USAGE, ForgeError

    ts = np.array([0, 1, 2**62], dtype=np.int64)
    size = np.full(3, 100, dtype=np.int64)
    rtt = np.full(3, -1, dtype=np.int64)
    with pytest.raises(ForgeError) as err:
        run_shadow(constant_reflex(16, 1000), as_trace(ts, size, rtt, "far.csv"), ForgeOptions())
    assert err.value.code == E_USAGE
    assert str(err.value).startswith("far.csv: E_USAGE:") and str(MAX_STEPS) in str(err.value)
    with pytest.raises(ForgeError) as err:
        run_loop(ts, size, rtt, (16, 1000), FLUSH_COST, LINK, MODE_CLOSED)
    assert err.value.code == E_USAGE


def test_flush_threshold_above_the_simulator_limit_names_the_model() -> None:
    from reflexforge.errors import E_USAGE, ForgeError

    scaling = tuple(FeatureScale(0.0, 1.0) for _ in range(10))
    reflex = Reflex(scaling, ((Node.leaf(20000),), (Node.leaf(1000),)),
                    (OutputBounds(1, 30000), OutputBounds(0, 4000)), dict(META))
    ts, size, rtt = make_trace(3, 5.0, 2_000)
    with pytest.raises(ForgeError) as err:
        run_shadow(reflex, as_trace(ts, size, rtt), ForgeOptions(), min_duration_s=1,
                   model_path="big.reflex")
    assert err.value.code == E_USAGE
    assert str(err.value).startswith("big.reflex: E_USAGE:")
    assert "20000" in str(err.value) and "16384" in str(err.value)


def test_a_link_slower_than_the_trace_earns_a_note() -> None:
    """At 300 Mb/s the link alone holds nearly every packet of this 250 Mb/s trace with
    bursts longer than any batching delay: the report says so (``link_wait_share`` and a
    note naming --link-bps); at the default 10 Gb/s it does not."""
    ts, size, rtt = TRACE
    trace = as_trace(ts, size, rtt)
    trace.sha1 = "f" * 40
    slow = run_shadow(constant_reflex(16, 1000), trace, ForgeOptions(link_bps=3 * 10**8),
                      min_duration_s=10, workers=1)
    assert slow.trace["link_wait_share"] == 0.958367
    link = [n for n in notes(slow) if n.startswith("at --link-bps 300000000 the link alone")]
    assert len(link) == 1 and "95.8% of the packets wait more than 4 ms" in link[0]
    assert report_dict(slow)["trace"]["link_wait_share"] == 0.958367
    fast = run_shadow(constant_reflex(16, 1000), trace, ForgeOptions(), min_duration_s=10,
                      workers=1)
    assert fast.trace["link_wait_share"] == 0.0
    assert not any(n.startswith("at --link-bps") for n in notes(fast))


def test_a_converted_copy_of_the_training_trace_is_not_held_out(tmp_path, monkeypatch,
                                                                 capsys) -> None:
    """The trained-on note keyed on the file's sha1 only, so a Parquet copy of the training
    CSV looked held out; the model now lists the SHA-1 of its packets as read."""
    import json

    from reflexfmt import load
    from reflexforge.cli import main
    from reflexforge.synth import synthesize
    from reflexforge.telemetry import read_telemetry

    csv, parquet, other = (tmp_path / n for n in ("t.csv", "t.parquet", "o.csv"))
    synthesize(csv, "onoff", duration_s=15.0, seed=3)
    synthesize(other, "onoff", duration_s=15.0, seed=4)
    model = tmp_path / "m.reflex"
    assert main(["build", str(csv), "-o", str(model), "--workers", "1", "--quiet"]) == 0
    assert main(["convert", str(csv), "-o", str(parquet), "--quiet"]) == 0
    packets = load(model).metadata["telemetry_packets"]
    assert packets == [read_telemetry(csv).packets_sha1()]
    found = {}
    for name, path in (("csv", csv), ("parquet", parquet), ("other", other)):
        report = tmp_path / f"{name}.json"
        main(["shadow", str(model), str(path), "--min-duration", "10", "--workers", "1",
              "--quiet", "--report", str(report)])
        found[name] = json.loads(report.read_text())
    capsys.readouterr()
    assert found["parquet"]["trace"]["sha1"] != found["csv"]["trace"]["sha1"]
    assert found["parquet"]["trace"]["packets_sha1"] == packets[0]
    assert any("(same sha1)" in n for n in found["csv"]["notes"])
    assert any("a converted copy?" in n for n in found["parquet"]["notes"])
    assert not any("not held out" in n for n in found["other"]["notes"])


@pytest.mark.parametrize("count", [760, 1600])
def test_a_build_of_many_files_writes_its_model(tmp_path, capsys, count) -> None:
    """760 short files: telemetry_files (45 B each) fits the 65536 metadata bytes, with
    telemetry_packets too it did not (E_LIMIT after the whole build, at a staging path);
    the packets' list is left out when it does not fit. 1600 files: neither list fits (the
    files' list failed the same way); telemetry_hash still covers them."""
    from reflexfmt import load
    from reflexforge.cli import main

    rng = np.random.default_rng(0)
    files = []
    for k in range(count):
        path = tmp_path / f"f{k:04d}.csv"
        ts = np.cumsum(rng.integers(150_000, 450_000, 1000))
        path.write_text("ts_ns,bytes\n" + "".join(f"{t},1500\n" for t in ts))
        files.append(str(path))
    model = tmp_path / "m.reflex"
    code = main(["build", *files, "-o", str(model), "--model", "static", "--quiet"])
    assert code == 0, capsys.readouterr().err
    metadata = load(model).metadata
    assert "telemetry_packets" not in metadata and len(metadata["telemetry_hash"]) == 40
    assert len(metadata.get("telemetry_files", ())) == (760 if count == 760 else 0)
