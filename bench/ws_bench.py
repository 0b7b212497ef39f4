#!/usr/bin/env python3
"""WebSocket client for bench/ide.sh (stdlib only: handshake and framing by hand).

  ws_bench.py rtt  URL [--header 'K: V']... [--n 2000] [--warmup 200] [--size 32]
      one connection, N round trips of a SIZE-byte text message, each sent
      after the previous echo came back; prints `p50_us`, `p90_us`, `p99_us`,
      `mean_us` lines.
  ws_bench.py idle URL [--header 'K: V']... [--count 10000] [--concurrency 200]
      opens COUNT connections (each checked with one echo), prints
      `established N` and `ready`, then holds them idle until stdin closes or a
      line arrives, then closes them and prints `closed`.
URL is ws://HOST:PORT/PATH. Errors go to stderr; exit 1 on failure.
"""
import argparse, asyncio, base64, os, struct, sys, time


def parse(url):
    assert url.startswith("ws://"), url
    rest = url[5:]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    return host, int(port), "/" + path


async def connect(url, headers):
    host, port, path = parse(url)
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    key = base64.b64encode(os.urandom(16)).decode()
    # A Host among `headers` (an origin by name, e.g. <vmid>.localhost) wins.
    own_host = [] if any(h.lower().startswith("host:") for h in headers) else [f"Host: {host}:{port}"]
    req = [f"GET {path} HTTP/1.1"] + own_host + ["Upgrade: websocket", "Connection: Upgrade",
           f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"] + headers
    writer.write(("\r\n".join(req) + "\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"101":
        first = head.split(b"\r\n", 1)[0].decode()
        raise RuntimeError("upgrade refused: " + first)
    return reader, writer


def frame(payload, op=1):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        hdr = bytes([0x80 | op, 0x80 | n])
    elif n < 65536:
        hdr = bytes([0x80 | op, 0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([0x80 | op, 0x80 | 127]) + struct.pack(">Q", n)
    return hdr + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


async def read_message(reader):
    h = await reader.readexactly(2)
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", await reader.readexactly(8))[0]
    return h[0] & 0x0F, await reader.readexactly(n)


async def rtt(a):
    reader, writer = await connect(a.url, a.header)
    msg = b"x" * a.size
    data = frame(msg)  # the same masked frame each time: the cost is the path, not the mask
    samples = []
    for i in range(a.warmup + a.n):
        t0 = time.perf_counter_ns()
        writer.write(data)
        op, got = await read_message(reader)
        dt = time.perf_counter_ns() - t0
        if got != msg:
            raise RuntimeError("echo differs")
        if i >= a.warmup:
            samples.append(dt / 1000)
    writer.write(frame(b"", 8))
    writer.close()
    samples.sort()
    pct = lambda p: samples[min(len(samples) - 1, int(len(samples) * p / 100))]
    print(f"p50_us {pct(50):.1f}\np90_us {pct(90):.1f}\np99_us {pct(99):.1f}\n"
          f"mean_us {sum(samples) / len(samples):.1f}\nsamples {len(samples)}")


async def idle(a):
    conns = []
    sem = asyncio.Semaphore(a.concurrency)

    async def one(i):
        async with sem:
            reader, writer = await connect(a.url, a.header)
            writer.write(frame(b"hi %d" % i))
            op, got = await read_message(reader)
            if got != b"hi %d" % i:
                raise RuntimeError("echo differs")
            conns.append(writer)

    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(a.count)))
    print(f"established {len(conns)}\nseconds {time.monotonic() - t0:.1f}\nready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for w in conns:
        w.close()
    print("closed", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["rtt", "idle"])
    p.add_argument("url")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=200)
    a = p.parse_args()
    try:
        asyncio.run(rtt(a) if a.mode == "rtt" else idle(a))
    except Exception as e:  # noqa: BLE001 - one line for the script
        print(f"ws_bench: {e!r}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
