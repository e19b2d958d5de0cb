"""``overflow_policy`` for a bounded queue: the one implementation the logging buffer and the
backend queues (without a journal) share."""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracelet.settings.model import OverflowPolicy

logger = logging.getLogger("tracelet.dispatch")


class Overflow:
    """``overflow_policy`` for one queue: warns once, counts what it drops."""

    def __init__(self, what: str, bound: int, policy: OverflowPolicy) -> None:
        self.what = what
        self.bound = bound
        self.policy = policy
        self.dropped = 0
        self._warned = False

    def warn(self) -> None:
        if not self._warned:
            self._warned = True
            effect = (
                "logging calls wait until there is room"
                if self.policy == "block"
                else "drops are counted in run.stats()"
            )
            logger.warning(
                "tracelet: %s: more than %d records waiting; overflow_policy=%s: %s "
                "(reported once)",
                self.what,
                self.bound,
                self.policy,
                effect,
            )

    def shed(self, queue: deque[Any], excess: int, size: Any = None) -> int:
        """Drop ``excess`` records from ``queue`` and return how many went.

        Plain records (``size`` is ``None``) go from the end the policy names: the oldest with
        ``drop_oldest``, else the newest. Otherwise items go oldest first, ``size(item)``
        giving an item's record count, or ``None`` for an item that must stay (a request).
        """
        self.warn()
        gone = 0
        if size is None:
            pop = queue.popleft if self.policy == "drop_oldest" else queue.pop
            while gone < excess:
                try:
                    pop()
                except IndexError:  # emptied meanwhile by the router
                    break
                gone += 1
        else:
            kept = []
            while queue and gone < excess:
                item = queue.popleft()
                n = size(item)
                if n is None:
                    kept.append(item)
                else:
                    gone += n
            queue.extendleft(reversed(kept))
        self.dropped += gone
        return gone
