"""gradest over HTTP against the single-threaded numpy peer, in one run.

Called by benches/hardware/run.sh (read its header for the options and what is
printed); stdlib only. It starts the release binary (and optionally a "before"
binary) pinned with taskset, POSTs the jobs J1..J6 and the R0 job to
/v1/estimate as a user writes them, times each request wall-clock from the
client (one warm-up, then the median of --reps), runs benches/peer/run.sh pinned
to core 1, and prints markdown tables. Every response must be 200; anything else
stops the run with the response body.

Services are measured one phase at a time (never while the peer runs): one core
(taskset -c 0, GRADEST_CONCURRENCY=1), two cores (taskset -c 0,1,
GRADEST_CONCURRENCY=2), peak RSS in fresh one-core processes, and optionally
one-core runs per GRADEST_SIMD level. gradest has no separate sampling-thread
setting: its runner uses one thread per available core
(std::thread::available_parallelism, which follows the CPU affinity), so the
taskset mask sets the sampling threads and tokio's worker threads alike.
GRADEST_* variables of the caller's environment are not passed on, so the
configuration measured is the one printed.
"""
import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def linspace(a, b, n):
    return [a + (b - a) * i / (n - 1) for i in range(n)]


def normal_job(loc, scale, objective, estimator):
    return {"distribution": {"family": "normal", "loc": loc, "scale": scale},
            "objective": objective, "estimator": estimator}


LOGITS = linspace(-2.0, 2.0, 10)
CATEGORICAL = {"family": "categorical", "logits": LOGITS}
DOT = "dot(x, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"
REPARAM = {"kind": "reparameterization"}

# name -> (numpy peer job, N at full size, request without samples and seed)
JOBS = {
    "J1": ("J1", 10_000_000, normal_job([0.5], [1.2], "sum((x - 3)^2)", REPARAM)),
    "J1b": ("J1", 10_000_000, normal_job([0.5], [1.2], "(x - 3)^2", REPARAM)),
    "J2": ("J2", 10_000_000, normal_job([0.5], [1.2], "sum((x - 3)^2)",
                                        {"kind": "score_function", "baseline": "none"})),
    # The API's name for the leave-one-out baseline is "mean".
    "J3": ("J3", 10_000_000, normal_job([0.5], [1.2], "sum((x - 3)^2)",
                                        {"kind": "score_function", "baseline": "mean"})),
    "J4": ("J4", 100_000, normal_job(linspace(-1.0, 1.0, 100), [1.0] * 100, "sum(cos(x))", REPARAM)),
    "J5": ("J5", 1_000_000, {"distribution": CATEGORICAL, "objective": DOT,
                             "estimator": {"kind": "score_function", "baseline": "none"}}),
    "J6": ("J6", 1_000_000, {"distribution": CATEGORICAL, "objective": DOT,
                             "estimator": {"kind": "gumbel_softmax", "temperature": 0.5}}),
    "R0 job": ("R0", 10_000_000, normal_job([0.0], [1.0], "x", REPARAM)),
}
SEED = 20_251_203
PEER_SEED = 0


def fail(msg):
    print(f"\nhardware bench: FAILED: {msg}", file=sys.stderr)
    raise SystemExit(1)


