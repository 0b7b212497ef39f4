#!/usr/bin/env python3
"""The lxc driver's benchmark (bench/lxc.sh runs it; issue 19's figures).

Measured in one run on this machine, against the local driver as the peer:
  (a) provisioning to running (POST /api/servers until the job is done and
      the agent runs) of a dev server with real Node.js from the demo store,
      warm: the first create of each driver is reported apart (it fills the
      page cache with the artifact); machine CPU (all processes, from
      /proc/stat) per create beside the wall time;
  (b) lxc container start: zlh-lxc-helper start (liblxc until RUNNING) and
      until the agent answers /health;
  (c) host memory per idle lxc container: PSS and RSS of its monitor, its
      init, its agent and its shims (dev containers with a console open, so
      one shim holds the shell);
  (d) BENCH_IDLE (50) idle dev containers on lxc: GET /api/servers (all 50,
      one user) with wrk at 1 connection, p50/p99 and zlh-api's CPU per
      request; the host's MemAvailable drop per container.
Writes bench/results/lxc.md. Cleans up (deletes every server through the
API, which removes the containers, bridges stay for the API's next start
and are removed at the end).
"""
import http.client, json, os, re, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BENCH_BIN", os.path.join(REPO, "build/bin"))
DEMO = os.environ.get("BENCH_DEMO_STORE", os.path.join(REPO, "build/demo"))
RUNS = int(os.environ.get("BENCH_PROVISION_RUNS", "5"))
IDLE = int(os.environ.get("BENCH_IDLE", "50"))
DURATION = os.environ.get("BENCH_DURATION", "10s")
RESULTS = os.path.join(REPO, "bench/results/lxc.md")
TAG = "bn"
LXC_ARGS = ["--driver", "lxc", "--lxc-tag", TAG, "--lxc-bridge-dev", "zbnd", "--lxc-bridge-game", "zbng",
            "--lxc-subnet-dev", "10.251.0.0/22", "--lxc-subnet-game", "10.251.4.0/22", "--lxc-slots", "96",
            "--lxc-id-base", str(1000000 + 65536 * 900), "--lxc-disk-gb-default", "2"]


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_jiffies():
    f = open("/proc/stat").readline().split()[1:]
    v = [int(x) for x in f]
    return sum(v) - v[3] - v[4]  # busy: all but idle and iowait


