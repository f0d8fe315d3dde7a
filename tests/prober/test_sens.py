"""Sens rechecks (check-types.md §2.2): the SensTally table, a reference check, and the worker driving it.

Outcome strings: ``U`` a passing run, ``D`` a failing run, ``C`` a configuration error (a failing run
that must never be rechecked).
"""

from __future__ import annotations

import itertools
import time
import types
from collections.abc import Callable
from typing import Any

import pytest

from prober.base import CheckContext, CheckParams, CheckResult, ConfigError
from prober.bus import InProcessBus
from prober.messages import Job
from prober.registry import Registry, check_type_from_module
from prober.sens import SensTally
from prober.worker import ProbeWorker

# (confirmed_state, sens, outcomes, final outcome); the number of runs until final is len(outcomes).
TALLY_CASES: dict[str, tuple[int | None, int, str, bool]] = {
    # --- existing check, up ----------------------------------------------------------------------
    "up sens0: agreeing run is final at once": (1, 0, "U", True),
    "up sens0: one failing run changes state": (1, 0, "D", False),
    "up sens1: agreeing run is final at once": (1, 1, "U", True),
    "up sens1: 2 failing runs confirm down": (1, 1, "DD", False),
    "up sens1: blip discarded by the recheck": (1, 1, "DU", True),
    "up sens2: agreeing run is final at once": (1, 2, "U", True),
    "up sens2: 3 failing runs confirm down": (1, 2, "DDD", False),
    "up sens2: blip discarded on first recheck": (1, 2, "DU", True),
    "up sens2: blip discarded on last recheck": (1, 2, "DDU", True),
    "up sens3: 4 failing runs confirm down": (1, 3, "DDDD", False),
    "up sens3: blip discarded on third recheck": (1, 3, "DDDU", True),
    # --- existing check, down --------------------------------------------------------------------
    "down sens0: agreeing run is final at once": (0, 0, "D", False),
    "down sens0: one passing run recovers": (0, 0, "U", True),
    "down sens2: agreeing run is final at once": (0, 2, "D", False),
    "down sens2: 3 passing runs confirm up": (0, 2, "UUU", True),
    "down sens2: recovery blip discarded on first recheck": (0, 2, "UD", False),
    "down sens2: recovery blip discarded on last recheck": (0, 2, "UUD", False),
    "down sens1: 2 passing runs confirm up": (0, 1, "UU", True),
    "down sens3: 4 passing runs confirm up": (0, 3, "UUUU", True),
    # --- new check: first outcome to reach sens+1 wins; sens 0 still rechecks once ----------------
    "new sens0: second run decides (up, up)": (None, 0, "UU", True),
    "new sens0: second run decides (up, down)": (None, 0, "UD", False),
    "new sens0: second run decides (down, up)": (None, 0, "DU", True),
    "new sens0: second run decides (down, down)": (None, 0, "DD", False),
    "new sens1: 2 passes": (None, 1, "UU", True),
    "new sens1: 2 fails": (None, 1, "DD", False),
    "new sens1: mixed, up wins on third run": (None, 1, "UDU", True),
    "new sens1: mixed, down wins on third run": (None, 1, "DUD", False),
    "new sens2: 3 passes": (None, 2, "UUU", True),
    "new sens2: 3 fails": (None, 2, "DDD", False),
    "new sens2: up wins on fourth run": (None, 2, "UUDU", True),
    "new sens2: down wins on fourth run": (None, 2, "DDUD", False),
    "new sens2: alternating up wins on 2S+1": (None, 2, "UDUDU", True),
    "new sens2: alternating down wins on 2S+1": (None, 2, "DUDUD", False),
    "new sens3: 4 passes": (None, 3, "UUUU", True),
    "new sens3: alternating up wins on 2S+1": (None, 3, "UDUDUDU", True),
    "new sens3: alternating down wins on 2S+1": (None, 3, "DUDUDUD", False),
    # --- configuration errors are final at once, never rechecked ----------------------------------
    "config error, up sens2": (1, 2, "C", False),
    "config error, down sens2": (0, 2, "C", False),
    "config error, new sens3": (None, 3, "C", False),
    "config error, new sens0": (None, 0, "C", False),
    "config error on a recheck is final": (1, 2, "DC", False),
    "config error on a new check's recheck is final": (None, 2, "UC", False),
}


