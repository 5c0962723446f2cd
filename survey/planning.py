"""How many responses to collect.

Target precision from a previous period. A period with n responses gave a standard error SE; the SE
of a simple mean-like estimate falls as 1/√n, so with n_new responses

    SE_new ≈ SE · √(n / n_new)

and the interval half-width is q · SE_new with q = t_{1−α/2, n_new − strata}. The smallest n_new
with q · SE · √(n / n_new) ≤ h is

    n_new = ⌈ n · (q · SE / h)² ⌉,

solved by starting from the normal quantile and updating the t quantile until n_new stops changing
(it only grows, since t > z). Assumptions: the same group mix and answer spread as the previous
period; h is the half-width on the points scale (the logit interval is close to symmetric away
from 0 and M). The result is never below 5, the fewest responses that get an interval.

Slovin (the SIPAS method): n = N / (1 + N · e²) for N transactions and margin e, rounded up. A
value within 1e-9 of a whole number is taken as that number before rounding up, so that binary
rounding does not add a response (N = 400, e = 0.05 → exactly 200).
"""

from __future__ import annotations

import math

from scipy import special

from survey.intervals import MIN_RESPONSES_FOR_INTERVAL, check_level

MAX_ITERATIONS = 100


def expected_se(se: float, n: int, n_new: int) -> float:
    """SE · √(n / n_new): the standard error expected with n_new responses."""
    if n < 1 or n_new < 1:
        raise ValueError("response counts must be at least 1")
    return se * math.sqrt(n / n_new)


def responses_needed(se: float, n: int, half_width: float, *, level: float = 0.95,
                     strata: int = 1) -> int:
    """Responses for an interval half-width `half_width`, given SE from a period with n responses.

    `strata` is the number of respondent groups (df = n_new − strata).
    """
    level = check_level(level)
    if not (se >= 0 and math.isfinite(se)):
        raise ValueError(f"the standard error must be a non-negative number, not {se!r}")
    if n < 1:
        raise ValueError("the previous period needs at least one response")
    if not (half_width > 0 and math.isfinite(half_width)):
        raise ValueError(f"the target half-width must be positive, not {half_width!r}")
    if strata < 1:
        raise ValueError("there is at least one stratum")
    quantile = special.ndtri(0.5 + level / 2.0)
    needed = 0
    for _ in range(MAX_ITERATIONS):
        updated = max(math.ceil(n * (quantile * se / half_width) ** 2), MIN_RESPONSES_FOR_INTERVAL)
        if updated == needed:
            break
        needed = updated
        quantile = special.stdtrit(max(needed - strata, 1), 0.5 + level / 2.0)
    return needed


def slovin_sample_size(transactions: int, margin: float = 0.05) -> int:
    """Slovin's n = N / (1 + N · e²), rounded up (N transactions, margin of error e)."""
    if transactions < 0 or int(transactions) != transactions:
        raise ValueError(f"the number of transactions must be a whole number ≥ 0, not {transactions!r}")
    if not 0 < margin < 1:
        raise ValueError(f"the margin of error must be between 0 and 1, not {margin!r}")
    exact = transactions / (1.0 + transactions * margin**2)
    nearest = round(exact)
    return int(nearest) if abs(exact - nearest) < 1e-9 else math.ceil(exact)
