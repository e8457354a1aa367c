"""The examples the README points to run as written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.harness import running_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def test_walkthrough_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """examples/walkthrough.py prints that one member read the message and one did not."""
    spec = importlib.util.spec_from_file_location("walkthrough", EXAMPLES / "walkthrough.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    async with running_server(tmp_path / "im.sqlite3") as srv:
        await module.main(srv.base_url.removeprefix("http://"))
    out = capsys.readouterr().out
    assert "alice <- onRecvMessageReadReceipts: ['1 read, 1 unread']" in out
    assert "alice: 1 read ['bob'], 1 unread ['carol']" in out
