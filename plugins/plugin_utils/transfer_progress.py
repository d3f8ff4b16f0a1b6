# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Progress lines of long file transfers (bytes done and total, rate, ETA), printed at -v.

A transfer says nothing for its first `after` seconds, then one line at most every `every` seconds, and
a closing line (size, time, rate) when it ends, if it took that long. Lines name paths and sizes only.
"""

from __future__ import annotations

import time
import typing as t

from ansible.utils.display import Display

display = Display()

DEFAULT_AFTER = 3.0  # seconds of silence before the first line: short transfers say nothing
DEFAULT_EVERY = 5.0  # seconds between two lines
KiB = 1024.0


class TransferProgress:
    """Feed it the bytes moved so far (`update`, after each chunk), then `finish` once the transfer is complete."""

    def __init__(
        self,
        emit: t.Callable[[str], None],
        label: str,
        total: int | None = None,
        after: float = DEFAULT_AFTER,
        every: float = DEFAULT_EVERY,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.emit = emit
        self.label = label
        self.total = total  # None: unknown (a fetch without a stat), no percentage or ETA
        self.after = after
        self.every = every
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.last_line: float | None = None  # when the last progress line was printed

    def update(self, done: int) -> None:
        """`done` bytes have moved; print a line when the transfer has run long enough and none was printed lately."""
        self.done = done
        now = self.clock()
        elapsed = now - self.started
        if elapsed < self.after or (self.last_line is not None and now - self.last_line < self.every):
            return
        if self.total is not None and done >= self.total:
            return  # the closing line follows
        self.last_line = now
        self.emit("%s: %s" % (self.label, self._progress_text(elapsed)))

    def finish(self) -> None:
        """The transfer is complete: print its size, time and rate if it ran long enough to be reported."""
        elapsed = self.clock() - self.started
        if elapsed < self.after and self.last_line is None:
            return
        self.emit("%s: done, %s in %s (%s)" % (
            self.label, format_size(self.done), format_duration(elapsed), format_rate(self.done, elapsed)))

    def _progress_text(self, elapsed: float) -> str:
        rate = format_rate(self.done, elapsed)
        if self.total is None:
            return "%s at %s" % (format_size(self.done), rate)
        percent = 100 * self.done // self.total if self.total else 100
        text = "%s of %s (%d%%) at %s" % (format_size(self.done), format_size(self.total), percent, rate)
        if self.done > 0 and elapsed > 0:
            text += ", ETA %s" % format_duration((self.total - self.done) * elapsed / self.done)
        return text


def format_size(size: float) -> str:
    """Bytes as people read them: 512 B, 1.5 KiB, 64.0 MiB, 2.0 GiB."""
    if size < KiB:
        return "%d B" % size
    for unit in ("KiB", "MiB", "GiB"):
        size /= KiB
        if size < KiB or unit == "GiB":
            break
    return "%.1f %s" % (size, unit)


def format_rate(size: int, seconds: float) -> str:
    """The average rate of `size` bytes in `seconds` (0 seconds: nothing measurable yet)."""
    if seconds <= 0:
        return "- B/s"
    return "%s/s" % format_size(size / seconds)


def format_duration(seconds: float) -> str:
    """4.2 s under a minute, then 1m05s, then 2h03m."""
    if round(seconds, 1) < 60:
        return "%.1f s" % seconds
    whole = round(seconds)
    if whole < 3600:
        return "%dm%02ds" % divmod(whole, 60)
    return "%dh%02dm" % (whole // 3600, whole % 3600 // 60)


def displayed_progress(host: str, label: str, total: int | None, after: float) -> TransferProgress:
    """A reporter whose lines go to Ansible's display at -v, with `host` (quiet at the default verbosity)."""
    return TransferProgress(lambda text: display.v(text, host=host), label, total, after=after)
