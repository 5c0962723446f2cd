"""Questionnaire files: the shipped ones are valid, and every validation rule names the file and
the path of the bad key (README, "Questionnaire format")."""

from __future__ import annotations

import contextlib
import copy
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.questionnaire import (
    QuestionnaireError,
    load_questionnaire,
    parse_questionnaire,
    shipped_questionnaire_paths,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "questionnaires").glob("*.yaml"))
DTXHH = [p for p in SHIPPED if p.name.startswith("dtxhh-haugiang-")]


# --- the shipped files ---------------------------------------------------------------


def test_shipped_paths_are_every_yaml_file_in_questionnaires():
    assert SHIPPED, "questionnaires/ holds no .yaml file"
    assert [p.resolve() for p in shipped_questionnaire_paths()] == SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_is_valid_and_named_after_its_id_and_version(path):
    questionnaire = load_questionnaire(path)
    assert path.name == f"{questionnaire.id}-{questionnaire.version}.yaml"
    assert math.isclose(sum(c.points for c in questionnaire.criteria), questionnaire.max_points)
    for criterion in questionnaire.criteria:
        assert math.isclose(sum(q.points for q in criterion.questions), criterion.points)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_text_has_an_english_translation(path):
    questionnaire = load_questionnaire(path)
    texts = [questionnaire.title, questionnaire.description]
    texts += [c.title for c in questionnaire.criteria]
    texts += [q.text for q in questionnaire.questions]
    texts += [o.label for scale in questionnaire.scales.values() for o in scale.options]
    texts += [g.label for g in questionnaire.groups]
    untranslated = [t.vi for t in texts if t is not None and not t.en]
    assert untranslated == []


def test_shipped_ids_and_versions():
    keys = [load_questionnaire(p).key for p in SHIPPED]
    assert len(keys) == len(set(keys)), "two shipped files share an id@version"
    assert {"dtxhh-haugiang@2023", "dtxhh-haugiang@2024", "sipas@2024"} <= set(keys)


@pytest.mark.parametrize("path", DTXHH, ids=lambda p: p.name)
def test_dtxhh_has_seven_dimensions_of_22_points_and_three_groups(path):
    questionnaire = load_questionnaire(path)
    assert questionnaire.max_points == 22
    assert questionnaire.structure() == (
        ("1", 4), ("2", 3), ("3", 3), ("4", 3), ("5", 3), ("6", 3), ("7", 3),
    )
    assert [g.code for g in questionnaire.groups] == ["DAN", "DN", "CB"]
    assert all(g.weight > 0 for g in questionnaire.groups)


def test_dtxhh_2023_and_2024_differ_but_share_the_criteria_structure():
    old = load_questionnaire(ROOT / "questionnaires" / "dtxhh-haugiang-2023.yaml")
    new = load_questionnaire(ROOT / "questionnaires" / "dtxhh-haugiang-2024.yaml")
    assert old.id == new.id
    assert old.structure() == new.structure()
    assert old.content_hash != new.content_hash
    assert old.questions != new.questions


def test_sipas_has_five_elements_on_a_five_level_scale():
    questionnaire = load_questionnaire(ROOT / "questionnaires" / "sipas-2024.yaml")
    assert len(questionnaire.criteria) == 5
    assert questionnaire.groups == ()
    (scale,) = questionnaire.scales.values()
    assert sorted(o.code for o in scale.options if o.score is not None) == ["1", "2", "3", "4", "5"]


# --- a minimal valid document and its mutations -------------------------------------


def minimal_document() -> dict:
    return {
        "id": "mini",
        "version": "1",
        "title": {"vi": "Phiếu thử", "en": "Test form"},
        "max_points": 3,
        "scales": {
            "s": [
                {"code": "A", "label": {"vi": "Tốt", "en": "Good"}, "score": 1.0},
                {"code": "B", "label": "Kém", "score": 0.0},
                {"code": "X", "label": {"vi": "Không biết"}, "score": None},
            ]
        },
        "groups": [
            {"code": "G1", "label": {"vi": "Người dân"}, "weight": 0.5},
            {"code": "G2", "label": "Doanh nghiệp", "weight": 0.5},
        ],
        "criteria": [
            {
                "code": "1",
                "title": {"vi": "Một"},
                "points": 2,
                "questions": [
                    {"code": "1.1", "text": {"vi": "Câu một"}, "scale": "s", "points": 1.5},
                    {"code": "1.2", "text": "Câu hai", "scale": "s", "points": 0.5,
                     "help": {"vi": "Gợi ý"}},
                ],
            },
            {
                "code": "2",
                "title": "Hai",
                "points": 1,
                "questions": [{"code": "2.1", "text": "Câu ba", "scale": "s", "points": 1}],
            },
        ],
    }


def dump(document) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def _parent(document, path):
    node = document
    for part in path[:-1]:
        node = node[part]
    return node


