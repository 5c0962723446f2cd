"""Survey scores with sampling errors: the estimator of SCORING.md, vectorised.

Two layers:

* `estimate_domains` works on arrays (respondents × questions) and returns arrays per domain. It is
  the whole estimator and knows nothing about questionnaires, units or periods.
* `score_domains` takes the wide response table of `survey.storage.responses.load_responses`, builds
  those arrays for each questionnaire version and returns one `DomainScore` per domain (unit × period
  × version, or province × period × version), with intervals and reliability flags.

Notation (SCORING.md): respondent i in domain d and weighting cell g has weight
w_i = W_g / n_{g,d}; a_iq = 1 when i chose a scored option on question q, s_iq = p_q · f(answer).

    X_q = Σ w_i a_iq,  Y_q = Σ w_i a_iq s_iq,  R_q = Y_q / X_q
    A_k = {q ∈ k : X_q > 0},  C_k = (P_k / Σ_{q∈A_k} p_q) · Σ_{q∈A_k} R_q,  T = Σ_k C_k
    z_i = Σ_k (P_k / Σ_{q∈A_k} p_q) · Σ_{q∈A_k} w_i a_iq (s_iq − R_q) / X_q   (criterion: its own terms)
    V = Σ_h n_h / (n_h − 1) · Σ_{i∈h} (z_i − z̄_h)²    (n_h = 1 contributes 0),  df = n_d − #strata in d

Computation (see `estimate_domains`): respondents in stratum order, so every sum over a stratum is a
run sum (`numpy.add.reduceat`) and domain sums add up the strata (a sparse indicator product); two
passes over the answers in cache-sized blocks of respondents; the variance is two-pass (deviations
from stratum means, never Σz² − (Σz)²/n). No Python loop over respondents or domains: the only
loops are over blocks of 16,384 respondents and over the criteria.

Decisions where SCORING.md is silent (tested in tests/test_scoring.py):

* Respondent group unknown or missing while the questionnaire defines groups: the response cannot
  be weighted, so it is left out of the estimate and counted in `DomainScore.excluded`.
  A questionnaire without groups puts every respondent in one group with W = 1 and ignores any
  group code on the response.
* An option code that is not on the question's scale is an error (ValueError), never a silent blank:
  storage validates answers, so it means corrupted data.
* A question of the version that has no column in the table (nobody answered it) is unanswered.
* Small domains (SCORING.md): a criterion's flags, n < 5 rule and df use its own n_k (respondents
  with a scored answer in k) and df_k = n_k − (strata among them); for a unit the strata are the
  groups, for the pooled province unit × group. Where df < 1 the SE is undefined (None, with the
  reason), never 0.
* Indices (SCORING.md, "Indices"): `DomainScore.indices` holds one `DomainScore` per index, on
  the share scale (maximum 1; criteria maximum 1), with per-question shares in `questions`. A
  question's share, SE and df come from the estimator with that question as its own criterion
  (its own terms, its own n_q and df_q = n_q − strata among them, like a criterion). An option
  the index does not list is unscored for it.
* The total's flags carry only the reliability flag; partial criteria are flagged on the criterion
  and listed in `DomainScore.partial_criteria`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from math import isfinite, sqrt
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from survey.intervals import (
    BOUND_TOLERANCE,
    GAP_NONE,
    check_level,
    gap_reason,
    insufficient_reason,
    interval_gap,
    logit_t_interval,
    reliability_flag,
)
from survey.periods import parse_period
from survey.questionnaire import Index, Questionnaire
from survey.text import Text

PARTIAL = "partial"
NO_RESPONSES = "no responses in this domain"
NO_SCORED_ANSWERS = "no scored answer to any question of this criterion"


# --- the estimator on arrays -----------------------------------------------------------------


@dataclass(frozen=True)
class DomainArrays:
    """Estimates per domain (D domains, Q questions, K criteria). NaN marks undefined values."""

    n: np.ndarray  # (D,) respondents
    strata: np.ndarray  # (D,) non-empty strata
    df: np.ndarray  # (D,) n − strata
    question_score: np.ndarray  # (D, Q) R_q (NaN where X_q = 0)
    criterion_score: np.ndarray  # (D, K) C_k (NaN where A_k is empty)
    criterion_variance: np.ndarray  # (D, K)
    criterion_partial: np.ndarray  # (D, K) bool: A_k is a non-empty strict subset of k
    criterion_n: np.ndarray  # (D, K) n_k: respondents with at least one scored answer in k
    criterion_df: np.ndarray  # (D, K) n_k − (strata among those respondents)
    total: np.ndarray  # (D,) T (NaN where any criterion is undefined)
    total_variance: np.ndarray  # (D,)


def _indicator(rows: np.ndarray, n_rows: int) -> sparse.csr_matrix:
    """The (n_rows × len(rows)) 0/1 matrix with a 1 at (rows[j], j): sums columns into rows."""
    columns = np.arange(rows.size)
    return sparse.csr_matrix((np.ones(rows.size), (rows, columns)), shape=(n_rows, rows.size))


def _index(values: Any, name: str, size: int) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != (size,):
        raise ValueError(f"{name} must have one entry per respondent ({size}), not {array.shape}")
    if size and (not np.issubdtype(array.dtype, np.integer) or array.min() < 0):
        raise ValueError(f"{name} must hold non-negative integers")
    return array.astype(np.intp, copy=False)


def _parent_of(child: np.ndarray, n_children: int, parent: np.ndarray, what: str) -> np.ndarray:
    """For each child index (cell, stratum) the domain it lies in; ValueError if it spans two."""
    owner = np.zeros(n_children, dtype=np.intp)
    owner[child] = parent
    if not np.array_equal(owner[child], parent):
        raise ValueError(f"every {what} must lie within one domain")
    return owner


def _stable_order(keys: np.ndarray) -> np.ndarray:
    """Stable sorting order of non-negative integer keys (radix sort when they fit 16 bits)."""
    if keys.size and keys.max() < 2**16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    return np.argsort(keys, kind="stable")


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Positions where a run of equal keys starts (sorted_keys non-empty)."""
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


