"""`llm-monitor init`: write a starter config listing the usage files found on this machine.

What it looks for:
- the coding agents in their homes, each format of `sources.locations.DEFAULT_PATHS`
  (Claude Code, Codex, Gemini CLI, OpenCode, …) alike: an agent is found when the fixed
  root of one of its default globs, under the environment's variables (`$CODEX_HOME`,
  `$KIMI_SHARE_DIR`, …), is a directory; its source lists the globs that lie in
  existing directories (`_agents`);
- the seed tools, which write where they run, under the current directory: each
  format's own default glob (`**/run_*/tokens.jsonl`, `**/.costs/haiku_usage.json`, …),
  matched with `monitor.globs`. The walk is bounded (depth, directory count, no dot
  directories but the ones a pattern names, no node_modules): run from $HOME it looks
  at a few thousand directories, never the whole home. A generic name
  (`token_usage.json`, `logs/usage*.jsonl`) counts only if the format's adapter reads
  usage from it, so an unrelated file of the same name adds no source.

A found seed tool's source watches `<anchor>/**/<pattern>`, the anchor being the
directory its files hang from (the project dir holding `Descriptions/` or `.costs/`;
for Studio the dir above the phase dirs, `output/`, so new phases are covered), never
the current directory as a whole.

llm-monitor's own directories are never searched: the installed package, the checkout
it runs from, and any llm-monitor checkout found around or below the current directory
(a `pyproject.toml` naming the project). Their `examples/` hold every tool's sample
files (issue 9: run in a fresh clone, `init` adopted them, and the daemon counted ~120
sample calls in the newcomer's real ledger).

The file is rendered as commented TOML (tomli-w renders each source table), validated
with `load_config` before it replaces anything, and written atomically. Budgets,
alerts and metrics are included commented out or off; the spool needs no entry.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

MAX_DEPTH: Final = 6
"""Directory levels below the current directory that the seed search descends."""
MAX_DIRS: Final = 5000
"""Directories listed at most; beyond, the search stops (and says so in the file)."""
MAX_PATHS: Final = 20
SNIFF_BYTES: Final = 256 * 1024
_SKIP_DIRS: Final = frozenset({"node_modules", "__pycache__", "site-packages"})
PROJECT_NAME: Final = "llm-monitor"
"""The distribution name in pyproject.toml that marks a checkout of llm-monitor itself."""


class InitError(Exception):
    """The config file exists (and no --force), or cannot be written."""


@dataclass(frozen=True, slots=True)
class SeedTool:
    name: str
    format: str
    lift: int = 0
    """Directories above the pattern's match to anchor at (Studio: output/<phase> → output)."""
    note: str = ""
    sniff: bool = False
    """The file name alone is too common: count it only if the adapter reads usage from it."""


SEED_TOOLS: Final[tuple[SeedTool, ...]] = (
    SeedTool("studio", "studio-tokens", lift=1, note="Studio runs: run_*/tokens.jsonl"),
    SeedTool("haiku", "haiku-costs", note="Novel pipeline: .costs/haiku_usage.json"),
    SeedTool(
        "openai-tracker", "openai-tracker", note="OpenAI app tracker: token_usage.json", sniff=True
    ),
    SeedTool(
        "image-describer",
        "image-describer-log",
        note="Image Description Toolkit: workflow logs",
    ),
    SeedTool(
        "image-describer-workspace",
        "image-describer-workspace",
        note="Image Description Toolkit: GUI workspace.json",
    ),
    SeedTool("qc", "qc-usage-log", note="Visual-QC back-end: usage log", sniff=True),
)


@dataclass(slots=True)
class Found:
    """One source to write: name, format, globs, and why it is there."""

    name: str
    format: str
    paths: list[str]
    note: str
    files: int = 0
    enabled: bool = True
    comment: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Discovery:
    found: list[Found]
    dirs_scanned: int
    truncated: bool
    skipped: list[Path] = field(default_factory=list)
    """llm-monitor's own directories the search met and left out."""


# ---------------------------------------------------------------- discovery


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or os.path.expanduser("~"))


def _shown(path: Path | str, env: Mapping[str, str]) -> str:
    """`~/…` for paths in the home directory: readable, and it follows the config's owner."""
    home = str(_home(env)).rstrip("/")
    text = str(path)
    if home and text.startswith(home + "/"):
        return "~" + text[len(home) :]
    return text


