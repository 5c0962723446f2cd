"""Write tests/reference/responses.csv, the synthetic data of the R comparison (run once).

    python tests/reference/make_dataset.py

Three units × two quarters of 2024 with unequal group mixes, unscored answers (X) and blanks, a
domain where nobody scored question 3.3 (U2 in 2024-Q1: criterion 3 is partial), a domain with a
single respondent in one group (U3 in 2024-Q1: a stratum with n_h = 1), and one response without a
group (left out of every estimate). The file is stored; rerunning rewrites the same content.
"""

from pathlib import Path

import numpy as np
import pandas as pd

QUESTIONS = ["1.1", "1.2", "1.3", "2.1", "2.2", "3.1", "3.2", "3.3"]
OPTIONS = ["A", "B", "C", "D", "X", ""]


def main() -> None:
    rng = np.random.default_rng(20240923)
    rows = []
    sizes = {("U1", "2024-Q1"): 34, ("U1", "2024-Q2"): 41, ("U2", "2024-Q1"): 23,
             ("U2", "2024-Q2"): 30, ("U3", "2024-Q1"): 15, ("U3", "2024-Q2"): 19}
    quality = {"U1": [0.35, 0.35, 0.15, 0.05], "U2": [0.2, 0.4, 0.25, 0.1],
               "U3": [0.5, 0.3, 0.1, 0.05]}
    for (unit, period), size in sizes.items():
        if (unit, period) == ("U3", "2024-Q1"):
            groups = ["DAN"] * 9 + ["DN"] * 5 + ["CB"]
        else:
            groups = list(rng.choice(["DAN", "DN", "CB"], size=size, p=[0.5, 0.3, 0.2]))
        for group in groups:
            scored = np.array(quality[unit]) * 0.88
            probabilities = list(scored) + [0.08, 0.04]
            probabilities[-1] = 1.0 - sum(probabilities[:-1])
            answers = rng.choice(OPTIONS, size=len(QUESTIONS), p=probabilities)
            if (unit, period) == ("U2", "2024-Q1"):
                answers[7] = rng.choice(["X", ""])
            rows.append([unit, period, group, *answers])
    rows.append(["U1", "2024-Q1", "", "A", "A", "B", "A", "A", "A", "A", "A"])
    responses = pd.DataFrame(rows, columns=["unit", "period", "group", *QUESTIONS])
    responses.insert(0, "response_id", np.arange(1, len(responses) + 1))
    responses.to_csv(Path(__file__).with_name("responses.csv"), index=False)


if __name__ == "__main__":
    main()
