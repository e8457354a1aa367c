"""Pure wire types and codecs shared by the server, the clients and the tests.

Nothing in this package does I/O or imports asyncio, starlette or anything from ``server``.
``protocol.tim`` holds Tencent Cloud IM shapes, ``protocol.feishu`` Feishu/Lark shapes.
"""
