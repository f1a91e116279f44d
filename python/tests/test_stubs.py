"""The type stubs describe the module as it is."""

import ast
import inspect
from pathlib import Path

import porta
from porta import _porta


def _stub():
    path = Path(_porta.__file__).with_name("_porta.pyi")
    assert path.is_file(), f"{path} was not installed"
    return ast.parse(path.read_text())


def _public(names):
    return {n for n in names if not n.startswith("_")}


def test_package_is_typed():
    assert Path(porta.__file__).with_name("py.typed").is_file()


def test_stub_names_match_the_module():
    tree = _stub()
    stubbed = set()
    classes = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            stubbed.add(node.name)
            if isinstance(node, ast.ClassDef):
                classes[node.name] = node
        elif isinstance(node, ast.ImportFrom) and node.module == "porta":
            stubbed.update(alias.asname or alias.name for alias in node.names)
    assert stubbed == _public(dir(_porta))
    for name, node in classes.items():
        members = {item.name for item in node.body
                   if isinstance(item, (ast.FunctionDef, ast.ClassDef))}
        members |= {target.id for item in node.body if isinstance(item, ast.Assign)
                    for target in item.targets if isinstance(target, ast.Name)}
        members |= {item.target.id for item in node.body if isinstance(item, ast.AnnAssign)}
        actual = _public(vars(getattr(_porta, name)))
        assert actual <= members, f"{name}: not in the stub: {sorted(actual - members)}"


def test_package_exports_exist_and_are_annotated():
    for name in porta.__all__:
        assert hasattr(porta, name), name
    for name in porta.ops.__all__:
        function = getattr(porta.ops, name)
        hints = inspect.signature(function)
        assert hints.return_annotation is not inspect.Signature.empty, name
