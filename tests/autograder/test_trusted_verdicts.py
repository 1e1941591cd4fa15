"""A test's verdict is the grader's, never what a student's kernel says about it.

One grading run per assignment (``pipeline.grade``, two workers, the sandbox, the course's
synthetic data); every case below is a student of that run (who is in which run:
:data:`STUDENTS`; the B2 runs keep to the cheapest):

- ``solution``: the release with its answer cells filled from the source's solutions; full
  automatic points (every run);
- ``alternative``: ``SPECS[A].alternative`` of tests/notebooks/spec.py (the functional API,
  NumPy integers, tuples for lists...); full automatic points (B1-1, B1-2);
- ``wrong``: ``SPECS[A].wrong``; loses exactly the tests in ``wrong_zero`` (B1-1, B1-2);
- ``untouched``: the release as handed out; scores nothing (B1-1, B1-2);
- ``forge-send``: the untouched release with the kernel session's ``send`` replaced so that
  error messages are dropped and error replies go out as ``ok`` (every run);
- ``drop-errors``: the cruder version that only drops the error messages (B1-1, B1-2);
- ``int-subclass`` / ``ndarray-subclass``: every answer returns (or is) an ``int`` /
  ``ndarray`` subclass that equals, is close to and is as large as anything (every run);
- ``numpy-submodule``: the wrong answers plus ``numpy._core`` rebound so that
  ``np.allclose`` and ``np.all`` say yes; the guard restores ``numpy``'s own names only (B1-1).

An attack gains nothing: the attacks on the untouched release score 0 on every test, as the
untouched release does (here and in tests/notebooks/test_contract.py), and the NumPy patch
scores exactly what the wrong answers score. B1-1's run also grades students whose
``mlp_params`` hangs (once ignoring the interrupt) or raises on a hidden test's inputs;
B2-2's, students whose ``build_conv3_3x3`` model holds a layer class of their own or a
``Lambda`` layer: only the test calling or reading that answer fails, with the reason on the
student's feedback page.

Scores come from report.json (``students[s].tests``), reasons from the feedback pages: the
grader's public outputs. Tests are compared with the release's own test list, so a test
added, renamed or removed in a notebook (B2-1's ``conv2d_batched`` is being redesigned) needs
no change here.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import attack_builders as ab
import nbformat
import pytest
from course_copies import course_copy

from autograder import pipeline
from autograder.options import Options

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ("B1-1", "B1-2", "B2-1", "B2-2", "B2-3")
ATTACKS = ("forge-send", "drop-errors", "int-subclass", "ndarray-subclass")  # on the untouched release

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/ns/pid").exists(), reason="Linux namespaces needed for the sandbox"),
]


def _load_specs():
    """tests/notebooks/spec.py's SPECS, loaded by path (tests/notebooks is not on sys.path here)."""
    path = REPO / "tests" / "notebooks" / "spec.py"
    module_spec = importlib.util.spec_from_file_location("notebook_specs_for_trusted_verdicts", path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # dataclasses look their module up there
    module_spec.loader.exec_module(module)
    return module.SPECS


SPECS = _load_specs()


# --------------------------------------------------------------------------- the extra students of B1-1 and of B2-2

_KNOWN_SIZES = "([3, 4, 2], [784, 512, 512, 10])"  # the networks of the visible checks and of the notebook's model


def _mlp_params_unless_known(what: str, misbehaviour: str) -> str:
    """B1-1's mlp_params, right for the networks the notebook shows, misbehaving on the
    random networks only a hidden test uses."""
    return f'''
def _spin():
    while True:
        pass


def mlp_params(sizes: list[int]) -> int:
    """Right for the networks I tried; {what} for any other."""
    if list(sizes) not in {_KNOWN_SIZES}:
{misbehaviour}
    return sum(dense_params(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
'''


MISBEHAVING = "B1-1"  # its run also grades students whose mlp_params misbehaves in a hidden test
MISBEHAVING_CELL_TIMEOUT = 10  # seconds a hang costs; B1-1's longest cell takes under 2
MISBEHAVING_MLP_PARAMS = {
    "hangs": _mlp_params_unless_known("hangs", "        _spin()"),
    "hangs-ignoring-interrupt": _mlp_params_unless_known(
        "hangs, ignoring the first interrupt", "        try:\n            _spin()\n        except KeyboardInterrupt:\n            _spin()"
    ),
    "raises": _mlp_params_unless_known("raises", '        raise RuntimeError("この入力は想定していません")'),
}
MISBEHAVING_TEST = "test_mlp_params_random_networks"  # the one test calling mlp_params on other networks

NON_STANDARD = "B2-2"  # its run also grades models with a layer that is not plain Keras
_CONV3_LAYERS = """
            keras.Input(shape=(32, 32, 3)),
            {conv}(32, kernel_size=(3, 3), padding="same", activation="relu"),
            {conv}(32, kernel_size=(3, 3), padding="same", activation="relu"),
            {conv}(32, kernel_size=(3, 3), padding="same", activation="relu"),{extra}
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dense(20, activation="relu"),
            layers.Dense(10, activation="softmax"),
"""
NON_STANDARD_MODELS = {
    # A class of the student's own that calls itself Conv2D and behaves as Keras's does: it
    # passes every check of the layer's name and settings today, yet it is student code (it
    # could override call or get_config), so a trusted process neither runs it nor takes it
    # for Keras's Conv2D.
    "custom-layer": (
        'class Conv2D(layers.Conv2D):\n    """Keras\'s Conv2D, as a class of my own."""\n\n\n'
        "def build_conv3_3x3() -> keras.Model:\n    return keras.Sequential(\n        ["
        + _CONV3_LAYERS.format(conv="Conv2D", extra="")
        + '        ],\n        name="conv3_3x3",\n    )\n'
    ),
    # A Lambda layer runs the student's own function wherever the model is called.
    "lambda-layer": (
        "def build_conv3_3x3() -> keras.Model:\n    return keras.Sequential(\n        ["
        + _CONV3_LAYERS.format(conv="layers.Conv2D", extra='\n            layers.Lambda(lambda x: x, name="my_identity"),')
        + '        ],\n        name="conv3_3x3",\n    )\n'
    ),
}
NON_STANDARD_MODEL_TEST = "test_conv3_3x3_architecture"  # the one test reading model_3x3
NON_STANDARD_MODEL_WORDS = {"custom-layer": ("model_3x3", "build_conv3_3x3", "Conv2D"), "lambda-layer": ("model_3x3", "build_conv3_3x3", "Lambda")}


# --------------------------------------------------------------------------- one grading run per assignment


#: who hands in what in each assignment's run. A student costs a worker 4-10 s in B1-1 and
#: B1-2 and 10-35 s in the B2 notebooks (2 cores shared with other work), so, to keep the file
#: to a few minutes, the B2 runs grade the solution, other correct answers (functional-API
#: models rebuilt by the judge) and the attacks that gained points before the judge;
#: the B1 runs also the untouched release, the plausible wrong answers,
#: the dropped error messages (defeated before too) and, in B1-1, the NumPy patch.
CHEAPEST = ("solution", "alternative", "forge-send", "int-subclass", "ndarray-subclass")
STUDENTS = {
    "B1-1": (*CHEAPEST, "untouched", "wrong", "drop-errors", "numpy-submodule", *MISBEHAVING_MLP_PARAMS),
    "B1-2": (*CHEAPEST, "untouched", "wrong", "drop-errors"),
    "B2-1": CHEAPEST,
    "B2-2": (*CHEAPEST, *NON_STANDARD_MODELS),
    "B2-3": CHEAPEST,
}


def submissions(assignment: str) -> dict[str, nbformat.NotebookNode]:
    """Student id -> the notebook that student hands in, for the students of ``STUDENTS[assignment]``."""
    release = nbformat.read(REPO / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(REPO / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    spec = SPECS[assignment]
    solution = ab.solution_answers(source)
    wrong = ab.answered(release, {**solution, **spec.wrong})
    subs = {
        "solution": ab.answered(release, solution),
        "alternative": ab.answered(release, {**solution, **spec.alternative}),
        "wrong": wrong,
        "untouched": release,
        "forge-send": ab.with_code_first(release, ab.FORGE_SEND),
        "drop-errors": ab.with_code_first(release, ab.DROP_ERRORS),
        "int-subclass": ab.cheating_submission(release, source, ab.ALWAYS_EQUAL_INT),
        "ndarray-subclass": ab.cheating_submission(release, source, ab.ALWAYS_EQUAL_ARRAY),
        "numpy-submodule": ab.with_code_first(wrong, ab.NUMPY_SUBMODULE_PATCH),
    }
    if assignment == MISBEHAVING:
        for name, code in MISBEHAVING_MLP_PARAMS.items():
            subs[name] = ab.answered(release, {**solution, "mlp_params": code})
    if assignment == NON_STANDARD:
        for name, code in NON_STANDARD_MODELS.items():
            subs[name] = ab.answered(release, {**solution, "build_conv3_3x3": code})
    return {student: subs[student] for student in STUDENTS[assignment]}


@dataclass
class Run:
    """What one grading run wrote: report.json, and the feedback page of each student."""

    assignment: str
    release_tests: dict[str, float]  # test cell -> points, from the release
    report: dict
    feedback: dict[str, str]

    def scores(self, student: str) -> dict[str, float]:
        """Test cell -> automatic points of ``student`` (every test of the release)."""
        tests = self.report["students"][student]["tests"]
        missing = sorted(set(self.release_tests) - set(tests))
        assert not missing, f"{self.assignment} {student}: no grade for {missing}; {self.problems(student)}"
        return {gid: float(tests[gid][0]) for gid in self.release_tests}

    def problems(self, student: str) -> str:
        data = self.report["students"][student]
        return f"status {data['status']}, problems {data['problems']}, findings {data['findings']}"

    def errors_in_feedback(self, student: str, test: str) -> list[str]:
        """The error lines the feedback page shows under ``test`` (``ename: evalue``)."""
        for section in re.findall(r'<section class="cell[^"]*">(.*?)</section>', self.feedback[student], re.S):
            if f"<code>{html.escape(test)}</code>" in section:
                return [html.unescape(e) for e in re.findall(r'<pre class="error">(.*?)</pre>', section, re.S)]
        raise AssertionError(f"{self.assignment} {student}: the feedback page has no section for {test}")


def grade(assignment: str, tmp_path_factory) -> Run:
    course = course_copy(tmp_path_factory.mktemp(f"course-{assignment}"))
    folder = tmp_path_factory.mktemp(f"submissions-{assignment}")
    for student, nb in submissions(assignment).items():
        nbformat.write(nb, folder / f"{student}_{assignment}.ipynb")
    out = tmp_path_factory.mktemp(f"out-{assignment}")
    timeout = MISBEHAVING_CELL_TIMEOUT if assignment == MISBEHAVING else 60
    pipeline.grade(Options(assignment=assignment, submissions=folder, course_root=course, out=out, jobs=2, cell_timeout=timeout, progress=False))
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    feedback = {p.stem: p.read_text(encoding="utf-8") for p in (out / "feedback").glob("*.html")}
    return Run(assignment, ab.test_points(release), report, feedback)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``get(assignment)``: that assignment's :class:`Run`, graded on first use."""
    cache: dict[str, Run] = {}

    def get(assignment: str) -> Run:
        if assignment not in cache:
            cache[assignment] = grade(assignment, tmp_path_factory)
        return cache[assignment]

    return get


def graded_as(student: str):
    """Parametrize over the assignments whose run grades ``student``."""
    return pytest.mark.parametrize("assignment", [a for a in ASSIGNMENTS if student in STUDENTS[a]])


def _differences(got: dict[str, float], want: dict[str, float]) -> dict[str, str]:
    return {gid: f"{got[gid]:g} instead of {want[gid]:g}" for gid in want if got[gid] != want[gid]}


def _wrong_answers_expected(run: Run) -> dict[str, float]:
    """The release's tests with their points, 0 on those ``SPECS[A].wrong`` must lose."""
    zero = SPECS[run.assignment].wrong_zero
    return {gid: 0.0 if gid in zero else points for gid, points in run.release_tests.items()}


# --------------------------------------------------------------------------- honest students keep their points


@graded_as("solution")
def test_solution_gets_full_automatic_points(runs, assignment):
    run = runs(assignment)
    got = run.scores("solution")
    assert got == run.release_tests, f"{assignment}: the solution lost points: {_differences(got, run.release_tests)}; {run.problems('solution')}"


@graded_as("alternative")
def test_alternative_correct_answers_get_full_automatic_points(runs, assignment):
    run = runs(assignment)
    got = run.scores("alternative")
    assert got == run.release_tests, (
        f"{assignment}: other correct answers lost points: {_differences(got, run.release_tests)}; {run.problems('alternative')}"
    )


@graded_as("wrong")
def test_wrong_answers_lose_exactly_the_tests_meant_to_catch_them(runs, assignment):
    run = runs(assignment)
    got, want = run.scores("wrong"), _wrong_answers_expected(run)
    assert got == want, f"{assignment}: the plausible wrong answers scored otherwise than meant: {_differences(got, want)}; {run.problems('wrong')}"


@graded_as("untouched")
def test_untouched_release_scores_nothing(runs, assignment):
    run = runs(assignment)
    scored = {gid: points for gid, points in run.scores("untouched").items() if points}
    assert not scored, f"{assignment}: the untouched release scored points: {scored}; {run.problems('untouched')}"


# --------------------------------------------------------------------------- attacks gain nothing


@pytest.mark.parametrize(
    "assignment, attack",
    [(a, attack) for a in ASSIGNMENTS for attack in ATTACKS if attack in STUDENTS[a]],
    ids=lambda value: value,
)
def test_attack_on_the_untouched_release_gains_no_point(runs, assignment, attack):
    """The untouched release scores 0 on every test (test_untouched_release_scores_nothing here,
    tests/notebooks/test_contract.py for every assignment); so must the attack."""
    run = runs(assignment)
    scored = {gid: points for gid, points in run.scores(attack).items() if points}
    assert not scored, (
        f"{assignment}: the {attack} attack gained {sum(scored.values()):g} automatic points over the untouched release: {scored}; {run.problems(attack)}"
    )


@graded_as("numpy-submodule")
def test_numpy_submodule_patch_makes_no_wrong_answer_pass(runs, assignment):
    run = runs(assignment)
    got, want = run.scores("numpy-submodule"), _wrong_answers_expected(run)
    gained = sum(got.values()) - sum(want.values())
    assert got == want, (
        f"{assignment}: rebinding numpy._core functions gained the wrong answers {gained:g} points: {_differences(got, want)}; {run.problems('numpy-submodule')}"
    )


# --------------------------------------------------------------------------- B1-1: a student function misbehaving in a hidden test


@pytest.mark.parametrize("student", sorted(MISBEHAVING_MLP_PARAMS))
def test_student_function_misbehaving_in_a_hidden_test_fails_that_test_only(runs, student):
    run = runs(MISBEHAVING)
    want = {gid: 0.0 if gid == MISBEHAVING_TEST else points for gid, points in run.release_tests.items()}
    got = run.scores(student)
    assert got == want, (
        f"an mlp_params that {student} on hidden inputs should cost {MISBEHAVING_TEST} only: {_differences(got, want)}; {run.problems(student)}"
    )


@pytest.mark.parametrize("student", sorted(MISBEHAVING_MLP_PARAMS))
def test_student_function_misbehaving_in_a_hidden_test_is_explained_on_the_feedback_page(runs, student):
    run = runs(MISBEHAVING)
    shown = [e for e in run.errors_in_feedback(student, MISBEHAVING_TEST) if e.strip()]
    assert shown, f"the feedback page of an mlp_params that {student} shows no reason under {MISBEHAVING_TEST}"


# --------------------------------------------------------------------------- B2-2: models that are not plain Keras


@pytest.mark.parametrize("student", sorted(NON_STANDARD_MODELS))
def test_model_with_a_non_standard_layer_fails_the_tests_reading_it(runs, student):
    run = runs(NON_STANDARD)
    want = {gid: 0.0 if gid == NON_STANDARD_MODEL_TEST else points for gid, points in run.release_tests.items()}
    got = run.scores(student)
    assert got == want, (
        f"a build_conv3_3x3 with a {student} should cost {NON_STANDARD_MODEL_TEST} only: {_differences(got, want)}; {run.problems(student)}"
    )


@pytest.mark.parametrize("student", sorted(NON_STANDARD_MODELS))
def test_model_with_a_non_standard_layer_is_explained_on_the_feedback_page(runs, student):
    run = runs(NON_STANDARD)
    shown = " ".join(run.errors_in_feedback(student, NON_STANDARD_MODEL_TEST))
    words = NON_STANDARD_MODEL_WORDS[student]
    assert any(w in shown for w in words), (
        f"the feedback under {NON_STANDARD_MODEL_TEST} for a model with a {student} should name it (one of {words}); it shows {shown!r}"
    )
