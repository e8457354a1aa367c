"""The Feishu/Lark dialect: open-apis REST routes, events (webhook and long connection).

``dialect.FeishuDialect`` is the one object the wiring builds; it hands out its HTTP routes, its
WebSocket endpoints and its outbox channels. The one table of error numbers is ``errors.py``.
"""
