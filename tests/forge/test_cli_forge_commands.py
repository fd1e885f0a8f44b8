"""reflex-forge synth and label runs, the common options, the help and the command listing,
and the shadow command's warning about the incumbent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reflexforge.cli import main
from reflexforge.commands import COMMANDS
from reflexforge.progress import progress_bar

FORGE = Path(sys.executable).with_name("reflex-forge")


def test_synth_writes_and_reports(tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert (
        main(
            [
                "synth",
                "--profile",
                "poisson",
                "--duration",
                "1",
                "--seed",
                "1",
                "--rate",
                "1000",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_bytes().startswith(b"ts_ns,bytes,rtt_ns\n")
    assert "packets" in capsys.readouterr().err


def test_synth_dash_writes_stdout_same_bytes_as_a_file(tmp_path):
    out = tmp_path / "t.csv"
    args = ["synth", "--profile", "poisson", "--duration", "1", "--seed", "4", "--quiet"]
    assert main([*args, "-o", str(out)]) == 0
    proc = subprocess.run([str(FORGE), *args, "-o", "-"], capture_output=True, cwd=tmp_path,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == out.read_bytes()
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("tool", ["reflex-forge", "reflex-inspect"])
def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path, tool):
    # `... | head`: the reader closes the pipe after a few bytes. No E_IO line, no traceback
    # from the flush at exit: no message and exit 1 (spec/NEM1.md section 13).
    if tool == "reflex-forge":
        args = ["synth", "--profile", "poisson", "--duration", "5", "--quiet", "-o", "-"]
    else:
        big = Path(__file__).parents[2] / "spec" / "examples" / "typical.reflex"
        args = ["--hexdump", *[str(big)] * 200]
    proc = subprocess.Popen([str(Path(sys.executable).with_name(tool)), *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 1
    assert err == b""


def test_common_options_to_forge_options():
    from reflexforge.cli import build_parser
    from reflexforge.commands.options import options_from_args
    from reflexforge.config import ForgeOptions

    args = build_parser("label").parse_args(
        [
            "label",
            "t.csv",
            "-o",
            "o.csv",
            "--lambda",
            "0.5",
            "--incumbent",
            "8,200us",
            "--flush-cost-ns",
            "4000",
            "--link-bps",
            "25000000000",
            "--workers",
            "2",
        ]
    )
    assert options_from_args(args) == ForgeOptions(
        lam=0.5, incumbent=(8, 200), flush_cost_ns=4000, link_bps=25 * 10**9, workers=2
    )
    defaults = build_parser("label").parse_args(["label", "t.csv", "-o", "o.csv"])
    assert options_from_args(defaults) == ForgeOptions()


def test_progress_bar_silent_without_tty():
    with progress_bar(3, "work", enabled=True) as bar:
        bar.advance(2)
        bar.advance()
    assert bar.completed == 3


def test_synth_then_label_end_to_end(tmp_path, capsys):
    trace = tmp_path / "t.csv.gz"
    out = tmp_path / "training-set.csv"
    assert (
        main(
            [
                "synth",
                "--profile",
                "onoff",
                "--duration",
                "1.5",
                "--rate",
                "2000",
                "--seed",
                "3",
                "-o",
                str(trace),
                "--quiet",
            ]
        )
        == 0
    )
    assert main(["label", str(trace), "-o", str(out), "--workers", "1", "--quiet"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("window_start_ns,queue_depth,")
    assert len(lines) == 1 + 13  # windows start every 100 ms and end by the last packet
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("command", ["synth", "label", "train", "build", "demo", "shadow"])
def test_help_has_no_rst_quotes(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "``" not in capsys.readouterr().out


def _constant_model(path, incumbent):
    from reflexfmt import FeatureScale, Node, OutputBounds, Reflex, dump

    meta = {"created_at": "2025-01-01T00:00:00Z", "feature_schema": "v1", "lambda": 0.1,
            "telemetry_hash": "0" * 40, "trainer_commit": "tests",
            "oracle": {"incumbent": list(incumbent)}}
    dump(Reflex(tuple(FeatureScale(0.0, 1.0) for _ in range(10)),
                ((Node.leaf(16),), (Node.leaf(1000),)),
                (OutputBounds(1, 64), OutputBounds(50, 4000)), meta), path)


def _shadow_stderr(tmp_path, capsys, incumbent, *extra):
    model = tmp_path / "m.reflex"
    _constant_model(model, incumbent)
    src = tmp_path / "t.csv"
    rows = "".join(f"{i * 1_000_000},1500,\n" for i in range(2001))
    src.write_text("ts_ns,bytes,rtt_ns\n" + rows)
    code = main(["shadow", str(model), str(src), "--min-duration", "1", "-q", "--workers", "1",
                 *extra])
    assert code in (0, 1)
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


def test_shadow_warns_when_default_incumbent_differs_from_the_model(tmp_path, capsys):
    lines = _shadow_stderr(tmp_path, capsys, (4, 200))
    assert len(lines) == 1 and "warning" in lines[0] and "--incumbent 4,200us" in lines[0]
    assert lines[0].startswith(str(tmp_path / "m.reflex"))
    assert _shadow_stderr(tmp_path, capsys, (16, 1000)) == []
    assert _shadow_stderr(tmp_path, capsys, (4, 200), "--incumbent", "16,1ms") == []


def test_command_summaries_agree_with_the_command_modules():
    """COMMANDS lists each command without importing it; the summary must be the help that
    the command's own register() gives, and `reflex-forge --help` lists the same."""
    import argparse
    import importlib

    from reflexforge.cli import build_parser
    from reflexforge.commands import COMMANDS

    top = build_parser()
    (listed,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    assert {a.dest: a.help for a in listed._choices_actions} == COMMANDS
    for name, summary in COMMANDS.items():
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"reflexforge.commands.{name}").register(sub)
        (action,) = sub._choices_actions
        assert action.help == summary, name


def _help_output_and_imports(argvs: list[list[str]], modules: str) -> str:
    """In a fresh interpreter, run ``main`` on each argv (each exits 0, as --help does) and
    print the help and then the loaded modules that ``modules`` (an expression over ``m``,
    a module name) selects."""
    code = ("import sys\nfrom reflexforge.cli import main\n"
            f"for argv in {argvs!r}:\n"
            "    try:\n        main(argv)\n    except SystemExit as e:\n"
            "        assert e.code == 0\n"
            f"print(sorted(m for m in sys.modules if {modules}))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout


def test_help_and_version_import_no_command_module():
    out = _help_output_and_imports(
        [["--help"], ["--version"]], "m.startswith('reflexforge.commands.') or "
        "m.split('.')[0] in ('numpy', 'sklearn', 'numba', 'pyarrow', 'dask')")
    assert out.strip().endswith("[]"), out
    assert "synth" in out and "shadow" in out  # the --help listing names every command


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_help_imports_no_compiled_kernel_and_no_sklearn(command):
    # `reflex-forge COMMAND --help` builds the command's parser only: numba (0.2-0.4 s to
    # import) and scikit-learn (1 s) are imported where they are used, not by option
    # declarations (README, "Measured figures": cold --help).
    out = _help_output_and_imports([[command, "--help"]], "m.split('.')[0] in ('numba', "
                                   "'sklearn', 'scipy', 'pyarrow', 'dask', 'matplotlib')")
    assert out.strip().endswith("[]"), out
