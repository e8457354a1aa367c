"""Documentation stays true: generated files match the code."""

from __future__ import annotations

import json
from pathlib import Path

from protocol.tim.ws import COMMANDS, json_schema

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_ws_schema_file_is_current() -> None:
    """docs/tim-ws.schema.json is what `python -m server schema` prints today."""
    committed = json.loads((DOCS / "tim-ws.schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema())), (
        "regenerate with: .venv/bin/python -m server schema > docs/tim-ws.schema.json"
    )


def test_protocol_doc_lists_every_command() -> None:
    """docs/protocol.md documents every WebSocket command the server accepts."""
    text = (DOCS / "protocol.md").read_text()
    missing = [c for c in COMMANDS if f"`{c}`" not in text]
    assert missing == []


def test_example_config_loads() -> None:
    """examples/config.toml, which docs/configuration.md explains, is a valid configuration."""
    from server import settings

    loaded = settings.load(DOCS.parent / "examples" / "config.toml")
    assert [a.sdkappid for a in loaded.all_apps()] == [1400000000, 1400000001]


def test_semantics_links_name_real_tests() -> None:
    """Every test that docs/semantics.md links to exists (file, and function when named)."""
    import re

    text = (DOCS / "semantics.md").read_text()
    tests = DOCS.parent / "tests"
    missing = []
    last_file = None
    for ref in re.findall(r"`((?:[\w/]+\.py)?(?:::\w+)?)`", text):
        if not ref or ref.endswith(".md"):
            continue
        path, _, func = ref.partition("::")
        if path:
            last_file = DOCS.parent / path if path.startswith("tests/") else tests / path
        if last_file is None or not last_file.exists():
            missing.append(ref)
            continue
        if func and not re.search(rf"def {func}\(", last_file.read_text()):
            missing.append(ref)
    assert missing == []