BLOCK_SIZE = 16384  # respondents per block: the block's temporaries stay in the CPU cache


class _AnswerBlocks:
    """Respondents in consecutive blocks, question-major (Q × block), with reused buffers.

    `fractions` is the caller's (n × Q) array in any memory order; `row_order` (or None) puts the
    respondents in stratum order and `question_order` groups the questions by criterion. Each block
    gives f (NaN where there is no scored answer), f₀ = f with NaN → 0, and whether each answer is
    scored (a_iq) or missing. Working block by block keeps the temporaries in cache (several times
    faster than whole-array operations at 10⁶ respondents) and needs no reordered copy of the
    whole array.
    """

    def __init__(self, fractions: np.ndarray, question_order: np.ndarray,
                 row_order: np.ndarray | None):
        n, n_questions = fractions.shape
        self.n = n
        self.question_order = (None if np.array_equal(question_order, np.arange(n_questions))
                               else question_order)
        self.row_order = row_order
        self.by_question = fractions.T if fractions.flags.f_contiguous else None
        self.fractions = fractions
        size = min(BLOCK_SIZE, max(n, 1))
        self._block = np.empty((n_questions, size))
        self._flags = np.empty((n_questions, size), dtype=bool)
        self._values = np.empty((n_questions, size))

    def _fetch(self, start: int, stop: int) -> np.ndarray:
        width = stop - start
        if self.row_order is None and self.by_question is not None:
            block = self.by_question[:, start:stop]  # a view: question-major, already in order
        elif self.by_question is not None:
            block = np.take(self.by_question, self.row_order[start:stop], axis=1, mode="clip",
                            out=self._block[:, :width])
        else:
            rows = (self.fractions[start:stop] if self.row_order is None
                    else np.take(self.fractions, self.row_order[start:stop], axis=0, mode="clip"))
            block = self._block[:, :width]
            np.copyto(block, rows.T)
        if self.question_order is not None:
            block = block[self.question_order]
        return block

    def blocks(self, check: bool = False):
        """Yield (start, stop, f₀, flags) with flags = `missing` (check=True) or `answered`.

        With `check`, fractions outside [0, 1] raise ValueError.
        """
        for start in range(0, self.n, BLOCK_SIZE):
            stop = min(start + BLOCK_SIZE, self.n)
            width = stop - start
            block = self._fetch(start, stop)
            if check:
                if (np.fmin.reduce(block, axis=None) < 0
                        or np.fmax.reduce(block, axis=None) > 1):
                    raise ValueError("score fractions must lie in [0, 1] (NaN for no scored answer)")
                flags = np.isnan(block, out=self._flags[:, :width])  # missing
            else:
                flags = np.equal(block, block, out=self._flags[:, :width])  # answered (not NaN)
            values = np.fmax(block, 0.0, out=self._values[:, :width])  # NaN → 0; f ≥ 0 stays
            yield start, stop, values, flags


def _runs_in(run_starts: np.ndarray, start: int, stop: int) -> tuple[slice, np.ndarray]:
    """The runs overlapping respondents [start, stop) and their starts relative to `start`."""
    first = int(np.searchsorted(run_starts, start, side="right")) - 1
    last = int(np.searchsorted(run_starts, stop, side="left"))
    return slice(first, last), np.maximum(run_starts[first:last] - start, 0)


