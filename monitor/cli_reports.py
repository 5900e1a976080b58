"""The reading commands: `status`, `report`, `compare`, `estimate`.

They answer from the daemon when one runs (`status`) or from the ledger opened read-only,
and import what they need inside each function: `report` and `status` must start in a
few tens of milliseconds, without genai-prices, textual or apprise.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from monitor.cli_common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    config_of,
    key_values,
    quick_args,
    read_ledger,
)

if TYPE_CHECKING:
    import argparse
    from datetime import date

    from monitor.config import Config


def cmd_status(args: argparse.Namespace) -> int:
    import json

    config = config_of(args)
    doc: Mapping[str, Any] | None = None
    if config.socket_path.exists():  # else no daemon runs: spare loading its client
        from monitor.api import ApiError, status_sync

        try:
            doc = status_sync(config.socket_path, timeout=2.0)
        except ApiError:
            doc = None
    if doc is None:
        from monitor.status import status_from_ledger

        doc = read_ledger(config, lambda ledger: status_from_ledger(config, ledger))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        from monitor.status import render_status

        print(render_status(doc))
    return EXIT_OK


def status_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """`status`'s few arguments read without argparse (`quick_args`): a status bar or a
    watch loop runs it every few seconds."""
    return quick_args(argv, "status", cmd_status, flags=("json",))


def _selection_error(exc: ValueError) -> CommandError:
    return CommandError(str(exc), EXIT_USAGE)


def _today(config: Config) -> date:
    """The local date now in the configured zone: what relative dates count from."""
    from datetime import UTC, datetime

    from monitor.periods import local_day

    return local_day(datetime.now(UTC), config.tz)


def cmd_report(args: argparse.Namespace) -> int:
    from monitor.ledger.query import query
    from monitor.ledger.selection import selection
    from monitor.report import render_report

    config = config_of(args)
    group_by = [g.strip() for item in args.by or [] for g in item.split(",") if g.strip()]
    where = key_values(args.where, "--where")
    try:
        # `selection` reads --since/--until with `parse_bound`, as selections do.
        sel = selection(
            since=args.since,
            until=args.until,
            sources=tuple(args.source or ()),
            where=where,
            today=_today(config),
        )
        result = read_ledger(config, lambda ledger: query(ledger.db, group_by, sel, config.tz))
    except ValueError as exc:
        raise _selection_error(exc) from None
    sys.stdout.write(render_report(result, args.format, only_drifting=args.drift))
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from monitor.compare import compare, render_comparison
    from monitor.ledger.selection import parse_selection

    config = config_of(args)
    try:
        today = _today(config)
        a, b = parse_selection(args.a, today=today), parse_selection(args.b, today=today)
        result = read_ledger(config, lambda ledger: compare(ledger.db, a, b, config.tz))
    except ValueError as exc:
        raise _selection_error(exc) from None
    sys.stdout.write(render_comparison(result, args.format))
    return EXIT_OK


def _cli_pricer(config: Config) -> Callable[[str, str | None, int, int, int, int], Any]:
    """`estimate`'s price function (`monitor.estimate.Pricer`): the cost of one call of
    `model` at today's prices."""
    from datetime import UTC, datetime

    from monitor.events import UsageEvent
    from monitor.pricing import Pricer
    from monitor.sources.common import provider_and_model

    pricer = Pricer(config.prices)
    now = datetime.now(UTC)

    def price(
        model: str,
        provider: str | None,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        cache_write_tokens: int,
    ) -> Any:
        provider, model = provider_and_model(provider, model)
        event = UsageEvent(
            key="estimate",
            ts=now,
            source="estimate",
            provider=provider,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        return pricer.price(event)

    return price


def _named(model: str | None, provider: str | None) -> tuple[str | None, str | None]:
    """`--model` and `--provider` as the estimate shows them: a `vendor/model` name as the
    vendor's bare model ("openai/gpt-5" → gpt-5, openai), as events store it."""
    from monitor.sources.common import provider_and_model, split_model

    if model is None or split_model(model)[0] is None:
        return model, provider
    provider, model = provider_and_model(provider, model)
    return model, provider


def cmd_estimate(args: argparse.Namespace) -> int:
    from monitor.estimate import estimate, estimate_like, render_estimate
    from monitor.ledger.selection import parse_selection

    config = config_of(args)
    price = _cli_pricer(config)
    model, provider = _named(args.model, args.provider)
    try:
        if args.like:
            like = parse_selection(args.like, today=_today(config))
            result = read_ledger(
                config,
                lambda ledger: estimate_like(
                    ledger.db,
                    like,
                    config.tz,
                    calls=args.calls,
                    model=model,
                    provider=provider,
                    price=price if model else None,
                ),
            )
        else:
            if not model or args.avg_input is None or args.avg_output is None:
                raise CommandError(
                    "estimate needs --model with --avg-input and --avg-output, or --like SELECTION",
                    EXIT_USAGE,
                )
            result = estimate(
                price,
                model=model,
                calls=args.calls,
                avg_input=args.avg_input,
                avg_output=args.avg_output,
                provider=provider,
            )
    except ValueError as exc:
        raise _selection_error(exc) from None
    sys.stdout.write(render_estimate(result, args.format))
    return EXIT_OK
