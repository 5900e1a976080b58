"""Scaling benchmark: cold scan, report and status at several sizes of one generated tree.

Goal: at 1 M messages (about 2.3 GB), scan time and memory grow linearly; report and
status stay flat. For each `--scales` factor of the default tree (1 = 200k messages,
22k files, ~470 MB; the default `1,5` ends at 1 M messages, 110k files, ~2.3 GB):
generate the tree into `bench/out/scale-<scale>/tree` (or reuse it when its truth.json
has the same params), flush it to disk and read it once (untimed: every scale starts
with the tree in the page cache and no writeback running), then run bench_backfill's
steps on it: a cold `llm-monitor scan` into an empty ledger (best of `--runs`), then
`report --by day --format json` and `status --json` (best of `--answer-runs`), the
report's per-day rows checked against the generator's truth exactly.

Verdicts, the largest scale against the smallest:
- scan time per message ≤ 1.25× → "linear";
- memory: the scan's peak is bounded by its batches, not by the tree, so its ratio is
  compared with the messages ratio: ≤ it → "bounded (≤ linear)"; ≤ 1.25× it → "linear";
  more → MISSED. Shown for the main process's peak RSS (`os.wait4`) and for the sampled
  peak PSS of all its processes (the parsing workers are the forkserver's children,
  which `os.wait4` never sees);
- report and status wall time ≤ 1.5× → "flat".

Run from the repository root: `.venv/bin/python -m bench.bench_scaling [--scales 1,5]`.
Prints a table and the verdicts and writes `bench/out/scaling.json`; the trees are
removed after each scale unless `--keep`. Exit status 1 when a step failed or a total
differs from the truth (not for a missed verdict, as bench_backfill).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Final

from bench.bench_backfill import Result, bench_monitor, ensure_tree
from bench.gen_claude_tree import DEFAULT_DAYS, END_HELP, TreeParams, end_arg, resolve_end
from bench.measure import Measured, PeakMemory, at_least_one, compile_package

SCAN_LINEAR: Final = 1.25  # scan s per message, largest scale / smallest, at most
MEMORY_LINEAR: Final = 1.25  # peak memory ratio / messages ratio, at most
ANSWER_FLAT: Final = 1.5  # report/status wall time, largest scale / smallest, at most


def parse_scales(text: str) -> list[float]:
    try:
        scales = sorted({float(s) for s in text.split(",") if s.strip()})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from exc
    if not scales or scales[0] <= 0:
        raise argparse.ArgumentTypeError("scales must be positive numbers, e.g. 1,5")
    return scales


def warm(tree: Path) -> float:
    """Flush dirty pages (a just-written tree's writeback must not run during the scan)
    and read every file once, so each scale's scan starts from the page cache.
    Seconds taken."""
    start = time.perf_counter()
    os.sync()
    buf = bytearray(1 << 20)
    for path in (tree / "projects").rglob("*.jsonl"):
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass
    return time.perf_counter() - start


def bench_scale(scale: float, args: argparse.Namespace) -> dict[str, Any]:
    """Generate (or reuse) one scale's tree and measure scan, report and status on it."""
    base = TreeParams(days=args.days, end=args.end, seed=args.seed, costs=not args.no_costs)
    params = resolve_end(base.scaled(scale))
    out = args.out / f"scale-{scale:g}"
    result = Result()
    print(f"\n--- scale {scale:g}: {params.messages:,} messages, {params.files:,} files")
    truth = ensure_tree(out, params, result, args.jobs or None)
    tree = out / "tree"
    warm_s = warm(tree)
    with PeakMemory() as mem:
        scan, report, status = bench_monitor(out, tree, truth, result, args.answer_runs, args.runs)
    for row in result.rows:
        took = "—" if row.wall_s is None else f"{row.wall_s:.3f} s"
        print(f"  {row.tool}: {took}{'  ' + row.note if row.note else ''}")
    for failure in result.failures:
        print(f"  FAILED: {failure}")
    point = {
        "scale": scale,
        "params": params.as_dict(),
        "generator": result.data.get("generator"),
        "warm_s": round(warm_s, 2),
        "tree": truth["tree"],
        "messages": truth["total"]["messages"],
        "mb": truth["tree"]["bytes"] / 1e6,
        "scan": _measured(scan),
        "scan_peak_pss_mb": round(mem.peak_mb, 1) if scan is not None else None,
        "report": _measured(report),
        "status": _measured(status),
        # compare_report's verdict on the report row (None when the report failed)
        "totals_equal": next(
            (r.equal for r in result.rows if r.tool.startswith("llm-monitor report")), None
        ),
        "llm_monitor": result.data.get("llm_monitor"),
        "report_check": result.data.get("report"),
        "rows": [r.as_dict() for r in result.rows],
        "failures": result.failures,
    }
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    return point


def _measured(m: Measured | None) -> dict[str, float] | None:
    if m is None:
        return None
    return {
        "wall_s": round(m.wall_s, 4),
        "cpu_s": round(m.cpu_s, 4),
        "max_rss_mb": round(m.max_rss_mb, 1),
    }


def _get(point: dict[str, Any], step: str, key: str) -> float | None:
    m = point.get(step)
    return None if m is None else m[key]


def verdicts(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The largest scale against the smallest (both must have measured the step)."""
    out: dict[str, Any] = {}
    if len(points) < 2:
        return out
    small, large = points[0], points[-1]
    msg_ratio = large["messages"] / small["messages"]

    scan_s, scan_l = _get(small, "scan", "wall_s"), _get(large, "scan", "wall_s")
    if scan_s and scan_l:
        ratio = (scan_l / large["messages"]) / (scan_s / small["messages"])
        out["scan_time_per_message"] = {
            "ratio": round(ratio, 3),
            "goal": f"<= {SCAN_LINEAR}",
            "met": ratio <= SCAN_LINEAR,
            "verdict": "linear" if ratio <= SCAN_LINEAR else "grows faster than linear",
        }
    memories = (
        (
            "scan_peak_rss_main",
            _get(small, "scan", "max_rss_mb"),
            _get(large, "scan", "max_rss_mb"),
        ),
        ("scan_peak_pss_all", small.get("scan_peak_pss_mb"), large.get("scan_peak_pss_mb")),
    )
    for name, mem_s, mem_l in memories:
        if not mem_s or not mem_l:
            continue
        ratio = mem_l / mem_s
        if ratio <= msg_ratio:
            verdict = "bounded (≤ linear)"
        elif ratio <= MEMORY_LINEAR * msg_ratio:
            verdict = "linear"
        else:
            verdict = "grows faster than linear"
        out[name] = {
            "ratio": round(ratio, 3),
            "messages_ratio": round(msg_ratio, 3),
            "goal": f"<= {MEMORY_LINEAR} x messages ratio",
            "met": ratio <= MEMORY_LINEAR * msg_ratio,
            "verdict": verdict,
        }
    for step in ("report", "status"):
        t_s, t_l = _get(small, step, "wall_s"), _get(large, step, "wall_s")
        if t_s and t_l:
            ratio = t_l / t_s
            out[f"{step}_time"] = {
                "ratio": round(ratio, 3),
                "goal": f"<= {ANSWER_FLAT}",
                "met": ratio <= ANSWER_FLAT,
                "verdict": "flat" if ratio <= ANSWER_FLAT else "grows with the ledger",
            }
    return out


def _cell(v: float | None, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def print_table(points: list[dict[str, Any]], found: dict[str, Any]) -> None:
    headers = (
        "scale", "messages", "MB", "scan s", "s/100k msg", "scan CPU s", "peak RSS MB",
        "all procs PSS MB", "report s", "status s", "totals = truth",
    )  # fmt: skip
    table = [headers]
    for p in points:
        scan = _get(p, "scan", "wall_s")
        table.append(
            (
                f"{p['scale']:g}",
                f"{p['messages']:,}",
                f"{p['mb']:,.0f}",
                _cell(scan, ".2f"),
                _cell(None if scan is None else scan / p["messages"] * 1e5, ".2f"),
                _cell(_get(p, "scan", "cpu_s"), ".2f"),
                _cell(_get(p, "scan", "max_rss_mb"), ".0f"),
                _cell(p["scan_peak_pss_mb"], ".0f"),
                _cell(_get(p, "report", "wall_s"), ".3f"),
                _cell(_get(p, "status", "wall_s"), ".3f"),
                {True: "yes", False: "NO", None: "—"}[p["totals_equal"]],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    print()
    for row in table:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print(
        "(scan CPU counts all its processes, the parsing workers too; peak RSS is the "
        "largest one's, the main process; PSS sums all of them, sampled every 0.1 s)"
    )
    if len(points) < 2:
        print("one scale only: no verdicts")
    for name, v in found.items():
        extra = f" (messages ×{v['messages_ratio']})" if "messages_ratio" in v else ""
        mark = "met" if v["met"] else "MISSED"
        print(f"{name}: ×{v['ratio']}{extra}, goal {v['goal']}: {v['verdict']} — {mark}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scales",
        type=parse_scales,
        default=parse_scales("1,5"),
        help="factors of the default tree (200k messages): 1,5 = 200k and 1 M messages",
    )
    parser.add_argument(
        "--runs", type=at_least_one, default=1, help="cold scans per scale; the best counts"
    )
    parser.add_argument(
        "--answer-runs", type=at_least_one, default=5, help="report/status runs (best)"
    )
    parser.add_argument("--jobs", type=int, default=0, help="generator workers (default: cores)")
    parser.add_argument(
        "--keep", action="store_true", help="keep each scale's tree and ledger (reused next time)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--end", type=end_arg, default="", help=END_HELP)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-costs", action="store_true", help="skip pricing the truth (generates 2× faster)"
    )
    args = parser.parse_args(argv)
    compile_package()  # before any timed run: byte-code as an installation has it
    # One window for every scale, even when the run goes on into the next hour.
    args.end = resolve_end(TreeParams(end=args.end)).end

    points = [bench_scale(scale, args) for scale in args.scales]
    found = verdicts(points)
    failures = [f"scale {p['scale']:g}: {f}" for p in points for f in p["failures"]]
    print_table(points, found)
    for failure in failures:
        print(f"FAILED: {failure}")
    doc = {"scales": points, "verdicts": found, "failures": failures}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    print(f"\nwrote {args.out / 'scaling.json'}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
