"""Config lookup, validation messages, budgets.toml merging and writing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import (
    DEFAULT_WARN_AT,
    BudgetConfig,
    ConfigError,
    find_config,
    load_config,
    make_budget,
    parse_duration,
    parse_listen,
    parse_quiet_hours,
    remove_budget,
    resolve_timezone,
    set_budget,
    write_budgets,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    """A clean environment: nothing but HOME, so the machine's own config never leaks in."""
    return {"HOME": str(home)}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def user_config(home: Path, text: str) -> Path:
    return write(home / ".config/llm-monitor/config.toml", text)


# ---------------------------------------------------------------- lookup order


def test_lookup_prefers_explicit_path_then_env_var_then_xdg_then_embedded(
    tmp_path: Path, home: Path, env: dict[str, str]
) -> None:
    assert find_config(env=env) is None
    assert load_config(env=env).path is None

    xdg = user_config(home, '[monitor]\ntimezone = "UTC"\n')
    assert load_config(env=env).path == xdg

    custom_xdg = write(tmp_path / "xdg/llm-monitor/config.toml", '[monitor]\ntimezone = "UTC"\n')
    assert load_config(env={**env, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}).path == custom_xdg

    from_env = write(tmp_path / "env.toml", '[monitor]\ntimezone = "UTC"\n')
    env["LLM_MONITOR_CONFIG"] = str(from_env)
    assert load_config(env=env).path == from_env

    explicit = write(tmp_path / "explicit.toml", '[monitor]\ntimezone = "UTC"\n')
    assert load_config(explicit, env=env).path == explicit


def test_named_config_that_does_not_exist_is_an_error_not_a_fallback(
    tmp_path: Path, env: dict[str, str]
) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: no such file"):
        load_config(tmp_path / "missing.toml", env=env)
    env["LLM_MONITOR_CONFIG"] = str(tmp_path / "gone.toml")
    with pytest.raises(ConfigError, match=r"gone\.toml: no such file"):
        load_config(env=env)


# ---------------------------------------------------------------- the default config


def test_repository_config_is_the_embedded_default_byte_for_byte() -> None:
    assert (REPO / "config.toml").read_bytes() == (
        REPO / "monitor/default_config.toml"
    ).read_bytes()