def is_own_checkout(directory: Path) -> bool:
    """Whether `directory` is a checkout (or unpacked sdist) of llm-monitor itself."""
    import tomllib

    try:
        with open(directory / "pyproject.toml", "rb") as fh:
            project = tomllib.load(fh).get("project")
    except (OSError, ValueError):  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        return False
    name = project.get("name") if isinstance(project, dict) else None
    # Compared as packaging normalizes names: "LLM_Monitor" is the same project.
    return isinstance(name, str) and re.sub(r"[-_.]+", "-", name).lower() == PROJECT_NAME


def own_roots(cwd: Path) -> list[Path]:
    """llm-monitor's own directories (resolved): the package, the checkout holding it,
    and every llm-monitor checkout that `cwd` lies in (an installed copy run from a clone)."""
    import monitor

    package = Path(monitor.__file__).resolve().parent
    roots = [package]
    if is_own_checkout(package.parent):
        roots.append(package.parent)
    here = cwd.resolve()
    roots += [d for d in (here, *here.parents) if is_own_checkout(d)]
    return _outermost(roots)


def own_root_around(cwd: Path, roots: Sequence[Path] | None = None) -> Path | None:
    """The llm-monitor directory `cwd` lies in, if any (then nothing below it is searched)."""
    here = cwd.resolve()
    for root in own_roots(cwd) if roots is None else roots:
        if here == root or root in here.parents:
            return root
    return None


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    p = path.resolve()
    return any(p == r or r in p.parents for r in roots)


def _agents(env: Mapping[str, str], own: Sequence[Path] = ()) -> list[Found]:
    """Every coding agent of `DEFAULT_PATHS` whose default location exists under `env`.

    An agent is found when the fixed root of one of its globs (`Glob.root`, the
    directories before the first wildcard) is a directory outside llm-monitor's own
    (`own`): the agent has written there. Its source lists, as `~/…`, those globs and
    the ones whose root is still missing in an existing directory: the agent's home,
    where it creates them later (Codex's `archived_sessions/`, a Hermes profile). The
    paths are written out, so the daemon watches the same places without the agents'
    variables in its environment.
    """
    from monitor.config.locations import expand
    from monitor.globs import Glob
    from monitor.sources.locations import DEFAULT_PATHS

    found: list[Found] = []
    for fmt, default_paths in DEFAULT_PATHS.items():
        globs = []
        for pattern in default_paths(env):
            expanded = expand(pattern, env)
            if os.path.isabs(expanded):  # a relative $VAR names no place of its own
                globs.append(Glob(expanded))
        roots = [g.root for g in globs if g.root.is_dir() and not _inside(g.root, own)]
        if not roots:
            continue
        paths = [
            _shown(g.pattern, env)
            for g in globs
            if (g.root in roots or g.root.parent.is_dir()) and not _inside(g.root, own)
        ]
        where = ", ".join(dict.fromkeys(_shown(r, env) for r in roots))
        found.append(Found(fmt, fmt, paths, f"{fmt}: found in {where}"))
    return found


def _walk(
    root: Path, allowed_dots: frozenset[str], own: Sequence[Path] = ()
) -> tuple[list[str], int, bool, list[Path]]:
    """Files under `root`, breadth first, within MAX_DEPTH and MAX_DIRS, leaving out
    llm-monitor's own directories (`own`, and any checkout met on the way): (files,
    directories listed, truncated, own directories left out)."""
    files: list[str] = []
    skipped: list[Path] = []
    own_ids = set()
    for r in own:
        try:
            st = os.stat(r)
        except OSError:
            continue
        own_ids.add((st.st_dev, st.st_ino))
    own_inodes = {ino for _, ino in own_ids}
    level = [str(root)]
    scanned = 0
    for depth in range(MAX_DEPTH + 1):
        nxt: list[str] = []
        for d in level:
            if scanned >= MAX_DIRS:
                return files, scanned, True, skipped
            scanned += 1
            try:
                with os.scandir(d) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:
                continue
            if any(e.name == "pyproject.toml" for e in entries) and is_own_checkout(Path(d)):
                skipped.append(Path(d))
                continue
            for e in entries:
                try:
                    if e.is_dir(follow_symlinks=False):
                        skip = e.name in _SKIP_DIRS or (
                            e.name.startswith(".") and e.name not in allowed_dots
                        )
                        # The directory entry's inode costs no system call; stat only
                        # on a match to compare the device too.
                        if not skip and e.inode() in own_inodes:
                            st = e.stat(follow_symlinks=False)
                            if (st.st_dev, st.st_ino) in own_ids:
                                skipped.append(Path(e.path))
                                skip = True
                        if not skip and depth < MAX_DEPTH:
                            nxt.append(e.path)
                    elif e.is_file():
                        files.append(e.path)
                except OSError:
                    continue
        level = nxt
        if not level:
            break
    return files, scanned, False, skipped


