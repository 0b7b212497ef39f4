#!/usr/bin/env python3
"""Stats stream viewers for bench/stats.sh (stdlib only; framing as in
ws_bench.py).

  stats_viewers.py BASE_WS_URL TOKEN --servers 1,2,3 --count 50

Opens COUNT viewers of ws://.../api/servers/<id>/stats/stream, round-robin
over the server ids, each reading every message (and answering pings).
Prints `ready N` once every viewer has its ring, then reads until stdin
closes, then prints `messages M` (samples received after the rings) and
exits. Errors go to stderr; exit 1 on failure.
"""
import argparse, asyncio, sys

from ws_bench import connect, frame, read_message

received = 0


async def viewer(url, headers, ready):
    global received
    reader, writer = await connect(url, headers)
    first = True
    while True:
        op, data = await read_message(reader)
        if op == 9:  # ping: pong with the same payload
            writer.write(frame(data, 0xA))
            continue
        if op == 8:
            raise RuntimeError("closed by the server")
        if first:
            first = False
            ready.release()
        else:
            received += 1


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("base")
    p.add_argument("token")
    p.add_argument("--servers", required=True)
    p.add_argument("--count", type=int, default=50)
    a = p.parse_args()
    ids = [s for s in a.servers.split(",") if s]
    headers = [f"Authorization: Bearer {a.token}"]
    ready = asyncio.Semaphore(0)
    tasks = [asyncio.create_task(viewer(f"{a.base}/api/servers/{ids[i % len(ids)]}/stats/stream",
                                        headers, ready)) for i in range(a.count)]
    async def all_ready():
        for _ in range(a.count):
            await ready.acquire()
    try:
        await asyncio.wait_for(all_ready(), 60)
    except asyncio.TimeoutError:
        failed = [t.exception() for t in tasks if t.done() and t.exception()]
        print(f"viewers not ready within 60 s: {failed[:1]}", file=sys.stderr)
        sys.exit(1)
    print(f"ready {a.count}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    for t in tasks:
        if t.done() and t.exception():
            print(f"viewer failed: {t.exception()}", file=sys.stderr)
            sys.exit(1)
    print(f"messages {received}", flush=True)
    for t in tasks:
        t.cancel()


if __name__ == "__main__":
    asyncio.run(main())
