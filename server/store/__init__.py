"""The only place that imports sqlite3/aiosqlite or holds SQL.

``db.Database`` owns the connections: ONE writer thread that group-commits every queued unit of
work in a single transaction, and an aiosqlite connection for reads. One module per noun
(``accounts``, ``groups``, ``messages``, ``receipts``, ``reads``, ``events``) holds that noun's SQL.
"""
