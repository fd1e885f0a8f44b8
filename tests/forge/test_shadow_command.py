"""The `reflex-forge shadow` command: the report, the plot, --promote-to, the exit codes."""

from __future__ import annotations

import json

import numpy as np
from shadow_helpers import META, constant_reflex, make_trace  # tests/shadow_helpers.py

from reflexfmt import FeatureScale, Node, OutputBounds, Reflex, dump


def write_csv(path, ts, size, rtt) -> None:
    with open(path, "w") as handle:
        handle.write("ts_ns,bytes,rtt_ns\n")
        for t, b, r in zip(ts.tolist(), size.tolist(), rtt.tolist(), strict=True):
            handle.write(f"{t},{b},{'' if r < 0 else r}\n")


REPORT_KEYS = {"delta_p95_open_loop", "delta_p95_closed_loop", "oscillations_max_per_30s",
               "switches_per_min", "gap_closed", "promoted", "reasons", "baselines"}


def test_shadow_command_short_run(tmp_path) -> None:
    from reflexforge.cli import main

    ts, size, rtt = make_trace(5, 15.0, 10_000)
    write_csv(tmp_path / "t.csv", ts, size, rtt)
    dump(constant_reflex(1, 50), tmp_path / "m.reflex")
    args = [str(tmp_path / "m.reflex"), str(tmp_path / "t.csv"), "--quiet", "--workers", "1",
            "--report", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png"),
            "--promote-to", str(tmp_path / "live"), "--gate-static", "off"]
    assert main(["shadow", *args]) == 2  # shorter than the default 10 minutes
    assert not (tmp_path / "r.json").exists()
    assert main(["shadow", *args, "--min-duration", "10"]) == 1  # never promotable
    report = json.loads((tmp_path / "r.json").read_text())
    assert REPORT_KEYS <= set(report)
    assert report["promoted"] is False and report["promotable"] is False
    # (1, 50us) beats (16, 1ms) by far at this load (the gate: --gate-static off, as
    # it is not this trace's best static pair)
    assert report["gate_passed"] is True
    assert report["delta_p95_closed_loop"] < -0.5
    assert set(report["baselines"]) == {"incumbent", "best_static_p95", "best_static_J",
                                        "hill_climber", "oracle"}
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "live").exists()
    first = (tmp_path / "r.json").read_bytes()
    assert main(["shadow", *args, "--min-duration", "10"]) == 1
    assert (tmp_path / "r.json").read_bytes() == first  # deterministic


def test_promote_to_copies_only_when_promoted(tmp_path) -> None:
    from reflexforge.cli import main

    # Ten minutes of light traffic: (1, 50us) is promoted, (64, 4ms) is not.
    ts, size, rtt = make_trace(9, 600.0, 300, bursty=False)
    write_csv(tmp_path / "t.csv", ts, size, rtt)
    for name, pair, code in (("bad.reflex", (64, 4000), 1), ("good.reflex", (1, 50), 0)):
        dump(constant_reflex(*pair), tmp_path / name)
        assert main(["shadow", str(tmp_path / name), str(tmp_path / "t.csv"), "--quiet",
                     "--workers", "1", "--promote-to", str(tmp_path / "live")]) == code
    assert sorted(p.name for p in (tmp_path / "live").iterdir()) == \
        ["good.reflex", "good.reflex.shadow.json"]
    assert (tmp_path / "live" / "good.reflex").read_bytes() == \
        (tmp_path / "good.reflex").read_bytes()
    report = json.loads((tmp_path / "live" / "good.reflex.shadow.json").read_text())
    assert report["promoted"] is True and report["reasons"] == []


def test_trace_spanning_too_many_steps_is_exit_2(tmp_path, capsys) -> None:
    from reflexforge.cli import main

    write_csv(tmp_path / "far.csv", np.array([0, 1, 2**62]), np.full(3, 100), np.full(3, -1))
    dump(constant_reflex(16, 1000), tmp_path / "m.reflex")
    assert main(["shadow", str(tmp_path / "m.reflex"), str(tmp_path / "far.csv"), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line for line in lines if ": W_" not in line] == lines[-1:]  # warnings, one error
    assert "far.csv" in lines[-1] and "E_USAGE" in lines[-1]
    assert any(": W_SPARSE: 2 of the 23058430093 windows" in line for line in lines)


def test_bad_model_is_exit_2(tmp_path, capsys) -> None:
    from reflexforge.cli import main

    (tmp_path / "m.reflex").write_bytes(b"NEM1 but not really")
    ts, size, rtt = make_trace(5, 2.0, 1000)
    write_csv(tmp_path / "t.csv", ts, size, rtt)
    assert main(["shadow", str(tmp_path / "m.reflex"), str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{tmp_path / 'm.reflex'}: E_")


def test_model_above_the_simulator_limit_is_exit_2_naming_it(tmp_path, capsys) -> None:
    from reflexfmt import dump
    from reflexforge.cli import main

    scaling = tuple(FeatureScale(0.0, 1.0) for _ in range(10))
    reflex = Reflex(scaling, ((Node.leaf(20000),), (Node.leaf(1000),)),
                    (OutputBounds(1, 30000), OutputBounds(0, 4000)), dict(META))
    dump(reflex, tmp_path / "big.reflex")
    ts, size, rtt = make_trace(3, 5.0, 2_000)
    write_csv(tmp_path / "t.csv", ts, size, rtt)
    argv = ["shadow", str(tmp_path / "big.reflex"), str(tmp_path / "t.csv"), "--min-duration", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{tmp_path / 'big.reflex'}: E_USAGE:")


def test_settings_unlike_the_models_oracle_are_warned(tmp_path, capsys) -> None:
    """The gate's J uses --lambda, --flush-cost-ns and --link-bps: a setting that differs from
    the model's metadata oracle (given or default) is one warning line each; a default
    incumbent unlike oracle.incumbent is one too, an incumbent given is not."""
    import dataclasses

    from reflexforge.cli import main

    ts, size, rtt = make_trace(5, 15.0, 10_000)
    write_csv(tmp_path / "t.csv", ts, size, rtt)
    reflex = constant_reflex(1, 50)
    oracle = {"lambda": 0.1, "flush_cost_ns": 5000, "link_bps": 10**10, "incumbent": [8, 200]}
    dump(dataclasses.replace(reflex, metadata={**META, "oracle": oracle}), tmp_path / "m.reflex")
    args = [str(tmp_path / "m.reflex"), str(tmp_path / "t.csv"), "--quiet", "--workers", "1",
            "--min-duration", "10"]

    def warnings(*more: str) -> list[str]:
        assert main(["shadow", *args, *more]) == 1
        return [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]

    lines = warnings("--lambda", "50", "--link-bps", "100000000000")
    assert len(lines) == 3, lines
    assert "--lambda 50, but the model was forged with 0.1 (metadata oracle.lambda)" in lines[0]
    assert "--link-bps 100000000000, but the model was forged with 10000000000" in lines[1]
    assert "default incumbent 16,1000us, but the model was forged with 8,200us" in lines[2]
    assert warnings("--incumbent", "8,200us") == []
    assert len(warnings("--incumbent", "16,1ms", "--flush-cost-ns", "0")) == 1
