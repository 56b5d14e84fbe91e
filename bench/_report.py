"""Summaries, ratios against the design targets, and the printed table."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Case -> (label in the table, metric key, unit). Lower is better for "us".
CASE_INFO: dict[str, tuple[str, str, str]] = {
    "sqlite_insert": ("raw SQLite INSERT (stdlib sqlite3, autocommit)", "per_insert_us", "us"),
    "postgres_insert": ("raw PostgreSQL INSERT (asyncpg, autocommit)", "per_insert_us", "us"),
    "sqlite_insert_after": ("  the same, after the Polos steps cases", "per_insert_us", "us"),
    "postgres_insert_after": ("  the same, after the Polos steps cases", "per_insert_us", "us"),
    "polos_steps": ("Polos: one trivial async def step (N in one run)", "per_step_us", "us"),
    "polos_steps_plain": ("Polos: one trivial plain def step (adaptive)", "per_step_us", "us"),
    "polos_steps_inline": ("Polos: one plain def step, @step(inline=True)", "per_step_us", "us"),
    "dbos_steps_sync": ("DBOS sync: one trivial step", "per_step_us", "us"),
    "dbos_steps_async": ("DBOS async: one trivial step", "per_step_us", "us"),
    "polos_replay": ("Polos: replay one recorded step", "per_step_us", "us"),
    "polos_throughput": ("Polos: 3-step workflows, one worker", "workflows_per_s", "wf/s"),
    "dbos_throughput_sync": ("DBOS sync: 3-step workflows", "workflows_per_s", "wf/s"),
    "dbos_throughput_async": ("DBOS async: 3-step workflows", "workflows_per_s", "wf/s"),
    "polos_throughput_concurrent": (
        "Polos: 3-step wfs, concurrent callers",
        "workflows_per_s",
        "wf/s",
    ),
    "dbos_throughput_concurrent": (
        "DBOS async: 3-step wfs, concurrent callers",
        "workflows_per_s",
        "wf/s",
    ),
    "dbos_throughput_sync_concurrent": (
        "DBOS sync: 3-step wfs, concurrent threads",
        "workflows_per_s",
        "wf/s",
    ),
}

#: DBOS flavours of each kind of case; a ratio takes the faster of those run.
_DBOS_FLAVOURS: dict[str, tuple[str, ...]] = {
    "steps": ("dbos_steps_sync", "dbos_steps_async"),
    "throughput": ("dbos_throughput_sync", "dbos_throughput_async"),
    "any_throughput": (
        "dbos_throughput_sync",
        "dbos_throughput_async",
        "dbos_throughput_concurrent",
        "dbos_throughput_sync_concurrent",
    ),
}

Rounds = dict[str, list[dict[str, Any]]]


@dataclass
class Ratio:
    name: str
    values: list[float]
    target: str
    passes: Callable[[float], bool] | None
    unit: str = "x"

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def status(self) -> str:
        if self.median is None:
            return "n/a"
        if self.passes is None:
            return "info"
        return "PASS" if self.passes(self.median) else "FAIL"

    def as_json(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "per_round": self.values,
            "target": self.target,
            "status": self.status,
        }


def summarize(rounds: Rounds) -> dict[str, dict[str, float]]:
    """Median, min and max of each case's metric over the rounds."""
    out: dict[str, dict[str, float]] = {}
    for case, results in rounds.items():
        key = CASE_INFO[case][1]
        values = [r[key] for r in results]
        if values:
            out[case] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
                "rounds": len(values),
            }
    return out


def _paired(rounds: Rounds, fn: Callable[[int], float | None]) -> list[float]:
    n = max((len(v) for v in rounds.values()), default=0)
    values = [fn(i) for i in range(n)]
    return [v for v in values if v is not None]


def _metric(rounds: Rounds, case: str, i: int) -> float | None:
    results = rounds.get(case, [])
    return results[i][CASE_INFO[case][1]] if i < len(results) else None


def _best_dbos(rounds: Rounds, kind: str, i: int) -> float | None:
    """The faster DBOS flavour of round ``i`` (lower us per step, higher wf/s)."""
    values = [_metric(rounds, case, i) for case in _DBOS_FLAVOURS[kind]]
    present = [v for v in values if v is not None]
    if not present:
        return None
    return min(present) if kind == "steps" else max(present)


