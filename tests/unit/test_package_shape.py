"""The shape of the house, kept by a test: the package is a few wings, each a folder, stacked so that imports only
point down (no import circle, nothing imports the package root), no module over 400 lines, no function over 60."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "pytest_kick"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__"): p for p in ROOT.rglob("*.py")}


def imports(name: str, path: Path, known: dict) -> set[str]:
    """The package's own modules that `name` imports (TYPE_CHECKING and function-level imports included)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                for candidate in (f"{target}.{alias.name}", target):
                    if candidate in known:
                        out.add(candidate)
                        break
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
    out.discard(name)
    return out


# The floors, from the ground up: a module may import its own floor and those below it, never one above. The leaves
# are the top-level modules every wing may use (contract, sources, fingerprint, settings, registry, errors, files).
FLOORS = ("leaves", "runners", "compression", "tasks", "models", "gates", "report", "session", "plugin")
WINGS = {"runners", "compression", "tasks", "models", "gates", "report", "session"}
DOOR = {"pytest_kick", "pytest_kick.testing", "pytest_kick._version"}  # the public door, its test double, the version


def floor(module: str) -> str:
    parts = module.split(".")
    if module == "pytest_kick.plugin":
        return "plugin"
    return parts[1] if len(parts) > 1 and parts[1] in WINGS else "leaves"


def test_imports_only_point_down_the_wings():
    known = modules()
    upward = []
    for m, p in sorted(known.items()):
        if m in DOOR:
            continue
        for d in sorted(imports(m, p, known) - DOOR):
            if FLOORS.index(floor(d)) > FLOORS.index(floor(m)):
                upward.append(f"{m} ({floor(m)}) -> {d} ({floor(d)})")
    assert upward == []


def test_the_top_level_holds_only_the_leaves():
    """A new module goes into a wing; the top level keeps the door, the plugin and the leaves every wing may use."""
    top = {m.split(".")[1] for m in modules() if floor(m) == "leaves" and m not in DOOR}
    assert top == {"contract", "sources", "fingerprint", "settings", "registry", "errors", "files"}


def test_only_the_plugin_opens_the_session_wing():
    known = modules()
    outside = [
        (m, d)
        for m, p in known.items()
        if floor(m) not in ("session", "plugin") and m not in DOOR
        for d in imports(m, p, known)
        if floor(d) == "session"
    ]
    assert outside == []


def test_no_module_imports_the_package_root():
    known = modules()
    offenders = [m for m, p in known.items() if m != "pytest_kick" and "pytest_kick" in imports(m, p, known)]
    assert offenders == []


def test_no_import_circle():
    known = modules()
    graph = {m: imports(m, p, known) - {"pytest_kick"} for m, p in known.items()}
    state: dict[str, int] = {}
    circles = []

    def visit(m, stack):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                circles.append(" -> ".join(stack[stack.index(d) :] + [d]))
            elif d not in state:
                visit(d, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert circles == []


def test_modules_and_functions_stay_small():
    too_long = []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text()
        name = path.relative_to(ROOT.parent)
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []


def shape_counts() -> dict:
    """The figures a restructuring is judged by: modules, folders, import edges, the longest import chain (in
    modules), imports that point up the floors, and the largest modules."""
    import functools

    known = modules()
    graph = {m: imports(m, p, known) - {"pytest_kick"} for m, p in known.items()}

    @functools.cache
    def chain(m: str) -> int:
        return 1 + max((chain(d) for d in graph[m]), default=0)

    upward = [(m, d) for m in graph if m not in DOOR for d in graph[m] - DOOR if FLOORS.index(floor(d)) > FLOORS.index(floor(m))]
    largest = sorted(((p.read_text().count("\n"), str(p.relative_to(ROOT.parent))) for p in known.values()), reverse=True)[:6]
    return {
        "modules": len(known),
        "folders": len({p.parent for p in known.values()}),
        "import edges": sum(map(len, graph.values())),
        "longest chain": max(map(chain, graph)),
        "upward imports": len(upward),
        "largest": largest,
    }


if __name__ == "__main__":  # python tests/unit/test_package_shape.py
    for key, value in shape_counts().items():
        print(f"{key}: {value}")
