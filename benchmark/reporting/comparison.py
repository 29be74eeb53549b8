"""Each row of a board against its comparison row, paired over their (seed, fold) cells (the statistics are
in ``paired``), and how that is shown: the Δ, p and rank columns and the caption that says what they are."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from benchmark.reporting import paired
from benchmark.reporting.formatting import format_p, signed

if TYPE_CHECKING:
    from benchmark.reporting.leaderboard import Board, Row


def model_name(label: str) -> str:
    """The model a row's label names ("lstm [hidden=64] (tuned)" -> "lstm"): names hold no spaces."""
    return label.split(" ")[0]


def compare_rows(board: Board, against: str | None = None) -> None:
    """Fill each row's paired comparison with the board's comparison row, Holm's correction across the rows
    and the trained rows' rank intervals."""
    if not board.rows:
        return
    chosen = None
    if against is not None:
        named = [r for r in board.rows if r.model == against] or \
                [r for r in board.rows if model_name(r.model) == against]
        chosen = named[0] if named else None
        board.against_missing = None if named else against
    # the best trained row; one that is unfinished, dirty or partial anchors only if every trained row is
    trained = [r for r in board.rows if not r.reference]
    best = next((r for r in trained if not r.marks), trained[0] if trained else None)
    if chosen is None:
        chosen = best or board.rows[0]
    board.against = chosen.model
    for r in board.rows:
        r.versus = None if r is chosen else paired.compare(r.cells, chosen.cells, row_resamples=r.resamples,
                                                           against_resamples=chosen.resamples)
    paired.assign_holm(board.rows)
    # ranked: the trained rows having every cell of the comparison row (of the best trained row when that is
    # a reference), on those cells, so that one short row does not shrink everyone's ranks to its few cells
    anchor = best if chosen.reference else chosen
    base = set(anchor.cells) if anchor else set()
    ranked = [r for r in trained if base <= set(r.cells)]
    ranks, board.rank_cells = paired.rank_intervals([{c: r.cells[c] for c in base} for r in ranked],
                                                    board.higher_is_better[board.metrics[0]])
    board.rank_anchor = anchor.model if anchor else None
    for r, rank in zip(ranked, ranks):
        r.rank = rank


def format_delta(v: paired.Paired) -> str:
    """Δ with its 95 % interval over the cells; under the cells a test can use, their range (and the test-set
    interval, the other kind of uncertainty, marked apart)."""
    if v.n == 0:
        return "no common cells"
    if v.low is not None:
        return f"{signed(v.delta)} [{signed(v.low)}, {signed(v.high)}]"
    delta = f"{signed(v.delta)} (cells {signed(v.smallest)} to {signed(v.largest)})"
    if v.test_low is not None:
        delta += f" test-set [{signed(v.test_low)}, {signed(v.test_high)}]"
    return delta


def format_p_holm(versus: paired.Paired, p_holm: float | None) -> str:
    """The Holm-corrected p, or how many paired cells there were where too few for the test."""
    return f"too few ({versus.n})" if p_holm is None else format_p(p_holm)


def comparison_head(board: Board) -> list[str]:
    return [f"Δ {board.metrics[0]} [95 % CI]", "p (Holm)", "rank [95 %]"] if board.against else []


def comparison_cells(board: Board, row: Row, tex: bool = False) -> list[str]:
    if not board.against:
        return []
    dash = "--" if tex else "–"
    delta = "(against)" if row.versus is None else format_delta(row.versus)
    p = dash if row.versus is None else format_p_holm(row.versus, row.p_holm)
    if row.rank is None:
        rank = dash
    else:
        at, lo, hi = row.rank
        rank = str(at) if lo is None else f"{at} ({lo}{dash}{hi})"
    return [delta, p, rank]


def comparison_fields(board: Board, row: Row) -> list:
    """The comparison as CSV fields: against, paired cells, delta with its interval, p, rank with its interval."""
    v = row.versus
    out = [board.against or ""]
    out += [v.n, *(_g(x) for x in (v.delta, v.low, v.high, v.smallest, v.largest))] if v else [""] * 6
    out.append(_g(row.p_holm))
    out += [v.test_cells or "", _g(v.test_low), _g(v.test_high)] if v else ["", "", ""]
    out += [_g(x) for x in row.rank] if row.rank else ["", "", ""]
    return out


COMPARISON_FIELDS = ["against", "paired_cells", "delta", "delta_low", "delta_high", "delta_min", "delta_max",
                     "p_holm", "test_set_cells", "test_set_low", "test_set_high", "rank", "rank_low", "rank_high"]


def _g(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.6g}"


def comparison_note(board: Board) -> str:
    main, k = board.metrics[0], paired.MIN_CELLS
    missing = f" (--against {board.against_missing}: no such row here)" if board.against_missing else ""
    ranks = (f"rank: each trained row's place on the {board.rank_cells} cells of {board.rank_anchor} (rows "
             "without all of them are not ranked)" + (", with its 95 % interval over the same resamples"
                                                      if board.rank_cells >= k else ", no interval under "
                                                      f"{k} cells"))
    return (f"Δ: the row's {main} minus {board.against}'s{missing}, mean over the (seed, fold) cells both have "
            "(a fold where neither row depends on the seed counts once), "
            f"with a 95 % bootstrap interval [{paired.N_RESAMPLES:,} two-stage resamples: the folds, then the "
            f"cells within each drawn fold; seed {paired.SEED}]; p: exact sign-flip test of no difference "
            f"over those cells, Holm-corrected across this table's rows; \"too few (n)\": too few paired cells "
            f"to test, under {k}, where no p can reach 0.05 (the exact floor is 2/2^n) and a bootstrap of so "
            f"few values is narrower than the truth, so Δ shows the range of the cells' differences instead; "
            f"{ranks}. All of it is the uncertainty of training (seeds x folds), not of test-set sampling"
            + _test_set_note(board))


def _test_set_note(board: Board) -> str:
    shown = any(r.versus and r.versus.low is None and r.versus.test_low is not None for r in board.rows)
    sizes = sorted({len(scores) for r in board.rows for _, scores in r.resamples.values()})
    if not shown or not sizes:
        return ""
    n = f"{sizes[0]:,}" if len(sizes) == 1 else f"{sizes[0]:,} to {sizes[-1]:,}"
    return ("; \"test-set [a, b]\", where too few cells exist to test, is that other kind, apart: the 95 % "
            f"percentile interval of Δ over {n} resamples of the test sequences "
            "with training held fixed (every row scored on the same draws of a fold, the differences averaged "
            "over the cells both rows have), which says how much the choice of test sequences could move Δ, "
            "not whether another training run would keep it")
