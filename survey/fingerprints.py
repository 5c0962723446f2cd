"""Content fingerprints of stored responses: one 64-bit number per row, computed on whole arrays.

A paper import keeps the fingerprint of every row it stored (table `import_row`), so a later
file that repeats some of those rows is caught whatever its bytes, order or spreadsheet type.

The fingerprint is that of the row as stored: its unit (id), its quarter (canonical, `2024-Q3`),
its respondent group ('' for none) and its answers as the compact bytes of its questionnaire
version (survey/answer_codes.py), under the version's id. The same row typed into a CSV or an
XLSX, with columns in any order, has the same fingerprint; a response already stored has the
fingerprint of the row that stored it (the migration that created `import_row` computed the
fingerprints of earlier imports from their responses).

Notes
-----
The row's key columns (version, unit, quarter, group) take few distinct values: each distinct
value is hashed once with BLAKE2b (8 bytes) and the row starts from the mix of its values'
hashes. The answers are then taken eight bytes at a time (one little-endian 64-bit word,
zero-padded), each word mixed in as ``h = fmix64(h ^ word)`` where fmix64 is MurmurHash3's
64-bit finaliser, a bijection. Two rows that differ in a single word therefore never collide;
otherwise two different rows share a fingerprint with probability about 2^-64 (for a million
stored rows against a 100,000-row file, about 5e-9). Numpy does the arithmetic on whole columns:
a loop runs over the words of a row (a 40-question version has five), never over rows.

The result must never change for a given row: fingerprints are stored. Changing this function
needs a migration that recomputes `import_row`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


def _fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser on every element (a bijection of uint64)."""
    values = values ^ (values >> _S33)
    values = values * _M1
    values = values ^ (values >> _S33)
    values = values * _M2
    return values ^ (values >> _S33)


def _value_hashes(values: np.ndarray, field: str) -> np.ndarray:
    """The BLAKE2b-64 of each element's text (hashed once per distinct value), as uint64."""
    inverse, distinct = pd.factorize(np.asarray(values).astype(str))
    hashed = np.array(
        [int.from_bytes(hashlib.blake2b(f"{field}\x1f{value}".encode(), digest_size=8).digest(),
                        "little") for value in distinct],
        dtype=np.uint64,
    )
    return hashed[inverse]


def row_fingerprints(
    *,
    version_id: int,
    unit_ids: np.ndarray,
    periods: np.ndarray,
    groups: np.ndarray,
    answers: np.ndarray,
) -> np.ndarray:
    """The fingerprint (int64) of each row: `unit_ids`, canonical `periods`, `groups` ('' for
    none) of n rows, and `answers` an (n, questions) uint8 matrix of the compact answer bytes.

    >>> prints = row_fingerprints(version_id=1, unit_ids=np.array([3, 3]),
    ...     periods=np.array(["2024-Q3", "2024-Q3"]), groups=np.array(["", ""]),
    ...     answers=np.array([[1, 2], [1, 2]], dtype=np.uint8))
    >>> bool(prints[0] == prints[1]), prints.dtype.name
    (True, 'int64')
    """
    rows = len(unit_ids)
    groups = np.asarray(groups, dtype=object).copy()
    groups[groups == None] = ""  # noqa: E711 - element-wise: a stored NULL group is no group
    with np.errstate(over="ignore"):
        state = np.full(rows, _value_hashes(np.array([version_id]), "version")[0], dtype=np.uint64)
        for field, values in (("unit", np.asarray(unit_ids)), ("period", np.asarray(periods)),
                              ("group", groups)):
            state = _fmix64(state ^ _value_hashes(values, field))
        matrix = np.ascontiguousarray(answers, dtype=np.uint8).reshape(rows, -1)
        width = -(-matrix.shape[1] // 8) * 8
        padded = np.zeros((rows, width), dtype=np.uint8)
        padded[:, : matrix.shape[1]] = matrix
        words = padded.view("<u8").astype(np.uint64)
        for column in range(words.shape[1]):
            state = _fmix64(state ^ words[:, column])
        state = _fmix64(state ^ np.uint64(matrix.shape[1]))
    return state.view(np.int64)