def estimate_domains(
    fractions: np.ndarray,
    question_points: Sequence[float],
    question_criterion: Sequence[int],
    criterion_points: Sequence[float],
    domain: Sequence[int],
    cell: Sequence[int],
    cell_weight: Sequence[float],
    stratum: Sequence[int],
    n_domains: int | None = None,
) -> DomainArrays:
    """Scores, criterion scores and their linearisation variances for every domain at once.

    Parameters
    ----------
    fractions : (n, Q) score fraction f of each respondent's answer; NaN = unanswered or unscored.
        Fastest in Fortran (question-major) order with respondents sorted by stratum, as
        `score_domains` builds it; any other layout or order is reordered block by block.
    question_points : (Q,) p_q.
    question_criterion : (Q,) index k(q) of each question's criterion, 0..K−1; every criterion
        needs at least one question.
    criterion_points : (K,) P_k (= Σ_{q∈k} p_q).
    domain : (n,) domain index of each respondent, 0..D−1.
    cell : (n,) weighting cell (e.g. domain × group); each cell lies within one domain.
    cell_weight : (number of cells,) W_g of each cell; w_i = W_g / n_{g,d}.
    stratum : (n,) variance stratum (e.g. domain × group, or domain × unit × group for the pooled
        province); each stratum lies within one domain. Cells and strata need not coincide.
    n_domains : D, when some domains have no respondents (default: max(domain) + 1).

    Notes
    -----
    Formulas in the module docstring (SCORING.md). Undefined values are NaN: a criterion with no
    scored answer in a domain (and then that domain's total), and the variances alongside them.

    Computation: respondents are put in stratum order (a stable radix sort, skipped when already
    sorted), so every sum over a stratum is a run sum (`numpy.add.reduceat`); domain sums add the
    stratum sums (strata lie within domains). Two passes over the answers, block by block: the
    first sums X and Y, the second forms z_ik. The variance subtracts each stratum's mean from z
    before squaring (two-pass).
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 2:
        raise ValueError("fractions must be a respondents × questions array")
    n, n_questions = fractions.shape
    question_points = np.asarray(question_points, dtype=float)
    question_criterion = np.asarray(question_criterion, dtype=np.intp)
    criterion_points = np.asarray(criterion_points, dtype=float)
    n_criteria = criterion_points.size
    if question_points.shape != (n_questions,) or question_criterion.shape != (n_questions,):
        raise ValueError("question_points and question_criterion need one entry per question")
    if np.any(question_points <= 0) or np.any(criterion_points <= 0):
        raise ValueError("question and criterion points must be positive")
    if np.any(question_criterion < 0) or np.any(question_criterion >= n_criteria):
        raise ValueError("question_criterion must index criterion_points")
    questions_per_criterion = np.bincount(question_criterion, minlength=n_criteria)
    if np.any(questions_per_criterion == 0):
        raise ValueError("every criterion needs at least one question")
    domain = _index(domain, "domain", n)
    cell = _index(cell, "cell", n)
    stratum = _index(stratum, "stratum", n)
    cell_weight = np.asarray(cell_weight, dtype=float)
    n_domains = int(n_domains if n_domains is not None else (domain.max() + 1 if n else 0))
    if n and domain.max() >= n_domains:
        raise ValueError("a domain index is not below n_domains")
    if n and cell.max() >= cell_weight.size:
        raise ValueError("cell_weight needs an entry for every cell index")
    cell_count = np.bincount(cell, minlength=cell_weight.size)
    if np.any(cell_weight[cell_count > 0] <= 0):
        raise ValueError("cell weights must be positive")
    if n == 0:
        return _empty_result(n_domains, n_questions, n_criteria)
    domain_of_cell = _parent_of(cell, cell_weight.size, domain, "weighting cell")
    _parent_of(stratum, int(stratum.max()) + 1, domain, "stratum")

    # Questions grouped by criterion, respondents in stratum order (see _AnswerBlocks).
    question_order = np.argsort(question_criterion, kind="stable")
    row_order = None
    if np.any(stratum[1:] < stratum[:-1]):
        row_order = _stable_order(stratum)
        domain, cell, stratum = domain[row_order], cell[row_order], stratum[row_order]
    points = question_points[question_order]
    criterion_sorted = question_criterion[question_order]
    criterion_bounds = np.r_[_run_starts(criterion_sorted), n_questions]

    # Weights w_i = W_g / n_{g,d}, constant on each run of equal (stratum, cell).
    weight_of_cell = np.divide(cell_weight, cell_count, out=np.zeros_like(cell_weight),
                               where=cell_count > 0)
    stratum_starts = _run_starts(stratum)  # strata present, in order
    run_starts = np.flatnonzero(np.r_[True, (stratum[1:] != stratum[:-1]) | (cell[1:] != cell[:-1])])
    run_weight = weight_of_cell[cell[run_starts]]
    run_domain = domain[run_starts]

    # Pass 1: X_q = Σ w_i a_iq and Y_q = Σ w_i a_iq p_q f_iq, from unweighted run sums of the
    # missing answers and of f₀ (w_i and p_q are constant on a run and multiply the sums).
    run_missing = np.zeros((n_questions, run_starts.size))
    run_fractions = np.zeros((n_questions, run_starts.size))
    answers = _AnswerBlocks(fractions, question_order, row_order)
    for start, stop, values, missing in answers.blocks(check=True):
        runs, local = _runs_in(run_starts, start, stop)
        run_missing[:, runs] += np.add.reduceat(missing, local, axis=1, dtype=float)
        run_fractions[:, runs] += np.add.reduceat(values, local, axis=1)
    run_count = np.diff(np.r_[run_starts, n])
    run_sums = np.vstack([(run_count - run_missing) * run_weight,
                          run_fractions * run_weight * points[:, None]])
    domain_sums = _indicator(run_domain, n_domains) @ run_sums.T  # D × 2Q
    answered_weight, score_weight = domain_sums[:, :n_questions], domain_sums[:, n_questions:]
    has_answers = answered_weight > 0
    ratio = np.divide(score_weight, answered_weight, out=np.zeros_like(score_weight),
                      where=has_answers)  # R, 0 where X = 0
    answered_points = np.add.reduceat(has_answers * points, criterion_bounds[:-1], axis=1)
    answered_questions = np.add.reduceat(has_answers.astype(float), criterion_bounds[:-1], axis=1)
    criterion_defined = answered_points > 0
    scale = np.divide(criterion_points, answered_points, out=np.zeros_like(answered_points),
                      where=criterion_defined)  # P_k / Σ_{q∈A_k} p_q
    criterion_score = np.where(
        criterion_defined, np.add.reduceat(ratio, criterion_bounds[:-1], axis=1) * scale, np.nan
    )
    total = criterion_score.sum(axis=1)

    # Pass 2: z_ik = Σ_{q∈A_k} c_q · a_iq (p_q f_iq − R_q) with c_q = scale_k w_i / X_q,
    # computed as (c_q p_q) · f₀ − a_iq · (c_q R_q) from two tables per weighting cell.
    coefficient = np.divide(scale[:, criterion_sorted], answered_weight,
                            out=np.zeros_like(answered_weight), where=has_answers)
    coefficient = coefficient[domain_of_cell] * weight_of_cell[:, None]  # per cell, w folded in
    per_cell = np.vstack([(coefficient * points).T, (coefficient * ratio[domain_of_cell]).T])
    linearised = np.empty((n_criteria + 1, n))
    criterion_answered = np.empty((n_criteria, n), dtype=bool)  # i has a scored answer in k
    gathered = np.empty((2 * n_questions, min(BLOCK_SIZE, n)))
    for start, stop, values, answered in answers.blocks():
        cell_terms = np.take(per_cell, cell[start:stop], axis=1, mode="clip",
                             out=gathered[:, :stop - start])  # indices are valid
        terms, centre = cell_terms[:n_questions], cell_terms[n_questions:]
        terms *= values
        centre *= answered
        terms -= centre
        for k in range(n_criteria):
            np.add.reduce(terms[criterion_bounds[k]:criterion_bounds[k + 1]], axis=0,
                          out=linearised[k, start:stop])
            np.logical_or.reduce(answered[criterion_bounds[k]:criterion_bounds[k + 1]], axis=0,
                                 out=criterion_answered[k, start:stop])
        np.add.reduce(linearised[:n_criteria, start:stop], axis=0,
                      out=linearised[n_criteria, start:stop])

    # Variance: Σ_h n_h/(n_h − 1) Σ_{i∈h} (z_i − z̄_h)², deviations from the stratum means.
    stratum_count = np.diff(np.r_[stratum_starts, n])
    stratum_mean = np.add.reduceat(linearised, stratum_starts, axis=1) / stratum_count
    deviations = linearised
    deviations -= np.repeat(stratum_mean, stratum_count, axis=1)  # each respondent's stratum
    deviations *= deviations
    correction = np.where(stratum_count > 1, stratum_count / np.maximum(stratum_count - 1, 1), 0.0)
    stratum_variance = np.add.reduceat(deviations, stratum_starts, axis=1) * correction
    stratum_domain = domain[stratum_starts]
    variance = _indicator(stratum_domain, n_domains) @ stratum_variance.T  # D × (K + 1)

    respondents = np.bincount(domain, minlength=n_domains)
    strata = np.bincount(stratum_domain, minlength=n_domains)
    # A criterion's own count n_k and strata: respondents with a scored answer in k.
    stratum_answering = np.add.reduceat(criterion_answered, stratum_starts, axis=1, dtype=float)
    to_domain = _indicator(stratum_domain, n_domains)
    criterion_n = np.rint(to_domain @ stratum_answering.T).astype(np.intp)  # D × K
    criterion_strata = np.rint(to_domain @ (stratum_answering > 0).T.astype(float)).astype(np.intp)
    question_score = np.empty_like(ratio)
    question_score[:, question_order] = np.where(has_answers, ratio, np.nan)
    return DomainArrays(
        n=respondents,
        strata=strata,
        df=respondents - strata,
        question_score=question_score,
        criterion_score=criterion_score,
        criterion_variance=np.where(criterion_defined, variance[:, :n_criteria], np.nan),
        criterion_partial=criterion_defined & (answered_questions < questions_per_criterion),
        criterion_n=criterion_n,
        criterion_df=criterion_n - criterion_strata,
        total=total,
        total_variance=np.where(np.isfinite(total), variance[:, n_criteria], np.nan),
    )


def _empty_result(n_domains: int, n_questions: int, n_criteria: int) -> DomainArrays:
    nothing = np.full((n_domains, n_criteria), np.nan)
    return DomainArrays(
        n=np.zeros(n_domains, dtype=np.intp),
        strata=np.zeros(n_domains, dtype=np.intp),
        df=np.zeros(n_domains, dtype=np.intp),
        question_score=np.full((n_domains, n_questions), np.nan),
        criterion_score=nothing,
        criterion_variance=nothing.copy(),
        criterion_partial=np.zeros((n_domains, n_criteria), dtype=bool),
        criterion_n=np.zeros((n_domains, n_criteria), dtype=np.intp),
        criterion_df=np.zeros((n_domains, n_criteria), dtype=np.intp),
        total=np.full(n_domains, np.nan),
        total_variance=np.full(n_domains, np.nan),
    )


# --- results ---------------------------------------------------------------------------------


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def json_number(value: float | None) -> float | int | None:
    """A whole number (degrees of freedom of a domain) as an int, anything else unchanged."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Estimate:
    """A score on [0, maximum] with its variance, df, interval, flags and a reason for gaps.

    `score` is None when undefined; `ci` is None when there is no interval, and then `reason` says
    why. `code` names the criterion (None for a total).
    """

    score: float | None
    maximum: float
    variance: float | None
    df: float | None
    ci: tuple[float, float] | None
    flags: tuple[str, ...] = ()
    reason: str | None = None
    code: str | None = None
    n: int | None = None  # a criterion's own n_k (respondents with a scored answer in it)

    @property
    def se(self) -> float | None:
        if self.variance is None:
            return None
        return sqrt(self.variance) if self.variance >= 0 else float(np.sqrt(self.variance))

    @property
    def percent(self) -> float | None:
        return None if self.score is None else 100.0 * self.score / self.maximum

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.code is None else {"code": self.code}
        out.update(score=self.score, max=json_number(self.maximum), se=self.se, df=json_number(self.df),
                   ci=list(self.ci) if self.ci else None, flags=list(self.flags))
        if self.n is not None:
            out["n"] = self.n
        if self.reason:
            out["reason"] = self.reason
        return out

    @staticmethod
    def total_share_dict(total: Estimate | None, reason: str | None) -> dict[str, Any]:
        """The overall share of an index (`share_dict`), or nulls with the reason."""
        if total is None:
            return dict(share=None, se=None, df=None, ci=None, flags=[], percent=None,
                        reason=reason)
        return total.share_dict()

    def share_dict(self) -> dict[str, Any]:
        """`to_dict` of an index estimate (on [0, 1]): the score named `share`, with `percent`."""
        out = self.to_dict()
        out["share"] = out.pop("score")
        out.pop("max", None)
        out["percent"] = self.percent
        return out


