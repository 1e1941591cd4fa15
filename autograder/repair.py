"""Put a handed-in notebook back into the shape nbgrader expects, keeping the answers.

Editors and students damage notebooks in predictable ways: nbgrader metadata stripped
(VS Code, some Colab versions, copy-paste into a new notebook), test cells deleted,
answer cells duplicated (nbgrader then refuses the whole batch because of duplicate
grade ids), a code cell turned into markdown, Colab's kernelspec. :func:`repair` matches
the submission's cells to the release notebook, by grade id where it survived, else by
content (locked cells and the stubs' first lines) and position (between matched cells),
and rebuilds the notebook in release order with the student's answers and extra cells.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum

import nbformat
import nbformat.validator
from nbformat import NotebookNode

from . import cells

MAX_NOTEBOOK_BYTES = 64 << 20  # a notebook is refused, unparsed, above this size
_DETAIL_CHARS = 300


class InvalidSubmission(ValueError):
    """A handed-in file that cannot be graded, with what to do about it in Japanese and English.

    ``str()`` gives both (``"日本語 / English"``); ``ja`` and ``en`` each on their own.
    """

    def __init__(self, ja: str, en: str):
        super().__init__(ja, en)
        self.ja, self.en = ja, en

    def __str__(self) -> str:
        return f"{self.ja} / {self.en}"


class Step(Enum):
    """A stage of handling one student's file, named in both languages for the reason given."""

    READ = ("読み込み", "reading")
    REPAIR = ("修復", "repair")
    REVIEW = ("コードの確認", "code review")

    def __init__(self, ja: str, en: str):
        self.ja, self.en = ja, en


_RESUBMIT_JA = "Jupyter か Colab でノートブックを開いて保存し直し、課題の .ipynb ファイルを提出し直してください。"
_RESUBMIT_EN = "open the notebook in Jupyter or Colab, save it again and hand in the assignment's .ipynb file"


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


@contextmanager
def invalid_on_error(step: Step) -> Iterator[None]:
    """Turn any exception raised while handling one student's file into :class:`InvalidSubmission`.

    Wrap each student's repair and review in it, so that a file no code foresaw makes that
    one student ``invalid`` with the reason, and everyone else is still graded::

        with invalid_on_error(Step.REPAIR):
            fixed = repair(nb, release_nb)
    """
    try:
        yield
    except InvalidSubmission:
        raise
    except RecursionError:
        raise InvalidSubmission(
            f"{step.ja}中に、入れ子が深すぎて処理できない部分が見つかりました。{_RESUBMIT_JA}",
            f"{step.en} failed: the file is nested too deeply to process; {_RESUBMIT_EN}",
        ) from None
    except Exception as exc:  # noqa: BLE001 - the point is that nothing from one file escapes
        raise InvalidSubmission(
            f"{step.ja}中にエラーが起きました ({_short(exc)})。{_RESUBMIT_JA}解決しない場合は担当教員に連絡してください。",
            f"{step.en} failed ({_short(exc)}); {_RESUBMIT_EN}, or ask the instructor if that does not help",
        ) from exc


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def too_large(size: int, limit: int) -> InvalidSubmission:
    """The reason given for a notebook of ``size`` bytes over ``limit``, which is not read."""
    return InvalidSubmission(
        f"ファイルが大きすぎます ({_size(size)}、上限 {_size(limit)})。"
        "出力をすべて消去してから (「編集」→「すべての出力をクリア」) 保存し、.ipynb を提出し直してください。",
        f"the file is too large ({_size(size)}; the limit is {_size(limit)}): "
        "clear all outputs (Edit > Clear all outputs), save and hand in the .ipynb again",
    )


