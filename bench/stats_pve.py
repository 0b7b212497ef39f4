#!/usr/bin/env python3
"""A stand-in Proxmox VE API for bench/stats.sh (stdlib only): just what the
stats sampler of zlh-api --driver proxmox reads.

  stats_pve.py --port-file FILE --vmid-lo 40000 --count 200

GET /api2/json/version             {"data":{"version":"8.2.4"}}
GET /api2/json/cluster/resources   COUNT running lxc guests, vmids
                                   VMID_LO.., with moving cpu, mem and net
                                   counters, as a real cluster answers
Anything else is 501. Listens on 127.0.0.1 on a free port, written to
FILE once listening. Prints `requests N` (cluster/resources answered) on
SIGTERM.
"""
import argparse, json, signal, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
resources_served = 0
started = time.monotonic()


def resources():
    t = time.monotonic() - started
    out = []
    for i in range(args.count):
        vmid = args.vmid_lo + i
        out.append({"id": f"lxc/{vmid}", "type": "lxc", "vmid": vmid, "node": f"pve{i % 3 + 1}",
                    "name": f"dev-{vmid}", "status": "running", "template": 0,
                    "cpu": (i % 10) / 20.0, "maxcpu": 2,
                    "mem": (256 << 20) + i * 4096, "maxmem": 1 << 30,
                    "disk": 1 << 28, "maxdisk": 8 << 30,
                    "netin": int(t * 1000 * (i + 1)), "netout": int(t * 500 * (i + 1)),
                    "uptime": int(t) + 60})
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        global resources_served
        path = self.path.split("?", 1)[0]
        if path == "/api2/json/version":
            body = {"data": {"version": "8.2.4", "release": "8.2"}}
        elif path == "/api2/json/cluster/resources":
            resources_served += 1
            body = {"data": resources()}
        else:
            self.send_error(501)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *a):
        pass


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--vmid-lo", type=int, default=40000)
    p.add_argument("--count", type=int, default=200)
    args = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True

    def stop(*_):
        print(f"requests {resources_served}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