@dataclass(frozen=True)
class DomainScore:
    """The score of one domain: a unit (or the province) in one period with one version."""

    unit: str
    period: str
    questionnaire: str
    version: str
    n: int
    maximum: float
    structure: tuple[tuple[str, float], ...]
    total: Estimate | None
    criteria: tuple[Estimate, ...]
    level: float
    excluded: int = 0
    reason: str | None = None  # why `total` is None
    unit_name: str | None = None
    partial_criteria: tuple[str, ...] = field(default=())
    index: str | None = None  # set on an index's scores (shares on [0, 1]): the index code
    index_label: Text | None = None
    questions: tuple[Estimate, ...] = ()  # per question (an index's item shares)
    indices: tuple[DomainScore, ...] = ()  # the questionnaire's indices in this domain

    def criterion(self, code: str) -> Estimate | None:
        return next((c for c in self.criteria if c.code == code), None)

    def index_score(self, code: str) -> DomainScore | None:
        """The scores of index `code` in this domain (None if the questionnaire lacks it)."""
        return next((i for i in self.indices if i.index == code), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "unit": self.unit,
            "unit_name": self.unit_name,
            "period": self.period,
            "questionnaire": self.questionnaire,
            "version": self.version,
            "n": self.n,
            "excluded": self.excluded,
            "level": self.level,
            "total": None if self.total is None else self.total.to_dict(),
        }
        if self.total is None:
            out["reason"] = self.reason
        else:
            out["total"]["percent"] = self.total.percent
        out["partial_criteria"] = list(self.partial_criteria)
        out["criteria"] = [c.to_dict() for c in self.criteria]
        if self.indices:
            out["indices"] = {i.index: i.index_dict() for i in self.indices}
        return out

    def index_dict(self) -> dict[str, Any]:
        """An index's scores as shares: overall, per criterion and per question."""
        label = self.index_label or Text(self.index or "")
        out: dict[str, Any] = {"code": self.index, "label": label.vi, "label_en": label.en,
                               "n": self.n}
        out.update(Estimate.total_share_dict(self.total, self.reason))
        out["code"] = self.index  # the index's code, not the total estimate's
        out["partial_criteria"] = list(self.partial_criteria)
        out["criteria"] = [c.share_dict() for c in self.criteria]
        out["questions"] = [q.share_dict() for q in self.questions]
        return out