def _reference(rounds: Rounds, reference: str, i: int) -> float | None:
    """Round ``i``'s raw INSERT: the mean of the runs made before and after the
    Polos steps cases (when both ran), so that load coming or going during
    the round weighs on both sides of the ratio alike."""
    values = [_metric(rounds, case, i) for case in (reference, f"{reference}_after")]
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def ratios(rounds: Rounds, backend: str) -> list[Ratio]:
    """Each ratio is taken within one round (same minute, same noise), then the median."""
    reference = "sqlite_insert" if backend == "sqlite" else "postgres_insert"
    # The goals of DESIGN.md and issue 15: SQLite within 2x of a raw INSERT (3x
    # was the first, looser goal for async steps) and 20x under DBOS; PostgreSQL
    # within 1.2x of a raw INSERT and commit, 8x under DBOS, 10x its throughput.
    sqlite = backend == "sqlite"
    dbos_step_target = 20.0 if sqlite else 8.0
    raw_target = 2.0 if sqlite else 1.2
    throughput_target = 20.0 if sqlite else 10.0
    ref_name = "SQLite" if backend == "sqlite" else "PostgreSQL"

    def div(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    def step_vs_ref(i: int) -> float | None:
        return div(_metric(rounds, "polos_steps", i), _reference(rounds, reference, i))

    def dbos_vs_step(i: int) -> float | None:
        return div(_best_dbos(rounds, "steps", i), _metric(rounds, "polos_steps", i))

    def plain_vs_ref(i: int) -> float | None:
        return div(_metric(rounds, "polos_steps_plain", i), _reference(rounds, reference, i))

    def dbos_sync_vs_plain(i: int) -> float | None:
        return div(_metric(rounds, "dbos_steps_sync", i), _metric(rounds, "polos_steps_plain", i))

    def inline_vs_ref(i: int) -> float | None:
        return div(_metric(rounds, "polos_steps_inline", i), _reference(rounds, reference, i))

    def tp_vs_dbos(i: int) -> float | None:
        return div(_metric(rounds, "polos_throughput", i), _best_dbos(rounds, "throughput", i))

    def concurrent_tp_vs_dbos(i: int) -> float | None:
        # Against the fastest DBOS case of the round, one after another or concurrent.
        return div(
            _metric(rounds, "polos_throughput_concurrent", i),
            _best_dbos(rounds, "any_throughput", i),
        )

    def best_tp_vs_dbos(i: int) -> float | None:
        # Each engine submitted the way that is fastest for it on this database
        # (SQLite takes one writer at a time: callers one after another win
        # there; PostgreSQL batches concurrent callers' commits).
        polos = [
            v
            for v in (
                _metric(rounds, "polos_throughput", i),
                _metric(rounds, "polos_throughput_concurrent", i),
            )
            if v is not None
        ]
        return div(max(polos), _best_dbos(rounds, "any_throughput", i)) if polos else None

    def replay_speedup(i: int) -> float | None:
        return div(_metric(rounds, "polos_steps", i), _metric(rounds, "polos_replay", i))

    replay_calls = [float(r["store_calls_during_replay"]) for r in rounds.get("polos_replay", [])]
    return [
        Ratio(
            f"Polos step / raw {'SQLite' if backend == 'sqlite' else 'PostgreSQL'} INSERT",
            _paired(rounds, step_vs_ref),
            "<= 3x" if sqlite else f"<= {raw_target:g}x",
            (lambda v: v <= 3.0) if sqlite else (lambda v: v <= raw_target),
        ),
        Ratio(
            "DBOS step / Polos step (faster DBOS flavour)",
            _paired(rounds, dbos_vs_step),
            f">= {dbos_step_target:.0f}x",
            lambda v: v >= dbos_step_target,
        ),
        Ratio(
            f"Polos plain def step / raw {ref_name} INSERT",
            _paired(rounds, plain_vs_ref),
            f"<= {raw_target:g}x",
            lambda v: v <= raw_target,
        ),
        Ratio(
            "DBOS sync step / Polos plain def step",
            _paired(rounds, dbos_sync_vs_plain),
            f">= {dbos_step_target:.0f}x",
            lambda v: v >= dbos_step_target,
        ),
        Ratio(
            f"Polos inline plain def step / raw {ref_name} INSERT",
            _paired(rounds, inline_vs_ref),
            "(context)",
            None,
        ),
        Ratio(
            "3-step wf/s, each at its fastest: Polos / DBOS",
            _paired(rounds, best_tp_vs_dbos),
            f">= {throughput_target:g}x",
            lambda v: v >= throughput_target,
        ),
        Ratio(
            "3-step wf/s, concurrent callers / fastest DBOS",
            _paired(rounds, concurrent_tp_vs_dbos),
            "(context)",
            None,
        ),
        Ratio(
            "3-step wf/s, one invoke after another / DBOS",
            _paired(rounds, tp_vs_dbos),
            "(context)",
            None,
        ),
        Ratio(
            "store calls while replaying N steps", replay_calls, "== 0", lambda v: v == 0, "calls"
        ),
        Ratio(
            "Polos first-run step / replayed step",
            _paired(rounds, replay_speedup),
            "(context)",
            None,
        ),
    ]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.3g}x" if value < 100 else f"{value:.0f}x"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def table(
    summary: dict[str, dict[str, float]],
    ratio_list: list[Ratio],
    errors: dict[str, str],
    header: str,
) -> str:
    lines = [header, ""]
    lines.append(f"{'case':<50} {'median':>12} {'min':>12} {'max':>12}")
    lines.append("-" * 89)
    for case, (label, _key, unit) in CASE_INFO.items():
        if case in summary:
            s = summary[case]
            row = [_fmt(s["median"], unit), _fmt(s["min"], unit), _fmt(s["max"], unit)]
            lines.append(f"{label:<50} {row[0]:>12} {row[1]:>12} {row[2]:>12}")
        elif case in errors:
            lines.append(f"{label:<50} {'NOT RUN':>12}")
    lines += ["", f"{'ratio (per round, median)':<52} {'value':>10} {'target':>16} {'status':>7}"]
    lines.append("-" * 89)
    for r in ratio_list:
        value = (
            _fmt(r.median, "x")
            if r.unit == "x"
            else f"{r.median:g}"
            if r.median is not None
            else "-"
        )
        lines.append(f"{r.name:<52} {value:>10} {r.target:>16} {r.status:>7}")
    reasons = sorted({_last_line(e) for e in errors.values()})
    if reasons:
        lines += ["", "NOT RUN because:", *(f"  - {reason}" for reason in reasons)]
    return "\n".join(lines)


def _last_line(error: str) -> str:
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    return lines[-1] if lines else error
