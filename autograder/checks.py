"""Static review of student code for tricks that bend the grading.

The guarded kernel already restores patched functions before test cells run; this scan
reports the attempts so an instructor can look at them. It reads code, it never runs it.

Names are resolved as Python would: ``import sys as s; s.settrace(f)`` and
``__import__("sys").settrace(f)`` are both ``sys.settrace``, and a function's own
parameters and locals are its own, so ``def f(layers): layers = list(layers)`` rebinds
nothing of the instructor's even where ``layers`` is an instructor's import. Dynamic
access to the grader's surroundings (``globals()[...]``, ``getattr``/``setattr`` with
computed names on the IPython shell, ``exec`` of built strings, tracing, frames) is
reported, as is module-level rebinding of an instructor's name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

from nbformat import NotebookNode

from . import cells


class Kind(Enum):
    """What a finding is about."""

    IPYTHON = "IPython internals"
    MONKEYPATCH = "monkeypatching"
    REBINDING = "rebinding an instructor's name"
    DYNAMIC_ACCESS = "dynamic access to the grader's namespace"
    DYNAMIC_CODE = "code built at run time"
    INTROSPECTION = "tracing, frames or live objects"
    PROCESS = "process or signal control"
    IMPORT = "suspicious import"


SUSPICIOUS_IPYTHON = {
    "input_transformers_cleanup",
    "input_transformers_post",
    "input_transformer_manager",
    "ast_transformers",
    "events",
    "register_magic_function",
    "run_cell",
    "run_cell_async",
    "showtraceback",
    "_showtraceback",
    "kernel",
    "session",
    "set_custom_exc",
    "user_ns",
    "user_ns_hidden",
    "user_global_ns",
    "displayhook",
    "display_pub",
    "display_formatter",
    "excepthook",
    "execution_count",
    "ex",
    "ev",
    "push",
    "del_var",
    "magics_manager",
    "extension_manager",
}
SUSPICIOUS_CALLS: dict[str, tuple[Kind, str]] = {
    "os._exit": (Kind.PROCESS, "ends the kernel process (os._exit)"),
    "os.kill": (Kind.PROCESS, "sends signals to processes"),
    "os.killpg": (Kind.PROCESS, "sends signals to processes"),
    "signal.signal": (Kind.PROCESS, "changes signal handling (e.g. ignores the grader's interrupt)"),
    "sys.exit": (Kind.PROCESS, "exits the kernel"),
    "sys.settrace": (Kind.INTROSPECTION, "installs a tracer"),
    "threading.settrace": (Kind.INTROSPECTION, "installs a tracer"),
    "sys.setprofile": (Kind.INTROSPECTION, "installs a profiler hook"),
    "threading.setprofile": (Kind.INTROSPECTION, "installs a profiler hook"),
    "sys._getframe": (Kind.INTROSPECTION, "reads interpreter frames (sys._getframe)"),
    "inspect.currentframe": (Kind.INTROSPECTION, "reads interpreter frames (inspect.currentframe)"),
    "inspect.stack": (Kind.INTROSPECTION, "reads interpreter frames (inspect.stack)"),
    "inspect.getouterframes": (Kind.INTROSPECTION, "reads interpreter frames (inspect.getouterframes)"),
    "gc.get_referrers": (Kind.INTROSPECTION, "walks live objects (gc.get_referrers)"),
    "gc.get_referents": (Kind.INTROSPECTION, "walks live objects (gc.get_referents)"),
    "gc.get_objects": (Kind.INTROSPECTION, "walks live objects (gc.get_objects)"),
    "__import__": (Kind.DYNAMIC_CODE, "imports by computed name (__import__)"),
    "importlib.import_module": (Kind.DYNAMIC_CODE, "imports by computed name (importlib.import_module)"),
    "importlib.reload": (Kind.DYNAMIC_CODE, "reloads a module (importlib.reload)"),
}
SUSPICIOUS_IMPORTS = {
    "ctypes": "loads C code (ctypes)",
    "builtins": "touches Python's builtins",
    "gc": "walks live objects (gc)",
    "threading": "starts threads (could re-patch functions while tests run)",
    "_thread": "starts threads (could re-patch functions while tests run)",
    "importlib": "imports modules by computed name (importlib)",
    "__main__": "reaches the notebook's namespace (__main__)",
}
# attributes that reach interpreter internals whatever object they are read from
INTERPRETER_ATTRS = {"f_globals", "f_locals", "f_back", "f_builtins", "tb_frame", "gi_frame", "cr_frame", "__globals__", "__code__", "__closure__", "__subclasses__"}
# modules and objects around the student's code: reading them by computed name is suspect
SURROUNDINGS = {"get_ipython()", "sys", "builtins", "__builtins__", "__main__", "gc", "inspect", "importlib", "IPython", "ipykernel", "os", "signal", "threading", "ctypes"}
SHELL_FACTORIES = {"get_ipython", "IPython.get_ipython", "IPython.core.getipython.get_ipython", "builtins.get_ipython"}
NAMESPACE_CALLS = {"globals", "vars", "locals", "builtins.globals", "builtins.vars", "builtins.locals"}
NAMESPACE_MUTATORS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"}
CODE_RUNNERS = {"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile"}
ATTR_FUNCTIONS = {"getattr", "setattr", "delattr", "builtins.getattr", "builtins.setattr", "builtins.delattr"}
PROTECTED_NAMES = {"__builtins__", "AssertionError"}
# settings students change as a matter of course: writing to them is no monkeypatch
SETTINGS = {"os.environ", "matplotlib.rcParams", "matplotlib.pyplot.rcParams", "pandas.options"}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class Finding:
    cell: int
    line: int
    what: str
    kind: Kind

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
    elif isinstance(node, ast.Subscript):
        parts.append(_dotted(node))
    return ".".join(reversed(parts))


def _constant_str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _in_scope(nodes: list[ast.AST]) -> Iterator[ast.AST]:
    """Every node of ``nodes`` that belongs to their scope: nested scopes are yielded, not entered."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _SCOPES):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _import_aliases(node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str]]:
    """(name bound, what it is) for each alias: ``import a.b as c`` -> (c, a.b); ``from a import b`` -> (b, a.b)."""
    for alias in node.names:
        if isinstance(node, ast.ImportFrom):
            if alias.name != "*":
                yield alias.asname or alias.name, f"{node.module or ''}.{alias.name}".lstrip(".")
        elif alias.asname:
            yield alias.asname, alias.name
        else:
            top = alias.name.split(".")[0]
            yield top, top


