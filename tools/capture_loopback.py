#!/usr/bin/env python3
"""Real packet captures on loopback, in a network namespace of their own.

Run as root. Real servers (redis-server, nginx, iperf3 -s) and real clients
(redis-benchmark, redis-cli, ab, curl, iperf3) from Debian packages run phases of
varying load (quiet, redis bursts, HTTP, bulk at a bounded bitrate, mixed) while
tcpdump (or dumpcap, for pcapng) captures loopback. The opt-in kinds memcache
(memcached under memslap bursts) and dns (unbound answering dnsperf) bring other
servers, h2 (h2load bursts against nginx's HTTP/2 cleartext port) another client,
and pg (pgbench against a PostgreSQL cluster of its own, tools/pgserver.py) another server:
--kinds idle,memcache,dns,bulk, say. The phase plan is a function
of --seed alone; the packets are whatever the kernel does with that load.

Everything is bounded: each phase is 20-90 s (--phase-min/--phase-max), the whole
run stops after --duration seconds, the capture after --max-packets packets, and a
watchdog ends it all at --duration + 120 s. Generators run under nice with a duty
cycle of at most about 50 %, so two captures at once leave the 2 cores usable.
On exit (normal, error, SIGINT/SIGTERM/SIGHUP) every process started here is
stopped and the namespace is deleted.

    apt-get install tcpdump redis-server redis-tools nginx apache2-utils curl iperf3
    apt-get install wireshark-common      # dumpcap, only for --pcapng
    sudo python3 tools/capture_loopback.py --seed 1 --duration 660 -o /work/captures/real-a.pcap
    sudo python3 tools/capture_loopback.py --install ...   # installs the packages first
    apt-get install memcached libmemcached-tools unbound dnsperf   # for --kinds memcache,dns
    apt-get install nghttp2-client                                 # h2load, for --kinds h2
    apt-get install postgresql postgresql-client                   # for --kinds pg

Next to OUT it writes OUT.plan.json: the options, the phase plan with the
offsets at which each phase really started, and the capture tool's counters.
Standard library only (it runs with the system python3, outside any venv).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pgserver  # noqa: E402 - beside this script
from loopback_load import (  # noqa: E402 - beside this script
    DNS_PORT,
    EXTRA_KINDS,
    EXTRA_NEEDED,
    EXTRA_PACKAGES,
    H2_PORT,
    HTTP_PORT,
    IPERF_PORT,
    KINDS,
    LAB_ADDR,
    MEMCACHE_PORT,
    OBJECTS,
    REDIS_PORT,
    make_plan,
    run_phase,
    sleep_until,
    unbound_files,
)

PACKAGES = ["tcpdump", "redis-server", "redis-tools", "nginx", "apache2-utils", "curl", "iperf3"]
PCAPNG_PACKAGES = ["wireshark-common"]
NEEDED = "ip tcpdump redis-server redis-benchmark redis-cli nginx ab curl iperf3".split()
PEER_ADDR = "10.77.0.2"
NICE = ["nice", "-n", "15"]


class Stop(Exception):
    """Raised by the signal handlers: unwind and clean up."""


def _stop(signum: int, _frame: object) -> None:
    raise Stop(f"signal {signum}")


# ---------------------------------------------------------------------------
# Outer process: namespace, install, watchdog, cleanup


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60, **kw)


def _packages(args: argparse.Namespace) -> list[str]:
    extra = [p for k in args.kinds for p in EXTRA_PACKAGES.get(k, [])]
    return PACKAGES + extra + (PCAPNG_PACKAGES if args.pcapng else [])


def install(args: argparse.Namespace) -> None:
    pkgs = _packages(args)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *pkgs],
        check=True,
        env=env,
        timeout=1800,
    )


def _ip(netns: str | None, *words: str) -> None:
    """Run ``ip WORDS`` (inside ``netns`` if given)."""
    _run((["ip", "netns", "exec", netns] if netns else []) + ["ip", *words])


def outer(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        sys.exit("capture_loopback: run as root (network namespaces, tcpdump)")
    if args.install:
        install(args)
    pgserver.add_to_path(args.kinds)  # Debian's postgres, initdb: not on PATH
    needed = NEEDED + [c for k in args.kinds for c in EXTRA_NEEDED.get(k, [])]
    missing = [c for c in needed + (["dumpcap"] if args.pcapng else []) if shutil.which(c) is None]
    if missing:
        sys.exit(
            f"capture_loopback: missing {', '.join(missing)}; "
            "run with --install or apt-get install " + " ".join(_packages(args))
        )
    out = Path(args.output).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    ns = args.netns or f"reflexcap{os.getpid()}"
    peer = f"{ns}p"
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    inner_proc = None
    try:
        _ip(None, "netns", "add", ns)
        _ip(ns, "link", "set", "lo", "up")
        if args.pcapng:  # a second interface: a veth pair to a peer namespace
            _ip(None, "netns", "add", peer)
            _ip(peer, "link", "set", "lo", "up")
            _ip(None, "link", "add", "rcv0", "netns", ns, "type", "veth", "peer", "name", "rcv1",
                "netns", peer)  # fmt: skip
            for where, dev, addr in ((ns, "rcv0", LAB_ADDR), (peer, "rcv1", PEER_ADDR)):
                _ip(where, "addr", "add", f"{addr}/24", "dev", dev)
                _ip(where, "link", "set", dev, "up")
        argv = [a for a in sys.argv[1:] if a != "--install"]
        me = [sys.executable, os.path.abspath(__file__), "--inner", "--netns", ns, *argv]
        inner_proc = subprocess.Popen(["ip", "netns", "exec", ns, *me], start_new_session=True)
        try:
            rc = inner_proc.wait(timeout=args.duration + 120)
        except subprocess.TimeoutExpired:
            print("capture_loopback: watchdog: the run overran; stopping it", file=sys.stderr)
            rc = 1
        return rc
    except Stop as e:
        print(f"capture_loopback: stopped by {e}", file=sys.stderr)
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if inner_proc is not None and inner_proc.poll() is None:
            os.killpg(inner_proc.pid, signal.SIGTERM)
            try:
                inner_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(inner_proc.pid, signal.SIGKILL)
        for name in (ns, peer):
            _kill_namespace(name)


def _kill_namespace(name: str) -> None:
    """Kill what is left in our own namespace (only processes this run started), delete it."""
    pids = subprocess.run(
        ["ip", "netns", "pids", name], capture_output=True, text=True
    ).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


# ---------------------------------------------------------------------------
# Inner process (inside the namespace): servers, capture, phases


class Lab:
    """Servers, the capture process and every client started by this run."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.dir = workdir
        self.procs: list[subprocess.Popen] = []
        self.capture: subprocess.Popen | None = None
        self.capture_err: list[str] = []

    def spawn(self, cmd: list[str], nice: bool = True, peer: bool = False) -> subprocess.Popen:
        if peer:
            cmd = ["ip", "netns", "exec", f"{self.args.netns}p", *cmd]
        p = subprocess.Popen(
            (NICE if nice else []) + cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.dir,
        )
        self.procs.append(p)
        return p

    def start_servers(self) -> None:
        www = self.dir / "www"
        www.mkdir()
        rnd = random.Random(self.args.seed)
        for name, size in OBJECTS:
            (www / name).write_bytes(rnd.randbytes(size))
        conf = self.dir / "nginx.conf"
        conf.write_text(
            f"worker_processes 1;\npid {self.dir}/nginx.pid;\n"
            f"error_log {self.dir}/nginx.err;\nuser root;\n"
            "events { worker_connections 256; }\nhttp {\n access_log off;\n"
            + "".join(
                f" {t}_temp_path {self.dir};\n"
                for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            )
            + f" server {{ listen {HTTP_PORT}; root {www}; keepalive_requests 100000; }}\n"
            + (
                f" server {{ {_nginx_h2c_listen(H2_PORT)} root {www}; "
                "keepalive_requests 100000; }\n"
                if "h2" in self.args.kinds
                else ""
            )
            + "}\n"
        )
        self.spawn(["redis-server", "--port", str(REDIS_PORT), "--bind", "0.0.0.0", "--save", "",
                    "--appendonly", "no", "--protected-mode", "no",
                    "--dir", str(self.dir)])  # fmt: skip
        self.spawn(["nginx", "-c", str(conf), "-g", "daemon off;"])
        self.spawn(["iperf3", "-s", "-p", str(IPERF_PORT)])
        ports = [REDIS_PORT, HTTP_PORT, IPERF_PORT]
        if "h2" in self.args.kinds:  # nginx's second server block (h2c)
            ports.append(H2_PORT)
        if "memcache" in self.args.kinds:
            self.spawn(["memcached", "-u", "root", "-l", "127.0.0.1", "-p", str(MEMCACHE_PORT),
                        "-U", "0", "-t", "1"])  # fmt: skip
            ports.append(MEMCACHE_PORT)
        if "dns" in self.args.kinds:  # unbound also listens on TCP, which _wait_port tries
            self.spawn(["unbound", "-d", "-c", unbound_files(self.dir)])
            ports.append(DNS_PORT)
        for port in ports:
            _wait_port(port)
        if "pg" in self.args.kinds:  # initdb, postgres as its user, pgbench -i: pgserver.py
            pgserver.start(self)

    def start_capture(self) -> None:
        a = self.args
        if a.pcapng:
            per_iface = ["-s", str(a.snaplen), "-B", "64"]  # dumpcap: after each -i
            cmd = ["dumpcap", "-q", "-i", "lo", *per_iface, "-i", "rcv0", *per_iface,
                   "-c", str(a.max_packets), "-a", f"duration:{int(a.duration) + 30}",
                   "-w", a.output]  # fmt: skip
        else:
            cmd = [
                "tcpdump",
                "-i",
                "lo",
                "-n",
                "-s",
                str(a.snaplen),
                "-B",
                "65536",
                "-c",
                str(a.max_packets),
                "-w",
                a.output,
            ]
            if a.tstamp_precision == "nano":
                cmd += ["--time-stamp-precision", "nano"]
        self.capture = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = threading.Event()

        def reader() -> None:
            assert self.capture is not None and self.capture.stderr is not None
            for line in self.capture.stderr:
                self.capture_err.append(line.rstrip())
                if "listening on" in line.lower() or "capturing on" in line.lower():
                    ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(30) or self.capture.poll() is not None:
            raise RuntimeError("capture did not start: " + " | ".join(self.capture_err))
        time.sleep(1.0)

    def stop_capture(self) -> None:
        if self.capture is not None and self.capture.poll() is None:
            time.sleep(1.0)
            self.capture.send_signal(signal.SIGINT)
            try:
                self.capture.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.capture.kill()
                self.capture.wait()
            time.sleep(0.2)

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.stop_capture()


