"""Sens rechecks as a sans-IO tally (check-types.md §2.2): feed it each run's outcome, it says what next.

A state change needs ``sens + 1`` consecutive runs that disagree with the last confirmed state; a
single run that agrees discards the blip. A check with no state yet is decided by the first outcome to
reach ``sens + 1`` runs (with ``sens == 0`` it still rechecks once and the second run decides).
Configuration errors are final at once. The worker drives the tally and owns where and when rechecks run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SensTally:
    confirmed_state: int | None
    sens: int
    passes: int = 0
    fails: int = 0
    runs: int = 0
    final: bool | None = None
    """The decided outcome (True = up) once the tally is complete, else None."""

    def add(self, success: bool, *, config_error: bool = False) -> bool:
        """Record one run; return True when the outcome is final (``self.final`` is then set)."""
        self.runs += 1
        if success:
            self.passes += 1
        else:
            self.fails += 1
        if config_error:
            self.final = success
        elif self.confirmed_state is None:
            self._decide_new_check(success)
        else:
            self._decide_existing_check(success)
        return self.final is not None

    def _decide_existing_check(self, success: bool) -> None:
        if int(success) == self.confirmed_state:
            self.final = success  # agrees with the confirmed state: nothing changes, the blip is discarded
        elif self.runs >= self.sens + 1:
            self.final = success  # sens + 1 consecutive disagreeing runs: the change is confirmed

    def _decide_new_check(self, success: bool) -> None:
        if self.sens == 0:
            if self.runs >= 2:
                self.final = success
        elif self.passes > self.sens:
            self.final = True
        elif self.fails > self.sens:
            self.final = False

    @property
    def changes_state(self) -> bool:
        return self.final is not None and (
            self.confirmed_state is None or int(self.final) != self.confirmed_state
        )
