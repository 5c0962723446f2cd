"""Benchmark: score every unit × quarter with intervals, and a peer (samplics) on the same data.

    python benchmarks/bench_scoring.py                 # 10k, 100k and 1M responses
    python benchmarks/bench_scoring.py --sizes 100000 --repeat 5 --peer-domains 40

Synthetic data: 710 units × 8 quarters (5,680 domains, unit sizes log-normal), the shipped
seven-dimension questionnaire (dtxhh-haugiang 2024: 28 questions, 22 points), 3 respondent groups
(weights 0.4 / 0.3 / 0.3), about 8 % "no opinion" and 4 % blank answers.

Timed (compute only; the data are already in memory as arrays): `estimate_domains` (question,
criterion and total scores with their linearisation variances) plus the logit-t intervals, df and
gaps for the total and the seven criteria of every domain. Two input layouts:
  * "as built": question-major, respondents in stratum order, which is how `score_domains` builds
    the arrays from the response table;
  * "any order": row-major, respondents shuffled; the estimator sorts them first (included).

Peer: samplics 0.6 (`pip install samplics`, not a project dependency). It has no estimator for this
score (criteria rescaled over answered questions, their sum, and the covariance between them), so
its closest equivalent is timed: the stratified ratio estimate R_q = Y_q / X_q with its Taylor SE
for each of the 28 questions in every domain (TaylorEstimator(PopParam.ratio), strata = groups,
weights W_g / n_{g,d}). Called once per domain and question on that domain's rows: samplics' own
`domain=` argument recomputes over the whole sample for every domain (about 9 s for just 20
domains of 40 responses), so the loop is the faster way to use it. It is too slow to run on every
domain, so it runs on `--peer-domains` randomly chosen domains and the time is extrapolated
linearly to all 5,680 domains (the script says so in its output). The script also checks that
samplics and our estimator give the same per-question ratios and SEs on those domains.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from survey.questionnaire import load_questionnaire
from survey.scoring import estimate_domains, estimates_with_intervals, questionnaire_arrays

UNITS, QUARTERS = 710, 8
GROUP_WEIGHTS = np.array([0.4, 0.3, 0.3])
GROUP_SHARES = [0.5, 0.3, 0.2]
QUESTIONNAIRE = Path(__file__).resolve().parent.parent / "questionnaires" / "dtxhh-haugiang-2024.yaml"


def synthetic(n_responses: int, seed: int = 2024) -> dict[str, np.ndarray]:
    """Arrays as `score_domains` builds them: question-major, respondents in stratum order."""
    rng = np.random.default_rng(seed)
    arrays = questionnaire_arrays(load_questionnaire(QUESTIONNAIRE))
    n_questions = arrays["question_points"].size
    n_domains = UNITS * QUARTERS
    unit_size = rng.lognormal(0.0, 0.6, UNITS)
    domain_share = np.repeat(unit_size, QUARTERS) / (unit_size.sum() * QUARTERS)
    domain = np.repeat(np.arange(n_domains), rng.multinomial(n_responses, domain_share))
    group = rng.choice(3, size=n_responses, p=GROUP_SHARES)
    quality = np.repeat(rng.uniform(-0.15, 0.15, UNITS), QUARTERS)[domain]
    base = np.array([0.30, 0.35, 0.16, 0.07])
    levels = np.array([1.0, 0.6, 0.2, 0.0, np.nan, np.nan])
    draw = rng.random((n_responses, n_questions))
    fractions = np.full((n_responses, n_questions), np.nan)
    cumulative = np.zeros(n_responses)
    for level, share in enumerate([*base, 0.08, 0.04]):
        share = share + (quality * (1 if level == 0 else -1 / 3) if level < 4 else 0.0)
        upper = cumulative + share
        chosen = (draw >= cumulative[:, None]) & (draw < upper[:, None])
        fractions[chosen] = levels[level]
        cumulative = upper
    fractions[draw >= cumulative[:, None]] = np.nan
    cell = domain * 3 + group
    order = np.argsort(cell, kind="stable")
    return {
        "fractions": np.asfortranarray(fractions[order]),
        "domain": domain[order],
        "cell": cell[order],
        "cell_weight": np.tile(GROUP_WEIGHTS, n_domains),
        "n_domains": n_domains,
        **arrays,
    }


def score_all(data: dict[str, np.ndarray], fractions=None, domain=None, cell=None):
    """The timed work: every domain's scores, variances, df, intervals and gaps."""
    fractions = data["fractions"] if fractions is None else fractions
    domain = data["domain"] if domain is None else domain
    cell = data["cell"] if cell is None else cell
    result = estimate_domains(fractions, data["question_points"], data["question_criterion"],
                              data["criterion_points"], domain, cell, data["cell_weight"], cell,
                              data["n_domains"])
    totals = estimates_with_intervals(result.total, result.total_variance,
                                      data["criterion_points"].sum(), result.df, result.n, 0.95)
    criteria = estimates_with_intervals(result.criterion_score, result.criterion_variance,
                                        data["criterion_points"][None, :], result.df[:, None],
                                        result.n[:, None], 0.95)
    return result, totals, criteria


