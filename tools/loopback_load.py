"""The load of tools/capture_loopback.py: a seeded plan of phases and the clients that run
them (redis-benchmark, redis-cli, ab, curl, iperf3; with the extra kinds memslap, dnsperf,
h2load and pgbench) against the servers of its namespace.

Everything a phase starts is bounded in time (``timeout``) and runs under ``nice``; bursts
alternate with pauses, so two captures at once leave the 2 cores usable.
"""

from __future__ import annotations

import random
import subprocess
import time

KINDS = ("idle", "redis", "http", "bulk", "mixed")
"""The default kinds (captures a-e of the README: seeds 1-5)."""
EXTRA_KINDS = ("memcache", "dns", "h2", "pg")
"""Opt-in kinds (--kinds), other servers and clients: memcached under memslap bursts
(text or binary protocol), unbound answering dnsperf's UDP queries at a bounded rate, and
nginx serving the HTTP objects over HTTP/2 cleartext (prior knowledge, H2_PORT) to h2load
bursts (clients, concurrent streams per client, a request rate or count) beside a trickle
of single curl --http2-prior-knowledge requests, and PostgreSQL (a fresh cluster on 127.0.0.1,
PG_PORT, tools/pgserver.py) under pgbench bursts at a bounded rate (TPC-B-like or select-only
transactions, a connection per transaction at times)."""
EXTRA_NEEDED = {
    "memcache": ["memcached", "memcslap"],
    "dns": ["unbound", "dnsperf"],
    "h2": ["h2load"],  # nginx and curl are needed by every capture
    "pg": ["setpriv", "initdb", "postgres", "pg_isready", "pgbench"],  # see pgserver.add_to_path
}
EXTRA_PACKAGES = {
    "memcache": ["memcached", "libmemcached-tools"],
    "dns": ["unbound", "dnsperf"],
    "h2": ["nghttp2-client"],
    "pg": ["postgresql", "postgresql-client"],  # Debian 12: pgbench is in postgresql-15
}
REDIS_PORT, HTTP_PORT, IPERF_PORT = 6379, 8080, 5201
MEMCACHE_PORT, DNS_PORT, H2_PORT, PG_PORT = 11211, 5353, 8081, 5432
PG_USER = "postgres"
"""The pg kind's server runs as this user (postgres refuses root); initdb makes it the role."""
DNS_NAMES = [("a.lab.", "A", "10.0.0.1"), ("b.lab.", "TXT", '\\"hello from the lab\\"'),
             ("c.lab.", "AAAA", "fd00::1"), ("d.lab.", "MX", "10 a.lab.")]
LAB_ADDR = "10.77.0.1"
OBJECTS = [("tiny", 120), ("small", 4096), ("medium", 65536), ("large", 1048576)]
"""HTTP objects served by nginx (name, bytes): small replies to multi-segment bodies."""

# ---------------------------------------------------------------------------
# The plan: deterministic per seed


def make_plan(
    seed: int, duration: float, pmin: float, pmax: float, kinds: tuple[str, ...] = KINDS
) -> list[dict]:
    """Phases of pmin..pmax s covering `duration`, each with its own generator parameters;
    the first is idle when idle is one of `kinds`."""
    rng = random.Random(seed)
    phases: list[dict] = []
    t = 0.0
    first = True
    while t < duration - 1e-9:
        span = min(rng.uniform(pmin, pmax), duration - t)
        if duration - t - span < pmin:  # no tail phase shorter than pmin: this one takes it
            span = duration - t
        kind = "idle" if first and "idle" in kinds else rng.choice(kinds)
        first = False
        phases.append(
            {
                "kind": kind,
                "start": round(t, 3),
                "span": round(span, 3),
                "seed": rng.getrandbits(32),
                **_params(kind, rng),
            }
        )
        t += span
    return phases


