"""The house rules on imports, checked by walking every module's AST (HOUSE_STYLE.md rule 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "server", "clients")

IO_LIBRARIES = {
    "asyncio",
    "starlette",
    "uvicorn",
    "aiosqlite",
    "sqlite3",
    "aiohttp",
    "websockets",
    "httpx",
}
SQL_LIBRARIES = {"sqlite3", "aiosqlite"}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(p for p in rel.parts if p != "__init__")
            out.append((name, path))
    return out


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _violations(rule: str) -> list[str]:
    bad = []
    for module, path in _modules():
        for imported in _imports(path):
            if RULES[rule](module, imported):
                bad.append(f"{module} imports {imported}")
    return bad


RULES = {
    # protocol/ is pure: no I/O libraries, nothing from server or clients
    "protocol is pure": lambda m, i: (
        _under(m, "protocol") and (_top(i) in IO_LIBRARIES or _top(i) in ("server", "clients"))
    ),
    # clients speak the wire protocol only
    "clients never import server": lambda m, i: _under(m, "clients") and _top(i) == "server",
    # the core knows no transport, no SQL library and no vendor
    "core is neutral": lambda m, i: (
        _under(m, "server.core")
        and (
            _top(i) in IO_LIBRARIES - {"asyncio"}
            or _top(i) == "protocol"
            or any(
                _under(i, p) for p in ("server.tim", "server.feishu", "server.app", "server.fanout")
            )
        )
    ),
    # SQL lives in the store only
    "only the store touches SQLite": lambda m, i: (
        not _under(m, "server.store") and _top(i) in SQL_LIBRARIES
    ),
    # the store is called by the core (and by the outbox and wiring), never by a dialect
    "dialects go through the core": lambda m, i: (
        (
            _under(m, "server.tim")
            or _under(m, "server.feishu")
            or m in ("server.app", "server.fanout")
        )
        and _under(i, "server.store")
    ),
    # the store does not know who calls it
    "the store is below the core services": lambda m, i: (
        (
            _under(m, "server.store")
            and any(
                _under(i, p)
                for p in (
                    "server.tim",
                    "server.feishu",
                    "server.app",
                    "server.outbox",
                    "server.fanout",
                    "server.wiring",
                )
            )
        )
        or (
            _under(m, "server.store")
            and _under(i, "server.core")
            and i not in ("server.core.model", "server.core.errors", "server.core.events")
        )
    ),
    # dialects are independent of each other
    "dialects do not import each other": lambda m, i: (
        (_under(m, "server.tim") and _under(i, "server.feishu"))
        or (_under(m, "server.feishu") and _under(i, "server.tim"))
    ),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_import_rule(rule: str) -> None:
    """No module breaks the import rule named in the test id."""
    assert _violations(rule) == []


def test_rules_see_every_package() -> None:
    """The walker finds the modules of every package (so the rules cannot pass vacuously)."""
    found = {_top(m) for m, _ in _modules()}
    assert found == set(PACKAGES)
    assert any(_under(m, "server.store") for m, _ in _modules())
    assert "sqlite3" in _imports(ROOT / "server" / "store" / "db.py")


def test_every_reason_has_a_tim_code() -> None:
    """The TIM dialect's one error table covers every neutral reason."""
    from server.core.errors import Reason
    from server.tim.errors import TABLE

    assert set(TABLE) == set(Reason)
