"""The compact form of a response's answers, and the one validator of answers.

Representation (column ``response.answers``, BLOB on SQLite, bytea on PostgreSQL): one byte per
question of the response's questionnaire version, in the order the version lists its questions;
byte 0 = not answered, byte b ≥ 1 = the b-th option of that question's scale (1-based, in the
order the scale lists its options). The registered text of a version never changes (its content
hash is stored), so the bytes of a stored response always decode the same way; question codes
themselves are what stays stable across the versions of a family, and decoding maps each
version's positions to the family's question codes.

A scale therefore holds at most 255 options (checked when a codec is made).

Decoding is vectorised: the blobs of one version are concatenated and read with
``numpy.frombuffer`` into an (n × Q) ``uint8`` matrix; no Python object per answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from survey.questionnaire import Questionnaire

UNANSWERED = 0
MAX_OPTIONS = 255


class AnswerProblem(ValueError):
    """One problem with a set of answers: `field` is a question code or 'group'."""

    def __init__(self, code: str, field: str, **params: str):
        self.code = code
        self.field = field
        self.params = params
        super().__init__(f"{field}: {ANSWER_MESSAGES[code].format(**params)}")


# English texts of the validator's problems (the pages translate by code).
ANSWER_MESSAGES = {
    "unknown_group": "unknown respondent group {value!r} (use {allowed})",
    "no_groups": "this questionnaire has no respondent groups ({value!r})",
    "unknown_question": "unknown question {value!r}",
    "unknown_option": "option {value!r} is not on this question's scale ({allowed})",
}


@dataclass(frozen=True)
class AnswerCodec:
    """Validates, encodes and decodes the answers of one questionnaire version."""

    questionnaire: Questionnaire

    def __post_init__(self) -> None:
        for scale in self.questionnaire.scales.values():
            if len(scale.options) > MAX_OPTIONS:
                raise ValueError(
                    f"scale {scale.code} has {len(scale.options)} options; at most {MAX_OPTIONS}"
                )

    @cached_property
    def question_codes(self) -> tuple[str, ...]:
        return self.questionnaire.question_codes

    @cached_property
    def option_codes(self) -> tuple[tuple[str, ...], ...]:
        """For each question (version order), its scale's option codes (byte b → [b − 1])."""
        return tuple(tuple(o.code for o in self.questionnaire.scale_of(code).options)
                     for code in self.question_codes)

    @cached_property
    def _byte_of(self) -> dict[str, dict[str, int]]:
        return {code: {option: b for b, option in enumerate(options, start=1)}
                for code, options in zip(self.question_codes, self.option_codes, strict=True)}

    @cached_property
    def _position(self) -> dict[str, int]:
        return {code: j for j, code in enumerate(self.question_codes)}

    @cached_property
    def _group_codes(self) -> frozenset[str]:
        return frozenset(g.code for g in self.questionnaire.groups)

    # --- one response ---------------------------------------------------------------------

    def problems(self, group_code: str | None, answers: Mapping[str, str | None]
                 ) -> list[AnswerProblem]:
        """Every problem with one response's group and answers; empty when valid.

        Unanswered questions (missing, None or '') are allowed: the web form insists on
        completeness itself, paper forms may leave blanks.
        """
        found: list[AnswerProblem] = []
        if self._group_codes:
            if (group_code or "") not in self._group_codes:
                found.append(AnswerProblem("unknown_group", "group", value=str(group_code or ""),
                                           allowed=", ".join(g.code for g in
                                                             self.questionnaire.groups)))
        elif group_code:
            found.append(AnswerProblem("no_groups", "group", value=group_code))
        for code, option in answers.items():
            options = self._byte_of.get(code)
            if options is None:
                found.append(AnswerProblem("unknown_question", code, value=code))
            elif option and option not in options:
                found.append(AnswerProblem("unknown_option", code, value=option,
                                           allowed=", ".join(options)))
        return found

    def encode(self, answers: Mapping[str, str | None]) -> bytes:
        """The stored bytes of valid answers (see the module docstring); KeyError if invalid."""
        encoded = bytearray(len(self.question_codes))
        for code, option in answers.items():
            if option:
                encoded[self._position[code]] = self._byte_of[code][option]
        return bytes(encoded)

    def decode_one(self, stored: bytes) -> dict[str, str]:
        """{question code: option code} of the answered questions of one stored value."""
        return {code: self.option_codes[j][b - 1]
                for j, (code, b) in enumerate(zip(self.question_codes, stored, strict=True)) if b}

    # --- many responses -------------------------------------------------------------------

    def encode_table(self, codes: Mapping[str, Sequence[str]], rows: int) -> np.ndarray:
        """(rows × Q) uint8 matrix from columns of option codes ('' or missing = unanswered).

        Raises AnswerProblem for the first invalid value; the caller reports every problem
        itself from `invalid_rows`.
        """
        matrix = np.zeros((rows, len(self.question_codes)), dtype=np.uint8)
        for code, values in codes.items():
            j = self._position.get(code)
            if j is None:
                raise AnswerProblem("unknown_question", code, value=code)
            matrix[:, j] = self.column_bytes(code, values)
        return matrix

    def column_bytes(self, code: str, values: Sequence[str]) -> np.ndarray:
        """One question's bytes from its option codes (vectorised; '' = unanswered).

        Raises AnswerProblem for a value not on the scale (`invalid_rows` lists them all)."""
        lookup = {"": UNANSWERED} | self._byte_of[code]
        uniques, inverse = np.unique(np.asarray(values, dtype=object).astype(str),
                                     return_inverse=True)
        mapped = np.array([lookup.get(u, -1) for u in uniques], dtype=np.int16)
        column = mapped[inverse]
        if (column < 0).any():
            bad = uniques[mapped < 0][0]
            raise AnswerProblem("unknown_option", code, value=str(bad),
                                allowed=", ".join(self._byte_of[code]))
        return column.astype(np.uint8)

    def invalid_rows(self, code: str, values: Sequence[str]) -> np.ndarray:
        """Positions of values that are neither '' nor an option of question `code`."""
        allowed = np.array(["", *self._byte_of[code]], dtype=object)
        return np.flatnonzero(~np.isin(np.asarray(values, dtype=object), allowed))

    def decode(self, stored: Sequence[bytes] | bytes, rows: int | None = None) -> np.ndarray:
        """(n × Q) uint8 matrix of many stored values (a sequence, or their concatenation)."""
        width = len(self.question_codes)
        joined = stored if isinstance(stored, bytes | bytearray | memoryview) else b"".join(stored)
        matrix = np.frombuffer(joined, dtype=np.uint8)
        n = matrix.size // width if width else (rows or 0)
        if matrix.size != n * width:
            raise ValueError("stored answers do not match the questionnaire version's length")
        return matrix.reshape(n, width)


_CODECS: dict[tuple[str, str, str], AnswerCodec] = {}


def codec_of(questionnaire: Questionnaire) -> AnswerCodec:
    """The (cached) codec of a questionnaire version."""
    key = (questionnaire.id, questionnaire.version, questionnaire.content_hash)
    codec = _CODECS.get(key)
    if codec is None:
        codec = _CODECS[key] = AnswerCodec(questionnaire)
    return codec
