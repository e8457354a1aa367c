"""server/app.py: answers for paths no route serves."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.harness import running_server


async def test_a_domain_with_a_trailing_slash_gets_a_404_that_says_so(tmp_path: Path) -> None:
    """A path starting with '//' (an SDK domain given as http://host:port/) is a 404 in Feishu's
    envelope that says to drop the trailing slash (lark-oapi 1.7.5 refuses such a domain
    itself; other clients, Feishu's Node SDK among them, send the '//')."""
    async with running_server(tmp_path / "im.sqlite3") as srv, httpx.AsyncClient() as http:
        resp = await http.post(
            srv.base_url + "//open-apis/auth/v3/tenant_access_token/internal", json={}
        )
        assert resp.status_code == 404
        assert "drop the trailing slash" in resp.json()["msg"], resp.text
        plain = await http.get(srv.base_url + "/open-apis/nowhere")
        assert plain.status_code == 404 and "trailing slash" not in plain.json()["msg"]
