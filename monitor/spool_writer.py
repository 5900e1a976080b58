"""Appending native records to the spool — what `llm-monitor log` and `monitor.track` do.

One record is one `write()` of one line to a file opened with O_APPEND: POSIX appends of
a single write are not interleaved with other appenders' writes on a local file system,
so threads and processes can log at once without a lock. Each process writes its own
file (`<host>-<pid>.jsonl`) all the same, so a torn write on an exotic file system can
only ever hurt its own records.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.sources.spool import encode_record


def spool_file(spool_dir: Path) -> Path:
    host = socket.gethostname().split(".")[0] or "host"
    return spool_dir / f"{host}-{os.getpid()}.jsonl"


def append_record(spool_dir: Path, record: Mapping[str, Any]) -> Path:
    """Append one usage record (UsageEvent field names) to this process's spool file."""
    fields = dict(record)
    if not fields.get("model"):
        raise ValueError("a usage record needs a model")
    fields.setdefault("ts", datetime.now(UTC).isoformat())
    line = encode_record(fields)
    spool_dir.mkdir(parents=True, exist_ok=True)
    path = spool_file(spool_dir)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
    finally:
        os.close(fd)
    return path
