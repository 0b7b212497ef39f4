#!/usr/bin/env python3
"""Stand-in agents for bench/api.sh: answers GET /status (any request, no
token check) on <ip>:18888 for each vmid of a range, at the local driver's
address 127.77.<vmid/256>.<vmid%256>, so zlh-api's poller gets a real answer
from every seeded server and writes it to the store, as with live agents.

    fake_agents.py --vmid-lo 40000 --count 1000

Prints "listening <n>" once bound (addresses that are taken are skipped and
not counted), then serves until SIGTERM/SIGINT. Standard library only.
"""
import argparse
import asyncio
import json
import signal

BODY = json.dumps({"state": "running", "provisioning_complete": True, "install_step": "done",
                   "progress": 1, "error": None, "container_type": "dev", "runtime": "node",
                   "version": "22.23.3", "crash_count": 0, "last_crash_at": None, "last_exit": None,
                   "last_stop": None, "services": [], "uptime_s": 1}).encode()
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                break
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmid-lo", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    args = ap.parse_args()
    servers = []
    for vmid in range(args.vmid_lo, args.vmid_lo + args.count):
        addr = "127.77.%d.%d" % (vmid // 256, vmid % 256)
        try:
            servers.append(await asyncio.start_server(serve, addr, 18888, backlog=64))
        except OSError:
            pass
    print("listening %d" % len(servers), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in servers:
        s.close()


asyncio.run(main())
