"""``course-grade similarity``: which students' answers look copied from each other.

What is compared: the code of each student's answer cells (nbgrader ``solution`` code
cells, by grade id), with the release's code in those cells (signature, docstring, stub)
removed as boilerplate, so the shared starting point does not make everyone look alike.

Two fingerprinting methods, both *winnowing* (Schleimer, Wilkerson & Aiken, "Winnowing:
local algorithms for document fingerprinting", SIGMOD 2003, the method behind MOSS):
hash every k-gram of a normalised token stream, keep the minimum hash of every window of
w consecutive hashes; two documents share a fingerprint wherever they share a k-gram
long enough (any shared run of at least k + w - 1 units is guaranteed to be found).

* :attr:`Method.COPYDETECT` (default): the maintained ``copydetect`` package (PyPI). It
  lexes with Pygments, replaces variable, function and object names by ``V``/``F``/``O``
  and strings by ``S``, drops comments and whitespace, winnows character k-grams
  (k = :data:`COPYDETECT_K`, w = :data:`COPYDETECT_W`), subtracts boilerplate fingerprints,
  and gives the copied slices of the original text, used for the side-by-side view.
* :attr:`Method.TOKENS`: the same algorithm written here on Python's own ``tokenize``
  stream: identifiers (not keywords, builtins or attributes after ``.``) become ``V``,
  numbers ``N``, strings ``S``; k = 5 tokens, w = 4.

Chosen: copydetect. Measured on the test class (``tests/autograder/test_similarity.py``:
the demo's full answer and its half answer (one one-line function), a copied pair, a
copied pair with every variable renamed and the spacing changed, independent correct
answers written three different ways), release lines removed, pair scores:

=================  ===========  ============  ===================  ==========================
method             copied pair  renamed pair  highest independent  full vs. one-liner answer
=================  ===========  ============  ===================  ==========================
copydetect (k=20)  1.00         0.97          0.08                 0.00
tokens (k=5, w=4)  1.00         0.94          0.20                 0.35
=================  ===========  ============  ===================  ==========================

Both rank the two copied pairs first. copydetect separates them more widely from
independent work, does not inflate a pair because one student wrote a single short line
the other also wrote, is a maintained and tested package, and returns the copied
character ranges the side-by-side view marks; so it is the default. The token method
stays as the documented cross-check (``--method tokens``). A pair's score is the mean of
the two students' shares of answer text found in the other's. Identical submissions
score 1.00 (the demo's correct notebooks are all the same generated solution).
"""

from __future__ import annotations

import builtins
import csv
import hashlib
import html
import io
import json
import keyword
import tokenize
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from itertools import combinations
from pathlib import Path

from . import cells

COPYDETECT_K = 20  # characters of filtered code per k-gram (answers here are short: the default 25 misses one-liners)
COPYDETECT_W = 4
TOKEN_K = 5
TOKEN_W = 4
KEEP_NAMES = set(keyword.kwlist) | set(dir(builtins))


class Method(Enum):
    COPYDETECT = "copydetect"
    TOKENS = "tokens"


@dataclass(frozen=True)
class Answer:
    student: str
    cells: dict[str, str]  # grade id -> code, in notebook order

    @property
    def text(self) -> str:
        return "\n\n".join(f"# --- {gid}\n{code}" for gid, code in self.cells.items())


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    score: float  # 0..1, mean share of each one's answer text found in the other's
    share_a: float
    share_b: float


def answer_cells(nb) -> dict[str, str]:
    """grade id -> source of every nbgrader ``solution`` code cell of a notebook."""
    out = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cells.nbgrader_meta(cell).get("solution") and cells.grade_id(cell):
            out[cells.grade_id(cell)] = cells.source(cell)
    return out


def without_release_lines(code: str, release_code: str) -> str:
    """``code`` without the lines it shares verbatim (ignoring indentation) with the release cell."""
    given = {line.strip() for line in release_code.splitlines() if line.strip()}
    return "\n".join(line for line in code.splitlines() if line.strip() not in given).strip("\n")


def answers_from_notebooks(notebooks: dict[str, object], release_nb=None) -> list[Answer]:
    """Each student's answer cells; with ``release_nb``, the release's own lines (signature,
    docstring, stub) are taken out first, so the view shows only what the student wrote."""
    release = answer_cells(release_nb) if release_nb is not None else {}
    out = []
    for student, nb in sorted(notebooks.items()):
        cells = {gid: without_release_lines(code, release.get(gid, "")) for gid, code in answer_cells(nb).items()}
        out.append(Answer(student, cells))
    return out


# --------------------------------------------------------------------------- tokens method


def normalised_tokens(code: str) -> list[str]:
    """Python tokens with identifiers renamed (``V``), numbers ``N``, strings ``S``; layout dropped."""
    out: list[str] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code.split()
    previous = ""
    for tok in tokens:
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        if tok.type == tokenize.NAME:
            out.append(tok.string if tok.string in KEEP_NAMES or previous == "." else "V")
        elif tok.type == tokenize.NUMBER:
            out.append("N")
        elif tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_START", -1):
            out.append("S")
        elif tok.type == tokenize.NEWLINE:
            out.append(";")
        else:
            out.append(tok.string)
        previous = tok.string
    return out


def winnow(tokens: Sequence[str], k: int = TOKEN_K, w: int = TOKEN_W) -> set[int]:
    hashes = [int.from_bytes(hashlib.blake2b(" ".join(tokens[i : i + k]).encode(), digest_size=8).digest(), "big") for i in range(len(tokens) - k + 1)]
    if len(hashes) <= w:
        return set(hashes)
    return {min(hashes[i : i + w]) for i in range(len(hashes) - w + 1)}


