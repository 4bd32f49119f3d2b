"""The layout's rules, checked by reading the source (ast), never by importing it.

- The core (bot/) knows nothing of Slack: it imports no slack_bolt, slack_sdk, handlers, standins or imagebot.
- Storage imports nothing of Slack but slack_sdk's installation and OAuth-state store interfaces, and nothing of
  the edge or the program.
- The Slack edge (handlers/) does not import the program (imagebot/) or the stand-ins.
- Only imagebot/ (the command line and the composition root) and the stand-ins may import everything.
- No module over MAX_MODULE_LINES lines; no function over MAX_FUNCTION_LINES lines unless a comment right above
  its `def` (or its decorators) starting `# Long:` says why.

Every import counts, also one inside a function or under `if TYPE_CHECKING:`: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("bot", "handlers", "storage", "imagebot", "standins")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# What each layer must not import: a module name, or a dotted prefix of one.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot": ("slack_bolt", "slack_sdk", "handlers", "standins", "imagebot"),
    "storage": ("slack_bolt", "slack_sdk", "handlers", "standins", "imagebot"),
    "handlers": ("standins", "imagebot"),
}
# ...except these: the installation-store interface Bolt's OAuth flow stores installs through.
ALLOWED: dict[str, tuple[str, ...]] = {
    "storage": ("slack_sdk.oauth.installation_store", "slack_sdk.oauth.state_store"),
}


@dataclass(frozen=True)
class Import:
    path: str
    line: int
    module: str


def imports(source: str, path: str) -> Iterator[Import]:
    """Every module `source` imports, absolute names (a relative import is resolved against `path`)."""
    package = Path(path).with_suffix("").parts[:-1] if not path.endswith("__init__.py") else Path(path).parts[:-1]
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            yield Import(path, node.lineno, module)
            for alias in node.names:  # `from bot import providers` imports bot.providers
                yield Import(path, node.lineno, f"{module}.{alias.name}")


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(layer: str, found: Iterator[Import]) -> list[str]:
    bad = []
    for item in found:
        if any(_matches(item.module, p) for p in FORBIDDEN.get(layer, ())) and not any(
                _matches(item.module, p) for p in ALLOWED.get(layer, ())):
            bad.append(f"{item.path}:{item.line} imports {item.module}")
    return sorted(set(bad))


def sources(*packages: str) -> Iterator[tuple[str, str]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def layer_violations(layer: str) -> list[str]:
    return [v for path, text in sources(layer) for v in violations(layer, imports(text, path))]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    assert layer_violations(layer) == []


def test_the_import_check_sees_every_form_of_import() -> None:
    source = (
        "import slack_sdk\n"
        "from slack_bolt.async_app import AsyncApp\n"
        "def later():\n    from handlers.ui import blocks\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import imagebot.cli\n"
        "import httpx\nfrom bot.money import pricing\n"
    )
    assert violations("bot", imports(source, "bot/runtime/example.py")) == [
        "bot/runtime/example.py:1 imports slack_sdk",
        "bot/runtime/example.py:2 imports slack_bolt.async_app",
        "bot/runtime/example.py:2 imports slack_bolt.async_app.AsyncApp",
        "bot/runtime/example.py:4 imports handlers.ui",
        "bot/runtime/example.py:4 imports handlers.ui.blocks",
        "bot/runtime/example.py:7 imports imagebot.cli",
    ]


def test_a_relative_import_is_resolved_before_it_is_judged() -> None:
    found = list(imports("from .. import providers\nfrom ..delivery import Delivery\n", "handlers/ui/example.py"))
    assert [i.module for i in found] == ["handlers", "handlers.providers", "handlers.delivery",
                                         "handlers.delivery.Delivery"]
    package = list(imports("from . import cli\n", "imagebot/__init__.py"))
    assert [i.module for i in package] == ["imagebot", "imagebot.cli"]
    assert violations("handlers", iter(package)) == ["imagebot/__init__.py:1 imports imagebot",
                                                     "imagebot/__init__.py:1 imports imagebot.cli"]


def test_storage_may_use_the_installation_store_interface_and_nothing_else_of_slack() -> None:
    allowed = "from slack_sdk.oauth.installation_store import Bot\n"
    refused = "from slack_sdk.web.async_client import AsyncWebClient\n"
    assert violations("storage", imports(allowed, "storage/x.py")) == []
    assert violations("storage", imports(refused, "storage/x.py")) == [
        "storage/x.py:1 imports slack_sdk.web.async_client",
        "storage/x.py:1 imports slack_sdk.web.async_client.AsyncWebClient",
    ]


def long_functions(source: str, path: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions longer than `limit` lines with no `# Long:` comment just above them (or their decorators)."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            above = lines[first - 2].strip() if first >= 2 else ""
            if length > limit and not above.startswith("# Long:"):
                found.append(f"{path}:{node.lineno} {node.name} is {length} lines")
    return found


def test_no_module_is_longer_than_the_limit() -> None:
    assert [f"{path} is {text.count(chr(10))} lines" for path, text in sources(*SHIPPED)
            if text.count("\n") > MAX_MODULE_LINES] == []


def test_no_function_is_longer_than_the_limit_without_saying_why() -> None:
    assert [problem for path, text in sources(*SHIPPED) for problem in long_functions(text, path)] == []


def test_the_length_check_counts_lines_and_reads_the_reason() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    long = f"def f():\n{body}"
    assert long_functions(long, "m.py") == [f"m.py:1 f is {MAX_FUNCTION_LINES + 1} lines"]
    assert long_functions(f"# Long: one table, read top to bottom.\n@decorator\n{long}", "m.py") == []
    assert long_functions(f"def f():\n{body[: -len(body.splitlines()[-1]) - 1]}", "m.py") == []
