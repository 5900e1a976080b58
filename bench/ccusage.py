"""ccusage, the peer to beat: install a pinned version and ask it for daily totals.

ccusage 20.0.24 on npm is a small Node launcher plus a compiled Rust binary in an
optional per-platform package (`@ccusage/ccusage-linux-x64`); newer versions ship no
Linux binary to the registry. We time the native binary directly: the launcher only
spawns it, and timing Node's start-up as well would flatter us.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.measure import Measured, run_measured

CCUSAGE_VERSION: Final = "20.0.24"
TOKEN_KEYS: Final = {
    "inputTokens": "input_tokens",
    "outputTokens": "output_tokens",
    "cacheCreationTokens": "cache_creation_input_tokens",
    "cacheReadTokens": "cache_read_input_tokens",
}


class CcusageUnavailable(RuntimeError):
    """npm or the native binary is missing: the comparison cannot run here."""


@dataclass(frozen=True, slots=True)
class CcusageRun:
    """One `ccusage claude daily --json` answer, in Anthropic token semantics."""

    measured: Measured
    days: dict[str, dict[str, int]]
    total: dict[str, int]
    cost_usd: float


def _native_package() -> str:
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine()
    )
    return f"@ccusage/ccusage-linux-{arch}"


def install(prefix: Path, version: str = CCUSAGE_VERSION) -> Path:
    """`npm install --prefix PREFIX ccusage@VERSION` once; the native binary's path."""
    binary = prefix / "node_modules" / _native_package() / "bin" / "ccusage"
    package_json = prefix / "node_modules" / "ccusage" / "package.json"
    installed = None
    if package_json.exists():
        installed = json.loads(package_json.read_text()).get("version")
    if installed != version or not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise CcusageUnavailable("npm is not installed; cannot install ccusage")
        prefix.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(prefix),
                "--no-audit",
                "--no-fund",
                f"ccusage@{version}",
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not binary.exists():
            raise CcusageUnavailable(
                f"npm install ccusage@{version} failed or shipped no {binary.name} "
                f"for this platform: {done.stderr.strip()[-500:]}"
            )
    # The launcher chmods the binary on first use; we bypass the launcher.
    binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def daily_command(binary: Path) -> list[str]:
    return [str(binary), "claude", "daily", "--json", "--offline", "--timezone", "UTC"]


def parse_daily(payload: dict[str, Any]) -> tuple[dict[str, dict[str, int]], dict[str, int], float]:
    """(per-day tokens, total tokens, total cost) from ccusage's daily JSON."""
    days = {
        row["date"]: {ours: int(row.get(theirs, 0)) for theirs, ours in TOKEN_KEYS.items()}
        for row in payload.get("daily", [])
    }
    totals = payload.get("totals", {})
    total = {ours: int(totals.get(theirs, 0)) for theirs, ours in TOKEN_KEYS.items()}
    return days, total, float(totals.get("totalCost", 0.0))


def run_daily(binary: Path, config_dir: Path) -> CcusageRun:
    """Run `ccusage claude daily --json --offline` over `config_dir/projects`."""
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(config_dir), "NO_COLOR": "1"}
    measured = run_measured(daily_command(binary), env=env)
    if not measured.ok:
        raise CcusageUnavailable(measured.describe_failure())
    days, total, cost = parse_daily(json.loads(measured.stdout))
    return CcusageRun(measured=measured, days=days, total=total, cost_usd=cost)
