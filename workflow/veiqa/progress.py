"""Progress of long work, never on stdout: a bar on a terminal's stderr, periodic lines when stderr is a file or a
pipe, or lines to a logger (the workflow's jobs).

:class:`Progress` counts items (images, pairs) and reports done/total, the rate (items/s) and the time left.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """``done/total`` of a job, reported to ``stream`` (default stderr) or ``log`` (a :class:`logging.Logger`).

    On a terminal (``stream.isatty()``) one line is redrawn as a bar after each update; otherwise (a file, a pipe, a
    logger) a line is written at most every ``interval`` seconds, and always for the last item. ``enabled=False``
    reports nothing.
    """

    def __init__(self, total: int, what: str = "items", desc: str = "veiqa", *, stream: TextIO | None = None,
                 log=None, interval: float = 10.0, enabled: bool = True, clock: Callable[[], float] = time.monotonic):
        self.total, self.what, self.desc = int(total), what, desc
        self.stream = stream if stream is not None else sys.stderr
        self.log, self.interval, self.enabled, self.clock = log, float(interval), enabled, clock
        self.bar = log is None and bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.start = self.last = clock()

    def line(self) -> str:
        elapsed = max(self.clock() - self.start, 1e-9)
        rate = self.done / elapsed
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        text = f"{self.desc}: {self.done}/{self.total} {self.what}{pct}, {rate:.2f} {self.what}/s"
        if self.done < self.total and rate > 0:
            text += f", {_duration((self.total - self.done) / rate)} left"
        elif self.done >= self.total:
            text += f", {_duration(elapsed)} in all"
        return text

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = self.clock()
        last = self.done >= self.total
        if self.bar:
            width = 24
            fill = int(width * self.done / self.total) if self.total else width
            self.stream.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {self.line()}\x1b[K" + ("\n" if last else ""))
            self.stream.flush()
        elif last or now - self.last >= self.interval:
            if self.log is not None:
                self.log.info("%s", self.line())
            else:
                print(self.line(), file=self.stream, flush=True)
            self.last = now
