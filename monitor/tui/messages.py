"""The Textual messages the feed posts to the dashboard: small typed values.

Like toolong's `messages.py`: the reader side builds them, the App handles them. A link
change supersedes the one still queued before it; feed batches are already reduced by
the reader (a later totals document replaces an earlier one inside the batch), and every
batch must be applied, so they never replace each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from monitor.tui.feed import Link
from monitor.tui.state import FeedBatch


@dataclass
class FeedUpdate(Message, bubble=False):
    """What the daemon sent since the previous update."""

    batch: FeedBatch


@dataclass
class LinkChanged(Message, bubble=False):
    """The connection to the daemon came up, went down, or is being retried."""

    link: Link

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LinkChanged)
