#!/usr/bin/env python3
"""Noisy neighbour (issue 21, M3): does one tenant's flood slow another's requests?

One zlh-api on the lxc driver, two users, one dev container each (the tool
runtime). The quiet tenant ("victim") sends, one at a time, GET
/api/servers/{id} (the store) and GET /api/servers/{id}/files/list (relayed
to its agent), for BENCH_NOISY_SECONDS each phase; its p50/p99 are recorded
  - idle: nobody else does anything;
  - fifo: the noisy tenant made 32 FIFOs in its workspace (mkfifo in its own
    console) and 16 threads read them through the files relay, in a loop
    (a FIFO once blocked the agent's io thread and a relay thread for 60 s);
  - consoles: 16 console sessions of the noisy tenant, each running `yes`
    (the API relays every byte; the readers drain them as fast as they can);
  - uploads: 16 trickling uploads (4 KiB every 50 ms) and 2 full-speed
    64 MiB uploads in a loop (trickles once held relay threads).
zlh-api's CPU per phase beside. The victim's p99 in a flood against idle is
the figure; the floods run in containers limited to one core each, on a
2-core machine shared with the client, so some slowdown is CPU, not
queueing. Writes bench/results/noisy.md. Root only (the lxc driver).
"""
import base64, http.client, json, os, socket, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lxc_bench as lb  # Api, make_store, servers_list, proc_cpu_s

REPO = lb.REPO
SECONDS = float(os.environ.get("BENCH_NOISY_SECONDS", "15"))
RESULTS = os.path.join(REPO, "bench/results/noisy.md")
TAG = "nz"
LXC_ARGS = ["--driver", "lxc", "--lxc-tag", TAG, "--lxc-bridge-dev", "znzd", "--lxc-bridge-game", "znzg",
            "--lxc-subnet-dev", "10.251.16.0/22", "--lxc-subnet-game", "10.251.20.0/22", "--lxc-slots", "8",
            "--lxc-id-base", str(1000000 + 65536 * 910), "--lxc-disk-gb-default", "2"]


class Client:
    def __init__(self, api, token):
        self.api, self.token = api, token
        self.conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=120)

    def call(self, method, path, body=None, raw=None, headers=None):
        h = {"Authorization": "Bearer " + self.token}
        if body is not None:
            h["Content-Type"] = "application/json"
            raw = json.dumps(body)
        h.update(headers or {})
        try:
            self.conn.request(method, path, raw, h)
            r = self.conn.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.api.port, timeout=120)
            return 0, b""


def login(api, user, password):
    c = Client(api, "")
    st, body = c.call("POST", "/api/auth/login", {"identifier": user, "password": password})
    if st != 200:
        sys.exit(f"login {user}: {st} {body[:200]}")
    return json.loads(body)["token"]


def provision(client):
    st, body = client.call("POST", "/api/servers", {"type": "dev", "runtime": "tool", "version": "1.0.0"})
    if st != 202:
        sys.exit(f"create: {st} {body[:300]}")
    created = json.loads(body)
    deadline = time.time() + 300
    while time.time() < deadline:
        st, body = client.call("GET", "/api/jobs/%d" % created["job"])
        job = json.loads(body)
        if job["state"] == "done":
            return created["id"]
        if job["state"] in ("failed", "compensating", "compensated"):
            sys.exit("provisioning failed: %s" % job.get("error"))
        time.sleep(0.05)
    sys.exit("provisioning did not finish")


