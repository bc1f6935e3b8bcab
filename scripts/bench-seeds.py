#!/usr/bin/env python3
"""Requests and completion lag of relcon's deploy, rollback and canary beside the seeds' own
clients (seed 000 blue-green deploy, seed 004 rollback, seed 001 canary) on the same worlds.

    scripts/bench-seeds.py [--relcon PATH] [--vs PATH2] [--runs 5] [--workflows deploy,rollback,canary]
                           [--speed deploy=10] [--sim PATH] [--rate-limit N] [--json FILE] [--keep]

For every run of every workflow, and for each client (the seed's Python client, then the
headless relcon command), the bench starts a fresh `relcon sim --port 0 --speed S` (its
address read from the banner it prints), puts a small recording proxy in front of it, runs
the client against the proxy and measures:

- requests: what the simulator counted in `GET /_sim/stats` (per route and status). The
  bench's own `/_sim` reads are not counted by the simulator (checked on every run; if they
  were, they would be subtracted). Token requests are shown separately. Webhook deliveries
  to the simulator's `/hooks` receiver are not counted by the simulator either.
- 429s: the `429` answers in the same statistics.
- completion lag, in simulator seconds: from the moment the server's job reached its
  terminal state to the moment the client got the first answer saying so.
  * The server's moment: a watcher reads `GET /_sim/world` (not counted, not rate limited)
    every few milliseconds; each answer carries the simulator second (`simSeconds`) its
    states were computed at. The terminal moment lies between the last reading that showed
    the job unfinished and the first that showed it finished (narrowed further by the
    client's own answers through the proxy); the bench takes the middle of that interval and
    reports its width.
  * The client's moment: the proxy stamps every answer with the simulator clock (calibrated
    against `GET /_sim/clock`: speed and offset, from the least-delayed of several reads) and
    looks in each JSON answer for the job's id with a state; the first answer that reports
    the terminal state is when the client could first notice it. This is the client's status
    read as the server saw it, not its exit, which also includes everything it does after
    noticing (switching traffic, verifying, ...); the exit lag is reported beside it.
- exit lag: the client's process exit, converted to simulator time, minus the terminal moment.

The proxy adds about a millisecond of wall time to each request (at `--speed 10`, about
0.01 simulator seconds). A client that never brings the job to a terminal state (seed 001
leaves its canary running at 5%) has no completion lag; that is said in the table.

Speeds: a deploy (12 simulator seconds) and a rollback (8) run in real time by default
(`--speed 1`, a run takes 10-20 s), because at `--speed S` two things are off by S: whatever
a client times in wall time (relcon reads its operation's commands every 500 ms of wall time)
happens S times less often per simulator second, and every millisecond a client spends on
its own work (starting an HTTP client, writing its audit) costs S milliseconds of simulator
time. A canary holds for minutes of simulator time, so it runs at 60x: its wall-timed
requests are then undercounted about 60 times (the per-route table shows which).

By default each binary is measured against its own simulator (`BINARY sim`); `--sim PATH`
pins one simulator for every run. Standard library only; the seed clients run in the venv
`../shared/seed-clients/run_all.sh` uses (created the same way when missing).
"""