def proc_cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read()
    f = f[f.rfind(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


class Api:
    def __init__(self, work, store, keys, extra):
        self.work = work
        os.makedirs(work + "/data", exist_ok=True)
        os.chmod(work, 0o711)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(work + "/api.log", "a")
        env = {"PATH": "/usr/bin:/bin", "ZLH_ADMIN_PASSWORD": "admin-password-1"}
        self.proc = subprocess.Popen([BIN + "/zlh-api", "--listen", f"127.0.0.1:{self.port}", "--data", work + "/data",
                                      "--artifacts", store, "--catalog-key", keys + "/catalog.pub",
                                      "--dev-vmid-lo", "6000", "--dev-vmid-hi", "6199", "--poll-interval", "2"] + extra,
                                     stdout=self.log, stderr=self.log, env=env)
        deadline = time.time() + 30
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                sys.exit("zlh-api did not start: " + open(work + "/api.log").read()[-2000:])
            time.sleep(0.05)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.token = self.call("POST", "/api/auth/login", {"identifier": "admin", "password": "admin-password-1"})["token"]

    def call(self, method, path, body=None):
        h = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            h["Authorization"] = "Bearer " + self.token
        self.conn.request(method, path, json.dumps(body) if body is not None else None, h)
        r = self.conn.getresponse()
        data = r.read()
        return json.loads(data) if data else {}

    def provision(self, runtime, version):
        t0 = time.monotonic()
        c0 = cpu_jiffies()
        created = self.call("POST", "/api/servers", {"type": "dev", "runtime": runtime, "version": version})
        if "job" not in created:
            sys.exit("create refused: %s" % created)
        while True:
            job = self.call("GET", "/api/jobs/%d" % created["job"])
            if job["state"] == "done":
                break
            if job["state"] in ("failed", "compensating", "compensated"):
                sys.exit("provisioning failed: %s" % job.get("error"))
            if time.monotonic() - t0 > 600:
                sys.exit("provisioning did not finish in 600 s")
            time.sleep(0.005)
        wall = time.monotonic() - t0
        cpu = (cpu_jiffies() - c0) / os.sysconf("SC_CLK_TCK")
        return created["id"], wall, cpu

    def delete_all(self):
        for s in servers_list(self):
            self.call("DELETE", "/api/servers/%d" % s["id"])
        deadline = time.time() + 600
        while servers_list(self) and time.time() < deadline:
            time.sleep(0.5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def servers_list(api):
    r = api.call("GET", "/api/servers")
    return r["servers"] if isinstance(r, dict) and "servers" in r else r


def make_store(work):
    store, keys = work + "/store", work + "/keys"
    sh(BIN + "/zlhctl", "keygen", "--out", keys)
    sh(BIN + "/zlhctl", "catalog", "init", "--store", store)
    os.makedirs(work + "/src/tool-1.0.0/bin")
    open(work + "/src/tool-1.0.0/bin/tool", "w").write('#!/bin/sh\necho "tool 1.0.0"\n')
    os.chmod(work + "/src/tool-1.0.0/bin/tool", 0o755)
    sh("tar", "-C", work + "/src", "-czf", work + "/tool.tar.gz", "tool-1.0.0")
    sh(BIN + "/zlhctl", "catalog", "add", "--store", store, "--kind", "runtime", "--id", "tool", "--version", "1.0.0",
       "--file", work + "/tool.tar.gz", "--channel", "stable", "--strip", "1", "--bin", "bin",
       "--verify", "bin/tool --version", "--expect", "tool 1.0.0")
    node = None
    cat = os.path.join(DEMO, "artifacts/catalog.json")
    if os.path.exists(cat):
        c = json.load(open(cat))
        vs = [v for r in c["runtimes"] if r["id"] == "node" for v in r["versions"]]
        if vs:
            v = next((v for v in vs if v.get("default")), vs[0])
            sh(BIN + "/zlhctl", "catalog", "add", "--store", store, "--kind", "runtime", "--id", "node", "--version",
               v["version"], "--file", os.path.join(DEMO, "artifacts", v["artifact"]), "--channel", "stable",
               "--strip", "1", "--bin", "bin", "--verify", "bin/node --version", "--expect", "v" + v["version"])
            node = v["version"]
    sh(BIN + "/zlhctl", "catalog", "sign", "--store", store, "--key", keys + "/catalog.key")
    return store, keys, node


def pss_rss_kib(pid):
    pss = rss = 0
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def container_pids(name):
    """The monitor ([lxc monitor] <lxcpath> <name>) and every process in the payload cgroup."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace").strip()
            cg = open(f"/proc/{d}/cgroup").read()
        except OSError:
            continue
        if cmd.startswith("[lxc monitor]") and cmd.endswith(" " + name):
            out[int(d)] = "monitor"
        elif f"/lxc.payload.{name}\n" in cg:
            comm = open(f"/proc/{d}/comm").read().strip()
            out[int(d)] = comm
    return out


def open_console(api, server_id):
    """A console WebSocket through zlh-api (the agent starts the dev shell
    under a zlh-shim); the socket is kept open, nothing read."""
    import base64
    s = socket.create_connection(("127.0.0.1", api.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET /api/servers/{server_id}/console HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n"
           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {api.token}\r\n\r\n")
    s.sendall(req.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        sys.exit("console refused: %r" % head[:200])
    return s


def mem_available_kib():
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])


def wrk_list(api):
    lua = os.path.join(REPO, "bench/wrk_latency.lua")
    c0 = proc_cpu_s(api.proc.pid)
    out = subprocess.run(["wrk", "-t1", "-c1", "-d", DURATION, "-s", lua, "-H", "Authorization: Bearer " + api.token,
                          api.url + "/api/servers"], capture_output=True, text=True).stdout
    cpu = proc_cpu_s(api.proc.pid) - c0
    m = dict(re.findall(r"(\w+)=([\d.]+)", out.split("ZLH ", 1)[1])) if "ZLH " in out else {}
    if not m:
        sys.exit("wrk gave no figures: " + out)
    n = int(m["requests"])
    return {"requests": n, "rps": n / (int(m["duration_us"]) / 1e6), "p50_ms": int(m["p50"]) / 1000,
            "p99_ms": int(m["p99"]) / 1000, "non2xx": int(m["non2xx"]) + int(m["errors"]),
            "cpu_us_per_req": cpu * 1e6 / max(n, 1)}


def main():
    if os.geteuid() != 0:
        sys.exit("bench/lxc.sh needs root (the lxc driver)")
    work = tempfile.mkdtemp(prefix="zlh-bench-lxc-")
    os.chmod(work, 0o711)
    store, keys, node = make_store(work)
    runtime, version = ("node", node) if node else ("tool", "1.0.0")
    if not node:
        log("no demo store at", DEMO, "- provisioning measured with the tool runtime")
    results = {}
    apis = []
    try:
        # (a) provisioning, local then lxc, same store and runtime.
        for drv, extra in (("local", ["--driver", "local", "--insecure-local-driver"]), ("lxc", LXC_ARGS)):
            api = Api(f"{work}/{drv}", store, keys, extra)
            apis.append(api)
            times, cpus = [], []
            first = None
            for i in range(RUNS + 1):
                sid, wall, cpu = api.provision(runtime, version)
                log(f"(a) {drv}: create {i}/{RUNS} {wall:.3f} s, machine CPU {cpu:.3f} s")
                if i == 0:
                    first = wall
                else:
                    times.append(wall)
                    cpus.append(cpu)
            results[drv] = {"first": first, "median": statistics.median(times), "min": min(times), "max": max(times),
                            "cpu": statistics.median(cpus)}
            if drv == "local":
                api.delete_all()
                api.stop()
                apis.remove(api)
        lxc = apis[0]
        lxcpath = f"{work}/lxc/data/lxc"

        # (d, first half) fill up to IDLE dev containers (tool: the runtime
        # does not matter for idling), all with one console open.
        mem0 = mem_available_kib()
        have = len(servers_list(lxc))
        for i in range(have, IDLE):
            sid, wall, _ = lxc.provision("tool", "1.0.0")
            if i % 10 == 0:
                log(f"(d) {i + 1}/{IDLE} dev containers ({wall:.2f} s)")
        servers = servers_list(lxc)
        # One console open on each: its shell runs under a zlh-shim, so the
        # memory below is monitor + init + agent + shim (+ the shell).
        consoles = [open_console(lxc, s["id"]) for s in servers]
        time.sleep(5)  # settle
        mem1 = mem_available_kib()

        # (c) memory per idle container: monitor + init + agent (+ shims).
        per = []
        parts = {}
        for s in servers:
            pids = container_pids(f"{TAG}-{s['vmid']}")
            tot_pss = tot_rss = 0
            for pid, what in pids.items():
                pss, rss = pss_rss_kib(pid)
                tot_pss += pss
                tot_rss += rss
                parts.setdefault(what, []).append(pss)
            per.append((tot_pss, tot_rss, len(pids)))
        results["mem"] = {"pss_mib": statistics.median(p[0] for p in per) / 1024,
                          "rss_mib": statistics.median(p[1] for p in per) / 1024,
                          "procs": statistics.median(p[2] for p in per),
                          "parts": {k: statistics.median(v) / 1024 for k, v in parts.items()},
                          "avail_drop_mib": (mem0 - mem1) / 1024 / max(1, IDLE - have)}

        for c in consoles:
            c.close()
        # (d) GET /api/servers with IDLE containers running.
        results["list"] = wrk_list(lxc)
        results["list"]["servers"] = len(servers)

        # (b) start time of stopped containers.
        starts = []
        for s in servers[:5]:
            lxc.call("POST", f"/api/servers/{s['id']}/host/stop")
            name = f"{TAG}-{s['vmid']}"
            deadline = time.time() + 120
            while container_pids(name) and time.time() < deadline:
                time.sleep(0.1)
            t0 = time.monotonic()
            sh(BIN + "/zlh-lxc-helper", "start", lxcpath, name)
            t1 = time.monotonic()
            while True:
                try:
                    c = http.client.HTTPConnection(s["ip"], 18888, timeout=1)
                    c.request("GET", "/health")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.005)
            t2 = time.monotonic()
            starts.append((t1 - t0, t2 - t0))
            log(f"(b) {name}: liblxc {t1 - t0:.3f} s, agent /health {t2 - t0:.3f} s")
        results["start"] = {"liblxc": statistics.median(a for a, _ in starts),
                            "health": statistics.median(b for _, b in starts)}
    finally:
        for api in apis:
            try:
                api.delete_all()
            except Exception as e:  # noqa: BLE001
                log("cleanup:", e)
            api.stop()
        for br in ("zbnd", "zbng"):
            subprocess.run(["ip", "link", "del", br], capture_output=True)
        subprocess.run(["nft", "delete", "table", "inet", "zlh_" + TAG], capture_output=True)
    write(results, runtime, version)
    if not os.environ.get("BENCH_KEEP_TMP"):
        subprocess.run(["rm", "-rf", work])


def write(r, runtime, version):
    loc, lx = r["local"], r["lxc"]
    ratio = lx["median"] / loc["median"]
    m, l, s = r["mem"], r["list"], r["start"]
    lines = [
        "# lxc driver: provisioning, start, memory, 50 idle containers",
        "",
        f"Command: `bench/lxc.sh` (part of `make bench`), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} cores, kernel {os.uname().release}.",
        "",
        f"## Provisioning to running ({runtime} {version}, warm: median of {RUNS} after a first create)",
        "",
        "| driver | first | median | min–max | machine CPU per create |",
        "|---|---|---|---|---|",
        f"| local | {loc['first']:.2f} s | {loc['median']:.2f} s | {loc['min']:.2f}–{loc['max']:.2f} s | {loc['cpu']:.2f} s |",
        f"| lxc | {lx['first']:.2f} s | {lx['median']:.2f} s | {lx['min']:.2f}–{lx['max']:.2f} s | {lx['cpu']:.2f} s |",
        "",
        f"lxc / local: **{ratio:.2f}×** (goal ≤ 1.5×: {'PASS' if ratio <= 1.5 else 'MISS'}).",
        "",
        "## Container start (median of 5 stopped dev containers)",
        "",
        f"- liblxc start until RUNNING (zlh-lxc-helper): {s['liblxc'] * 1000:.0f} ms",
        f"- until the agent answers /health: {s['health'] * 1000:.0f} ms",
        "",
        "## Host memory per idle dev container (median)",
        "",
        f"- PSS {m['pss_mib']:.2f} MiB, RSS {m['rss_mib']:.2f} MiB over {m['procs']:.0f} processes "
        f"(goal ≤ 12 MiB: {'PASS' if m['pss_mib'] <= 12 else 'MISS'} on PSS)",
        "- PSS by process (a console open on each, so its shell runs under a zlh-shim): "
        + ", ".join(f"{k} {v:.2f} MiB" for k, v in sorted(m["parts"].items())),
        f"- the host's MemAvailable dropped by {m['avail_drop_mib']:.1f} MiB per container created "
        "(page cache of the images and the kernel's per-container objects included)",
        "",
        f"## GET /api/servers with {l['servers']} idle dev containers running",
        "",
        f"wrk, 1 connection, {DURATION}: {l['rps']:.0f} req/s, p50 {l['p50_ms']:.2f} ms, **p99 {l['p99_ms']:.2f} ms**, "
        f"zlh-api CPU {l['cpu_us_per_req']:.0f} µs per request, {l['non2xx']} errors/non-2xx.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    open(RESULTS, "w").write(text)


if __name__ == "__main__":
    main()