def test_default_config_watches_every_coding_agent_and_the_spool(
    home: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.sources.locations import DEFAULT_PATHS

    monkeypatch.setenv("HOME", str(home))
    for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    config = load_config(env=env)
    # Each agent with a default location, named after its format, and the spool last.
    names = [s.name for s in config.sources]
    assert sorted(names[:-1]) == sorted(DEFAULT_PATHS) and names[-1] == "spool"
    assert all(s.name == s.format for s in config.sources)
    assert config.source("gemini-cli").paths == (f"{home}/.gemini/tmp/*/chats/**/*.jsonl",)
    assert config.source("gemini-cli-json").paths == (f"{home}/.gemini/tmp/*/chats/session-*.json",)
    assert config.source("droid").paths == (f"{home}/.factory/sessions/**/*.settings.json",)
    assert f"{home}/.local/share/opencode/opencode.db" in config.source("opencode").paths
    assert f"{home}/.claude/projects/**/*.jsonl" in config.source("claude-code").paths
    assert config.source("codex").paths == (
        f"{home}/.codex/sessions/**/rollout-*.jsonl",
        f"{home}/.codex/archived_sessions/**/rollout-*.jsonl",
    )
    assert config.source("spool").paths == (str(config.spool_dir / "*.jsonl"),)
    assert config.state_dir == home / ".local/state/llm-monitor"
    assert config.ledger_path == home / ".local/state/llm-monitor/ledger.sqlite3"
    assert config.budgets == ()
    assert config.alerts.urls == () and config.alerts.quiet_hours is None
    assert config.alerts.spike_call_cost == 0 and config.alerts.spike_hourly == 0
    assert config.metrics.listen is None
    for source in config.sources:  # the default never crawls all of $HOME
        for glob in source.globs():
            assert glob.root != home and glob.root.is_relative_to(home), glob


def test_default_source_paths_follow_claude_config_dir_and_codex_home(
    tmp_path: Path, env: dict[str, str]
) -> None:
    env["CLAUDE_CONFIG_DIR"] = f"{tmp_path}/c1,{tmp_path}/c2"
    env["CODEX_HOME"] = str(tmp_path / "cx")
    config = load_config(env=env)
    assert config.source("claude-code").paths == (
        f"{tmp_path}/c1/projects/**/*.jsonl",
        f"{tmp_path}/c2/projects/**/*.jsonl",
    )
    assert config.source("codex").paths == (
        f"{tmp_path}/cx/sessions/**/rollout-*.jsonl",
        f"{tmp_path}/cx/archived_sessions/**/rollout-*.jsonl",
    )


def test_default_source_paths_follow_the_agents_environment_variables(
    tmp_path: Path, env: dict[str, str]
) -> None:
    env["GEMINI_CLI_HOME"] = str(tmp_path / "g")
    env["KIMI_SHARE_DIR"] = str(tmp_path / "k")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    config = load_config(env=env)
    assert config.source("gemini-cli-json").paths == (
        f"{tmp_path}/g/.gemini/tmp/*/chats/session-*.json",
    )
    assert config.source("kimi").paths[0] == f"{tmp_path}/k/sessions/**/wire.jsonl"
    assert config.source("goose").paths == (f"{tmp_path}/data/goose/sessions/sessions.db",)


def test_scanning_the_embedded_default_with_no_agent_installed_finds_nothing_wrong(
    home: Path, env: dict[str, str]
) -> None:
    from monitor.ingest import Ingestor
    from monitor.ledger import Ledger
    from monitor.pricing import Pricer

    config = load_config(env=env)
    with Ledger(config.ledger_path, config.tz, config.timezone_name) as ledger:
        report = Ingestor(config.sources, ledger, Pricer(config.prices)).scan(parallel=False)
    assert set(report.sources) == {s.name for s in config.sources}
    for name, counts in report.sources.items():
        assert (counts.files, counts.events, counts.errors, counts.unreadable) == (0, 0, 0, 0), name
    assert not report.retry


def test_every_commented_example_source_is_valid_once_uncommented(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Uncommenting an example must give a working config, not a ConfigError."""
    toml_line = re.compile(r"# (\[\[?[\w.\"-]+\]\]?$|[\w\"][\w.\"-]* = )")
    lines = [
        line[2:] if toml_line.match(line) else line
        for line in (REPO / "config.toml").read_text().splitlines()
    ]
    config = load_config(write(tmp_path / "all.toml", "\n".join(lines)), env=env)
    formats = {s.format for s in config.sources}
    assert formats >= {
        "studio-tokens", "haiku-costs", "openai-tracker", "image-describer-log",
        "image-describer-workspace", "qc-usage-log", "jsonl", "csv", "spool",
    }  # fmt: skip
    assert config.source("my-agent").options["fields"]["tags.project"] == "project"
    assert config.budget("monthly").scope == {"provider": "anthropic"}
    assert config.prices["my-finetune"].cache_write_per_mtok == Decimal("3.75")


# ---------------------------------------------------------------- values


def test_full_config_values_are_typed(tmp_path: Path, env: dict[str, str]) -> None:
    env["ROOT"] = str(tmp_path / "data")
    cfg = write(
        tmp_path / "cfg/config.toml",
        """
        [monitor]
        timezone = "Europe/Berlin"
        state_dir = "state"
        socket = "~/run/mon.sock"

        [[sources]]
        name = "studio"
        format = "studio-tokens"
        paths = ["$ROOT/**/run_*/tokens.jsonl", "rel/*.jsonl"]
        timezone = "America/New_York"
        cost = "reported"
        expect_every = "1h30m"
        enabled = false
        custom_option = 7

        [[budgets]]
        name = "monthly"
        period = "month"
        limit = 50.1
        warn_at = [1.0, 0.8, 0.8]
        forecast = false
        scope = { provider = "anthropic", "tag.project" = "studio" }

        [alerts]
        urls = ["ntfy://topic"]
        apprise_config = "apprise.yml"
        quiet_hours = "22:00-07:00"
        spike = { call_cost = 0.5, hourly = 2 }
        retry_max_seconds = 5

        [prices."my-finetune"]
        input_per_mtok = 3.0
        output_per_mtok = 12

        [metrics]
        listen = "9464"
        """,
    )
    config = load_config(cfg, env=env)
    base = tmp_path / "cfg"
    assert config.timezone_name == "Europe/Berlin" and config.tz == ZoneInfo("Europe/Berlin")
    assert config.state_dir == base / "state"
    assert config.socket_path == tmp_path / "home/run/mon.sock"
    studio = config.source("studio")
    assert studio.paths == (f"{tmp_path}/data/**/run_*/tokens.jsonl", f"{base}/rel/*.jsonl")
    assert studio.timezone == ZoneInfo("America/New_York")
    assert studio.cost == "reported" and not studio.enabled
    assert studio.expect_every == timedelta(hours=1, minutes=30)
    assert studio.options == {"custom_option": 7}
    (budget,) = config.budgets
    assert budget == BudgetConfig(
        name="monthly",
        period="month",
        limit=Decimal("50.1"),
        warn_at=(Decimal("0.8"), Decimal("1.0")),
        forecast=False,
        scope={"provider": "anthropic", "tag.project": "studio"},
    )
    assert config.alerts.urls == ("ntfy://topic",)
    assert config.alerts.apprise_config == base / "apprise.yml"
    assert config.alerts.quiet_hours == (time(22, 0), time(7, 0))
    assert config.alerts.spike_call_cost == Decimal("0.5")
    assert config.alerts.spike_hourly == Decimal(2)
    assert config.alerts.retry_max_seconds == 5.0
    assert config.prices["my-finetune"].input_per_mtok == Decimal("3.0")
    assert config.prices["my-finetune"].cache_read_per_mtok is None
    assert config.metrics.listen == ("127.0.0.1", 9464)


def test_budget_defaults_warn_at_half_eighty_and_full_with_forecast(
    tmp_path: Path, env: dict[str, str]
) -> None:
    cfg = write(tmp_path / "c.toml", '[[budgets]]\nname = "d"\nperiod = "day"\nlimit = 5\n')
    (budget,) = load_config(cfg, env=env).budgets
    assert budget.warn_at == DEFAULT_WARN_AT == (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"))
    assert budget.forecast and budget.scope == {}


def test_nested_tag_keys_are_flattened_in_scopes_and_field_maps(
    tmp_path: Path, env: dict[str, str]
) -> None:
    cfg = write(
        tmp_path / "c.toml",
        """
        [[sources]]
        name = "log"
        format = "jsonl"
        paths = ["*.jsonl"]
        fields = { ts = "time", tags.run = "meta.run" }
        defaults = { provider = "openai", "tags.team" = "core" }

        [[budgets]]
        name = "b"
        period = "week"
        limit = 1
        scope = { tag.project = "x" }
        """,
    )
    config = load_config(cfg, env=env)
    assert config.source("log").options["fields"] == {"ts": "time", "tags.run": "meta.run"}
    assert config.source("log").options["defaults"] == {"provider": "openai", "tags.team": "core"}
    assert config.budget("b").scope == {"tag.project": "x"}


def test_spool_source_is_always_present_and_never_duplicated(
    tmp_path: Path, env: dict[str, str]
) -> None:
    env["XDG_STATE_HOME"] = str(tmp_path / "st")
    empty = load_config(write(tmp_path / "empty.toml", ""), env=env)
    assert [(s.name, s.paths) for s in empty.sources] == [
        ("spool", (f"{tmp_path}/st/llm-monitor/spool/*.jsonl",))
    ]
    listed = write(
        tmp_path / "listed.toml",
        '[[sources]]\nname = "spool"\nformat = "spool"\ntimezone = "UTC"\n',
    )
    (spool,) = load_config(listed, env=env).sources
    assert spool.timezone_name == "UTC"
    assert spool.paths == (f"{tmp_path}/st/llm-monitor/spool/*.jsonl",)


def test_state_dir_and_socket_follow_xdg_unless_set(tmp_path: Path, env: dict[str, str]) -> None:
    cfg = write(tmp_path / "c.toml", "")
    home = Path(env["HOME"])
    plain = load_config(cfg, env=env)
    assert plain.state_dir == home / ".local/state/llm-monitor"
    assert plain.socket_path == plain.state_dir / "llm-monitor.sock"
    xdg = load_config(cfg, env={**env, "XDG_STATE_HOME": "/xs", "XDG_RUNTIME_DIR": "/run/u"})
    assert xdg.state_dir == Path("/xs/llm-monitor")
    assert xdg.spool_dir == Path("/xs/llm-monitor/spool")
    assert xdg.socket_path == Path("/run/u/llm-monitor.sock")
    explicit = write(tmp_path / "e.toml", '[monitor]\nstate_dir = "~/mine"\n')
    assert load_config(explicit, env={**env, "XDG_STATE_HOME": "/xs"}).state_dir == home / "mine"


def test_embedded_default_resolves_relative_paths_against_the_cwd(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(tmp_path / "conf/c.toml", '[[sources]]\nname="s"\nformat="csv"\npaths=["u.csv"]\n')
    monkeypatch.chdir(tmp_path)
    assert load_config(cfg, env=env).source("s").paths == (f"{tmp_path}/conf/u.csv",)


# ---------------------------------------------------------------- time zones and small parsers


def test_local_timezone_comes_from_tz_then_the_system() -> None:
    assert resolve_timezone("local", {"TZ": "Asia/Tokyo"}) == ("Asia/Tokyo", ZoneInfo("Asia/Tokyo"))
    assert resolve_timezone("local", {"TZ": ":America/Denver"})[0] == "America/Denver"
    name, tz = resolve_timezone("local", {})
    assert name
    assert datetime.now(tz).utcoffset() is not None
    link = os.path.realpath("/etc/localtime")
    if "/zoneinfo/" in link:
        assert name == link.partition("/zoneinfo/")[2]


def test_iana_timezone_resolves_and_an_unknown_one_is_a_config_error(
    tmp_path: Path, env: dict[str, str]
) -> None:
    assert resolve_timezone("Europe/Berlin", {}) == ("Europe/Berlin", ZoneInfo("Europe/Berlin"))
    cfg = write(tmp_path / "c.toml", '[monitor]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match=r'c\.toml: monitor\.timezone: unknown time zone "Mars/'):
        load_config(cfg, env=env)


def test_the_range_of_call_times_is_configured_and_checked(
    tmp_path: Path, env: dict[str, str]
) -> None:
    text = '[monitor]\ncalls_since = "2024-06-01"\nfuture_tolerance = "6h"\n'
    [spool] = load_config(write(tmp_path / "c.toml", text), env=env).sources
    assert spool.call_times.since.isoformat() == "2024-06-01T00:00:00+00:00"
    assert spool.call_times.future.total_seconds() == 6 * 3600
    bad = write(tmp_path / "b.toml", '[monitor]\ncalls_since = "last year"\n')
    with pytest.raises(ConfigError, match=r"monitor\.calls_since: expected a date YYYY-MM-DD"):
        load_config(bad, env=env)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22:00-07:00", (time(22), time(7))),
        ("9:30 - 17:45", (time(9, 30), time(17, 45))),
    ],
)
def test_quiet_hours_parse_to_start_and_end(text: str, expected: tuple[time, time]) -> None:
    assert parse_quiet_hours(text) == expected


@pytest.mark.parametrize("text", ["22:00", "22-07", "25:00-07:00", "22:00-22:00", "a-b"])
def test_malformed_quiet_hours_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_quiet_hours(text)


def test_durations_and_listen_addresses_parse() -> None:
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("1d") == timedelta(days=1)
    assert parse_duration("1h 30m") == timedelta(minutes=90)
    for bad in ("", "2", "h", "0m", "2x", "1h-"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_listen(9464) == ("127.0.0.1", 9464)
    assert parse_listen("0.0.0.0:9100") == ("0.0.0.0", 9100)
    assert parse_listen("[::1]:9100") == ("::1", 9100)
    assert parse_listen(":9100") == ("127.0.0.1", 9100)
    for bad_listen in ("host:", "x", "1:99999", True):
        with pytest.raises(ValueError):
            parse_listen(bad_listen)


# ---------------------------------------------------------------- errors name file and key


def test_error_message_names_file_key_expectation_and_value(
    home: Path, env: dict[str, str]
) -> None:
    user_config(home, '[[budgets]]\nname = "monthly"\nperiod = "month"\nlimit = -5\n')
    with pytest.raises(ConfigError) as err:
        load_config(env=env)
    assert str(err.value) == (
        '~/.config/llm-monitor/config.toml: budgets[0] ("monthly").limit: '
        "expected a number ≥ 0, got -5"
    )
    assert err.value.key == 'budgets[0] ("monthly").limit'


SOURCE = '[[sources]]\nname = "studio"\nformat = "studio-tokens"\npaths = ["x"]\n'
BUDGET = '[[budgets]]\nname = "m"\nperiod = "month"\nlimit = 5\n'
LIMIT = '[[limits]]\ntool = "cc"\nwindow = "5h"\n'


def test_a_limit_sizes_the_estimated_window_in_tokens_and_dollars(
    tmp_path: Path, env: dict[str, str]
) -> None:
    cfg = load_config(write(tmp_path / "c.toml", LIMIT + "tokens = 20000000\ncost = 50\n"), env=env)
    [limit] = cfg.limits
    assert (limit.tool, limit.window, limit.tokens, limit.cost) == ("cc", "5h", 20_000_000, 50)


@pytest.mark.parametrize(
    ("toml", "key", "expected"),
    [
        ("colour = 1\n", "colour", "unknown key"),
        ("[monitor]\ntimezon = 'UTC'\n", "monitor.timezon", "unknown key"),
        ("[monitor]\nstate_dir = 3\n", "monitor.state_dir", "expected a string, got 3"),
        ("monitor = 1\n", "monitor", "expected a table"),
        ("sources = 1\n", "sources", "expected an array of tables"),
        ('[[sources]]\nformat = "csv"\n', "sources[0]", "missing `name`"),
        ('[[sources]]\nname = "s"\n', 'sources[0] ("s")', "missing `format`"),
        (SOURCE.replace("studio-tokens", "studo"), 'sources[0] ("studio").format', '"studo"'),
        (SOURCE + SOURCE, 'sources[1] ("studio").name', "duplicate source name"),
        (SOURCE.replace('["x"]', "3"), 'sources[0] ("studio").paths', "list of glob strings"),
        (SOURCE.replace('["x"]', "[]"), 'sources[0] ("studio").paths', "at least one glob"),
        (SOURCE.replace('paths = ["x"]\n', ""), 'sources[0] ("studio")', "no default location"),
        (SOURCE + 'cost = "cheap"\n', 'sources[0] ("studio").cost', '"cheap"'),
        (SOURCE + 'expect_every = "soon"\n', 'sources[0] ("studio").expect_every', '"30m"'),
        (SOURCE + "enabled = 1\n", 'sources[0] ("studio").enabled', "true or false"),
        (SOURCE + 'timezone = "Nowhere"\n', 'sources[0] ("studio").timezone', "unknown time zone"),
        (
            SOURCE + "fields = { tokens = 'u' }\n",
            'sources[0] ("studio").fields.tokens',
            "ts, model",
        ),
        (SOURCE + "fields = { ts = 3 }\n", 'sources[0] ("studio").fields.ts', "got 3"),
        (SOURCE + "input_includes_cache = 'y'\n", 'sources[0] ("studio").input_includes_cache', ""),
        (
            '[[sources]]\nname = "spool"\nformat = "csv"\n',
            'sources[0] ("spool").format',
            "reserved",
        ),
        (BUDGET.replace("limit = 5", "limit = 'lots'"), 'budgets[0] ("m").limit', '"lots"'),
        (BUDGET.replace("month", "year", 1), 'budgets[0] ("m").period', '"year"'),
        (BUDGET.replace('name = "m"\n', ""), "budgets[0]", "missing `name`"),
        (BUDGET.replace("limit = 5\n", ""), 'budgets[0] ("m")', "missing `limit`"),
        (BUDGET + "warn_at = [0.5, 0]\n", 'budgets[0] ("m").warn_at[1]', "got 0"),
        (BUDGET + "warn_at = 0.5\n", 'budgets[0] ("m").warn_at', "list of fractions"),
        (BUDGET + "forecast = 'yes'\n", 'budgets[0] ("m").forecast', "true or false"),
        (BUDGET + "scope = { team = 'x' }\n", 'budgets[0] ("m").scope.team', "tag.KEY"),
        (BUDGET + "scope = { model = 1 }\n", 'budgets[0] ("m").scope.model', "got 1"),
        (BUDGET + "limits = 1\n", 'budgets[0] ("m").limits', "unknown key"),
        (BUDGET + BUDGET, 'budgets[1] ("m").name', "duplicate budget name"),
        ("[alerts]\nurl = []\n", "alerts.url", "unknown key"),
        ("[alerts]\nurls = [1]\n", "alerts.urls[0]", "Apprise URLs"),
        ("[alerts]\nquiet_hours = '22-7'\n", "alerts.quiet_hours", "HH:MM-HH:MM"),
        ("[alerts]\nspike = { call = 1 }\n", "alerts.spike.call", "unknown key"),
        ("[alerts]\nspike = { hourly = -1 }\n", "alerts.spike.hourly", "number ≥ 0, got -1"),
        ("[alerts]\nretry_max_seconds = 0\n", "alerts.retry_max_seconds", "> 0"),
        ('[prices."m"]\ninput = 1\n', 'prices."m".input', "unknown key"),
        ('[prices."m"]\ninput_per_mtok = -1\n', 'prices."m".input_per_mtok', "≥ 0"),
        ("[prices]\nm = {}\n", 'prices."m"', "at least one of"),
        ("[metrics]\nlisten = 'nowhere'\n", "metrics.listen", "host:port"),
        ("[metrics]\nport = 1\n", "metrics.port", "unknown key"),
        (LIMIT + "tokens = -5\n", "limits[0].tokens", "whole number > 0, got -5"),
        (LIMIT + "tokens = 1.5\n", "limits[0].tokens", "whole number > 0"),
        (LIMIT + "cost = 0\n", "limits[0].cost", "> 0"),
        (LIMIT.replace("5h", "7d") + "cost = 9\n", "limits[0].window", "5-hour window only"),
        (LIMIT.replace("5h", "1h"), "limits[0].window", '"5h" or "7d"'),
    ],
)
def test_every_config_mistake_names_the_file_and_the_key(
    tmp_path: Path, env: dict[str, str], toml: str, key: str, expected: str
) -> None:
    cfg = write(tmp_path / "bad.toml", toml)
    with pytest.raises(ConfigError) as err:
        load_config(cfg, env=env)
    assert err.value.file == str(cfg)
    assert err.value.key == key
    assert str(err.value).startswith(f"{cfg}: {key}: ")
    assert expected in err.value.problem


def test_toml_syntax_error_names_file_and_line(tmp_path: Path, env: dict[str, str]) -> None:
    cfg = write(tmp_path / "broken.toml", '[monitor]\ntimezone = "UTC"\nstate_dir = \n')
    with pytest.raises(ConfigError, match=rf"^{tmp_path}/broken\.toml:3:\d+: invalid TOML: "):
        load_config(cfg, env=env)


def test_config_that_is_not_utf8_is_a_config_error(tmp_path: Path, env: dict[str, str]) -> None:
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes(b'[monitor]\ntimezone = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(cfg, env=env)


# ---------------------------------------------------------------- budgets.toml


def test_budgets_file_replaces_by_name_appends_and_removes(
    tmp_path: Path, env: dict[str, str]
) -> None:
    cfg = write(
        tmp_path / "config.toml",
        """
        [[budgets]]
        name = "daily"
        period = "day"
        limit = 2
        [[budgets]]
        name = "monthly"
        period = "month"
        limit = 50
        [[budgets]]
        name = "weekly"
        period = "week"
        limit = 10
        """,
    )
    write(
        tmp_path / "budgets.toml",
        """
        removed = ["weekly"]
        [[budgets]]
        name = "monthly"
        period = "month"
        limit = 80
        [[budgets]]
        name = "openai"
        period = "month"
        limit = 20
        scope = { provider = "openai" }
        """,
    )
    config = load_config(cfg, env=env)
    assert [(b.name, b.limit) for b in config.budgets] == [
        ("daily", Decimal(2)),
        ("monthly", Decimal(80)),
        ("openai", Decimal(20)),
    ]
    assert [b.name for b in config.file_budgets] == ["daily", "monthly", "weekly"]


def test_mistake_in_budgets_file_names_that_file(tmp_path: Path, env: dict[str, str]) -> None:
    cfg = write(tmp_path / "config.toml", "")
    write(tmp_path / "budgets.toml", '[[budgets]]\nname = "x"\nperiod = "day"\nlimit = -1\n')
    with pytest.raises(
        ConfigError, match=rf'^{tmp_path}/budgets\.toml: budgets\[0\] \("x"\)\.limit'
    ):
        load_config(cfg, env=env)
    write(tmp_path / "budgets.toml", 'removed = "x"\n')
    with pytest.raises(ConfigError, match=r"budgets\.toml: removed: expected a list"):
        load_config(cfg, env=env)


def test_budget_set_and_rm_write_budgets_file_and_leave_config_untouched(
    tmp_path: Path, env: dict[str, str]
) -> None:
    cfg = write(
        tmp_path / "config.toml",
        """
        # my comments stay
        [[budgets]]
        name = "monthly"   # inline comment
        period = "month"
        limit = 50
        """,
    )
    before = cfg.read_bytes()
    config = load_config(cfg, env=env)

    daily = make_budget("daily", "day", "2.50", warn_at=[0.9], scope={"tag.project": "x"})
    path = set_budget(config, daily)
    assert path == tmp_path / "budgets.toml"
    config = load_config(cfg, env=env)
    assert config.budgets == (config.file_budgets[0], daily)

    set_budget(config, make_budget("monthly", "month", 75))
    config = load_config(cfg, env=env)
    assert [(b.name, b.limit) for b in config.budgets] == [
        ("monthly", Decimal(75)),
        ("daily", Decimal("2.50")),
    ]

    remove_budget(config, "monthly")
    config = load_config(cfg, env=env)
    assert config.budgets == (daily,)
    with pytest.raises(KeyError):
        remove_budget(config, "monthly")

    assert cfg.read_bytes() == before
    assert sorted(p.name for p in tmp_path.glob("*.toml*")) == ["budgets.toml", "config.toml"]


def test_writing_budgets_replaces_the_file_instead_of_overwriting_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A reader holding the old file sees it whole: the write is a rename, not a rewrite."""
    cfg = write(tmp_path / "config.toml", "")
    config = load_config(cfg, env=env)
    path = set_budget(config, make_budget("a", "day", 1))
    with open(path, "rb") as old:
        old_bytes = path.read_bytes()
        set_budget(load_config(cfg, env=env), make_budget("b", "week", 2))
        assert old.read() == old_bytes
    assert [b.name for b in load_config(cfg, env=env).budgets] == ["a", "b"]


def test_write_budgets_only_records_differences_from_the_config_file(
    tmp_path: Path, env: dict[str, str]
) -> None:
    cfg = write(tmp_path / "config.toml", '[[budgets]]\nname = "m"\nperiod = "month"\nlimit = 5\n')
    config = load_config(cfg, env=env)
    write_budgets(config, config.budgets)
    assert tomllib.loads((tmp_path / "budgets.toml").read_text()) == {}
    # so a later edit of config.toml still takes effect
    write(cfg, '[[budgets]]\nname = "m"\nperiod = "month"\nlimit = 9\n')
    assert load_config(cfg, env=env).budget("m").limit == Decimal(9)


def test_budgets_set_without_a_config_file_apply_to_the_embedded_default(
    tmp_path: Path, home: Path, env: dict[str, str]
) -> None:
    pytest.importorskip("monitor.sources.claude_code", reason="claude-code adapter not written yet")
    pytest.importorskip("monitor.sources.codex", reason="codex adapter not written yet")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    path = set_budget(load_config(env=env), make_budget("m", "month", "12.34"))
    assert path == tmp_path / "xdg/llm-monitor/budgets.toml"
    assert not (tmp_path / "xdg/llm-monitor/config.toml").exists()
    config = load_config(env=env)
    assert config.path is None
    assert config.budget("m").limit == Decimal("12.34")


def test_make_budget_reports_bad_values_by_key() -> None:
    with pytest.raises(ConfigError) as err:
        make_budget("x", "month", -3)
    assert err.value.key == "limit"
    with pytest.raises(ConfigError) as err:
        make_budget("x", "fortnight", 3)
    assert err.value.key == "period"


# ---------------------------------------------------------------- import cost


@pytest.mark.e2e
def test_importing_config_pulls_in_no_heavy_or_adapter_module() -> None:
    code = (
        "import sys, monitor.config\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('genai_prices', 'textual', 'apprise', 'msgspec', 'tomli_w')"
        " or m.startswith('monitor.sources.') and m not in "
        "('monitor.sources.base',)]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


def test_a_bad_alert_url_list_never_echoes_the_urls(tmp_path: Path, env: dict[str, str]) -> None:
    cfg = write(tmp_path / "bad.toml", '[alerts]\nurls = ["tgram://123:AAsecret/4567", ""]\n')
    with pytest.raises(ConfigError) as err:
        load_config(cfg, env=env)
    assert err.value.key == "alerts.urls[1]"
    assert "AAsecret" not in str(err.value)