def _snap(score: np.ndarray, variance: np.ndarray, maximum) -> tuple[np.ndarray, np.ndarray]:
    """Scores within rounding of 0 or the maximum become exact, as does a rounding-level SE."""
    tolerance = BOUND_TOLERANCE * np.asarray(maximum, dtype=float)
    score = np.where(np.abs(score) <= tolerance, 0.0, score)
    score = np.where(np.abs(score - maximum) <= tolerance, maximum, score)
    variance = np.where(np.sqrt(np.abs(variance)) <= tolerance, 0.0, variance)
    return score, variance


def estimates_with_intervals(
    score: np.ndarray, variance: np.ndarray, maximum, df: np.ndarray, n: np.ndarray, level: float
) -> dict[str, np.ndarray]:
    """Vectorised: snapped score and variance, CI bounds and the gap code per element.

    Where df < 1 the variance cannot be estimated (SCORING.md, "Small domains"): it becomes NaN,
    so the SE, the interval and every test built on it are undefined, never 0. (A NaN df, as for
    an average of units that all have V = 0, is not "df < 1".)
    """
    score, variance = _snap(score, variance, maximum)
    with np.errstate(invalid="ignore"):
        variance = np.where(np.asarray(df, dtype=float) < 1, np.nan, variance)
    se = np.sqrt(variance)
    lower, upper = logit_t_interval(score, se, maximum, df, level)
    gap = interval_gap(score, se, maximum, df)
    few = np.broadcast_to(np.asarray(n) < 5, np.shape(score))
    lower = np.where(few, np.nan, lower)
    upper = np.where(few, np.nan, upper)
    return {"score": score, "variance": variance, "lower": lower, "upper": upper, "gap": gap}


def no_variance_reason(df: float | None) -> str:
    """Why an estimate has no SE: fewer than 1 degree of freedom."""
    shown = "?" if df is None or not np.isfinite(df) else f"{df:g}"
    return (f"fewer than 1 degree of freedom (df = {shown}, e.g. one respondent, or one per group): "
            "the standard error cannot be estimated, so there is no interval and no test")


