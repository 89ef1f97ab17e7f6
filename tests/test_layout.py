"""The library's layout: imports point one way (no cycle), and nothing edits sys.path to find the package."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "eep_utils"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package's modules that `path` imports, at any depth of its code (a function-level import
    that dodges a cycle is still a cycle)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            candidates = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {name for name in candidates if name in known}
    return found


def test_the_library_has_no_import_cycle():
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}
    # Importing a subpackage's module runs its package's __init__, which imports nothing here.
    state, cycles = {}, []

    def visit(name, trail):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, f"import cycles: {cycles}"


# The research's parts from the bottom up: a module may import from its own layer and those below it only.
LAYERS = (
    ("eep_utils.paths", "eep_utils.stats", "eep_utils.personas", "eep_utils.personas"),
    ("eep_utils.chat",),
    ("eep_utils.cartpole", "eep_utils.personality"),
    ("eep_utils.ellm", "eep_utils.study2023"),
    ("eep_utils.experiments",),
    ("eep_utils.book", "eep_utils.build", "eep_utils.record"),
)


def layer_of(module: str) -> int:
    return next(number for number, parts in enumerate(LAYERS)
                for part in parts if module == part or module.startswith(part + "."))


def test_imports_point_down_the_layers():
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py") if module_name(path) != "eep_utils"}
    upward = [f"{name} imports {target}" for name, path in paths.items()
              for target in imports_of(path, set(paths)) if layer_of(target) > layer_of(name)]
    assert not upward, f"imports against the layers {LAYERS}: {upward}"


def test_the_cycle_check_finds_a_planted_cycle(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def f():\n    from eep_utils.b import g\n")
    b.write_text("from eep_utils.a import f\n")
    assert imports_of(a, {"eep_utils.a", "eep_utils.b"}) == {"eep_utils.b"}
    assert imports_of(b, {"eep_utils.a", "eep_utils.b"}) == {"eep_utils.a"}


def test_nothing_edits_sys_path_to_import_the_book():
    """eep_utils is installed (requirements.txt); notebooks, tests and benchmarks import it as a package."""
    sources = [*ROOT.glob("notebooks/*.md"), *ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py")]
    offenders = [path.relative_to(ROOT) for path in sources
                 if path != Path(__file__).resolve() and "sys.path" in path.read_text()]
    assert not offenders, f"{offenders} edit sys.path: import eep_utils as the installed package"