import argparse
import http.client
import http.server
import json
import os
import queue
import re
import shutil
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# What each workflow runs. The relcon command is the headless equivalent of the seed's flow on
# the simulator's demo world: the same bot, version, environment and limits.
WORKFLOWS = {
    "deploy": {
        "seed": "seed000.py",
        "seed_name": "seed 000 (seed000.py)",
        # seed 000 deploys the newest PUBLISHED version built on nlu-intent-classifier-v4.1
        # (v2.4.0) of bot-customer-service-v2 to env-prod-green, then switches traffic.
        "relcon": ["deploy", "bot-customer-service-v2", "v2.4.0", "--to", "env-prod-green"],
        "kind": "deployments",
        "speed": 1.0,
        "relcon_ok": (0,),
    },
    "rollback": {
        "seed": "seed004.py",
        "seed_name": "seed 004 (seed004.py)",
        # seed 004 rolls bot_12345 back to v_67890 in PRODUCTION, refusing with any active
        # session (relcon's default --max-active-sessions is 0 too), then verifies.
        "relcon": ["rollback", "bot_12345", "--to", "v_67890"],
        "kind": "rollbackJobs",
        "speed": 1.0,
        "relcon_ok": (0,),
    },
    "canary": {
        "seed": "seed001.py",
        "seed_name": "seed 001 (seed001.py)",
        # seed 001 starts a 5% canary of bot_abc123 2.1.0-canary in env_prod_456 with at most
        # 10% of traffic and its three guardrails, reads the metrics for 10 s of its own time
        # and reports "promoted_to_stable" (it never promotes nor ends it on the server).
        # relcon: the same canary, judged, at 5% then 10%, promoted when it passes.
        "relcon": ["canary", "bot_abc123", "2.1.0-canary", "--env", "env_prod_456",
                   "--steps", "5,10", "--max-traffic", "10",
                   "--threshold", "error_rate=0.05", "--threshold", "satisfaction_score=3.5",
                   "--threshold", "max_latency_ms=1500"],
        "kind": "canaries",
        "speed": 60.0,
        "relcon_ok": (0, 2),
    },
}

TERMINAL = {
    "deployments": ("status", {"completed", "failed", "timeout", "rolled_back"}),
    "rollbackJobs": ("state", {"COMPLETED", "FAILED"}),
    "canaries": ("phase", {"Promoted", "RolledBack"}),
}
# Terminal states as the API spells them (any family, lower-cased).
WIRE_TERMINAL = {"completed", "succeeded", "failed", "timeout", "rolled_back", "promoted"}
ID_KEYS = ("id", "deploymentId", "jobId", "canaryId")
STATE_KEYS = ("status", "state")
TOKEN_ROUTES = ("POST /v1/auth/token", "POST /oauth/token")
# relcon's operation control (leases, commands, progress events, the operations list).
CONTROL_ROUTES = " /api/v1/operations"

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "content-length", "host"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- the simulator -------------------------------------------------------------------------

class Sim:
    """A `relcon sim` process, its address read from the banner it prints on stdout."""

    def __init__(self, binary, speed, seed, rate_limit, workdir):
        args = [binary, "sim", "--port", "0", "--speed", repr(speed)]
        if seed is not None:
            args += ["--seed", str(seed)]
        if rate_limit:
            args += ["--rate-limit", str(rate_limit)]
        self.err = open(os.path.join(workdir, "sim.stderr"), "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err,
                                     stdin=subprocess.DEVNULL, text=True, bufsize=1)
        lines = queue.Queue()

        def pump():
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 20
        self.url = None
        while self.url is None:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise RuntimeError("relcon sim printed no address within 20 s")
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.stop()
                raise RuntimeError(f"relcon sim exited ({self.proc.wait()}) before printing its address")
            m = re.search(r"simulator on (http://[0-9A-Za-z.\[\]:-]+)", line)
            if m:
                self.url = m.group(1)
        u = urllib.parse.urlsplit(self.url)
        self.host, self.port = u.hostname, u.port
        self.own_reads = {}  # the bench's own /_sim requests, per route
        self._local = threading.local()
        self.speed = speed
        self.calibrate()

    def _conn(self):
        c = getattr(self._local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=10)
            self._local.conn = c
        return c

    def get(self, path):
        route = "GET " + path.split("?")[0]
        self.own_reads[route] = self.own_reads.get(route, 0) + 1
        for attempt in (0, 1):
            c = self._conn()
            try:
                c.request("GET", path)
                r = c.getresponse()
                body = r.read()
                if r.status != 200:
                    raise RuntimeError(f"GET {path}: {r.status}")
                return json.loads(body)
            except (http.client.HTTPException, ConnectionError, OSError):
                c.close()
                self._local.conn = None
                if attempt:
                    raise

    def calibrate(self):
        """Simulator seconds as a function of this process's monotonic clock."""
        best = None
        for _ in range(7):
            t0 = time.monotonic()
            c = self.get("/_sim/clock")
            t1 = time.monotonic()
            if best is None or t1 - t0 < best[0]:
                best = (t1 - t0, (t0 + t1) / 2, float(c["simSeconds"]), float(c["speed"]))
        self.cal_rtt, self.cal_mono, self.cal_sim, self.speed = best

    def sim_at(self, mono):
        return self.cal_sim + (mono - self.cal_mono) * self.speed

    def calibration_error(self):
        """How far the calibration is off now (simulator seconds), from one more read."""
        t0 = time.monotonic()
        c = self.get("/_sim/clock")
        t1 = time.monotonic()
        return float(c["simSeconds"]) - self.sim_at((t0 + t1) / 2), (t1 - t0) * self.speed

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