def make_estimate(
    values: Mapping[str, np.ndarray], index, maximum: float, df: float, n: int,
    extra_flags: tuple[str, ...] = (), code: str | None = None,
    undefined_reason: str = NO_SCORED_ANSWERS, domain_n: int | None = None,
) -> Estimate:
    """One `Estimate` from the arrays of `estimates_with_intervals` at `index`.

    `n` is the count the reliability flags use (a criterion's own n_k); `domain_n` the domain's
    respondents when they differ (a criterion), recorded on the estimate as `n`.
    """
    return _estimate(float(values["score"][index]), float(values["variance"][index]),
                     float(values["lower"][index]), float(values["upper"][index]),
                     int(values["gap"][index]), maximum, float(df), n, extra_flags, code,
                     undefined_reason, domain_n)


def make_estimates(
    values: Mapping[str, np.ndarray], maximum, df, n, *, partial=None, codes=None,
    domain_n=None,
) -> list[list[Estimate]]:
    """`make_estimate` for every element of (D, K) arrays at once: row d, column k.

    `maximum` (K,), `df` and `n` (D, K), `partial` (D, K) booleans adding the PARTIAL flag,
    `codes` (K,) names, `domain_n` (D,). The arrays become Python numbers in one step each
    (`tolist`), not element by element.
    """
    shape = np.shape(values["score"])
    score, variance, lower, upper, gap = (np.asarray(values[key], dtype=float if key != "gap"
                                                     else np.int64).tolist()
                                          for key in ("score", "variance", "lower", "upper",
                                                      "gap"))
    maxima = np.broadcast_to(np.asarray(maximum, dtype=float), shape[1:]).tolist()
    df = np.broadcast_to(np.asarray(df, dtype=float), shape).tolist()
    n = np.broadcast_to(np.asarray(n, dtype=np.int64), shape).tolist()
    partial = (np.zeros(shape, dtype=bool) if partial is None else np.asarray(partial)).tolist()
    codes = [None] * shape[1] if codes is None else list(codes)
    domain_n = [None] * shape[0] if domain_n is None else np.asarray(domain_n).tolist()
    extra = {False: (), True: (PARTIAL,)}
    return [[_estimate(score[d][k], variance[d][k], lower[d][k], upper[d][k], gap[d][k],
                       maxima[k], df[d][k], n[d][k], extra[partial[d][k]], codes[k],
                       NO_SCORED_ANSWERS, domain_n[d])
             for k in range(shape[1])] for d in range(shape[0])]


def _estimate(score: float, variance: float, lower: float, upper: float, gap: int,
              maximum: float, df: float, n: int, extra_flags: tuple[str, ...],
              code: str | None, undefined_reason: str, domain_n: int | None) -> Estimate:
    """The `Estimate` of one element of `estimates_with_intervals` (Python numbers; NaN = none)."""
    finite_df = df if isfinite(df) else None
    flag = reliability_flag(n)
    flags = extra_flags + ((flag,) if flag else ())
    own_n = n if domain_n is not None else None
    if not isfinite(score):
        reason = NO_RESPONSES if (n if domain_n is None else domain_n) == 0 else undefined_reason
        return Estimate(None, maximum, None, finite_df, None, flags, reason, code, own_n)
    ci = (lower, upper) if isfinite(lower) and isfinite(upper) else None
    reason = None
    if not isfinite(variance):
        variance = None
        reason = no_variance_reason(finite_df)
    elif ci is None:
        reason = insufficient_reason(n) if n < 5 else gap_reason(gap if gap != GAP_NONE else 1,
                                                                 finite_df)
    return Estimate(score, maximum, variance, finite_df, ci, flags, reason, code, own_n)


# --- from the wide response table ------------------------------------------------------------


def questionnaire_arrays(questionnaire: Questionnaire) -> dict[str, np.ndarray]:
    """question_points, question_criterion and criterion_points of a questionnaire version."""
    criterion_index = {c.code: k for k, c in enumerate(questionnaire.criteria)}
    return {
        "question_points": np.array([q.points for q in questionnaire.questions], dtype=float),
        "question_criterion": np.array(
            [criterion_index[q.criterion] for q in questionnaire.questions], dtype=np.intp
        ),
        "criterion_points": np.array([c.points for c in questionnaire.criteria], dtype=float),
    }


def answer_fractions(responses: pd.DataFrame, questionnaire: Questionnaire,
                     rows: np.ndarray | None = None, index: Index | None = None) -> np.ndarray:
    """(n, Q) score fractions of the chosen options; NaN = unanswered or unscored ("no opinion").

    `rows` (positions in `responses`) selects and orders the respondents, possibly repeating
    them; default all, in order. The array is question-major (Fortran order), the layout
    `estimate_domains` reads fastest. With `index`, the index's fractions replace the options'
    scores (an option the index does not list is unscored).
    """
    size = len(responses) if rows is None else len(rows)
    fractions = np.empty((size, len(questionnaire.questions)), order="F")  # every column set
    for column, question in enumerate(questionnaire.questions):
        if question.code not in responses.columns:
            fractions[:, column] = np.nan
            continue
        answered = responses[question.code]
        if isinstance(answered.dtype, pd.CategoricalDtype):  # load_responses: codes as stored
            codes = answered.cat.codes.to_numpy()
            options = answered.cat.categories
            used = np.bincount(codes[codes >= 0], minlength=len(options)) > 0
        else:
            codes, options = pd.factorize(answered, use_na_sentinel=True)
            used = np.ones(len(options), dtype=bool)
        scale = questionnaire.scale_of(question.code)
        lookup = np.empty(len(options) + 1)
        lookup[-1] = np.nan  # the code −1 (missing) picks the last entry
        for position, option_code in enumerate(options):
            option = scale.option(str(option_code))
            if option is None and not used[position]:  # another version's option, unused here
                lookup[position] = np.nan
                continue
            if option is None:
                raise ValueError(
                    f"question {question.code}: option {option_code!r} is not on its scale "
                    f"({', '.join(o.code for o in scale.options)})"
                )
            score = option.score if index is None else index.fraction(option.code)
            lookup[position] = np.nan if score is None else score
        picked = codes if rows is None else codes.take(rows)
        np.take(lookup, picked, out=fractions[:, column], mode="wrap")  # −1 → the last entry
    return fractions