def _token_pairs(answers: Sequence[Answer], boilerplate: str) -> list[Pair]:
    common = winnow(normalised_tokens(boilerplate))
    prints = {a.student: winnow(normalised_tokens(a.text)) - common for a in answers}
    pairs = []
    for a, b in combinations(answers, 2):
        fa, fb = prints[a.student], prints[b.student]
        shared = len(fa & fb)
        sa, sb = (shared / len(fa) if fa else 0.0), (shared / len(fb) if fb else 0.0)
        pairs.append(Pair(a.student, b.student, (sa + sb) / 2, sa, sb))
    return pairs


# --------------------------------------------------------------------------- copydetect method


def _boilerplate_hashes(boilerplate: str):
    """copydetect wants boilerplate fingerprints as a NumPy array (its ``hashes`` are a set)."""
    import numpy as np

    if not boilerplate.strip():
        return None
    return np.array(sorted(_fingerprint(boilerplate).hashes), dtype=np.int64)


def _fingerprint(text: str, boilerplate=None):
    from copydetect import CodeFingerprint

    return CodeFingerprint("answer.py", COPYDETECT_K, COPYDETECT_W, boilerplate=boilerplate, fp=io.StringIO(text))


def _copydetect_pairs(answers: Sequence[Answer], boilerplate: str) -> list[Pair]:
    from copydetect import compare_files

    common = _boilerplate_hashes(boilerplate)
    prints = {a.student: _fingerprint(a.text, common) for a in answers}
    pairs = []
    for a, b in combinations(answers, 2):
        _, (sa, sb), _ = compare_files(prints[a.student], prints[b.student])
        pairs.append(Pair(a.student, b.student, float(sa + sb) / 2, float(sa), float(sb)))
    return pairs


def compare(answers: Sequence[Answer], boilerplate: str = "", method: Method = Method.COPYDETECT) -> list[Pair]:
    """Every pair of students, most similar first (ties by student ids)."""
    pairs = _copydetect_pairs(answers, boilerplate) if method is Method.COPYDETECT else _token_pairs(answers, boilerplate)
    return sorted(pairs, key=lambda p: (-p.score, p.a, p.b))


def release_boilerplate(release_nb) -> str:
    """The release's code of the answer cells (what every student starts from)."""
    return "\n\n".join(answer_cells(release_nb).values())


# --------------------------------------------------------------------------- outputs


def _highlighted(a: Answer, b: Answer, boilerplate: str) -> tuple[str, str]:
    """Both answers as escaped HTML with the text copydetect found in the other marked."""
    from copydetect import compare_files
    from copydetect.utils import highlight_overlap

    common = _boilerplate_hashes(boilerplate)
    fa, fb = _fingerprint(a.text, common), _fingerprint(b.text, common)
    _, _, (slices_a, slices_b) = compare_files(fa, fb)
    if len(slices_a) == 0 or len(slices_a[0]) == 0:
        return html.escape(a.text), html.escape(b.text)
    left = highlight_overlap(a.text, slices_a, "<mark>", "</mark>", escape_html=True)[0]
    right = highlight_overlap(b.text, slices_b, "<mark>", "</mark>", escape_html=True)[0]
    return left, right


def write_outputs(pairs: Sequence[Pair], answers: Sequence[Answer], out_dir: Path, boilerplate: str = "", top: int = 10) -> dict[str, Path]:
    """``similarity.csv`` and ``similarity.json`` (all pairs, ranked) and ``similarity.html``
    (the ``top`` pairs side by side, copied text marked)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "similarity.csv", "json": out_dir / "similarity.json", "html": out_dir / "similarity.html"}
    with open(paths["csv"], "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["rank", "student_a", "student_b", "score", "share_a", "share_b"])
        for rank, p in enumerate(pairs, 1):
            w.writerow([rank, p.a, p.b, f"{p.score:.3f}", f"{p.share_a:.3f}", f"{p.share_b:.3f}"])
    paths["json"].write_text(json.dumps([asdict(p) for p in pairs], indent=1), encoding="utf-8")
    by_id = {a.student: a for a in answers}
    sections = []
    for rank, p in enumerate(pairs[:top], 1):
        left, right = _highlighted(by_id[p.a], by_id[p.b], boilerplate)
        sections.append(
            f'<section class="pair"><h2>{rank}. {html.escape(p.a)} / {html.escape(p.b)}: {100 * p.score:.0f} %</h2>'
            f'<div class="side"><div><h3>{html.escape(p.a)} ({100 * p.share_a:.0f} % found in the other)</h3><pre>{left}</pre></div>'
            f'<div><h3>{html.escape(p.b)} ({100 * p.share_b:.0f} % found in the other)</h3><pre>{right}</pre></div></div></section>'
        )
    style = "body{font-family:sans-serif;margin:1.5rem}.side{display:grid;grid-template-columns:1fr 1fr;gap:1rem}pre{background:#f6f8fa;padding:.5rem;white-space:pre-wrap}mark{background:#ffd54f}"
    paths["html"].write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>Similarity</title><style>{style}</style></head><body><h1>Most similar answers</h1>"
        "<p>A high score is a reason to look, not proof of copying: short or standard answers can coincide.</p>"
        + "".join(sections) + "</body></html>",
        encoding="utf-8",
    )
    return paths