def _params(kind: str, rng: random.Random) -> dict:
    if kind == "redis":
        return {
            "clients": rng.choice([1, 2, 4, 8]),
            "pipeline": rng.choice([1, 1, 4, 16]),
            "value_bytes": rng.choice([3, 64, 512, 4096]),
            "on": [0.2, rng.uniform(0.5, 2.0)],
            "off": [0.5, rng.uniform(1.5, 5.0)],
        }
    if kind == "http":
        return {
            "object": rng.choice([o for o, _ in OBJECTS]),
            "concurrency": rng.choice([1, 2, 4]),
            "keepalive": rng.random() < 0.5,
            "on": [0.2, rng.uniform(0.5, 2.5)],
            "off": [0.5, rng.uniform(1.0, 5.0)],
            "curl_gap": [0.05, rng.uniform(0.2, 1.0)],
        }
    if kind == "bulk":
        udp = rng.random() < 0.3
        return {
            "udp": udp,
            "mbit": rng.choice([20, 50, 100, 200]) if udp else rng.choice([50, 100, 200, 300]),
            "length": rng.choice([1400, 8000, 32000])
            if udp
            else rng.choice([16384, 65536, 131072]),
            "streams": 1 if udp else rng.choice([1, 2]),
            "chunk": rng.randint(5, 15),
            "pause": [0.5, rng.uniform(1.0, 6.0)],
        }
    if kind == "mixed":
        return {
            "mbit": rng.choice([10, 30, 80]),
            "clients": rng.choice([1, 2, 4]),
            "on": [0.2, rng.uniform(0.3, 1.5)],
            "off": [0.5, rng.uniform(1.0, 4.0)],
            "curl_gap": [0.05, rng.uniform(0.1, 0.6)],
        }
    if kind == "memcache":
        return {
            "threads": rng.choice([1, 2, 4]),
            "test": rng.choice(["get", "set", "mget"]),
            "keys": rng.choice([5000, 20000, 50000]),  # memslap sets them all, then tests
            "binary": rng.random() < 0.5,
            "on": [0.2, rng.uniform(0.5, 2.0)],
            "off": [0.5, rng.uniform(1.5, 5.0)],
        }
    if kind == "dns":
        return {
            "qps": rng.choice([200, 1000, 5000, 20000]),
            "clients": rng.choice([1, 4, 16]),
            "on": [1.0, rng.uniform(2.0, 8.0)],
            "off": [0.5, rng.uniform(1.0, 4.0)],
        }
    if kind == "h2":
        return {
            "object": rng.choice([o for o, _ in OBJECTS]),
            "clients": rng.choice([1, 2, 4, 8]),
            "streams": rng.choice([1, 4, 16, 64]),  # concurrent streams per connection
            "rps": rng.choice([0, 50, 500, 5000]),  # per client; 0: as fast as it goes
            "requests": rng.choice([0, 200, 2000, 20000]),  # per burst; 0: until it ends
            "window_bits": rng.choice([16, 30]),  # 16: 64 KiB windows, WINDOW_UPDATEs
            "on": [0.2, rng.uniform(0.5, 2.5)],
            "off": [0.5, rng.uniform(1.0, 5.0)],
            "curl_gap": [0.05, rng.uniform(0.2, 1.0)],
        }
    if kind == "pg":
        connect = rng.random() < 0.2  # -C: a new connection (a backend) per transaction
        return {
            "clients": rng.choice([1, 2, 4, 8]),
            "rate": rng.choice([10, 50]) if connect else rng.choice([20, 100, 400, 1000]),
            "select_only": rng.random() < 0.5,  # -S; else the TPC-B-like default script
            "connect": connect,
            "on": [1.5, rng.uniform(2.5, 8.0)],  # pgbench -T: whole seconds, under `on`
            "off": [0.5, rng.uniform(1.0, 4.0)],
        }
    return {"ping_gap": [0.3, rng.uniform(1.0, 4.0)]}


DNS_QUERIES = "queries.txt"
"""dnsperf's query file in the lab's directory, written by ``unbound_files``."""