def _period_labels(quarters: pd.Series, periods: Iterable[str] | None
                   ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(rows, codes, labels): positions of responses, the period each counts in (a code into
    `labels`, numbered in order of first appearance).

    Without `periods` every response stays in its own quarter. A response counts in every requested
    period that contains its quarter (e.g. periods 2024-Q3 and 2024 both include a 2024-Q3 answer):
    in table order, a row's periods in the order asked. A response without a period counts in none.
    """
    codes, values = pd.factorize(quarters.to_numpy(), use_na_sentinel=True)
    values = [str(v) for v in values]
    if periods is None:
        rows = np.flatnonzero(codes >= 0)
        return rows, codes[rows], values
    labels = list(dict.fromkeys(str(parse_period(p)) for p in periods))
    member = np.zeros((len(values) + 1, len(labels)), dtype=bool)  # the last row: code −1
    for column, label in enumerate(labels):
        pooled = set(parse_period(label).quarters)
        member[:len(values), column] = [v in pooled for v in values]
    rows, chosen = np.nonzero(member[codes])  # by row, then period in the order asked
    present, first = np.unique(chosen, return_index=True)
    appearance = present[np.argsort(first, kind="stable")]
    renumber = np.zeros(len(labels), dtype=np.intp)
    renumber[appearance] = np.arange(appearance.size)
    return rows, renumber[chosen], [labels[i] for i in appearance.tolist()]


def _period_sort_key(label: str):
    try:
        period = parse_period(label)
    except ValueError:
        return (9999, label)
    return (period.year, "YHQ".index(period.kind), period.index)


def _score_version(
    responses: pd.DataFrame, questionnaire: Questionnaire, by: str, periods, level: float,
    province: str,
) -> list[DomainScore]:
    rows, period_codes, period_values = _period_labels(responses["period"], periods)
    unit_codes, unit_values = pd.factorize(responses["unit"])  # integer codes: no object keys
    if by == "unit":
        unit_of_row, unit_labels = unit_codes[rows], [str(u) for u in unit_values]
    else:
        unit_of_row, unit_labels = np.zeros(rows.size, dtype=np.intp), [province]
    keys, domain = np.unique(unit_of_row.astype(np.int64) * len(period_values) + period_codes,
                             return_inverse=True)
    domain = domain.astype(np.intp)
    domain_keys = [(unit_labels[k // len(period_values)], str(period_values[k % len(period_values)]))
                   for k in keys.tolist()]
    n_domains = len(domain_keys)

    if questionnaire.groups:
        group_index = {g.code: i for i, g in enumerate(questionnaire.groups)}
        group = responses["group"].map(group_index).to_numpy(dtype=float)[rows]
        known = ~np.isnan(group)
        group = np.nan_to_num(group).astype(np.intp)
        group_weights = np.array([g.weight for g in questionnaire.groups])
    else:
        group = np.zeros(rows.size, dtype=np.intp)
        known = np.ones(rows.size, dtype=bool)
        group_weights = np.ones(1)
    excluded = np.bincount(domain[~known], minlength=n_domains)
    n_groups = group_weights.size

    kept = rows[known]
    domain_kept, group_kept = domain[known], group[known]
    cell = domain_kept * n_groups + group_kept
    if by == "unit":
        stratum = cell
    else:
        combined = ((domain_kept.astype(np.int64) * len(unit_values) + unit_codes[kept])
                    * n_groups + group_kept)
        _, stratum = np.unique(combined, return_inverse=True)  # domain × unit × group
        stratum = stratum.astype(np.intp)
    order = _stable_order(stratum)  # respondents in stratum order: the estimator's fast path
    arrays = questionnaire_arrays(questionnaire)
    design = (domain_kept[order], cell[order], np.tile(group_weights, n_domains), stratum[order])

    def estimate(fractions, question_points, question_criterion, criterion_points):
        return estimate_domains(fractions, question_points, question_criterion, criterion_points,
                                *design, n_domains=n_domains)

    result = estimate(answer_fractions(responses, questionnaire, kept[order]),
                      arrays["question_points"], arrays["question_criterion"],
                      arrays["criterion_points"])
    names: dict[str, str] = {}
    if by == "unit" and "unit_name" in responses.columns:  # each unit's last name in the table
        last = unit_codes.size - 1 - np.unique(unit_codes[::-1], return_index=True)[1]
        names = dict(zip(unit_values[unit_codes[last]],
                         responses["unit_name"].to_numpy()[last], strict=True))
    scores = _domain_scores(result, questionnaire, domain_keys, excluded, level, names)

    # Indices (SCORING.md, "Indices"): the same estimator with the index's fractions and
    # p_q = P_k / |k|, reported as shares; per question from a second call in which every
    # question is its own criterion (its own terms, n_q and df_q).
    for index in questionnaire.indices:
        fractions = answer_fractions(responses, questionnaire, kept[order], index=index)
        criterion_points = arrays["criterion_points"]
        per_criterion = np.bincount(arrays["question_criterion"],
                                    minlength=criterion_points.size)
        question_points = (criterion_points / per_criterion)[arrays["question_criterion"]]
        by_criterion = estimate(fractions, question_points, arrays["question_criterion"],
                                criterion_points)
        by_question = estimate(fractions, question_points,
                               np.arange(question_points.size), question_points)
        shares = _domain_scores(by_criterion, questionnaire, domain_keys, excluded, level, names,
                                index=index, by_question=by_question,
                                question_points=question_points)
        scores = [replace(score, indices=(*score.indices, share))
                  for score, share in zip(scores, shares, strict=True)]
    return scores


def _domain_scores(
    result: DomainArrays, questionnaire: Questionnaire, domain_keys, excluded: np.ndarray,
    level: float, names: Mapping[str, str], *, index: Index | None = None,
    by_question: DomainArrays | None = None, question_points: np.ndarray | None = None,
) -> list[DomainScore]:
    """One `DomainScore` per domain from the estimator's arrays.

    With `index`, everything is a share: the total divided by M, criterion k by P_k and question
    q (from `by_question`) by p_q, variances by the squares; intervals are logit-t on [0, 1].
    """
    arrays = questionnaire_arrays(questionnaire)
    maximum = float(questionnaire.max_points)
    criterion_points = arrays["criterion_points"]
    total_scale, criterion_scale = (1.0, np.ones_like(criterion_points)) if index is None else (
        maximum, criterion_points)
    totals = estimates_with_intervals(
        result.total / total_scale, result.total_variance / total_scale**2,
        maximum / total_scale, result.df, result.n, level)
    criteria = estimates_with_intervals(
        result.criterion_score / criterion_scale, result.criterion_variance / criterion_scale**2,
        (criterion_points / criterion_scale)[None, :], result.criterion_df, result.criterion_n,
        level,
    )
    questions = None
    if by_question is not None:
        questions = estimates_with_intervals(
            by_question.criterion_score / question_points,
            by_question.criterion_variance / question_points**2, 1.0, by_question.criterion_df,
            by_question.criterion_n, level)
    codes = [c.code for c in questionnaire.criteria]
    question_codes = questionnaire.question_codes
    scores = []
    structure = questionnaire.structure()  # the same for every domain of the version
    if index is not None:
        structure = tuple((code, 1.0) for code, _ in structure)
    domain_n = result.n.tolist()
    criterion_rows = make_estimates(
        criteria, criterion_points / criterion_scale, result.criterion_df, result.criterion_n,
        partial=result.criterion_partial, codes=codes, domain_n=domain_n)
    question_rows = None if questions is None else make_estimates(
        questions, 1.0, by_question.criterion_df, by_question.criterion_n, codes=question_codes,
        domain_n=domain_n)
    for d, (unit, period) in enumerate(domain_keys):
        n, df = domain_n[d], float(result.df[d])
        criterion_estimates = tuple(criterion_rows[d])
        question_estimates = () if question_rows is None else tuple(question_rows[d])
        missing = [c.code for c in criterion_estimates if c.score is None]
        total, reason = None, None
        if n == 0:
            reason = NO_RESPONSES + (f" ({int(excluded[d])} left out: unknown group)"
                                     if excluded[d] else "")
        elif missing:
            reason = (f"criterion {', '.join(missing)} has no scored answers, "
                      "so the total is undefined")
        else:
            total = make_estimate(totals, d, maximum / total_scale, df, n)
        scores.append(DomainScore(
            unit=str(unit), period=str(period), questionnaire=questionnaire.id,
            version=questionnaire.version, n=n, maximum=maximum / total_scale,
            structure=structure, total=total, criteria=criterion_estimates,
            level=level, excluded=int(excluded[d]), reason=reason,
            unit_name=names.get(unit), partial_criteria=tuple(
                c.code for c in criterion_estimates if PARTIAL in c.flags),
            index=None if index is None else index.code,
            index_label=None if index is None else index.label,
            questions=question_estimates,
        ))
    return scores


def score_domains(
    responses: pd.DataFrame,
    questionnaires_by_version: Mapping[str, Questionnaire],
    *,
    by: str = "unit",
    periods: Iterable[str] | None = None,
    level: float = 0.95,
    province: str = "province",
) -> list[DomainScore]:
    """Score every domain of a wide response table (see `load_responses`).

    by : "unit" → domains unit × period × version (strata = groups in the domain);
         "province" → respondent-pooled province × period × version: weights W_g / n_{g,province},
         strata = unit × group. `province` is the label put in `DomainScore.unit`.
    periods : None → each response's own quarter; else the period labels to score (quarters,
         half-years such as 2024-H1, years such as 2024), each pooling its quarters.
    level : confidence level of the intervals.

    Each questionnaire version is scored separately (a year may mix versions). Results are sorted
    by unit, period, version.
    """
    if by not in ("unit", "province"):
        raise ValueError(f"by must be 'unit' or 'province', not {by!r}")
    level = check_level(level)
    periods = None if periods is None else list(periods)
    scores: list[DomainScore] = []
    if responses.empty:
        return scores
    for version, rows in responses.groupby("version", sort=True):
        version = str(version)
        if version not in questionnaires_by_version:
            raise ValueError(f"responses use questionnaire version {version!r}, which is not given")
        scores.extend(_score_version(rows.reset_index(drop=True),
                                     questionnaires_by_version[version], by, periods, level,
                                     province))
    scores.sort(key=lambda s: (s.unit, _period_sort_key(s.period), s.version))
    return scores
