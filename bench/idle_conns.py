#!/usr/bin/python3
"""Hold N idle TLS connections open, for `make bench`'s memory-per-connection figure.

    idle_conns.py HOST PORT N [--sni NAME] [--concurrency C] [--hold S]

Opens N TCP connections to HOST:PORT, completes a TLS handshake on each (SNI NAME, default
HOST; ALPN http/1.1; the certificate is not checked: only the connection's cost matters), then
prints one line

    ready ok=<connections held> failed=<handshakes that failed> secs=<time to open them>

and keeps every connection open, sending nothing, until SIGTERM/SIGINT or --hold seconds
(default 600) have passed. At most C handshakes (default 64) are in flight at once. Run it with
RLIMIT_NOFILE above N. Exit status 0 when all N connections were held, 1 otherwise.
"""
import argparse
import asyncio
import signal
import ssl
import sys
import time


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--sni")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--hold", type=float, default=600)
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    sni = a.sni or a.host
    sem = asyncio.Semaphore(a.concurrency)
    held = []
    errors = {}

    async def one():
        async with sem:
            try:
                _, w = await asyncio.wait_for(
                    asyncio.open_connection(a.host, a.port, ssl=ctx, server_hostname=sni), 60)
                held.append(w)
            except Exception as e:  # noqa: BLE001 - counted and reported
                k = type(e).__name__ + ": " + str(e)[:80]
                errors[k] = errors.get(k, 0) + 1

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(a.n)))
    failed = sum(errors.values())
    print(f"ready ok={len(held)} failed={failed} secs={time.monotonic() - t0:.1f}", flush=True)
    for k, v in sorted(errors.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {v} x {k}", file=sys.stderr, flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), a.hold)
    except asyncio.TimeoutError:
        pass
    for w in held:
        w.transport.abort()
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