def feed(tally: SensTally, outcome: str) -> bool:
    return tally.add(outcome == "U", config_error=outcome == "C")


@pytest.mark.parametrize(
    ("state", "sens", "outcomes", "final"), list(TALLY_CASES.values()), ids=list(TALLY_CASES)
)
def test_sens_tally(state: int | None, sens: int, outcomes: str, final: bool) -> None:
    tally = SensTally(state, sens)
    decided = [feed(tally, outcome) for outcome in outcomes]
    assert decided == [False] * (len(outcomes) - 1) + [True], "final only after the last run"
    assert tally.runs == len(outcomes)
    assert tally.final is final
    assert tally.passes == outcomes.count("U")
    assert tally.fails == len(outcomes) - outcomes.count("U")
    assert tally.changes_state is (state is None or int(final) != state)


def test_an_undecided_tally_changes_nothing() -> None:
    tally = SensTally(1, 2)
    assert not tally.add(False)
    assert tally.final is None and not tally.changes_state


# --- the same rules, brute-forced against the spec's own algorithm ------------------------------------


def spec_algorithm(state: int | None, sens: int, runs: Callable[[], bool]) -> tuple[int, bool]:
    """check-types.md §2.2 written as the AGENT does it (retry counter, pass/fail counts).

    Returns (number of runs, final outcome).
    """
    count = 1
    outcome = runs()
    if state is not None:
        if int(outcome) == state or sens == 0:
            return count, outcome
        retry = 1
        while True:
            count += 1
            outcome = runs()
            if int(outcome) == state:
                return count, outcome
            if retry >= sens:
                return count, outcome
            retry += 1
    passes, fails = int(outcome), int(not outcome)
    while True:
        count += 1
        outcome = runs()
        passes += int(outcome)
        fails += int(not outcome)
        if sens == 0:
            return count, outcome
        if passes > sens:
            return count, True
        if fails > sens:
            return count, False


@pytest.mark.parametrize("sens", [0, 1, 2, 3])
@pytest.mark.parametrize("state", [None, 0, 1], ids=["new", "down", "up"])
def test_tally_matches_the_spec_for_every_sequence(state: int | None, sens: int) -> None:
    longest = 2 * sens + 2
    for sequence in itertools.product([True, False], repeat=longest):
        expected_runs, expected_final = spec_algorithm(state, sens, iter(sequence).__next__)
        assert expected_runs <= (sens + 1 if state is not None else max(2 * sens + 1, 2))
        tally = SensTally(state, sens)
        for success in sequence:
            if tally.add(success):
                break
        assert (tally.runs, tally.final) == (expected_runs, expected_final), sequence


# --- the worker drives the tally ------------------------------------------------------------------------


class ScriptParams(CheckParams):
    TARGET_REQUIRED = False


class ScriptedType:
    """A check type whose runs return the next result of a script (``U``, ``D`` or ``C``)."""

    def __init__(self, script: str) -> None:
        self.script = list(script)
        self.calls: list[tuple[ScriptParams, CheckContext]] = []

    async def run(self, params: ScriptParams, ctx: CheckContext) -> CheckResult:
        self.calls.append((params, ctx))
        step = self.script.pop(0)
        if step == "C":
            raise ConfigError("no target")
        if step == "U":
            return CheckResult.up("OK", f"run {len(self.calls)} passed")
        return CheckResult.down("Refused", f"run {len(self.calls)} failed")

    def registry(self) -> Registry:
        module = types.ModuleType("scripted_checktype", "SCRIPTED: runs from a script.")
        module.NAME = "SCRIPTED"  # type: ignore[attr-defined]
        module.Params = ScriptParams  # type: ignore[attr-defined]
        module.run = self.run  # type: ignore[attr-defined]
        return Registry([check_type_from_module(module, "test")])


class RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def job(*, state: int | None, sens: int, dep_state: int | None = None, **extra: Any) -> Job:
    return Job(
        job_id="job-1",
        check_id="201911191441YYGAX-AAAAAAAA",
        account_id="201911191441YYGAX",
        type="scripted",
        target="example.test",
        threshold=7,
        sens=sens,
        scheduled=1_700_000_000_000,
        state=state,
        dep_state=dep_state,
        **extra,
    )