def unbound_files(workdir) -> str:
    """Writes unbound.conf (the lab's names, from memory, on 127.0.0.1:DNS_PORT) and
    DNS_QUERIES (those names and one that does not exist) into ``workdir``; returns the
    path of the first."""
    conf, queries = workdir / "unbound.conf", workdir / DNS_QUERIES
    data = "".join(f'  local-data: "{n} {t} {v}"\n' for n, t, v in DNS_NAMES)
    conf.write_text(
        f"server:\n  interface: 127.0.0.1\n  port: {DNS_PORT}\n  do-daemonize: no\n"
        f'  username: ""\n  chroot: ""\n  directory: "{workdir}"\n  pidfile: ""\n'
        '  use-syslog: no\n  logfile: ""\n  num-threads: 1\n  do-ip6: no\n'
        '  access-control: 127.0.0.0/8 allow\n  module-config: "iterator"\n'
        f'  local-zone: "lab." static\n{data}remote-control:\n  control-enable: no\n'
    )
    queries.write_text("".join(f"{n} {t}\n" for n, t, _ in DNS_NAMES) + "nx.lab. A\n")
    return str(conf)


def _bounded(cmd: list[str], seconds: float) -> list[str]:
    """A client command that cannot outlive `seconds`."""
    return ["timeout", "-s", "INT", "-k", "2", f"{max(0.1, seconds):.2f}", *cmd]


def sleep_until(t: float) -> None:
    while (d := t - time.monotonic()) > 0:
        time.sleep(min(d, 0.5))


def _iperf(ph: dict, light: bool, seconds: int, length: int, streams: int = 1) -> list[str]:
    """An iperf3 client at the phase's bounded bitrate (light: a fixed small byte count)."""
    cmd = [
        "iperf3",
        "-c",
        "127.0.0.1",
        "-p",
        str(IPERF_PORT),
        "-b",
        f"{ph['mbit']}M",
        "-l",
        str(length),
        "-P",
        str(streams),
        "--connect-timeout",
        "3000",
    ]
    cmd += ["-n", "2M"] if light else ["-t", str(seconds)]
    return cmd + (["-u"] if ph.get("udp") else [])