def note(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


class StartError(Exception):
    pass


class Service:
    """One gradest process pinned to `cores`, on a free loopback port."""

    def __init__(self, binary, cores, concurrency, label, logdir, extra_env=None):
        self.label, self.cores = label, cores
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADEST_")}
        env.update(GRADEST_ADDR="127.0.0.1:0", GRADEST_LOG="warn,gradest=info",
                   GRADEST_LOG_FORMAT="json", GRADEST_CONCURRENCY=str(concurrency))
        env.update(extra_env or {})
        fd, self.log_path = tempfile.mkstemp(prefix=f"{label}-cores{cores}-", suffix=".log", dir=logdir)
        with os.fdopen(fd, "wb") as log:
            self.proc = subprocess.Popen(["taskset", "-c", cores, binary], env=env,
                                         stdout=log, stderr=subprocess.STDOUT)
        try:
            self.addr = self._wait_listening()
        except StartError:
            self.stop()
            raise
        host, port = self.addr.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=600)
        status, _ = self.get("/healthz")
        if status != 200:
            self.stop()
            raise StartError(f"/healthz answered {status}")

    def log_text(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def _wait_listening(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for line in self.log_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("message") == "gradest listening" and rec.get("addr"):
                    return rec["addr"]
            if self.proc.poll() is not None:
                raise StartError(f"exited with status {self.proc.returncode}")
            time.sleep(0.05)
        raise StartError("did not log its address within 20 s")

    def get(self, path):
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def post(self, job, samples):
        """POST one estimate; return (client wall seconds, parsed result). Non-200 stops the run."""
        body = json.dumps(dict(job, samples=samples, seed=SEED)).encode()
        t0 = time.perf_counter()
        self.conn.request("POST", "/v1/estimate", body=body, headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        dt = time.perf_counter() - t0
        if resp.status != 200:
            fail(f"{self.label} (cores {self.cores}) answered {resp.status} to {body[:300]!r}:\n"
                 f"{data.decode(errors='replace')}")
        return dt, json.loads(data)

    def vmhwm_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
        return int(m.group(1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def check_catalog(svc, largest_n):
    """The families, estimators and functions the jobs use are in the running service's catalog."""
    status, data = svc.get("/v1/catalog")
    if status != 200:
        fail(f"{svc.label}: GET /v1/catalog answered {status}")
    cat = json.loads(data)
    families = {f["name"]: set(f["estimators"]) for f in cat["families"]}
    functions = {f["name"] for f in cat["objective"]["functions"]}
    for name, (_, _, job) in JOBS.items():
        fam, kind = job["distribution"]["family"], job["estimator"]["kind"]
        if kind not in families.get(fam, ()):
            fail(f"{svc.label}: the catalog does not list {kind} for {fam} (job {name})")
    missing = {"sum", "cos", "dot"} - functions
    if missing:
        fail(f"{svc.label}: the catalog lacks the functions {sorted(missing)}")
    if cat["limits"]["max_samples"] < largest_n:
        fail(f"{svc.label}: max_samples {cat['limits']['max_samples']} < {largest_n}")
    return cat["limits"]["concurrency"]


def result_bits(res):
    return json.dumps(res["gradient"], sort_keys=True)


def time_jobs(services, names, scale, reps):
    """Per service label and job: median client s, median in-service s, result. After one warm-up
    request per job and service, each rep sends every job once to every service in turn, so a
    burst of load from elsewhere falls on one rep of many jobs, not on all reps of one job; with
    two services, which goes first alternates from rep to rep."""
    sizes = {name: max(2, round(JOBS[name][1] * scale)) for name in names}
    runs = {(s.label, name): [] for s in services for name in names}
    for rep in range(reps + 1):
        for name in names:
            for s in (services if rep % 2 else services[::-1]):
                timed = s.post(JOBS[name][2], sizes[name])
                if rep:  # rep 0 is the warm-up
                    runs[s.label, name].append(timed)
    out = {s.label: {} for s in services}
    for name in names:
        for s in services:
            r = runs[s.label, name]
            if len({result_bits(res) for _, res in r}) != 1:
                fail(f"{s.label}: {name} gave different gradients for the same seed")
            ts = [t for t, _ in r]
            out[s.label][name] = {
                "n": sizes[name],
                "client": statistics.median(ts),
                "server": statistics.median(res["diagnostics"]["elapsed_ms"] / 1e3 for _, res in r),
                "bits": result_bits(r[0][1]),
            }
            note(f"{s.label} {name} N={sizes[name]}: median {statistics.median(ts):.4f} s "
                 f"(min {min(ts):.4f}, max {max(ts):.4f})")
    return out


def run_peer(peer_sh, scale, reps):
    """Median elapsed_s per peer job over `reps` runs of benches/peer/run.sh on core 1."""
    jobs = sorted({JOBS[n][0] for n in JOBS})
    cmd = ["taskset", "-c", "1", "bash", peer_sh, "--jobs", ",".join(jobs),
           "--scale", repr(scale), "--seed", str(PEER_SEED)]
    times, header = {j: [] for j in jobs}, ""
    for _ in range(reps):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"the numpy peer failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
        header = p.stdout.splitlines()[0] if p.stdout else ""
        for m in re.finditer(r"^PEER (\S+) samples_per_second=\S+ elapsed_s=(\S+) N=(\d+)", p.stdout, re.M):
            times[m.group(1)].append((float(m.group(2)), int(m.group(3))))
    peer = {}
    for j, r in times.items():
        if len(r) != reps:
            fail(f"the numpy peer printed {len(r)} results for {j}, expected {reps}")
        peer[j] = {"s": statistics.median(t for t, _ in r), "n": r[0][1]}
    note(f"numpy peer done: {header.lstrip('# ')}")
    return peer


def start(binary, cores, conc, label, logdir, extra_env=None):
    try:
        return Service(binary, cores, conc, label, logdir, extra_env)
    except StartError as e:
        fail(f"{label} on cores {cores} did not start ({e}); log:\n{open_log_tail(logdir, label)}")


def open_log_tail(logdir, label):
    logs = sorted((os.path.join(logdir, f) for f in os.listdir(logdir) if f.startswith(label)),
                  key=os.path.getmtime)
    if not logs:
        return ""
    with open(logs[-1], encoding="utf-8", errors="replace") as f:
        return "".join(f.readlines()[-20:])


def measure_rss(binaries, scale, logdir):
    """VmHWM (kB) of a fresh one-core service: idle, after J1 at N, after J1 at 10 N."""
    _, n_full, job = JOBS["J1"]
    n1, n2 = round(n_full * scale), round(10 * n_full * scale)
    rows = []
    for label, binary in binaries:
        s = start(binary, "0", 1, label, logdir)
        try:
            idle = s.vmhwm_kb()
            s.post(job, n1)
            a = s.vmhwm_kb()
            s.post(job, n2)
            b = s.vmhwm_kb()
        finally:
            s.stop()
        rows.append((label, idle, a, b))
    return n1, n2, rows


def simd_log_line(log):
    """The first log line that speaks of SIMD, or a note that none does."""
    for line in log.splitlines():
        if re.search("simd", line, re.I):
            return "log: " + line.strip().replace("|", "/")[:240]
    return "no log line mentions SIMD (the binary may ignore GRADEST_SIMD)"


def measure_simd(binary, levels, scale, reps, logdir):
    rows, first_bits = [], None
    for level in levels:
        try:
            s = Service(binary, "0", 1, f"simd-{level}", logdir, {"GRADEST_SIMD": level})
        except StartError as e:
            rows.append((level, None, None, f"refused to start ({e}): " +
                         open_log_tail(logdir, f"simd-{level}").strip().replace("\n", " ")[-300:]))
            continue
        try:
            t = time_jobs([s], ["R0 job", "J1"], scale, reps)[s.label]
            log = s.log_text()
        finally:
            s.stop()
        bits = (t["R0 job"]["bits"], t["J1"]["bits"])
        said = simd_log_line(log)
        if first_bits is None:
            first_bits, same = bits, "its results are the reference for the later levels"
        elif bits == first_bits:
            same = "results bit-identical to the first level that ran"
        else:
            same = "RESULTS DIFFER from the first level that ran"
        rows.append((level, t["R0 job"]["n"] / t["R0 job"]["client"], t["J1"]["n"] / t["J1"]["client"],
                     f"{said}; {same}"))
    return rows


def fmt_s(t):
    return f"{t:.4g}"


def fmt_n(n):
    """1e7 rather than 1e+07; other counts as integers."""
    if n < 1000:
        return str(n)
    m, e = f"{n:.0e}".split("e")
    return f"{m}e{int(e)}" if float(f"{n:.0e}") == n else str(n)


def print_main_table(one, peer, labels):
    after = labels[-1]
    before = labels[0] if len(labels) == 2 else None
    if before:
        print(f"| job | N | {before} s | {after} s | speed-up ({before} s / {after} s) | numpy s "
              f"| ratio {before} (numpy s / {before} s) | ratio {after} (numpy s / {after} s) "
              f"| {after} samples/s | numpy samples/s | same result |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    else:
        print(f"| job | N | {after} s | in-service s | numpy s | ratio (numpy s / {after} s) "
              f"| {after} samples/s | numpy samples/s |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (pj, _, _) in JOBS.items():
        a = one[after][name]
        p = peer[pj]
        if p["n"] != a["n"]:
            fail(f"{name}: gradest ran N={a['n']} but the peer's {pj} ran N={p['n']}")
        tail = f"{a['n'] / a['client']:.3g} | {p['n'] / p['s']:.3g}"
        if before:
            b = one[before][name]
            same = "yes" if b["bits"] == a["bits"] else "no"
            print(f"| {name} | {fmt_n(a['n'])} | {fmt_s(b['client'])} | {fmt_s(a['client'])} "
                  f"| {b['client'] / a['client']:.2f}× | {fmt_s(p['s'])} | {p['s'] / b['client']:.2f}× "
                  f"| {p['s'] / a['client']:.2f}× | {tail} | {same} |")
        else:
            print(f"| {name} | {fmt_n(a['n'])} | {fmt_s(a['client'])} | {fmt_s(a['server'])} "
                  f"| {fmt_s(p['s'])} | {p['s'] / a['client']:.2f}× | {tail} |")


def print_r0(one, peer, labels):
    p = peer["R0"]
    print(f"- numpy R0 (standard_normal alone, core 1): {p['n'] / p['s']:.3g} normals/s "
          f"({fmt_s(p['s'])} s for N={fmt_n(p['n'])})")
    for lab in labels:
        r = one[lab]["R0 job"]
        print(f"- {lab} R0 job (normal d=1, objective `x`, reparameterization, over HTTP): "
              f"{r['n'] / r['client']:.3g} normals/s ({fmt_s(r['client'])} s; numpy R0 s / R0 job s = "
              f"{p['s'] / r['client']:.2f}×)")
        rel = ", ".join(f"{j} {one[lab][j]['client'] / r['client']:.2f}×" for j in ("J1", "J1b", "J2", "J3"))
        print(f"- {lab} time relative to its R0 job: {rel}")


def print_two_core(one, two, labels):
    print("| job | binary | 1 core s | 2 cores s | two-core / one-core speed |")
    print("|---|---|---:|---:|---:|")
    for name in ("J1", "J2"):
        for lab in labels:
            t1, t2 = one[lab][name]["client"], two[lab][name]["client"]
            print(f"| {name} | {lab} | {fmt_s(t1)} | {fmt_s(t2)} | {t1 / t2:.2f}× |")


def print_rss(n1, n2, rows):
    print(f"| binary | VmHWM idle | after J1 N={fmt_n(n1)} | after J1 N={fmt_n(n2)} | change from N={fmt_n(n1)} |")
    print("|---|---:|---:|---:|---:|")
    for lab, idle, a, b in rows:
        print(f"| {lab} | {idle / 1024:.1f} MB | {a / 1024:.1f} MB | {b / 1024:.1f} MB | {(b - a) / 1024:+.1f} MB |")


def print_simd(rows):
    print("| GRADEST_SIMD | R0 job normals/s | J1 samples/s | what happened |")
    print("|---|---:|---:|---|")
    for level, r0, j1, what in rows:
        r0s = f"{r0:.3g}" if r0 else "–"
        j1s = f"{j1:.3g}" if j1 else "–"
        print(f"| {level} | {r0s} | {j1s} | {what} |")


def version(binary):
    p = subprocess.run([binary, "--version"], capture_output=True, text=True)
    return p.stdout.strip() or f"(--version failed: {p.returncode})"


def cpu_model():
    with open("/proc/cpuinfo") as f:
        m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
    return m.group(1) if m else "unknown CPU"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def one_core_phase(binaries, scale, reps, logdir):
    services = [start(b, "0", 1, lab, logdir) for lab, b in binaries]
    try:
        largest = round(10 * JOBS["J1"][1] * scale)
        for s in services:
            conc = check_catalog(s, largest)
            if conc != 1:
                fail(f"{s.label}: concurrency is {conc} on one core, expected 1")
        return time_jobs(services, list(JOBS), scale, reps)
    finally:
        for s in services:
            s.stop()


def two_core_phase(binaries, scale, reps, logdir):
    services = [start(b, "0,1", 2, lab, logdir) for lab, b in binaries]
    try:
        return time_jobs(services, ["J1", "J2"], scale, reps)
    finally:
        for s in services:
            s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--before")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--simd", nargs="*", default=None)
    ap.add_argument("--peer", required=True, help="path of benches/peer/run.sh")
    args = ap.parse_args()
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    binaries = ([("before", args.before), ("after", args.binary)] if args.before
                else [("gradest", args.binary)])
    labels = [lab for lab, _ in binaries]
    logdir = tempfile.mkdtemp(prefix="gradest-hardware-")
    load0, t0 = loadavg(), time.monotonic()
    note(f"service logs in {logdir}")

    one = one_core_phase(binaries, args.scale, args.reps, logdir)
    peer = run_peer(args.peer, args.scale, args.reps)
    two = two_core_phase(binaries, args.scale, args.reps, logdir)
    rss = measure_rss(binaries, args.scale, logdir)
    simd = measure_simd(args.binary, args.simd, args.scale, args.reps, logdir) if args.simd else None

    print(f"\n## gradest over HTTP vs the numpy peer ({cpu_model()}, {os.cpu_count()} cores)\n")
    for lab, b in binaries:
        print(f"- {lab}: {b} ({version(b)})")
    print(f"- median of {args.reps} reps after one warm-up, N × {args.scale:g}, seed {SEED} "
          f"(numpy seed {PEER_SEED}); client wall-clock per POST /v1/estimate on a kept-alive connection")
    print(f"- gradest on core 0 (one sampling thread, GRADEST_CONCURRENCY=1); numpy peer on core 1, "
          f"run after gradest, never at the same time")
    print(f"- load average at start {load0}, at end {loadavg()}; {time.monotonic() - t0:.0f} s in all\n")
    print_main_table(one, peer, labels)
    print()
    print_r0(one, peer, labels)
    print("\n### Two cores (taskset -c 0,1, GRADEST_CONCURRENCY=2, two sampling threads)\n")
    print_two_core(one, two, labels)
    print("\n### Peak RSS of a fresh one-core service (/proc/PID/status VmHWM, a high-water mark)\n")
    print_rss(*rss)
    if simd is not None:
        print(f"\n### GRADEST_SIMD levels ({labels[-1]}, one core)\n")
        print_simd(simd)


if __name__ == "__main__":
    main()