async def confirm(
    script: str, the_job: Job, *, delay: float = 1.5
) -> tuple[Any, ScriptedType, RecordingSleep]:
    check_type = ScriptedType(script)
    sleep = RecordingSleep()
    worker = ProbeWorker(
        InProcessBus(), check_type.registry(), probe_id="ld1", recheck_delay=delay, sleep=sleep
    )
    report = await worker.confirm_with_rechecks(the_job)
    assert check_type.script == [], "every scripted run was used"
    return report, check_type, sleep


async def test_a_blip_is_reported_as_the_old_state_with_every_attempt() -> None:
    report, check_type, sleep = await confirm("DDU", job(state=1, sens=2))
    assert report.success is True
    assert (report.status, report.code, report.message) == ("up", "OK", "run 3 passed")
    assert len(check_type.calls) == 3
    assert len(report.locations) == 3, report.locations  # every attempt, not only the final run
    assert set(report.locations.values()) == {"ld1"}
    assert sorted(int(k) for k in report.locations) == [int(k) for k in report.locations]
    assert min(int(k) for k in report.locations) <= report.start <= max(int(k) for k in report.locations)
    assert sleep.calls == [1.5, 1.5]
    assert not report.dep_down and not report.config_error


async def test_attempts_in_the_same_millisecond_stay_separate(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen = types.SimpleNamespace(time=lambda: 1_700_000_000.0, perf_counter=time.perf_counter)
    monkeypatch.setattr("prober.runner.time", frozen)
    report, _, _ = await confirm("DDD", job(state=1, sens=2), delay=0)
    assert len(report.locations) == 3
    assert report.start == 1_700_000_000_000


async def test_a_confirmed_change_takes_sens_plus_one_runs() -> None:
    for sens in range(4):
        report, check_type, sleep = await confirm("D" * (sens + 1), job(state=1, sens=sens))
        assert report.success is False and report.code == "Refused"
        assert len(check_type.calls) == len(report.locations) == sens + 1
        assert sleep.calls == [1.5] * sens  # a sleep between runs, none after the last


async def test_an_agreeing_run_is_final_at_once() -> None:
    report, _, sleep = await confirm("D", job(state=0, sens=3))
    assert report.success is False
    assert len(report.locations) == 1
    assert sleep.calls == []


async def test_a_new_check_with_sens_zero_still_rechecks_once() -> None:
    report, _, sleep = await confirm("UD", job(state=None, sens=0), delay=0.25)
    assert report.success is False
    assert len(report.locations) == 2
    assert sleep.calls == [0.25]


async def test_a_configuration_error_is_never_rechecked() -> None:
    report, _, sleep = await confirm("C", job(state=1, sens=2))
    assert report.success is False and report.config_error
    assert report.message == "no target"
    assert sleep.calls == []
    assert len(report.locations) == 1


@pytest.mark.parametrize(
    ("dep_state", "dep_down"), [(0, True), (1, False), (None, False)], ids=["dep down", "dep up", "no dep"]
)
async def test_dep_state_down_marks_the_report(dep_state: int | None, dep_down: bool) -> None:
    report, _, _ = await confirm("DDD", job(state=1, sens=2, dep_state=dep_state))
    assert report.success is False
    assert report.dep_down is dep_down


async def test_the_run_gets_the_job_as_context() -> None:
    the_job = job(state=1, sens=1, member_states={"m1": 1})
    report, check_type, _ = await confirm("U", the_job)
    (params, ctx), *_ = check_type.calls
    assert isinstance(params, ScriptParams)
    assert (ctx.target, ctx.threshold, ctx.timeout) == ("example.test", 7, 7.0)
    assert (ctx.check_id, ctx.probe_id, dict(ctx.member_states)) == (the_job.check_id, "ld1", {"m1": 1})
    assert report.job == the_job and report.probe == "ld1"


async def test_an_unknown_type_is_a_configuration_error() -> None:
    sleep = RecordingSleep()
    worker = ProbeWorker(InProcessBus(), Registry(), sleep=sleep)
    report = await worker.confirm_with_rechecks(job(state=1, sens=2))
    assert report.config_error and not report.success
    assert "SCRIPTED" in report.message.upper()
    assert sleep.calls == []
