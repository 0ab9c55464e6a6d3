"""Prints gradest's criterion medians next to the numpy peer, as ratios.

Run after `cargo bench --bench estimate` (which leaves its estimates in
target/criterion) and with the peer's output on stdin or in a file:

    bash benches/peer/run.sh > /tmp/peer.txt
    python3 benches/report.py /tmp/peer.txt

For each job: gradest's median time at 1 and 2 threads, samples per second,
the peer's samples per second, the single-thread ratio, and the 2-thread speed-up.
"""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion" / "estimate"
JOBS = {
    "R0": ("R0_normals", 10_000_000),
    "J1": ("J1_reparam_d1", 10_000_000),
    "J2": ("J2_score_none_d1", 10_000_000),
    "J3": ("J3_score_loo_d1", 10_000_000),
    "J4": ("J4_reparam_d100", 100_000),
    "J5": ("J5_categorical_score_k10", 1_000_000),
    "J6": ("J6_categorical_gumbel_softmax_k10", 1_000_000),
}


def median_seconds(bench, threads):
    path = CRITERION / f"{bench}_threads={threads}" / "new" / "estimates.json"
    if not path.exists():
        path = CRITERION / f"{bench}" / f"threads={threads}" / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"] * 1e-9


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    peer = {m.group(1): float(m.group(2))
            for m in re.finditer(r"^PEER (\S+) samples_per_second=(\S+)", text, re.M)}
    print("| job | gradest 1 thread (median) | samples/s | numpy peer samples/s | ratio | 2 threads samples/s | speed-up |")
    print("|---|---|---|---|---|---|---|")
    r0 = None
    for job, (bench, n) in JOBS.items():
        t1, t2 = median_seconds(bench, 1), median_seconds(bench, 2)
        if t1 is None:
            continue
        rate1 = n / t1
        if job == "R0":
            r0 = rate1
        rate2 = n / t2 if t2 else float("nan")
        p = peer.get(job)
        ratio = f"{rate1 / p:.2f}×" if p else "–"
        print(f"| {job} | {t1 * 1e3:.1f} ms | {rate1:.3g} | {p:.3g} | {ratio} | {rate2:.3g} | {rate2 / rate1:.2f}× |"
              if p else f"| {job} | {t1 * 1e3:.1f} ms | {rate1:.3g} | – | – | {rate2:.3g} | {rate2 / rate1:.2f}× |")
    if r0:
        for job in ("J1", "J2", "J3"):
            bench, n = JOBS[job]
            t1 = median_seconds(bench, 1)
            if t1:
                print(f"{job} costs {r0 / (n / t1):.2f}× the time of drawing its normals alone (R0)")


if __name__ == "__main__":
    main()