def best_time(function, repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU time (the CPU time is less disturbed by other processes)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def peer_seconds(data: dict[str, np.ndarray], domains: np.ndarray) -> tuple[float, float]:
    """samplics per-question ratio estimates on `domains`; (seconds, max absolute difference)."""
    warnings.filterwarnings("ignore")
    from samplics.estimation import TaylorEstimator
    from samplics.utils.types import PopParam, SinglePSUEst

    fractions = np.ascontiguousarray(data["fractions"])
    points = data["question_points"]
    count = np.bincount(data["cell"], minlength=data["cell_weight"].size)
    weight = data["cell_weight"][data["cell"]] / count[data["cell"]]
    starts = np.searchsorted(data["domain"], domains)
    stops = np.searchsorted(data["domain"], domains, side="right")
    answered = ~np.isnan(fractions)
    scores = np.where(answered, fractions * points, 0.0)
    found = {}
    warm_up = TaylorEstimator(PopParam.ratio)  # first-call costs (imports, caches) are not timed
    warm_up.estimate(y=np.array([1.0, 0.0, 0.5]), x=np.ones(3), samp_weight=np.ones(3),
                     stratum=np.zeros(3), psu=np.arange(3), single_psu=SinglePSUEst.skip)
    start_time = time.perf_counter()
    for d, start, stop in zip(domains, starts, stops, strict=True):
        rows = slice(start, stop)
        for q in range(points.size):
            if stop - start < 2 or not answered[rows, q].any():
                continue  # samplics fails on an empty ratio; our estimator reports it undefined
            estimator = TaylorEstimator(PopParam.ratio)
            try:
                estimator.estimate(y=scores[rows, q], x=answered[rows, q].astype(float),
                                   samp_weight=weight[rows], stratum=data["cell"][rows],
                                   psu=np.arange(stop - start), single_psu=SinglePSUEst.skip)
            except ZeroDivisionError:  # a ratio of 0: samplics fails on its coefficient of variation
                continue
            found[(d, q)] = (estimator.point_est, estimator.stderror)
    elapsed = time.perf_counter() - start_time

    # The same quantities from our estimator: each question as its own "criterion".
    ours = estimate_domains(data["fractions"], points, np.arange(points.size), points,
                            data["domain"], data["cell"], data["cell_weight"], data["cell"],
                            data["n_domains"])
    worst = 0.0
    for (d, q), (estimate, se) in found.items():
        estimate = float(np.ravel(list(estimate.values()) if isinstance(estimate, dict)
                                  else estimate)[0])
        se = float(np.ravel(list(se.values()) if isinstance(se, dict) else se)[0])
        # Absolute differences (points): an SE that should be 0 (every answer alike) is rounding
        # noise of ~1e-17 in both programs, so relative differences would compare noise.
        worst = max(worst, abs(estimate - ours.criterion_score[d, q]),
                    abs(se - np.sqrt(ours.criterion_variance[d, q])))
    return elapsed, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (the best is shown)")
    parser.add_argument("--peer-domains", type=int, default=20,
                        help="domains samplics runs on (its time is extrapolated to all)")
    args = parser.parse_args()
    print(f"{UNITS} units × {QUARTERS} quarters = {UNITS * QUARTERS} domains; "
          f"best of {args.repeat} runs; compute only")
    print("times: wall clock (CPU); the ratio uses wall clock for both programs")
    print(f"{'responses':>10} {'ours, as built':>20} {'ours, any order':>20} "
          f"{'samplics (extrapolated)':>24} {'ratio':>8}")
    rng = np.random.default_rng(7)
    for size in args.sizes:
        data = synthetic(size)
        ours = best_time(lambda data=data: score_all(data), args.repeat)
        shuffle = rng.permutation(size)
        shuffled = (np.ascontiguousarray(data["fractions"][shuffle]), data["domain"][shuffle],
                    data["cell"][shuffle])
        any_order = best_time(lambda data=data, s=shuffled: score_all(data, *s), args.repeat)
        del shuffled
        domains = np.sort(rng.choice(data["n_domains"], args.peer_domains, replace=False))
        peer, difference = peer_seconds(data, domains)
        extrapolated = peer * data["n_domains"] / args.peer_domains
        print(f"{size:>10,} {ours[0]:>9.3f}s ({ours[1]:.3f}s) {any_order[0]:>9.3f}s "
              f"({any_order[1]:.3f}s) {extrapolated:>23.1f}s {extrapolated / ours[0]:>7.0f}×")
        print(f"{'':>10} samplics: {peer:.2f} s on {args.peer_domains} random domains × {data['question_points'].size} "
              f"questions, extrapolated linearly to {data['n_domains']} domains; its ratios and "
              f"SEs differ from ours by at most {difference:.1e} points")


if __name__ == "__main__":
    main()