def _parse(raw: bytes, max_bytes: int) -> NotebookNode:
    if len(raw) > max_bytes:
        raise too_large(len(raw), max_bytes)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidSubmission(
            f"UTF-8 のテキストではありません ({exc.start} バイト目)。ノートブック以外のファイル (PDF や画像など) ではありませんか。{_RESUBMIT_JA}",
            f"not UTF-8 text ({exc.reason} at byte {exc.start}): is it a PDF or an image rather than the notebook? {_RESUBMIT_EN}",
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidSubmission(
            f"ノートブックの JSON が壊れています ({exc.lineno} 行 {exc.colno} 列目)。テキストエディタで編集したり、保存の途中で閉じたりしていませんか。{_RESUBMIT_JA}",
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; {_RESUBMIT_EN}",
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        raise InvalidSubmission(
            f"JSON ファイルですが、Jupyter のノートブックではありません (セルの一覧がありません)。{_RESUBMIT_JA}",
            f"JSON without a list of cells: not a Jupyter notebook; {_RESUBMIT_EN}",
        )
    try:
        with warnings.catch_warnings():  # nbformat warns about what validate() reports below
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4, capture_validation_error={})
            _, nb = nbformat.validator.normalize(nb, strip_invalid_metadata=True)
            nb = nbformat.from_dict(nb)
            nbformat.validate(nb)
    except RecursionError:
        raise
    except nbformat.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "notebook"
        detail = f"{where}: {exc.message}"[:_DETAIL_CHARS]
        raise InvalidSubmission(
            f"ノートブックの形式が正しくありません ({detail})。{_RESUBMIT_JA}",
            f"not a valid notebook ({detail}); {_RESUBMIT_EN}",
        ) from None
    except Exception as exc:  # nbformat raises many kinds for odd notebooks
        raise InvalidSubmission(
            f"ノートブックとして読めません ({_short(exc)})。{_RESUBMIT_JA}",
            f"not a readable notebook ({_short(exc)}); {_RESUBMIT_EN}",
        ) from None
    return nb


def read_submission(raw: bytes, max_bytes: int = MAX_NOTEBOOK_BYTES) -> NotebookNode:
    """Parse a submission, or raise :class:`InvalidSubmission` saying what is wrong and what to do.

    Nothing else escapes: a file over ``max_bytes`` is refused before it is parsed, and any
    failure while parsing (bad JSON, nesting deep enough for ``RecursionError``, a notebook
    nbformat cannot convert or validate) becomes :class:`InvalidSubmission`.
    """
    with invalid_on_error(Step.READ):
        return _parse(raw, max_bytes)


@dataclass
class Repaired:
    notebook: NotebookNode
    notes: list[str] = field(default_factory=list)


_meta = cells.nbgrader_meta


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip() and not line.strip().startswith("#"):
            return line.strip()
    return ""


_source = cells.source


def _new_cell(cell_type: str, source: str, metadata: dict) -> NotebookNode:
    if cell_type == "code":
        new = nbformat.v4.new_code_cell(source)
    elif cell_type == "markdown":
        new = nbformat.v4.new_markdown_cell(source)
    else:
        new = nbformat.v4.new_raw_cell(source)
    new.metadata = copy.deepcopy(metadata)
    return new


def _match(student: list[NotebookNode], release: list[NotebookNode], notes: list[str]) -> dict[int, int]:
    """student index -> release index for cells that carry a graded/locked identity."""
    ids = {_meta(c).get("grade_id"): i for i, c in enumerate(release) if _meta(c).get("grade_id")}
    matched: dict[int, int] = {}
    claimed: dict[int, list[int]] = {}
    # 1. grade ids that survived
    for s, cell in enumerate(student):
        gid = _meta(cell).get("grade_id")
        if gid in ids:
            claimed.setdefault(ids[gid], []).append(s)
    for r, owners in claimed.items():
        gid = _meta(release[r]).get("grade_id")
        if len(owners) > 1:
            if _meta(release[r]).get("locked"):
                notes.append(f"cell '{gid}' appeared {len(owners)} times: extra copies of this instructor cell removed")
            else:
                notes.append(
                    f"answer cell '{gid}' appeared {len(owners)} times (duplicate grade ids stop nbgrader): "
                    "graded the last copy, earlier copies run as ordinary cells"
                )
        matched[owners[-1]] = r
    used_release = set(matched.values())
    # 2. locked cells by content, answer stubs by their first line (e.g. the def line)
    by_content = {}
    by_first = {}
    for r, cell in enumerate(release):
        meta = _meta(cell)
        if not meta.get("grade_id") or r in used_release:
            continue
        if meta.get("locked"):
            by_content.setdefault(_norm(_source(cell)), r)
        elif meta.get("solution"):
            first = _first_line(_source(cell))
            if first and "NotImplementedError" not in first and not first.startswith("ここに"):
                by_first.setdefault(first, r)
    recovered = 0
    for s, cell in enumerate(student):
        if s in matched or _meta(cell).get("grade_id") in ids:
            continue
        r = by_content.get(_norm(_source(cell)))
        if r is None:
            r = by_first.get(_first_line(_source(cell)))
        if r is not None and r not in used_release:
            matched[s] = r
            used_release.add(r)
            recovered += 1
    # 3. answer cells without an anchor: the first unmatched cell of the right kind
    #    between the student positions of the release neighbours
    for r, cell in enumerate(release):
        meta = _meta(cell)
        if r in used_release or not meta.get("solution"):
            continue
        prev_s = max((s for s, rr in matched.items() if rr < r), default=-1)
        next_s = min((s for s, rr in matched.items() if rr > r), default=len(student))
        for s in range(prev_s + 1, next_s):
            if s in matched or _meta(student[s]).get("grade_id") in ids:
                continue
            if student[s].cell_type == cell.cell_type or (cell.cell_type == "markdown" and student[s].cell_type == "raw"):
                matched[s] = r
                used_release.add(r)
                recovered += 1
                break
    if recovered:
        notes.append(f"nbgrader metadata missing on {recovered} cell(s): matched to the release by content and position")
    return matched


def repair(student_nb: NotebookNode, release_nb: NotebookNode) -> Repaired:
    """Rebuild ``student_nb`` in release order; see the module docstring."""
    notes: list[str] = []
    release = list(release_nb.cells)
    student = list(student_nb.cells)
    matched = _match(student, release, notes)
    locked_ids = {_meta(c).get("grade_id") for c in release if _meta(c).get("locked")}

    out: list[NotebookNode] = []
    emitted: set[int] = set()
    restored: list[str] = []

    def emit_release(r: int) -> None:
        cell = release[r]
        meta = _meta(cell)
        out.append(_new_cell(cell.cell_type, _source(cell), cell.metadata))
        emitted.add(r)
        if meta.get("grade") or meta.get("solution"):
            restored.append(meta.get("grade_id", "?"))

    for s, cell in enumerate(student):
        if s in matched:
            r = matched[s]
            for missing in range(r):
                if missing not in emitted and missing not in matched.values() and _meta(release[missing]).get("grade_id"):
                    emit_release(missing)
            ref = release[r]
            gid = _meta(ref).get("grade_id")
            source = _source(ref) if _meta(ref).get("locked") else _source(cell)
            if cell.cell_type != ref.cell_type:
                notes.append(f"cell '{gid}' had been changed to {cell.cell_type}: changed back to {ref.cell_type}")
            out.append(_new_cell(ref.cell_type, source, ref.metadata))
            emitted.add(r)
        else:
            if _meta(cell).get("grade_id") in locked_ids:
                continue  # an extra copy of an instructor cell
            metadata = {k: v for k, v in cell.get("metadata", {}).items() if k != "nbgrader"}
            out.append(_new_cell(cell.cell_type if cell.cell_type in ("code", "markdown", "raw") else "raw", _source(cell), metadata))
    # only the instructor's cells come back; ordinary cells are the student's to change
    for r in range(len(release)):
        if r not in emitted and _meta(release[r]).get("grade_id"):
            emit_release(r)
    if restored:
        notes.append("cells missing from the submission restored from the release: " + ", ".join(restored))

    nb = nbformat.v4.new_notebook()
    nb.metadata = copy.deepcopy(student_nb.get("metadata", {}))
    wanted = release_nb.metadata.get("kernelspec", {})
    have = nb.metadata.get("kernelspec", {})
    if have.get("name") != wanted.get("name"):
        notes.append(f"kernelspec '{have.get('name', 'none')}' replaced by '{wanted.get('name')}'")
    nb.metadata["kernelspec"] = copy.deepcopy(wanted)
    if "language_info" in release_nb.metadata:
        nb.metadata["language_info"] = copy.deepcopy(release_nb.metadata["language_info"])
    nb.cells = out
    return Repaired(nb, notes)