# ---- the recording proxy -------------------------------------------------------------------

def find_states(value, out):
    """(id, state) pairs of every object in a JSON value that has both."""
    if isinstance(value, dict):
        ident = next((value[k] for k in ID_KEYS if isinstance(value.get(k), str)), None)
        state = next((value[k] for k in STATE_KEYS if isinstance(value.get(k), str)), None)
        if ident and state:
            out.append((ident, state))
        for v in value.values():
            find_states(v, out)
    elif isinstance(value, list):
        for v in value:
            find_states(v, out)
    return out


class Proxy:
    """Forwards every request to the simulator and records it, stamped in simulator time."""

    def __init__(self, sim):
        self.sim = sim
        self.records = []
        self.lock = threading.Lock()
        proxy = self
        upstream = threading.local()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self):
                n = self.headers.get("Content-Length")
                if n is not None:
                    return self.rfile.read(int(n))
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    parts = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(parts)
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                return None

            def _forward(self):
                t_in = time.monotonic()
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Host"] = f"{sim.host}:{sim.port}"
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                resp = None
                for attempt in (0, 1):
                    conn = getattr(upstream, "conn", None)
                    fresh = conn is None
                    if fresh:
                        conn = http.client.HTTPConnection(sim.host, sim.port, timeout=120)
                        upstream.conn = conn
                    try:
                        conn.request(self.command, self.path, body=body, headers=headers)
                        resp = conn.getresponse()
                        data = resp.read()
                        break
                    except (http.client.HTTPException, ConnectionError, OSError):
                        conn.close()
                        upstream.conn = None
                        # A kept-alive connection the server had closed: send once more.
                        if fresh or attempt:
                            self.send_error(502)
                            return
                t_out = time.monotonic()
                self.send_response_only(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
                if self.command == "HEAD":
                    cl = resp.getheader("Content-Length")
                    if cl is not None:
                        self.send_header("Content-Length", cl)
                elif not no_body:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not no_body:
                    self.wfile.write(data)
                path = self.path.split("?")[0]
                states = []
                ctype = resp.getheader("Content-Type") or ""
                if "json" in ctype and data and len(data) < 500_000 and "/metrics" not in path:
                    try:
                        find_states(json.loads(data), states)
                    except ValueError:
                        pass
                with proxy.lock:
                    proxy.records.append({
                        "t_in": sim.sim_at(t_in), "t_out": sim.sim_at(t_out),
                        "method": self.command, "path": path, "status": resp.status,
                        "states": states,
                    })

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _forward

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---- the watcher ---------------------------------------------------------------------------

class Watcher:
    """Reads /_sim/world every `interval` (wall) seconds: when each job was last seen
    unfinished and first seen finished, in the simulator's own seconds."""

    def __init__(self, sim, kind, interval):
        self.sim, self.kind, self.interval = sim, kind, interval
        self.jobs = {}  # id -> {"first_seen", "last_open", "first_done", "state"}
        self.reads = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        field, done = TERMINAL[self.kind]
        while not self.stopping.is_set():
            try:
                w = self.sim.get("/_sim/world")
            except Exception:  # noqa: BLE001 - the simulator is going away
                return
            self.reads += 1
            t = float(w["simSeconds"])
            for item in w.get(self.kind, []):
                j = self.jobs.setdefault(item["id"], {"first_seen": t, "last_open": None,
                                                      "first_done": None, "state": None})
                if item.get(field) in done:
                    if j["first_done"] is None:
                        j["first_done"], j["state"] = t, item.get(field)
                else:
                    j["last_open"] = t
            self.stopping.wait(self.interval)

    def stop(self, linger_wall):
        """Keep watching `linger_wall` seconds more for a job not finished yet, then stop."""
        deadline = time.monotonic() + linger_wall
        while time.monotonic() < deadline and any(j["first_done"] is None for j in self.jobs.values()):
            time.sleep(self.interval)
        self.stopping.set()
        self.thread.join(timeout=5)


# ---- one run -------------------------------------------------------------------------------

def ensure_venv(venv, clients):
    py = os.path.join(venv, "bin", "python")
    check = ("import httpx, pydantic, jsonschema, aiofiles, tenacity, dotenv, structlog, yaml, "
             "pydantic_settings; assert int(pydantic.VERSION.split('.')[0]) >= 2")
    if os.path.exists(py) and subprocess.run([py, "-c", check], capture_output=True).returncode == 0:
        return py
    log(f"bench-seeds: creating the seed clients' venv {venv}")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "-r",
                    os.path.join(clients, "requirements.txt")], check=True)
    return py