def set_(path, value):
    def mutate(document):
        _parent(document, path)[path[-1]] = value
    return mutate


def delete(path):
    def mutate(document):
        del _parent(document, path)[path[-1]]
    return mutate


def unscore_all(document):
    for option in document["scales"]["s"]:
        option["score"] = None


def test_the_minimal_document_is_valid():
    questionnaire = parse_questionnaire(dump(minimal_document()))
    assert questionnaire.key == "mini@1"
    assert questionnaire.question_codes == ("1.1", "1.2", "2.1")
    assert questionnaire.question("1.2").help.vi == "Gợi ý"
    assert questionnaire.scale_of("2.1").option("X").score is None
    assert questionnaire.title.get("en") == "Test form"


def test_version_written_as_a_number_is_the_same_text_version():
    document = minimal_document()
    document["version"] = 2024
    assert parse_questionnaire(dump(document)).version == "2024"


# (test id, mutation, path expected in the message, fragment expected in the message)
BAD_DOCUMENTS = [
    ("duplicate criterion code", set_(("criteria", 1, "code"), "1"), "criteria", "'1'"),
    ("duplicate question code", set_(("criteria", 1, "questions", 0, "code"), "1.1"),
     "criteria", "'1.1'"),
    ("duplicate option code", set_(("scales", "s", 1, "code"), "A"), "scales.s", "'A'"),
    ("duplicate group code", set_(("groups", 1, "code"), "G1"), "groups", "'G1'"),
    ("question points do not sum to the criterion",
     set_(("criteria", 0, "questions", 1, "points"), 1), "criteria[0].questions", "sum to 2.5"),
    ("criteria do not sum to max_points", set_(("max_points",), 4), "max_points", "sum to 3"),
    ("unknown scale", set_(("criteria", 1, "questions", 0, "scale"), "muc5"),
     "criteria[1].questions[0].scale", "'muc5'"),
    ("score above 1", set_(("scales", "s", 0, "score"), 1.5), "scales.s[0].score", "1"),
    ("score below 0", set_(("scales", "s", 1, "score"), -0.1), "scales.s[1].score", "0"),
    ("scale without a scored option", unscore_all, "scales.s", "scored option"),
    ("scale without options", set_(("scales", "s"), []), "scales.s", "option"),
    ("weight zero", set_(("groups", 1, "weight"), 0), "groups[1].weight", "greater than 0"),
    ("weight negative", set_(("groups", 0, "weight"), -0.5), "groups[0].weight", "greater than 0"),
    ("question points zero", set_(("criteria", 1, "questions", 0, "points"), 0),
     "criteria[1].questions[0].points", "greater than 0"),
    ("missing question points", delete(("criteria", 0, "questions", 1, "points")),
     "criteria[0].questions[1].points", "required key is missing"),
    ("missing id", delete(("id",)), "id", "required key is missing"),
    ("missing criteria", delete(("criteria",)), "criteria", "required key is missing"),
    ("missing option score", delete(("scales", "s", 0, "score")), "scales.s[0].score",
     "required key is missing"),
    ("typo point for points", set_(("criteria", 0, "questions", 1, "point"), 0.5),
     "criteria[0].questions[1].point", "unknown key"),
    ("unknown top-level key", set_(("titel",), "x"), "titel", "unknown key"),
    ("unknown group key", set_(("groups", 0, "weigth"), 1), "groups[0].weigth", "unknown key"),
    ("label map without vi", set_(("criteria", 1, "title"), {"en": "Two"}),
     "criteria[1].title", "'vi'"),
    ("label map with empty vi", set_(("groups", 0, "label"), {"vi": " ", "en": "Citizens"}),
     "groups[0].label", "'vi'"),
    ("label map with another language", set_(("title",), {"vi": "Phiếu", "fr": "Formulaire"}),
     "title", "'fr'"),
    ("empty question text", set_(("criteria", 0, "questions", 0, "text"), ""),
     "criteria[0].questions[0].text", "empty"),
    ("code with a space", set_(("criteria", 0, "code"), "1 a"), "criteria[0].code", "pattern"),
    ("points not a number", set_(("criteria", 0, "points"), "two"), "criteria[0].points",
     "number"),
    ("infinite max_points", set_(("max_points",), float("inf")), "max_points", "finite"),
]


@pytest.mark.parametrize(
    ("mutate", "key_path", "fragment"),
    [case[1:] for case in BAD_DOCUMENTS],
    ids=[case[0] for case in BAD_DOCUMENTS],
)
def test_each_rule_names_the_file_and_the_key_path(tmp_path, mutate, key_path, fragment):
    document = minimal_document()
    mutate(document)
    path = tmp_path / "tinh-hau-giang.yaml"
    path.write_text(dump(document), encoding="utf-8")
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path)
    message = str(caught.value)
    assert f"{path}: {key_path}" in message
    assert fragment in message
    assert caught.value.source == str(path)
    assert any(p.startswith(key_path) for p, _ in caught.value.problems)