def run_phase(lab, ph: dict, t_end: float) -> None:
    """Run one phase until t_end. --light: the same kinds at a few hundred packets a burst
    (for small test captures)."""
    rng = random.Random(ph["seed"])
    kind = ph["kind"]
    light = lab.args.light
    url = f"http://127.0.0.1:{HTTP_PORT}/"
    h2url = f"http://127.0.0.1:{H2_PORT}/"
    side: list[subprocess.Popen] = []
    if kind == "mixed":  # a steady low bulk stream under the bursts, for the whole phase
        cmd = _iperf(ph, light, max(1, int(ph["span"]) - 2), 32768)
        side.append(lab.spawn(_bounded(cmd, ph["span"])))
    if lab.args.pcapng:  # traffic on the second interface too, from the peer namespace
        gap = rng.uniform(0.2, 1.0)
        loop = (
            f"while :; do curl -s -o /dev/null http://{LAB_ADDR}:{HTTP_PORT}/small; "
            f"sleep {gap:.2f}; done"
        )
        side.append(lab.spawn(_bounded(["sh", "-c", loop], ph["span"]), peer=True))
    next_curl = time.monotonic()
    while (now := time.monotonic()) < t_end - 0.05:
        left = t_end - now
        if kind == "idle":
            lab.spawn(_bounded(["redis-cli", "-p", str(REDIS_PORT), "PING"], min(2, left)))
            sleep_until(min(t_end, time.monotonic() + rng.uniform(*ph["ping_gap"])))
        elif kind == "bulk":
            secs = min(ph["chunk"], max(1, int(left) - 1))
            cmd = _iperf(ph, light, secs, ph["length"], ph["streams"])
            _wait(lab.spawn(_bounded(cmd, min(secs + 3, left))), t_end)
            sleep_until(min(t_end, time.monotonic() + rng.uniform(*ph["pause"])))
        else:
            on = min(rng.uniform(*ph["on"]), left)
            if kind == "memcache":
                cmd = [
                    "memcslap",
                    "-s",
                    f"127.0.0.1:{MEMCACHE_PORT}",
                    "-c",
                    str(ph["threads"]),
                    "-t",
                    ph["test"],
                    "-e",
                    "100" if light else str(ph["keys"]),
                    *(["-b"] if ph["binary"] else []),
                ]
            elif kind == "dns":
                cmd = [
                    "dnsperf",
                    "-s",
                    "127.0.0.1",
                    "-p",
                    str(DNS_PORT),
                    "-d",
                    str(lab.dir / DNS_QUERIES),
                    "-c",
                    str(ph["clients"]),
                    "-Q",
                    "200" if light else str(ph["qps"]),
                    "-l",
                    f"{max(1.0, on):.1f}",
                ]
            elif kind == "h2":  # http:// URIs: HTTP/2 with prior knowledge, no upgrade
                count = ["-n", "20"] if light else ["-n", str(ph["requests"])]
                if not light and not ph["requests"]:
                    count = ["-D", f"{max(100, int(on * 1000) - 50)}ms"]
                cmd = [
                    "h2load",
                    "-c",
                    str(ph["clients"]),
                    "-m",
                    str(ph["streams"]),
                    *count,
                    *(["--rps", str(ph["rps"])] if ph["rps"] else []),
                    "-w",
                    str(ph["window_bits"]),
                    "-W",
                    str(ph["window_bits"]),
                    h2url + ph["object"],
                ]
            elif kind == "pg":  # tx/s over all clients (-R); no vacuum before each burst (-n)
                count = ["-t", "5"] if light else ["-T", str(max(1, int(on - 0.3)))]
                cmd = [
                    "pgbench",
                    "-n",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(PG_PORT),
                    "-U",
                    PG_USER,
                    "-c",
                    str(ph["clients"]),
                    "-j",
                    "1",
                    "-R",
                    str(ph["rate"]),
                    *count,
                    *(["-S"] if ph["select_only"] else []),
                    *(["-C"] if ph["connect"] else []),
                    "postgres",  # the database initdb makes
                ]
            elif kind in ("redis", "mixed"):
                tests = rng.choice(["set,get", "get", "incr,lpush", "set"])
                cmd = [
                    "redis-benchmark",
                    "-p",
                    str(REDIS_PORT),
                    "-c",
                    str(ph["clients"]),
                    "-n",
                    "150" if light else "100000000",
                    "-q",
                    "-P",
                    str(ph.get("pipeline", 1)),
                    "-d",
                    str(ph.get("value_bytes", 64)),
                    "-t",
                    tests,
                ]
            else:
                cmd = [
                    "ab",
                    "-q",
                    "-n",
                    "20" if light else "100000000",
                    "-c",
                    str(ph["concurrency"]),
                    "-t",
                    str(max(1, int(on) + 1)),
                    *(["-k"] if ph["keepalive"] else []),
                    url + ph["object"],
                ]
            burst = lab.spawn(_bounded(cmd, on))
            end_on = time.monotonic() + on
            off_end = min(t_end, end_on + rng.uniform(*ph["off"]))
            while (t := time.monotonic()) < off_end:  # a curl trickle beside the bursts
                if kind in ("http", "mixed", "h2") and t >= next_curl:
                    obj = rng.choice([o for o, _ in OBJECTS])
                    h2 = ["--http2-prior-knowledge"] if kind == "h2" else []
                    base = h2url if kind == "h2" else url
                    lab.spawn(_bounded(["curl", "-s", "-o", "/dev/null", *h2, base + obj], 3))
                    next_curl = t + rng.uniform(*ph["curl_gap"])
                if t >= end_on:
                    _wait(burst, t_end + 3)
                time.sleep(0.02)
            _wait(burst, t_end + 3)
        lab.procs = [p for p in lab.procs if p.poll() is None or p in side]
    for p in side:
        _wait(p, t_end + 3)


def _wait(p: subprocess.Popen, until: float) -> None:
    try:
        p.wait(timeout=max(0.1, until - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
