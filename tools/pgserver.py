"""The PostgreSQL server of the pg kind of tools/capture_loopback.py.

A fresh cluster in the capture's work directory (initdb), run as PG_USER (postgres refuses to
run as root) on 127.0.0.1:PG_PORT only, without a Unix socket (nothing shared with another
capture or a cluster of the host), light (fsync off, 16 MB of shared buffers, 20
connections), with pgbench's tables (scale 1) loaded before the capture starts. The server is
one of the lab's processes: stopped with the others (SIGTERM, a smart shutdown once the
clients are gone), its directory removed with the work directory.

Debian installs the server's programs in /usr/lib/postgresql/VERSION/bin, not on PATH:
``add_to_path`` puts the newest of them first (the inner process inherits it).
Standard library only.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

from loopback_load import PG_PORT, PG_USER

SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "16MB",
    "max_connections": "20",
    "logging_collector": "on",  # DATA/log/*.log: its tail goes into a start failure's error
}


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/VERSION/bin that holds a server (Debian's layout)."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    return max(
        found,
        key=lambda d: tuple(int(x) for x in d.parent.name.split(".") if x.isdigit()),
        default=None,
    )


def add_to_path(kinds: tuple[str, ...]) -> None:
    """With the pg kind, the server's programs (initdb, postgres, pg_isready, pgbench) first
    on PATH."""
    if "pg" in kinds and (d := bin_dir()) is not None:
        os.environ["PATH"] = f"{d}{os.pathsep}{os.environ.get('PATH', '')}"


def _as_user(cmd: list[str]) -> list[str]:
    return ["setpriv", f"--reuid={PG_USER}", f"--regid={PG_USER}", "--init-groups", "--", *cmd]


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, cwd=cwd)
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"postgres: {what} failed: {(e.stderr or e.stdout).strip()}") from e
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"postgres: {what} did not end within {e.timeout:.0f} s") from e


def start(lab) -> None:
    """initdb in lab.dir/pg, start the server (a lab process), wait until it accepts
    connections, then ``pgbench -i -s 1`` (before the capture: its traffic is not captured)."""
    data = lab.dir / "pg"
    data.mkdir(mode=0o700)
    user = pwd.getpwnam(PG_USER)
    os.chown(data, user.pw_uid, user.pw_gid)
    os.chmod(lab.dir, 0o711)  # PG_USER may pass through to its directory, and list nothing
    initdb = ["initdb", "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8"]
    _run(_as_user([*initdb, "--locale=C", "--no-sync"]), "initdb", cwd=data)
    opts = [a for k, v in SETTINGS.items() for a in ("-c", f"{k}={v}")]
    server = lab.spawn(_as_user(["postgres", "-D", str(data), "-p", str(PG_PORT), *opts]))
    conn = ["-h", "127.0.0.1", "-p", str(PG_PORT), "-U", PG_USER]
    deadline = time.monotonic() + 30
    while subprocess.run(["pg_isready", "-q", *conn, "-t", "2"], timeout=10).returncode:
        if server.poll() is not None or time.monotonic() > deadline:
            log = "".join(f.read_text()[-600:] for f in sorted(data.glob("log/*")))
            raise RuntimeError(f"postgres: the server did not start on port {PG_PORT}: {log}")
        time.sleep(0.2)
    _run(["pgbench", "-i", "-s", "1", "-q", *conn, "postgres"], "pgbench -i")
