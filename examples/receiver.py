"""A receiver for the server's outgoing requests: prints every TIM callback and every Feishu
webhook event, and answers each as the vendor expects (examples/config.toml points here).

    .venv/bin/python examples/receiver.py            # listens on 127.0.0.1:9000
    .venv/bin/python examples/receiver.py --port 9001

TIM callbacks (``POST /tim/callback?...&CallbackCommand=...``) get ``{"ActionStatus": "OK",
"ErrorCode": 0}``; Feishu's ``url_verification`` gets its challenge back; Feishu events get
HTTP 200. Encrypted Feishu bodies (an app with ``encrypt_key``) are printed as they come.
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web


async def tim_callback(request: web.Request) -> web.Response:
    body = await request.json()
    print(f"TIM callback {request.query.get('CallbackCommand')}: {json.dumps(body)}", flush=True)
    return web.json_response({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})


async def feishu_event(request: web.Request) -> web.Response:
    body = await request.json()
    if body.get("type") == "url_verification":
        print("Feishu url_verification answered", flush=True)
        return web.json_response({"challenge": body.get("challenge")})
    kind = body.get("header", {}).get("event_type", "encrypted" if "encrypt" in body else "?")
    print(f"Feishu event {kind}: {json.dumps(body)}", flush=True)
    return web.json_response({})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    app = web.Application()
    app.add_routes([web.post("/tim/callback", tim_callback),
                    web.post("/webhook/event", feishu_event)])  # fmt: skip
    print(f"receiver on http://{args.host}:{args.port} (/tim/callback, /webhook/event)", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