def clean_env(workdir):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RELCON_", "COGNIGY_", "CAI_", "SIM_", "SEED_", "XDG_"))}
    home = os.path.join(workdir, "home")
    os.makedirs(home, exist_ok=True)
    env["HOME"] = home  # relcon's config, journal, audit and logs stay in the run's folder
    for k, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_STATE_HOME", ".local/state"),
                   ("XDG_DATA_HOME", ".local/share"), ("XDG_CACHE_HOME", ".cache")):
        env[k] = os.path.join(home, sub)
    return env


def one_run(client, wf, relcon_bin, sim_bin, opts, py, workdir):
    """Run one client once on a fresh simulator; the measurements as a dict."""
    spec = WORKFLOWS[wf]
    speed = opts.speeds[wf]
    os.makedirs(workdir, exist_ok=True)
    sim = Sim(sim_bin, speed, opts.seed, opts.rate_limit, workdir)
    proxy = watcher = None
    try:
        proxy = Proxy(sim)
        before = sim.get("/_sim/stats")
        watcher = Watcher(sim, spec["kind"], opts.watch_interval)
        env = clean_env(workdir)
        if client == "seed":
            env.update(SIM_URL=proxy.url, SEED_SLEEP_SCALE=repr(1.0 / speed),
                       SEED_OUT=os.path.join(workdir, "seed-out"))
            args = [py, os.path.join(opts.clients, spec["seed"])]
        else:
            env.update(COGNIGY_API_URL=proxy.url, COGNIGY_API_KEY="demo-key",
                       RELCON_CLOCK_SPEED=repr(speed))
            args = [relcon_bin] + spec["relcon"] + ["--yes"]
        with open(os.path.join(workdir, "client.stdout"), "wb") as out, \
                open(os.path.join(workdir, "client.stderr"), "wb") as err:
            t_start = time.monotonic()
            proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    env=env, cwd=workdir)
            try:
                rc = proc.wait(timeout=opts.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = "timeout"
            t_exit = time.monotonic()
        watcher.stop(linger_wall=max(0.2, 30.0 / speed))
        cal_err, cal_rtt = sim.calibration_error()
        after = sim.get("/_sim/stats")
    finally:
        if watcher is not None:
            watcher.stopping.set()
        if proxy is not None:
            proxy.stop()
        sim.stop()

    routes = {}
    for route, by in after.get("routes", {}).items():
        old = before.get("routes", {}).get(route, {})
        for status, n in by.items():
            d = n - old.get(status, 0)
            if d:
                routes.setdefault(route, {})[status] = d
    own_counted = {r: routes.pop(r) for r in list(routes) if " /_sim" in r}
    total = sum(sum(by.values()) for by in routes.values())
    with open(os.path.join(workdir, "client.stdout"), "rb") as f:
        tail = f.read().decode(errors="replace").strip().splitlines()
    last = tail[-1] if tail else ""
    if client == "seed":
        ok = rc == 0 and last.startswith("SEED") and " OK " in last + " "
    else:
        ok = rc in spec["relcon_ok"]

    # The job the client made, its terminal moment, and when the client heard of it.
    jobs = watcher.jobs
    job_id, job = None, None
    if jobs:
        job_id = min(jobs, key=lambda k: jobs[k]["first_seen"])
        job = jobs[job_id]
    res = {
        "client": client, "workflow": wf, "ok": ok, "rc": rc, "last_line": last[:200],
        "speed": speed, "requests": total, "routes": routes,
        "tokens": sum(sum(routes.get(r, {}).values()) for r in TOKEN_ROUTES),
        "control": sum(sum(by.values()) for r, by in routes.items() if CONTROL_ROUTES in r),
        "r429": sum(by.get("429", 0) for by in routes.values()),
        "own_sim_reads_counted": own_counted, "watcher_reads": watcher.reads,
        "proxied": len(proxy.records),
        "proxied_not_counted": sorted({f"{r['method']} {r['path']}" for r in proxy.records
                                       if r["path"].startswith("/hooks")}),
        "calibration_error": cal_err, "calibration_rtt": cal_rtt,
        "sim_duration": sim.sim_at(t_exit) - sim.sim_at(t_start),
        "wall_duration": t_exit - t_start,
        "job": job_id, "job_state": job and job["state"],
        "finish": None, "finish_width": None, "lag": None, "exit_lag": None,
        "ended_by_client": False, "workdir": workdir,
    }
    # Every request as the proxy saw it, for the run's folder and --json.
    res["timeline"] = [
        [round(r["t_in"], 3), round(r["t_out"], 3), f"{r['method']} {r['path']}", r["status"],
         [s for i, s in r["states"] if i == job_id]]
        for r in sorted(proxy.records, key=lambda r: r["t_in"])]
    if job:
        res["job_times"] = {k: job[k] for k in ("first_seen", "last_open", "first_done")}
    if job and job["first_done"] is not None:
        lo = job["last_open"] if job["last_open"] is not None else job["first_seen"]
        hi = job["first_done"]
        noticed = None
        for r in sorted(proxy.records, key=lambda r: r["t_out"]):
            for ident, state in r["states"]:
                if ident != job_id:
                    continue
                if state.lower() in WIRE_TERMINAL:
                    hi = min(hi, r["t_out"])
                    if noticed is None:
                        noticed = r
                else:
                    lo = max(lo, r["t_in"])
        finish = (lo + hi) / 2
        res["finish"], res["finish_width"] = finish, hi - lo
        res["exit_lag"] = sim.sim_at(t_exit) - finish
        if noticed is not None:
            res["lag"] = noticed["t_out"] - finish
            res["noticed_by"] = f"{noticed['method']} {noticed['path']}"
            # A canary's end is the client's own request (promote or roll back).
            res["ended_by_client"] = noticed["method"] != "GET"
    with open(os.path.join(workdir, "requests.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    return res


# ---- report --------------------------------------------------------------------------------

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_n(x):
    if x is None:
        return "—"
    return f"{x:g}" if x == int(x) else f"{x:.1f}"


def fmt_s(x):
    return "—" if x is None else f"{x:.2f} s"


def summarize(runs):
    ok = [r for r in runs if r["ok"]]
    use = ok or runs
    s = {
        "runs": len(runs), "ok": len(ok),
        "requests": med([r["requests"] for r in use]),
        "requests_range": (min(r["requests"] for r in use), max(r["requests"] for r in use)),
        "tokens": med([r["tokens"] for r in use]),
        "control": med([r["control"] for r in use]),
        "r429": med([r["r429"] for r in use]),
        "r429_max": max(r["r429"] for r in use),
        "lag": med([r["lag"] for r in use]),
        "lag_range": None,
        "exit_lag": med([r["exit_lag"] for r in use]),
        "width": med([r["finish_width"] for r in use]),
        "sim_duration": med([r["sim_duration"] for r in use]),
        "wall_duration": med([r["wall_duration"] for r in use]),
        "ended_by_client": any(r["ended_by_client"] for r in use),
        "never_ended": all(r["finish"] is None for r in use),
        "states": sorted({str(r["job_state"]) for r in use}),
        "noticed_by": sorted({r.get("noticed_by") for r in use if r.get("noticed_by")}),
    }
    lags = [r["lag"] for r in use if r["lag"] is not None]
    if lags:
        s["lag_range"] = (min(lags), max(lags))
    routes = {}
    for r in use:
        for route in r["routes"]:
            routes.setdefault(route, None)
    s["routes"] = {}
    for route in sorted(routes):
        counts = [sum(r["routes"].get(route, {}).values()) for r in use]
        statuses = sorted({st for r in use for st in r["routes"].get(route, {})})
        s["routes"][route] = (med(counts), min(counts), max(counts), statuses)
    return s


def lag_cell(s):
    if s["never_ended"]:
        return "never: the job is still running when the client exits"
    if s["lag"] is None:
        return "— (no answer reported the end)"
    cell = fmt_s(s["lag"])
    if s["lag_range"] and s["runs"] > 1:
        cell += f" ({s['lag_range'][0]:.2f}–{s['lag_range'][1]:.2f})"
    if s["ended_by_client"]:
        cell += ", ended by its own request"
    return cell


METHOD = """How it is measured: every client runs alone on a fresh simulator, through a recording
proxy. Requests and 429s are the simulator's own counts (`GET /_sim/stats`, which does not
count the bench's `/_sim` reads nor webhook deliveries to `/hooks`). Completion lag is in
simulator seconds: from the server's terminal moment (bracketed by reading `/_sim/world`,
whose answers carry the simulator second their states were computed at, every few
milliseconds; the middle of the bracket is used) to the first answer the client received
that reports the job's id in a terminal state (stamped by the proxy with the simulator
clock, calibrated against `/_sim/clock`). Exit lag: the client's process exit on the same
clock, minus the same moment. "Operation control" is relcon's `/api/v1/operations...`
traffic (the bot's operations list, its lease, pending commands, progress events).
"""


def print_report(results, opts, builds):
    print("# bench-seeds results\n")
    print(f"runs per client: {opts.runs}; simulator speeds: "
          + ", ".join(f"{wf} {opts.speeds[wf]:g}x" for wf in opts.workflows)
          + f"; traffic seed {opts.seed}; rate limit "
          + (f"{opts.rate_limit} per 5 min" if opts.rate_limit else "off (the Release API's default)")
          + "\n")
    for label, (relcon_bin, sim_bin) in builds.items():
        print(f"- {label}: relcon `{relcon_bin}`, simulator `{sim_bin} sim`")
    print()
    print(METHOD)
    goal_lines = []
    for wf in opts.workflows:
        spec = WORKFLOWS[wf]
        print(f"## {wf}\n")
        print("| build | client | requests (median) | of them token | of them operation control | 429s | completion lag (median, range) | exit lag (median) | run: simulated / wall | runs ok |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for label in builds:
            for client in ("seed", "relcon"):
                runs = results[label][wf][client]
                s = summarize(runs)
                name = spec["seed_name"] if client == "seed" else "relcon " + spec["relcon"][0]
                lo, hi = s["requests_range"]
                req = fmt_n(s["requests"]) + ("" if lo == hi else f" ({lo}–{hi})")
                r429 = fmt_n(s["r429"]) + ("" if s["r429_max"] == s["r429"] else f" (max {s['r429_max']})")
                print(f"| {label} | {name} | {req} | {fmt_n(s['tokens'])} | {fmt_n(s['control'])} | {r429} | {lag_cell(s)} | "
                      f"{'—' if s['never_ended'] else fmt_s(s['exit_lag'])} | {fmt_s(s['sim_duration'])} / {fmt_s(s['wall_duration'])} | {s['ok']}/{s['runs']} |")
        print()
        widths = [summarize(results[l][wf][c])["width"] for l in builds for c in ("seed", "relcon")]
        widths = [w for w in widths if w is not None]
        if widths:
            print(f"The server's terminal moment was bracketed within {max(widths):.3f} simulator seconds "
                  f"(median width per client; the lag uses its middle).\n")
        for label in builds:
            for client in ("relcon", "seed"):
                s = summarize(results[label][wf][client])
                name = spec["seed_name"] if client == "seed" else "relcon " + spec["relcon"][0]
                print(f"Requests per route, {name}, {label} (median over ok runs; range when it varied; statuses seen):\n")
                print("| route | requests | statuses |")
                print("| --- | --- | --- |")
                for route, (m, lo, hi, statuses) in s["routes"].items():
                    rng = "" if lo == hi else f" ({lo}–{hi})"
                    print(f"| `{route}` | {fmt_n(m)}{rng} | {', '.join(statuses)} |")
                print()
        if wf == "deploy":
            for label in builds:
                seed = summarize(results[label][wf]["seed"])
                rel = summarize(results[label][wf]["relcon"])
                if seed["requests"] is None or rel["requests"] is None:
                    continue
                half = rel["requests"] <= seed["requests"] / 2
                quick = rel["lag"] is not None and rel["lag"] <= 1.5
                no429 = rel["r429_max"] == 0
                goal_lines.append(
                    f"- {label}: relcon deploy {fmt_n(rel['requests'])} requests vs seed 000's "
                    f"{fmt_n(seed['requests'])} (at most half: {'yes' if half else 'no'}), noticed "
                    f"{fmt_s(rel['lag'])} after the server finished (within 1.5 s: {'yes' if quick else 'no'}), "
                    f"429s {rel['r429_max']} (none: {'yes' if no429 else 'no'}) → goal "
                    f"{'met' if half and quick and no429 else 'missed'}")
    if goal_lines:
        print("## The deploy goal (at most half of seed 000's requests, noticed within 1.5 s, no 429)\n")
        print("\n".join(goal_lines))
        print()
    checks = []
    for label in builds:
        for wf in opts.workflows:
            for client in ("seed", "relcon"):
                for r in results[label][wf][client]:
                    if r["own_sim_reads_counted"]:
                        checks.append(f"{label} {wf} {client}: the simulator counted the bench's own reads {r['own_sim_reads_counted']} (subtracted)")
                    if not r["ok"]:
                        checks.append(f"{label} {wf} {client}: run failed (exit {r['rc']}): {r['last_line']} [{r['workdir']}]")
    cal = max(abs(r["calibration_error"]) for l in builds for wf in opts.workflows
              for c in ("seed", "relcon") for r in results[l][wf][c])
    print("## Checks\n")
    print(f"- the simulator did not count the bench's own `/_sim` reads: "
          f"{'yes' if not any('counted' in c for c in checks) else 'no (subtracted, see below)'}")
    print(f"- clock calibration: worst drift at a run's end {cal:.3f} simulator seconds")
    hooks = sorted({h for l in builds for wf in opts.workflows for c in ("seed", "relcon")
                    for r in results[l][wf][c] for h in r["proxied_not_counted"]})
    if hooks:
        print(f"- sent through the proxy but not counted by the simulator (its webhook receiver): {', '.join(hooks)}")
    for c in checks:
        print(f"- {c}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--relcon", default=os.path.join(ROOT, "target", "release", "relcon"),
                   help="the relcon binary to measure (default target/release/relcon)")
    p.add_argument("--vs", help="a second relcon binary, measured the same way and shown beside the first")
    p.add_argument("--sim", help="run every simulator from this binary (default: each build's own)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--workflows", default="deploy,rollback,canary")
    p.add_argument("--speed", action="append", default=[], metavar="WORKFLOW=S",
                   help="simulator speed of a workflow (defaults: deploy 1, rollback 1, canary 60)")
    p.add_argument("--seed", type=int, default=7, help="the simulator's traffic seed (default 7)")
    p.add_argument("--rate-limit", type=int, help="pass --rate-limit N to the simulator")
    p.add_argument("--watch-interval", type=float, default=0.005,
                   help="wall seconds between two reads of /_sim/world (default 0.005)")
    p.add_argument("--timeout", type=float, default=300, help="wall seconds a client may run")
    p.add_argument("--clients", default=os.path.join(os.path.dirname(ROOT), "shared", "seed-clients"),
                   help="the seed clients' folder (default ../shared/seed-clients)")
    p.add_argument("--venv", default=os.environ.get("SEED_VENV") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "relcon-seed-clients-venv"))
    p.add_argument("--json", help="also write every run's measurements to this file")
    p.add_argument("--keep", action="store_true", help="keep each run's folder (logs, relcon's state)")
    opts = p.parse_args()
    opts.workflows = [w.strip() for w in opts.workflows.split(",") if w.strip()]
    for w in opts.workflows:
        if w not in WORKFLOWS:
            p.error(f"unknown workflow {w!r} (deploy, rollback, canary)")
    opts.speeds = {wf: spec["speed"] for wf, spec in WORKFLOWS.items()}
    for s in opts.speed:
        wf, _, v = s.partition("=")
        if wf not in WORKFLOWS or not v:
            p.error(f"--speed {s!r}: expected WORKFLOW=S")
        opts.speeds[wf] = float(v)
    builds = {}
    for label, binary in (("A", opts.relcon), ("B", opts.vs)):
        if binary is None:
            continue
        binary = os.path.abspath(binary)
        if not os.access(binary, os.X_OK):
            p.error(f"{binary}: not an executable (build it with `cargo build --release`)")
        builds[label] = (binary, os.path.abspath(opts.sim) if opts.sim else binary)
    if len(builds) == 1:
        builds = {"this build": builds["A"]}
    else:
        builds = {"A (--relcon)": builds["A"], "B (--vs)": builds["B"]}
    py = ensure_venv(opts.venv, opts.clients)

    base = tempfile.mkdtemp(prefix="bench-seeds.")
    results = {label: {wf: {"seed": [], "relcon": []} for wf in opts.workflows} for label in builds}
    try:
        for wf in opts.workflows:
            for i in range(opts.runs):
                # Interleaved, so a busy machine slows every client alike.
                for label, (relcon_bin, sim_bin) in builds.items():
                    for client in ("seed", "relcon"):
                        tag = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
                        wd = os.path.join(base, f"{wf}-{tag}-{client}-{i + 1}")
                        r = one_run(client, wf, relcon_bin, sim_bin, opts, py, wd)
                        results[label][wf][client].append(r)
                        log(f"{wf} {label} {client} run {i + 1}: ok={r['ok']} requests={r['requests']} "
                            f"429={r['r429']} lag={fmt_s(r['lag'])} exit_lag={fmt_s(r['exit_lag'])} "
                            f"state={r['job_state']}")
    finally:
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump({"builds": builds, "speeds": opts.speeds, "runs": opts.runs,
                           "results": results}, f, indent=1, default=str)
        if not opts.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            log(f"bench-seeds: run folders kept in {base}")
    print_report(results, opts, builds)


if __name__ == "__main__":
    main()