def test_several_problems_are_all_listed():
    document = minimal_document()
    set_(("criteria", 0, "questions", 1, "point"), 0.5)(document)
    set_(("groups", 1, "weight"), 0)(document)
    with pytest.raises(QuestionnaireError) as caught:
        parse_questionnaire(dump(document), source="two-problems.yaml")
    paths = [p for p, _ in caught.value.problems]
    assert "criteria[0].questions[1].point" in paths
    assert "groups[1].weight" in paths


def test_points_problem_deep_in_the_file_names_the_criterion_and_question_indices():
    # The README's own example: criteria[2].questions[1].points.
    document = minimal_document()
    document["max_points"] = 4
    document["criteria"].append({
        "code": "3", "title": "Ba", "points": 1,
        "questions": [{"code": "3.1", "text": "a", "scale": "s", "points": 0.5},
                      {"code": "3.2", "text": "b", "scale": "s", "points": -0.5}],
    })
    with pytest.raises(QuestionnaireError) as caught:
        parse_questionnaire(dump(document), source="deep.yaml")
    assert "deep.yaml: criteria[2].questions[1].points: " in str(caught.value)


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text('id: mini\nversion: "1"\ntitle: a: b\nmax_points: 3\n', encoding="utf-8")
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path)
    message = str(caught.value)
    assert f"{path}: line 3" in message
    assert "not valid YAML" in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a sentence\n", "42\n", ""],
                         ids=["list", "string", "number", "empty"])
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path, text):
    path = tmp_path / "not-a-mapping.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path)
    assert f"{path}: " in str(caught.value)
    assert "mapping" in str(caught.value)


@pytest.mark.parametrize("make", ["missing", "directory", "not-utf8"])
def test_an_unreadable_file_is_refused_with_its_name(tmp_path, make):
    path = tmp_path / "unreadable.yaml"
    if make == "directory":
        path.mkdir()
    elif make == "not-utf8":
        path.write_bytes(dump(minimal_document()).encode("utf-8").replace(b"mini", b"m\xe0ni"))
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "cannot read" in str(caught.value)


# --- never another exception -----------------------------------------------------------


@settings(max_examples=200, deadline=None, database=None)
@given(st.text())
def test_arbitrary_text_parses_or_raises_questionnaire_error(text):
    try:
        parse_questionnaire(text, source="fuzz.yaml")
    except QuestionnaireError as error:
        assert str(error).startswith("fuzz.yaml: ")


@settings(max_examples=100, deadline=None, database=None)
@given(st.binary())
def test_arbitrary_bytes_parse_or_raise_questionnaire_error(content):
    with contextlib.suppress(QuestionnaireError):
        parse_questionnaire(content, source="fuzz.yaml")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(content)
        try:
            load_questionnaire(path)
        except QuestionnaireError as error:
            assert str(error).startswith(f"{path}: ")


def _node_paths(node, prefix=()):
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _node_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _node_paths(value, (*prefix, index))


NODE_PATHS = list(_node_paths(minimal_document()))
YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(NODE_PATHS), YAML_VALUES, st.booleans()),
                min_size=1, max_size=3))
def test_arbitrary_changes_to_a_valid_document_parse_or_raise_questionnaire_error(changes):
    document = copy.deepcopy(minimal_document())
    for path, value, remove in changes:
        try:
            parent = _parent(document, path)
            if remove:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this node
    try:
        parse_questionnaire(dump(document), source="fuzz.yaml")
    except QuestionnaireError as error:
        assert error.problems


@pytest.mark.parametrize(
    "mutate",
    [set_(("criteria", 0, "questions", 1, "help"), {"en": "Hint"}),
     set_(("criteria", 0, "questions", 1, "help"), {}),
     set_(("description",), {"en": "About this form"})],
    ids=["help-en-only", "help-empty-map", "description-en-only"],
)
def test_optional_label_map_without_vi_is_a_questionnaire_error(mutate):
    document = minimal_document()
    mutate(document)
    with pytest.raises(QuestionnaireError) as caught:
        parse_questionnaire(dump(document), source="optional.yaml")
    assert "'vi'" in str(caught.value)


@pytest.mark.parametrize("text", ["[" * 1000, "[" * 1000 + "]" * 1000, "- " * 1000 + "x"],
                         ids=["open-brackets", "closed-brackets", "nested-lists"])
def test_deeply_nested_yaml_is_a_questionnaire_error(text):
    try:
        parse_questionnaire(text, source="deep.yaml")
    except QuestionnaireError:
        return
    except RecursionError:
        raised = "RecursionError"  # reported outside the handler: a 1000-frame traceback is slow
    else:
        raised = "nothing"
    pytest.fail(f"deeply nested YAML raised {raised}, not QuestionnaireError")