def console(api, token, sid):
    s = socket.create_connection(("127.0.0.1", api.port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /api/servers/{sid}/console HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        sys.exit("console refused: %r" % head[:300])
    return s


def ws_send(s, data):
    """One masked binary frame (client to server): terminal input."""
    mask = os.urandom(4)
    n = len(data)
    hdr = bytes([0x82])
    if n < 126:
        hdr += bytes([0x80 | n])
    else:
        hdr += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def victim_run(client, sid, seconds):
    lat = []
    errors = 0
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        path = f"/api/servers/{sid}" if i % 2 == 0 else f"/api/servers/{sid}/files/list?path="
        t0 = time.monotonic()
        st, _ = client.call("GET", path)
        lat.append((time.monotonic() - t0) * 1000)
        if st != 200:
            errors += 1
        i += 1
    lat.sort()
    return {"n": len(lat), "p50": statistics.median(lat), "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "max": lat[-1], "errors": errors}


def flood_fifo(api, token, sid, stop, counts):
    c = Client(api, token)
    i = 0
    while not stop.is_set():
        st, _ = c.call("GET", f"/api/servers/{sid}/files/read?path=p{i % 32}")
        counts[st] = counts.get(st, 0) + 1
        i += 1


def flood_console(s, stop, counts):
    s.settimeout(1)
    while not stop.is_set():
        try:
            n = len(s.recv(65536))
        except socket.timeout:
            continue
        except OSError:
            break
        if n == 0:
            break
        counts["bytes"] = counts.get("bytes", 0) + n


def flood_upload(api, token, sid, name, size, chunk, pause, stop, counts):
    while not stop.is_set():
        s = socket.create_connection(("127.0.0.1", api.port), timeout=120)
        s.sendall((f"PUT /api/servers/{sid}/files/write?path={name} HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
                   f"Content-Length: {size}\r\n\r\n").encode())
        sent = 0
        block = b"x" * chunk
        try:
            while sent < size and not stop.is_set():
                k = min(chunk, size - sent)
                s.sendall(block[:k])
                sent += k
                if pause:
                    time.sleep(pause)
            if sent == size:
                s.recv(4096)
                counts["done"] = counts.get("done", 0) + 1
        except OSError:
            counts["error"] = counts.get("error", 0) + 1
        s.close()


def main():
    if os.geteuid() != 0:
        sys.exit("bench/noisy.sh needs root (the lxc driver)")
    work = tempfile.mkdtemp(prefix="zlh-bench-noisy-")
    os.chmod(work, 0o711)
    store, keys, _ = lb.make_store(work)
    api = lb.Api(work + "/api", store, keys, LXC_ARGS)
    results = {}
    quiet, qsid = None, 0
    try:
        admin = Client(api, api.token)
        st, body = admin.call("POST", "/api/auth/register",
                              {"username": "quiet", "email": "quiet@example.com", "password": "quiet-password-1"})
        if st not in (200, 201):
            sys.exit(f"register: {st} {body[:300]}")
        quiet = Client(api, login(api, "quiet", "quiet-password-1"))
        noisy_token = api.token
        noisy = Client(api, noisy_token)
        qsid = provision(quiet)
        nsid = provision(noisy)
        lb.log("two dev containers up:", qsid, nsid)
        # The noisy tenant's FIFOs in its workspace (what `mkfifo` in its
        # shell makes), owned like the workspace.
        st, body = noisy.call("GET", f"/api/servers/{nsid}")
        vmid = json.loads(body)["vmid"]
        ws = f"{work}/api/data/lxc/{TAG}-{vmid}/rootfs/home/dev/workspace"
        owner = os.stat(ws)
        for i in range(32):
            os.mkfifo(f"{ws}/p{i}", 0o644)
            os.chown(f"{ws}/p{i}", owner.st_uid, owner.st_gid)
        st, body = noisy.call("GET", f"/api/servers/{nsid}/files/read?path=p0")
        lb.log("a FIFO read answers", st, body[:200])

        def phase(name, start_flood):
            stop = threading.Event()
            counts = {}
            threads = start_flood(stop, counts) if start_flood else []
            time.sleep(1 if threads else 0)  # the flood under way
            c0 = lb.proc_cpu_s(api.proc.pid)
            r = victim_run(quiet, qsid, SECONDS)
            r["api_cpu_s"] = lb.proc_cpu_s(api.proc.pid) - c0
            stop.set()
            for t in threads:
                t.join(30)
            r["flood"] = dict(counts)
            results[name] = r
            lb.log(f"{name}: victim p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms n={r['n']} errors={r['errors']} "
                   f"api cpu {r['api_cpu_s']:.2f} s flood {counts}")

        def fifo(stop, counts):
            ts = [threading.Thread(target=flood_fifo, args=(api, noisy_token, nsid, stop, counts)) for _ in range(16)]
            for t in ts:
                t.start()
            return ts

        socks = []

        def consoles(stop, counts):
            ts = []
            for _ in range(16):
                s = console(api, noisy_token, nsid)
                ws_send(s, b"yes\n")
                socks.append(s)
                ts.append(threading.Thread(target=flood_console, args=(s, stop, counts)))
            for t in ts:
                t.start()
            return ts

        def uploads(stop, counts):
            ts = [threading.Thread(target=flood_upload,
                                   args=(api, noisy_token, nsid, f"slow{i}", 8 << 20, 4096, 0.05, stop, counts))
                  for i in range(16)]
            ts += [threading.Thread(target=flood_upload,
                                    args=(api, noisy_token, nsid, f"fast{i}", 64 << 20, 1 << 20, 0, stop, counts))
                   for i in range(2)]
            for t in ts:
                t.start()
            return ts

        phase("idle", None)
        phase("fifo", fifo)
        phase("consoles", consoles)
        for s in socks:
            ws_send(s, b"\x03")  # stop `yes`: the sessions outlive their sockets
            s.close()
        time.sleep(2)
        phase("uploads", uploads)
        phase("idle again", None)
    finally:
        try:
            if quiet is not None:  # the admin's list does not show the quiet user's server
                quiet.call("DELETE", f"/api/servers/{qsid}")
            api.conn.close()  # idle past the keep-alive timeout by now
            api.conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=120)
            api.delete_all()
            deadline = time.time() + 300
            while quiet is not None and time.time() < deadline:
                st, _ = quiet.call("GET", f"/api/servers/{qsid}")
                if st == 404:
                    break
                time.sleep(0.5)
        except Exception as e:  # keep cleaning up
            lb.log("delete_all:", e)
        api.stop()
        # Whatever a failed run left (containers, mounts): the driver's own cleanup.
        subprocess.run([lb.BIN + "/zlh-lxc-cleanup", work + "/api/data", TAG, "znzd", "10.251.16.0/22", "znzg",
                        "10.251.20.0/22", str(1000000 + 65536 * 910), "8"], capture_output=True)
        for br in ("znzd", "znzg"):
            subprocess.run(["ip", "link", "del", br], capture_output=True)
        subprocess.run(["nft", "delete", "table", "inet", "zlh_" + TAG], capture_output=True)
        if not os.environ.get("BENCH_KEEP_TMP"):
            subprocess.run(["rm", "-rf", work])
    write(results)


def write(r):
    idle = r["idle"]
    lines = ["# Noisy neighbour (issue 21, M3)", "",
             "`make bench` (bench/noisy.sh → bench/noisy_bench.py), " + time.strftime("%Y-%m-%d") +
             f", this 2-core machine. One zlh-api on the lxc driver, two users with a dev container each. "
             f"The quiet user sends GET /api/servers/{{id}} and GET …/files/list (relayed to its agent), one at a "
             f"time, for {SECONDS:.0f} s per phase, while the noisy user floods; latencies from the client "
             "(Python, one connection). zlh-api CPU over the phase beside.", "",
             "| phase | victim requests | p50 ms | p99 ms | max ms | victim errors | p99 vs idle | zlh-api CPU s | flood |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, x in r.items():
        flood = ", ".join(f"{k}: {v}" for k, v in sorted(x["flood"].items(), key=lambda kv: str(kv[0]))) or "-"
        lines.append(f"| {name} | {x['n']} | {x['p50']:.2f} | {x['p99']:.2f} | {x['max']:.1f} | {x['errors']} | "
                     f"{x['p99'] / idle['p99']:.2f}× | {x['api_cpu_s']:.2f} | {flood} |")
    lines += ["", "Floods: fifo = 16 threads reading the noisy tenant's 32 FIFOs through the files relay in a loop "
              "(flood column: answers by status); consoles = 16 console sessions running `yes` (bytes relayed); "
              "uploads = 16 uploads trickling 4 KiB every 50 ms plus 2 full-speed 64 MiB uploads in a loop "
              "(done/error). The noisy containers' processes compete for the same 2 cores as zlh-api and the "
              "client: part of any slowdown is CPU, not a stalled thread.", ""]
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    open(RESULTS, "w").write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
