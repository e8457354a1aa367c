"""Load generator and benchmark for the TIM read-receipt server (run it with ``scripts/bench``).

The benchmark runs in its own process, never inside the server: ``server`` starts and stops the
server subprocess and reads its RSS and CPU time from /proc, ``client`` is a lean WebSocket
client (websockets + msgspec, pre-encoded frames), ``population`` creates accounts and groups
over REST and logs every member in, ``scenarios`` holds the measurements, ``profile`` wraps
py-spy, and ``report`` prints the summary table and writes the JSON.
"""
