"""``overflow_policy`` for a bounded queue: the one implementation the logging buffer and the
backend queues (without a journal) share.

Among plain records (the logging buffer's), an artifact record is never dropped: artifacts are
few, a typed artifact's version is copied into the run folder when it is logged (dropping its
record would leave that copy with no journal line, out of reach of ``tracelet sync``), and a
dropped file could not be told from a lost one. The other records make up the excess.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from tracelet.records import Artifact

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
        ``drop_oldest``, else the newest; an artifact record stays, in its place among the
        records kept. Otherwise items go oldest first, ``size(item)``
        giving an item's record count, or ``None`` for an item that must stay (a request).
        """
        self.warn()
        gone = 0
        if size is None:
            oldest = self.policy == "drop_oldest"
            pop = queue.popleft if oldest else queue.pop
            spared = []
            while gone < excess:
                try:
                    record = pop()
                except IndexError:  # emptied meanwhile by the router
                    break
                if isinstance(record, Artifact):
                    spared.append(record)
                else:
                    gone += 1
            if spared:  # back at the end they came from, in their order
                (queue.extendleft if oldest else queue.extend)(reversed(spared))
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