def _nginx_h2c_listen(port: int) -> str:
    """The listen directive(s) of an HTTP/2 cleartext (prior knowledge) server on `port`:
    ``listen PORT; http2 on;`` from nginx 1.25.1, ``listen PORT http2;`` before."""
    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True, timeout=10)
    ver = (out.stderr + out.stdout).split("nginx/")[-1].split()[0]
    parts = tuple(int(x) for x in ver.split(".")[:3] if x.isdigit())
    return f"listen {port}; http2 on;" if parts >= (1, 25, 1) else f"listen {port} http2;"


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def inner(args: argparse.Namespace) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    plan = make_plan(args.seed, args.duration, args.phase_min, args.phase_max, args.kinds)
    work = Path(tempfile.mkdtemp(prefix="reflexcap-"))
    lab = Lab(args, work)
    record: dict = {
        "options": {k: v for k, v in vars(args).items() if k not in ("inner",)},
        "uname": os.uname().release,
        "plan": plan,
        "started": [],
    }
    rc = 0
    try:
        lab.start_servers()
        lab.start_capture()
        t0 = time.monotonic()
        record["capture_started_unix"] = time.time()
        for ph in plan:
            sleep_until(t0 + ph["start"])
            record["started"].append(round(time.monotonic() - t0, 3))
            run_phase(lab, ph, t0 + ph["start"] + ph["span"])
    except Stop as e:
        print(f"capture_loopback: stopped by {e}", file=sys.stderr)
        rc = 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        lab.stop_all()
        record["capture_report"] = lab.capture_err
        Path(args.output + ".plan.json").write_text(json.dumps(record, indent=1) + "\n")
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lab.capture_err), file=sys.stderr)
    return rc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", help="capture file to write (required unless --plan-only)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the phase plan (default 1)")
    ap.add_argument(
        "--duration", type=float, default=660.0, help="seconds of capture (default 660)"
    )
    ap.add_argument("--phase-min", type=float, default=20.0)
    ap.add_argument("--phase-max", type=float, default=90.0)
    ap.add_argument("--snaplen", type=int, default=128)
    ap.add_argument(
        "--max-packets", type=int, default=20_000_000, help="stop the capture after this many"
    )
    ap.add_argument(
        "--pcapng",
        action="store_true",
        help="write pcapng with dumpcap on two interfaces (lo and a veth to a peer namespace)",
    )
    ap.add_argument("--tstamp-precision", choices=["micro", "nano"], default="micro")
    ap.add_argument("--netns", help="namespace name (default reflexcapPID)")
    ap.add_argument(
        "--light", action="store_true", help="bursts of a few hundred packets (small test captures)"
    )
    ap.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"phase kinds to draw from (default {','.join(KINDS)}; also "
        f"{','.join(EXTRA_KINDS)}, with their packages)",
    )
    ap.add_argument("--install", action="store_true", help="apt-get install the packages first")
    ap.add_argument(
        "--plan-only", action="store_true", help="print the phase plan as JSON and exit"
    )
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not 0.5 <= args.duration <= 7200 or not 1 <= args.phase_min <= args.phase_max:
        ap.error("--duration must be in 0.5..7200 s and 1 <= --phase-min <= --phase-max")
    args.kinds = tuple(k for k in args.kinds.split(",") if k)
    if not args.kinds or set(args.kinds) - set(KINDS + EXTRA_KINDS):
        ap.error(f"--kinds must be a comma-separated subset of {','.join(KINDS + EXTRA_KINDS)}")
    if args.plan_only:
        print(
            json.dumps(
                make_plan(args.seed, args.duration, args.phase_min, args.phase_max, args.kinds),
                indent=1,
            )
        )
        return 0
    if not args.output:
        ap.error("-o/--output is required")
    args.output = str(Path(args.output).resolve())
    return inner(args) if args.inner else outer(args)


if __name__ == "__main__":
    sys.exit(main())