def _pattern(fmt: str) -> str:
    """The format's own default glob, relative (`**/run_*/tokens.jsonl`)."""
    from monitor.sources import get_format

    default_paths = get_format(fmt).default_paths
    patterns = default_paths() if default_paths else []
    assert patterns, f"seed format {fmt} has no default glob"
    return patterns[0]


def _reads_usage(fmt: str, path: str) -> bool:
    """Whether the adapter of `fmt` finds at least one usage event in (the head of) `path`."""
    from zoneinfo import ZoneInfo

    from monitor.sources import get_format
    from monitor.sources.base import ParseContext

    f = get_format(fmt)
    try:
        with open(path, "rb") as fh:
            data = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    if f.kind == "lines":
        data = data[: data.rfind(b"\n") + 1]
    ctx = ParseContext(source="init", path=path, file_id="init", tz=ZoneInfo("UTC"))
    try:
        return bool(f.parse(ctx, {}, data).events)
    except Exception:  # half-written, or simply not this tool's file
        return False


def _anchor(path: str, pattern: str, lift: int) -> Path:
    parents = Path(path).parents
    suffix_parts = len(pattern.removeprefix("**/").split("/"))
    return parents[min(suffix_parts - 1 + lift, len(parents) - 1)]


def _outermost(anchors: Sequence[Path]) -> list[Path]:
    kept: list[Path] = []
    for a in sorted(set(anchors), key=lambda p: (len(p.parts), str(p))):
        if not any(a == k or k in a.parents for k in kept):
            kept.append(a)
    return sorted(kept)


def _seed_tools(
    cwd: Path, env: Mapping[str, str], own: Sequence[Path] = ()
) -> tuple[list[Found], int, bool, list[Path]]:
    from monitor.globs import Glob

    around = own_root_around(cwd, own)
    if around is not None:
        return [], 0, False, [around]
    tools = [(t, _pattern(t.format)) for t in SEED_TOOLS]
    allowed_dots = frozenset(
        part for _, p in tools for part in p.split("/") if part.startswith(".") and "*" not in part
    )
    files, scanned, truncated, skipped = _walk(cwd, allowed_dots, own)
    found: list[Found] = []
    for tool, pattern in tools:
        glob = Glob(pattern, base=cwd)
        matches = [f for f in files if glob.matches(f)]
        if tool.sniff:
            matches = [f for f in matches if _reads_usage(tool.format, f)]
        if not matches:
            continue
        floor = len(cwd.parts)
        anchors = [_anchor(m, pattern, tool.lift) for m in matches]
        anchors = [a if len(a.parts) >= floor else cwd for a in anchors]
        rel = pattern.removeprefix("**/")
        paths = [f"{_shown(a, env)}/**/{rel}" for a in _outermost(anchors)][:MAX_PATHS]
        found.append(Found(tool.name, tool.format, paths, tool.note, files=len(matches)))
    names = {f.name for f in found}
    if {"image-describer", "image-describer-workspace"} <= names:
        # The repository's config.toml: the two describe the same descriptions.
        ws = next(f for f in found if f.name == "image-describer-workspace")
        ws.enabled = False
        ws.comment.append(
            "Off: the workflow logs above already count descriptions made by the batch"
        )
        ws.comment.append("scripts; enable it for descriptions made in the GUI only.")
    return found, scanned, truncated, skipped


def discover(cwd: Path, env: Mapping[str, str]) -> Discovery:
    """Every known tool's usage files on this machine (coding agents) and under `cwd`,
    never llm-monitor's own sample files (`own_roots`)."""
    own = own_roots(cwd)
    seeds, scanned, truncated, skipped = _seed_tools(cwd, env, own)
    return Discovery(_agents(env, own) + seeds, scanned, truncated, skipped)


# ---------------------------------------------------------------- rendering


