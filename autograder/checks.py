"""Static review of student code for tricks that bend the grading.

The guarded kernel already restores patched functions before test cells run; this scan
reports the attempts so an instructor can look at them. It reads code, it never runs it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from nbformat import NotebookNode

from .sandbox_kernel import neutralize_magics

SUSPICIOUS_IPYTHON = {
    "input_transformers_cleanup",
    "input_transformers_post",
    "input_transformer_manager",
    "ast_transformers",
    "events",
    "register_magic_function",
    "run_cell",
    "showtraceback",
    "_showtraceback",
    "kernel",
    "set_custom_exc",
    "user_ns_hidden",
}
SUSPICIOUS_CALLS = {
    ("os", "_exit"): "ends the kernel process (os._exit)",
    ("os", "kill"): "sends signals to processes",
    ("signal", "signal"): "changes signal handling (e.g. ignores the grader's interrupt)",
    ("sys", "settrace"): "installs a tracer",
    ("sys", "setprofile"): "installs a profiler hook",
    ("sys", "exit"): "exits the kernel",
}
SUSPICIOUS_IMPORTS = {
    "ctypes": "loads C code (ctypes)",
    "builtins": "touches Python's builtins",
    "gc": "walks live objects (gc)",
    "threading": "starts threads (could re-patch functions while tests run)",
    "_thread": "starts threads (could re-patch functions while tests run)",
}


@dataclass(frozen=True)
class Finding:
    cell: int
    line: int
    what: str

    def __str__(self) -> str:
        return f"cell {self.cell} line {self.line}: {self.what}"


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Subscript):
        return _dotted(node.value) + "[...]"
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    return ".".join(reversed(parts))




def review(nb: NotebookNode, instructor_names: set[str]) -> list[Finding]:
    """Findings in the code cells a student wrote (answer cells and extra cells)."""
    findings: list[Finding] = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("locked"):
            continue
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        try:
            tree = ast.parse(neutralize_magics(source))
        except SyntaxError:
            continue
        module_aliases = set(instructor_names)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    top = (node.module if isinstance(node, ast.ImportFrom) and node.module else alias.name).split(".")[0]
                    module_aliases.add(alias.asname or alias.name.split(".")[0])
                    if top in SUSPICIOUS_IMPORTS:
                        findings.append(Finding(index, node.lineno, SUSPICIOUS_IMPORTS[top]))
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                for target in targets:
                    if isinstance(target, (ast.Attribute, ast.Subscript)) and _root_name(target) in module_aliases | {"get_ipython"}:
                        findings.append(Finding(index, line, f"monkeypatches {_dotted(target)}"))
                    elif isinstance(target, ast.Name) and target.id in instructor_names:
                        findings.append(Finding(index, line, f"rebinds '{target.id}', which the instructor's cells define"))
                    elif isinstance(target, ast.Name) and target.id in {"__builtins__", "AssertionError"}:
                        findings.append(Finding(index, line, f"rebinds {target.id}"))
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in instructor_names:
                findings.append(Finding(index, line, f"redefines '{node.name}', which the instructor's cells define"))
            elif isinstance(node, ast.Call):
                name = _dotted(node.func)
                head, _, tail = name.rpartition(".")
                key = (head.split(".")[-1], tail)
                if key in SUSPICIOUS_CALLS:
                    findings.append(Finding(index, line, SUSPICIOUS_CALLS[key]))
                if tail == "setattr" or name == "setattr":
                    if node.args and _root_name(node.args[0]) in module_aliases:
                        findings.append(Finding(index, line, f"setattr on {_dotted(node.args[0])}"))
            elif isinstance(node, ast.Attribute) and node.attr in SUSPICIOUS_IPYTHON:
                if "get_ipython" in _dotted(node) or _root_name(node) in {"ip", "shell", "ipython"}:
                    findings.append(Finding(index, line, f"changes IPython internals ({_dotted(node)})"))
    return sorted(set(findings), key=lambda f: (f.cell, f.line, f.what))


def instructor_names(release_nb: NotebookNode) -> set[str]:
    """Modules, functions and classes bound by the instructor's locked code cells."""
    names: set[str] = set()
    for cell in release_nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade"):
            try:
                tree = ast.parse(neutralize_magics(cell.source))
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names |= {(a.asname or a.name).split(".")[0] for a in node.names}
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(node.name)
    return names
