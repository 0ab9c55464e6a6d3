#!/usr/bin/env python3
"""A soak of gradest: mixed estimates, comparisons, background jobs, cancels
and listings for a fixed time against one release binary on loopback, with
the server's resident memory sampled as it goes.

    python3 benches/soak/soak.py target/release/gradest [--seconds 600] [--workers 4]

It starts the binary itself (port 0, an embedded job store in a temporary
directory), prints the resident memory every 30 s, and at the end the request
counts by status, the 5xx count (which must be 0) and whether memory stayed
flat (the largest RSS of the last third against that of the second third).
Standard library only; traffic to 127.0.0.1 only, bounded by --seconds.
"""
import argparse, json, os, random, shutil, subprocess, sys, tempfile, threading, time
import urllib.error, urllib.request
from collections import Counter


def start(binary, data_dir):
    env = dict(os.environ, GRADEST_ADDR="127.0.0.1:0", GRADEST_LOG_FORMAT="json",
               GRADEST_LOG="warn,gradest=info", GRADEST_DATA_DIR=data_dir,
               GRADEST_JOB_RETENTION_SECS="120", GRADEST_MAX_FINISHED_JOBS="500")
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        entry = json.loads(line)
        if entry.get("message") == "gradest listening":
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, "http://" + entry["addr"]
    sys.exit("gradest did not start")


def call(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, None


def job(rng, samples):
    d = rng.choice([1, 2, 10])
    return {"distribution": {"family": "normal", "loc": [0.5] * d, "scale": [1.0] * d},
            "objective": rng.choice(["sum((x - 3)^2)", "sum(cos(x))", "x[0] * sum(x)"]),
            "estimator": rng.choice([{"kind": "reparameterization"},
                                     {"kind": "score_function", "baseline": "optimal"},
                                     {"kind": "measure_valued"}]),
            "samples": samples, "seed": rng.randrange(2**53)}


def worker(base, until, seed, counts, jobs, lock):
    rng = random.Random(seed)
    while time.time() < until:
        r = rng.random()
        if r < 0.55:
            st, _ = call(base, "POST", "/v1/estimate", job(rng, rng.choice([1000, 10_000, 100_000])))
            kind = "estimate"
        elif r < 0.65:
            body = job(rng, 20_000)
            del body["estimator"]
            body["estimators"] = "all"
            st, _ = call(base, "POST", "/v1/compare", body)
            kind = "compare"
        elif r < 0.82:
            st, b = call(base, "POST", "/v1/jobs", job(rng, rng.choice([1_000_000, 10_000_000, 50_000_000])))
            if st == 202:
                with lock:
                    jobs.append(b["id"])
            kind = "job"
        elif r < 0.90:
            with lock:
                target = rng.choice(jobs) if jobs else None
            st = call(base, "DELETE", f"/v1/jobs/{target}")[0] if target else 0
            kind = "delete"
        else:
            st, _ = call(base, "GET", "/v1/jobs?limit=50" if rng.random() < 0.5 else "/v1/jobs?status=running")
            kind = "list"
        with lock:
            counts[(kind, st)] += 1


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--workers", type=int, default=4)
    a = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="gradest-soak-")
    proc, base = start(a.binary, data_dir)
    t0 = time.time()
    until = t0 + a.seconds
    counts, jobs, lock = Counter(), [], threading.Lock()
    threads = [threading.Thread(target=worker, args=(base, until, k, counts, jobs, lock))
               for k in range(a.workers)]
    for t in threads:
        t.start()
    samples = []
    while time.time() < until:
        time.sleep(min(5, max(0.1, until - time.time())))
        samples.append((time.time() - t0, rss_kib(proc.pid)))
        if len(samples) % 6 == 0:
            print(f"t = {samples[-1][0]:6.0f} s  RSS {samples[-1][1] / 1024:7.1f} MiB  "
                  f"requests {sum(counts.values())}", flush=True)
    for t in threads:
        t.join()
    proc.terminate()
    proc.wait(timeout=60)
    shutil.rmtree(data_dir, ignore_errors=True)
    third = len(samples) // 3
    mid = max(r for _, r in samples[third:2 * third]) / 1024
    last = max(r for _, r in samples[2 * third:]) / 1024
    errors = sum(n for (k, st), n in counts.items() if st >= 500)
    print("\nrequests by kind and status:")
    for (k, st), n in sorted(counts.items()):
        print(f"  {k:9s} {st}: {n}")
    print(f"\n{sum(counts.values())} requests in {a.seconds:.0f} s, {errors} answered 5xx")
    print(f"RSS: first sample {samples[0][1] / 1024:.1f} MiB, largest in the second third {mid:.1f} MiB, "
          f"in the last third {last:.1f} MiB ({'flat' if last <= 1.25 * mid + 8 else 'GROWING'})")
    sys.exit(1 if errors or last > 1.25 * mid + 8 else 0)


if __name__ == "__main__":
    main()