@dataclass
class _Scope:
    kind: str  # module, function, class, comprehension
    local: set[str] = field(default_factory=set)
    declared_global: set[str] = field(default_factory=set)
    imports: dict[str, str] = field(default_factory=dict)
    shells: set[str] = field(default_factory=set)  # names bound to the IPython shell or its parts


def _function_scope(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> _Scope:
    scope = _Scope("function")
    args = node.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            scope.local.add(arg.arg)
    body = node.body if isinstance(node.body, list) else [node.body]
    _collect_bindings(body, scope)
    return scope


def _collect_bindings(body: list[ast.AST], scope: _Scope) -> None:
    for child in _in_scope(body):
        if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            scope.local.add(child.id)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope.local.add(child.name)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            for name, what in _import_aliases(child):
                scope.local.add(name)
                scope.imports[name] = what
        elif isinstance(child, (ast.Global, ast.Nonlocal)):
            scope.declared_global.update(child.names if isinstance(child, ast.Global) else ())
        elif isinstance(child, ast.ExceptHandler) and child.name:
            scope.local.add(child.name)
    scope.local -= scope.declared_global


class _Reviewer(ast.NodeVisitor):
    """Walks one cell with Python's scoping rules and collects findings."""

    def __init__(self, cell: int, module: _Scope, instructor: set[str], findings: list[Finding]):
        self.cell = cell
        self.scopes = [module]
        self.instructor = instructor
        self.findings = findings
        self.line_override: int | None = None

    # ------------------------------------------------------------------ names

    def _flag(self, node: ast.AST, kind: Kind, what: str) -> None:
        line = self.line_override or getattr(node, "lineno", 0)
        self.findings.append(Finding(self.cell, line, what, kind))

    def _owner(self, name: str, skip_comprehensions: bool = False) -> _Scope:
        """The scope whose binding ``name`` refers to here."""
        innermost = True
        for scope in reversed(self.scopes):
            if scope.kind == "class" and not innermost:
                continue  # functions do not see class bodies
            if skip_comprehensions and scope.kind == "comprehension":
                continue
            innermost = False
            if name in scope.declared_global:
                return self.scopes[0]
            if name in scope.local:
                return scope
        return self.scopes[0]

    def _at_module_level(self, name: str, skip_comprehensions: bool = False) -> bool:
        return self._owner(name, skip_comprehensions) is self.scopes[0]

    def _name(self, name: str) -> str | None:
        """What ``name`` is, in dotted form (a module, a shell, a builtin), or None for a plain variable."""
        scope = self._owner(name)
        if name in scope.shells:
            return "get_ipython()"
        if name in scope.imports:
            return scope.imports[name]
        if scope is self.scopes[0]:
            return name  # a builtin, an instructor's name or a notebook-level variable
        return None

    def _canonical(self, node: ast.AST) -> str | None:
        """``s.settrace`` -> ``sys.settrace`` after ``import sys as s``; None for the student's own values."""
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            base = self._canonical(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            func = self._canonical(node.func)
            if func in SHELL_FACTORIES:
                return "get_ipython()"
            if func in {"__import__", "builtins.__import__", "importlib.import_module"} and node.args:
                return _constant_str(node.args[0])
            if func in NAMESPACE_CALLS and not node.args:
                return "globals()"
            return None
        if isinstance(node, ast.Subscript):
            base = self._canonical(node.value)
            key = _constant_str(node.slice)
            if base == "sys.modules" and key:
                return key
            if base in {"globals()", "builtins.__dict__", "__builtins__"} and key:
                return key if key in {"get_ipython", "__builtins__"} or key in self.instructor else None
            return None
        return None

    def _surroundings(self, node: ast.AST) -> str | None:
        what = self._canonical(node)
        if what and what.split(".")[0] in SURROUNDINGS | {"globals()"}:
            return what
        return None

    def _is_setting(self, target: ast.AST) -> bool:
        """``plt.rcParams["figure.figsize"] = ...``, ``os.environ[...] = ...``, ``pd.options.x.y = ...``."""
        base = target.value if isinstance(target, (ast.Attribute, ast.Subscript)) else target
        while isinstance(base, (ast.Attribute, ast.Subscript)):
            if self._canonical(base) in SETTINGS:
                return True
            base = base.value
        return False

    def _is_module_alias(self, node: ast.AST) -> bool:
        """Whether ``node``'s root is a module or an instructor's object (not the student's own variable)."""
        root = node
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if isinstance(root, ast.Name):
            scope = self._owner(root.id)
            if root.id in scope.imports or root.id in scope.shells or root.id == "get_ipython":
                return True
            return scope is self.scopes[0] and root.id in self.instructor
        if isinstance(root, ast.Call):
            factory = self._canonical(root.func)
            return self._canonical(root) is not None or factory in {"__import__", "builtins.__import__", "importlib.import_module"}
        return False

    # ------------------------------------------------------------------ scopes

    def _visit_scoped(self, scope: _Scope, nodes: list[ast.AST]) -> None:
        self.scopes.append(scope)
        try:
            for node in nodes:
                self.visit(node)
        finally:
            self.scopes.pop()

    def _binding(self, node: ast.AST, name: str, skip_comprehensions: bool = False) -> None:
        if not self._at_module_level(name, skip_comprehensions) or self.scopes[-1].kind == "class":
            return
        if name in self.instructor:
            self._flag(node, Kind.REBINDING, f"rebinds '{name}', which the instructor's cells define")
        elif name in PROTECTED_NAMES:
            self._flag(node, Kind.REBINDING, f"rebinds {name}")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if self._at_module_level(node.name) and self.scopes[-1].kind != "class" and node.name in self.instructor:
            self._flag(node, Kind.REBINDING, f"redefines '{node.name}', which the instructor's cells define")
        for outer in [*node.decorator_list, *node.args.defaults, *[d for d in node.args.kw_defaults if d is not None]]:
            self.visit(outer)
        self._visit_scoped(_function_scope(node), node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for outer in [*node.args.defaults, *[d for d in node.args.kw_defaults if d is not None]]:
            self.visit(outer)
        self._visit_scoped(_function_scope(node), [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self._at_module_level(node.name) and self.scopes[-1].kind != "class" and node.name in self.instructor:
            self._flag(node, Kind.REBINDING, f"redefines '{node.name}', which the instructor's cells define")
        for outer in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(outer)
        scope = _Scope("class")
        _collect_bindings(node.body, scope)
        self._visit_scoped(scope, node.body)

    def _visit_comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        scope = _Scope("comprehension")
        for generator in node.generators:
            scope.local |= {n.id for n in cells.target_names(generator.target)}
        self._visit_scoped(scope, list(ast.iter_child_nodes(node)))

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension

    # ------------------------------------------------------------------ bindings

    def _store(self, target: ast.AST, node: ast.AST) -> None:
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            if isinstance(target, ast.Subscript) and self._canonical(target.value) == "globals()":
                self._flag(node, Kind.DYNAMIC_ACCESS, f"changes variables through {_dotted(target)}")
            elif self._is_module_alias(target) and not self._is_setting(target):
                self._flag(node, Kind.MONKEYPATCH, f"monkeypatches {_dotted(target)}")
        for name in cells.target_names(target):
            self._binding(node, name.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._store(target, node)
        if self._touches_shell(node.value):
            for target in node.targets:
                for name in cells.target_names(target):
                    self._owner(name.id).shells.add(name.id)
        elif (alias := self._sensitive(node.value)) is not None:
            for target in node.targets:
                if isinstance(target, ast.Name):  # g = globals; e = exec; s = sys
                    self._owner(target.id).imports[target.id] = alias
        self.generic_visit(node)

    def _sensitive(self, node: ast.AST) -> str | None:
        """The name of a module or builtin the review watches that ``node`` stands for, if any."""
        what = self._canonical(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
        if what is None:
            return None
        watched = NAMESPACE_CALLS | CODE_RUNNERS | ATTR_FUNCTIONS | SHELL_FACTORIES | SUSPICIOUS_CALLS.keys()
        if what in watched or what.split(".")[0] in SURROUNDINGS or what in self.scopes[0].imports.values():
            return what
        return None

    def visit_AugAssign(self, node: ast.AugAssign | ast.AnnAssign) -> None:
        if not isinstance(node, ast.AnnAssign) or node.value is not None:
            self._store(node.target, node)
        self.generic_visit(node)

    visit_AnnAssign = visit_AugAssign

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._store(target, node)
        self.generic_visit(node)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._store(node.target, node)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._store(item.optional_vars, node)
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._binding(node, node.target.id, skip_comprehensions=True)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for name, what in _import_aliases(node):
            top = what.split(".")[0]
            if top in SUSPICIOUS_IMPORTS:
                self._flag(node, Kind.IMPORT, SUSPICIOUS_IMPORTS[top])
            if what in SUSPICIOUS_CALLS:
                kind, message = SUSPICIOUS_CALLS[what]
                self._flag(node, kind, message)
            self._owner(name).imports[name] = what

    visit_ImportFrom = visit_Import

    # ------------------------------------------------------------------ uses

    def _touches_shell(self, node: ast.AST) -> bool:
        return any((self._canonical(n) or "").startswith("get_ipython()") for n in ast.walk(node) if isinstance(n, (ast.Name, ast.Attribute, ast.Call)))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in INTERPRETER_ATTRS:
            self._flag(node, Kind.INTROSPECTION, f"reaches interpreter internals ({_dotted(node)})")
        elif node.attr in SUSPICIOUS_IPYTHON:
            base = self._canonical(node.value) or ""
            if base.startswith("get_ipython()") or (base == "sys" and node.attr in {"displayhook", "excepthook"}):
                self._flag(node, Kind.IPYTHON, f"changes IPython internals ({_dotted(node)})")
        elif node.attr == "__dict__" and self._surroundings(node.value):
            self._flag(node, Kind.DYNAMIC_ACCESS, f"reads the namespace of {_dotted(node.value)}")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, ast.Load) and self._canonical(node.value) == "globals()" and _constant_str(node.slice) is None:
            self._flag(node, Kind.DYNAMIC_ACCESS, f"reads variables by computed name ({_dotted(node)})")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self._canonical(node.func)
        if name in SUSPICIOUS_CALLS:
            kind, message = SUSPICIOUS_CALLS[name]
            self._flag(node, kind, message)
        if name in CODE_RUNNERS:
            self._code_runner(node, name)
        elif name in ATTR_FUNCTIONS and node.args:
            self._attr_function(node, name.removeprefix("builtins."))
        elif isinstance(node.func, ast.Attribute) and self._canonical(node.func.value) == "globals()":
            method, key = node.func.attr, _constant_str(node.args[0]) if node.args else None
            if method in NAMESPACE_MUTATORS or (method == "get" and key is None):
                self._flag(node, Kind.DYNAMIC_ACCESS, f"changes or reads variables through {_dotted(node.func)}()")
        elif name in {"vars", "builtins.vars"} and node.args and self._surroundings(node.args[0]):
            self._flag(node, Kind.DYNAMIC_ACCESS, f"reads the namespace of {_dotted(node.args[0])}")
        self.generic_visit(node)

    def _code_runner(self, node: ast.Call, name: str) -> None:
        source = _constant_str(node.args[0]) if node.args else None
        if source is None:
            self._flag(node, Kind.DYNAMIC_CODE, f"runs code built at run time ({name.removeprefix('builtins.')})")
            return
        try:
            inner = ast.parse(source, mode="exec")
        except SyntaxError:
            return
        outer_line, self.line_override = self.line_override, self.line_override or node.lineno
        try:
            for statement in inner.body:
                self.visit(statement)
        finally:
            self.line_override = outer_line

    def _attr_function(self, node: ast.Call, function: str) -> None:
        target = node.args[0]
        attribute = _constant_str(node.args[1]) if len(node.args) > 1 else None
        around = self._surroundings(target)
        if function in {"setattr", "delattr"} and (self._is_module_alias(target) or around):
            self._flag(node, Kind.MONKEYPATCH, f"{function} on {_dotted(target)}")
        elif function == "getattr" and around:
            if attribute is None:
                self._flag(node, Kind.DYNAMIC_ACCESS, f"reads {_dotted(target)} by computed name (getattr)")
            elif attribute in SUSPICIOUS_IPYTHON | INTERPRETER_ATTRS or f"{around}.{attribute}" in SUSPICIOUS_CALLS:
                self._flag(node, Kind.IPYTHON, f"reads {_dotted(target)}.{attribute} through getattr")


def _module_scope(cells: list[ast.Module]) -> _Scope:
    """What the notebook's own imports and assignments bind at module level, over all its cells."""
    scope = _Scope("module")
    for tree in cells:
        for node in _in_scope(tree.body):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                scope.imports.update(_import_aliases(node))
    return scope


# line magics that run the rest of their line as Python in the notebook's namespace
CODE_MAGICS = ("time", "timeit", "prun")


def _magic_code(line: str) -> str | None:
    """The Python a ``%time``/``%timeit``/``%prun`` line runs (options dropped), or None."""
    body = line.lstrip()
    name, _, rest = body[1:].partition(" ")
    if not body.startswith("%") or body.startswith("%%") or name not in CODE_MAGICS:
        return None
    words = rest.split(" ")
    for start in range(len(words)):  # drop option words until the rest is Python
        code = " ".join(words[start:]).strip()
        if not code:
            return None
        try:
            ast.parse(code)
        except SyntaxError:
            continue
        return code
    return None


def _expose_magic_code(source: str) -> str:
    """``%time get_ipython().events...`` runs that code: keep it for review instead of hiding it."""
    lines = []
    for line in source.splitlines():
        code = _magic_code(line)
        lines.append(line if code is None else line[: len(line) - len(line.lstrip())] + code)
    return "\n".join(lines)


def _parse(cell: NotebookNode) -> ast.Module | None:
    return cells.parse(_expose_magic_code(cells.source(cell)))


def review(nb: NotebookNode, instructor_names: set[str]) -> list[Finding]:
    """Findings in the code cells a student wrote (answer cells and extra cells)."""
    findings: list[Finding] = []
    trees = {i: _parse(c) for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    module = _module_scope([t for t in trees.values() if t is not None])
    for index, tree in trees.items():
        if tree is None or cells.nbgrader_meta(nb.cells[index]).get("locked"):
            continue
        reviewer = _Reviewer(index, module, instructor_names, findings)
        for statement in tree.body:
            reviewer.visit(statement)
    return sorted(set(findings), key=lambda f: (f.cell, f.line, f.what))


def instructor_names(release_nb: NotebookNode) -> set[str]:
    """Modules, functions and classes bound by the instructor's locked code cells."""
    return cells.instructor_names(release_nb)
