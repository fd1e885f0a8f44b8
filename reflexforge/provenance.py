"""Where a forged file comes from: its creation time (``SOURCE_DATE_EPOCH`` when set) and the
trainer's version and commit, as the metadata records them (spec/training.md)."""

from __future__ import annotations

import functools
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from reflexforge.config import source_date_epoch


def created_at() -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` of SOURCE_DATE_EPOCH when set, else of now."""
    seconds = source_date_epoch()
    if seconds is None:
        seconds = int(time.time())
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.cache
def trainer_commit() -> str:
    """``reflexforge@<version>``, plus ``+g<12-digit sha>`` when run from a git checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = f"reflexforge@{version('reflex-nem1')}"
    except PackageNotFoundError:
        text = "reflexforge@unknown"
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists():
        try:
            sha = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            sha = ""
        if sha and all(c in "0123456789abcdef" for c in sha):
            text += f"+g{sha}"
    return text