_HEADER: Final = """\
# llm-monitor configuration, written by `llm-monitor init` on {date}.
#
# {found_line}
# The sources below are the usage files found then; add more by hand — the commented
# reference config (`llm-monitor init --print-default` or config.toml in the
# repository) shows every format and option.
#
# Paths: `~` and $VARIABLES are expanded; in globs `**` matches zero or more
# directories, and names starting with "." are matched only by a pattern that spells
# the dot. Usage recorded by `llm-monitor log` and monitor.track() goes to
# <state_dir>/spool/, which is always watched: it needs no entry here.

[monitor]
timezone = "local"   # or an IANA name such as "Europe/Berlin"
# state_dir = "~/.local/state/llm-monitor"   # default: $XDG_STATE_HOME/llm-monitor
#                                            # (holds ledger.sqlite3 and spool/)
"""

_FOOTER: Final = """
# ------------------------------------------------------------------------ budgets
# Alerts when spending in a period crosses fractions of a limit (USD). Uncomment, or
# manage budgets with `llm-monitor budget set/rm` (they go to budgets.toml beside this).
# [[budgets]]
# name = "monthly"
# period = "month"            # day | week | month
# limit = 50.0
# warn_at = [0.5, 0.8, 1.0]   # fractions of the limit
# forecast = true             # also warn when the forecast exceeds the limit

[alerts]
urls = []              # Apprise URLs, e.g. ["ntfy://my-topic"]

[metrics]
listen = ""            # e.g. "127.0.0.1:9464" serves Prometheus metrics; "" = off
"""


def render(discovery: Discovery, now: datetime | None = None) -> str:
    """The config text for what was found (pure: the same discovery, the same text)."""
    import tomli_w

    now = now or datetime.now(UTC)
    found = discovery.found
    if found:
        found_line = "Found: " + ", ".join(f.name for f in found) + "."
    else:
        found_line = "No known tool's usage files were found."
    parts = [_HEADER.format(date=now.date().isoformat(), found_line=found_line)]
    if discovery.truncated:
        parts.append(
            f"\n# The search below the current directory stopped after {discovery.dirs_scanned}"
            " directories:\n# run `llm-monitor init` in a project directory to look deeper.\n"
        )
    if discovery.skipped:
        shown = ", ".join(str(p) for p in discovery.skipped)
        parts.append(
            f"\n# Not searched: llm-monitor's own files ({shown}); its examples/ are\n"
            "# sample data, not your usage.\n"
        )
    parts.append(
        "\n# ------------------------------------------------------------------------ sources\n"
    )
    for f in found:
        table: dict[str, Any] = {"name": f.name, "format": f.format, "paths": f.paths}
        if not f.enabled:
            table["enabled"] = False
        count = f" ({f.files} file{'s' if f.files != 1 else ''} found)" if f.files else ""
        lines = [f"# {f.note}{count}", *(f"# {c}" for c in f.comment)]
        parts.append("\n" + "\n".join(lines) + "\n" + tomli_w.dumps({"sources": [table]}))
    parts.append(_FOOTER)
    return "".join(parts)


# ---------------------------------------------------------------- writing


def init(path: Path | None, force: bool, cwd: Path, env: Mapping[str, str]) -> tuple[Path, str]:
    """Write the starter config to `path` (default: the user config path); (path, text).

    Refuses to replace an existing file unless `force`. The text is checked with
    `load_config` before it replaces anything, so a bad render never lands.
    """
    from monitor.config import ConfigError, load_config, user_config_path

    target = Path(path) if path is not None else user_config_path(env)
    if not target.is_absolute():
        target = cwd / target
    if target.exists() and not force:
        raise InitError(f"{target} already exists; use --force to replace it")
    text = render(discover(cwd, env))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise InitError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        load_config(tmp, env=env)
        os.replace(tmp, target)  # mode 0600 from mkstemp: alert URLs may hold tokens
    except ConfigError as exc:  # a bug here, not the user's doing: keep their file
        raise InitError(f"the generated config does not load ({exc}); nothing written") from exc
    except OSError as exc:
        raise InitError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target, text


def found_sources(text: str) -> Iterator[str]:
    """Names of the sources an init-written config enables (for the command's summary)."""
    import tomllib

    for s in tomllib.loads(text).get("sources", []):
        if s.get("enabled", True):
            yield str(s["name"])


__all__ = [
    "Discovery",
    "Found",
    "InitError",
    "discover",
    "found_sources",
    "init",
    "is_own_checkout",
    "own_root_around",
    "own_roots",
    "render",
]
