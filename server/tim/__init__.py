"""The Tencent Cloud IM dialect: REST routes, the WebSocket session protocol and callbacks.

Each handler translates the vendor's shapes into one core call and the result back; the one
table of error numbers is ``errors.py``.
"""
