"""The commands that set llm-monitor up and check it: `init`, `budget`, `price`,
`notify-test`, `completion`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from monitor.cli_common import EXIT_FAIL, EXIT_OK, CommandError, config_of

if TYPE_CHECKING:
    import argparse

    from monitor.wire import BudgetEntry


def cmd_init(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from monitor.init_cmd import InitError, found_sources, init, own_root_around

    if args.print_default:
        from monitor.config import default_config_text

        sys.stdout.write(default_config_text())
        return EXIT_OK
    target = args.path or getattr(args, "config", None)
    try:
        path, text = init(Path(target) if target else None, args.force, Path.cwd(), os.environ)
    except InitError as exc:
        raise CommandError(str(exc)) from None
    names = list(found_sources(text))
    print(f"wrote {path}")
    print("sources: " + (", ".join(names) if names else "none found (edit the file to add some)"))
    own = own_root_around(Path.cwd())
    if own is not None:
        print(
            f"note: not searched below {own}, llm-monitor's own files (its examples/ are "
            "sample data); run `llm-monitor init` where your tools write their files",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_budget(args: argparse.Namespace) -> int:
    import json

    from monitor import budget_cmd

    config = config_of(args)
    if args.action == "list":
        from monitor.api import ApiError, snapshot_sync

        daemon_entries: list[BudgetEntry] | None = None
        try:
            daemon_entries = list(snapshot_sync(config.socket_path, timeout=2.0).get("budgets", []))
        except ApiError:
            daemon_entries = None
        # The daemon may not have reloaded budgets.toml yet: the files decide which budgets.
        entries = budget_cmd.list_entries(config, daemon_entries)
        if args.json:
            print(json.dumps(entries, indent=2))
        else:
            print(budget_cmd.render_budgets(entries))
        return EXIT_OK
    if args.action == "set":
        forecast = None if args.forecast is None else args.forecast
        path = budget_cmd.budget_set(
            config,
            args.name,
            limit=args.limit,
            period=args.period,
            warn_at=args.warn_at,
            scope=args.scope,
            forecast=forecast,
        )
        print(f"budget {args.name!r} saved to {path} (a running daemon picks it up)")
        return EXIT_OK
    path = budget_cmd.budget_rm(config, args.name)
    print(f"budget {args.name!r} removed ({path})")
    return EXIT_OK


def cmd_price(args: argparse.Namespace) -> int:
    from datetime import datetime

    from monitor.price_info import format_price_info
    from monitor.pricing import Pricer

    config = config_of(args)
    when = datetime.fromisoformat(args.at) if args.at else None
    info = Pricer(config.prices).price_info(args.model, args.provider, when)
    if info is None:
        print(
            f"{args.model}: no price known (calls to it are counted as unpriced). "
            f'Add [prices."{args.model}"] to the config to price it.',
            file=sys.stderr,
        )
        return EXIT_FAIL
    print(format_price_info(info))
    return EXIT_OK


def cmd_notify_test(args: argparse.Namespace) -> int:
    from monitor.notify import notify_test, render_test_results

    config = config_of(args)
    rows = notify_test(config)
    print(render_test_results(rows))
    return EXIT_OK if rows and all(ok for _, ok, _ in rows) else EXIT_FAIL


def cmd_completion(args: argparse.Namespace) -> int:
    from monitor.completion import completion_script

    sys.stdout.write(completion_script(args.shell))
    return EXIT_OK
