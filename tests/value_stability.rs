//! Value stability: gradest's numbers for a fixed job and seed are pinned, so a
//! change of results between versions is always deliberate and visible (the
//! README lists such changes under "Results across versions").
//!
//! Two kinds of pins, for every registered family at its registry example
//! (`FamilyInfo::example`): the first draws of chunk 0's stream (what `sample`
//! and, where it exists, the pathwise `rsample` give for the first three samples), and a full result (gradient, std_error, objective
//! mean, per-sample variance) of a small job for every estimator that applies.
//! Numbers are written with Rust's shortest round-trip formatting and compared
//! bit for bit.
//!
//! The pins live in `tests/pins/values.txt`. After a deliberate change, rewrite
//! them with `GRADEST_UPDATE_PINS=1 cargo test --test value_stability`, review
//! the diff, and say in the README what changed and why.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use common::*;
use gradest::estimation::distributions::{self, FAMILIES};
use gradest::estimation::runner::chunk_rng;
use gradest::estimation::{Estimator, EstimatorKind};
use rand::Rng;

const PINS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pins/values.txt");

/// The estimators pinned for a family: every variant ([`variants`]) of every
/// kind it accepts.
fn estimators(kinds: &[EstimatorKind]) -> Vec<(&'static str, Estimator)> {
    kinds.iter().flat_map(|k| variants(*k)).collect()
}

fn fmt_all(xs: &[f64]) -> String {
    let shown: Vec<String> = xs.iter().map(|x| format!("{x:?}")).collect();
    shown.join(" ")
}

/// Every pinned line, `key = values`, computed now.
fn current() -> BTreeMap<String, String> {
    let mut pins = BTreeMap::new();
    // The generator itself: the first outputs of chunks 0 and 1 of seed 7.
    for c in [0, 1] {
        let mut rng = chunk_rng(7, c);
        let words: Vec<String> = (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect();
        pins.insert(format!("stream/seed 7/chunk {c}"), words.join(" "));
    }
    for info in FAMILIES {
        let dist = distributions::build(info, &info.example_input(), 100).expect("valid example");
        let d = dist.dim();
        let mut x = vec![0.0; 3 * d];
        dist.sample(&mut chunk_rng(7, 0), &mut x);
        pins.insert(format!("{}/sample", info.name), fmt_all(&x));
        if let Some(rep) = dist.reparameterized() {
            let mut aux = vec![0.0; 3 * rep.aux_len()];
            rep.rsample(&mut chunk_rng(7, 0), &mut x, &mut aux);
            pins.insert(format!("{}/rsample", info.name), fmt_all(&x));
        }
        for (name, est) in estimators(info.estimators) {
            // sum(x * x) + sum(x): a non-linear f of every component, for every family.
            let e = run_ok(&job(
                info.name,
                &info.example_input(),
                "sum(x * x) + sum(x)",
                est,
                1000,
                7,
            ));
            let mut line = String::new();
            write!(
                line,
                "gradient {} | std_error {} | variance {} | objective {:?}",
                fmt_all(&e.gradient),
                fmt_all(&e.std_error),
                fmt_all(&e.variance),
                e.objective.mean
            )
            .unwrap();
            pins.insert(format!("{}/{name}", info.name), line);
        }
    }
    pins
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn draws_and_results_are_pinned_across_versions() {
    let now = current();
    if std::env::var_os("GRADEST_UPDATE_PINS").is_some() {
        let mut text = String::from(
            "# gradest's pinned values (tests/value_stability.rs): the first draws of each\n\
             # family and a full result per estimator, for seed 7. Rewrite only on purpose.\n",
        );
        for (k, v) in &now {
            writeln!(text, "{k} = {v}").unwrap();
        }
        std::fs::create_dir_all(std::path::Path::new(PINS).parent().unwrap()).unwrap();
        std::fs::write(PINS, text).unwrap();
        return;
    }
    let pinned = parse(&std::fs::read_to_string(PINS).expect("tests/pins/values.txt exists"));
    let mut changed = Vec::new();
    for (k, v) in &now {
        match pinned.get(k) {
            Some(p) if p == v => {}
            Some(p) => changed.push(format!("{k}\n  pinned: {p}\n  now:    {v}")),
            None => changed.push(format!("{k}: not pinned (now {v})")),
        }
    }
    for k in pinned.keys().filter(|k| !now.contains_key(*k)) {
        changed.push(format!("{k}: pinned but no longer produced"));
    }
    assert!(
        changed.is_empty(),
        "{} pinned values changed; if on purpose, rerun with GRADEST_UPDATE_PINS=1 and say so \
         in the README:\n{}",
        changed.len(),
        changed.join("\n")
    );
    // Negative control: the comparison sees a change in the last bit.
    let (k, v) = now.iter().find(|(k, _)| k.ends_with("/sample")).unwrap();
    let first: f64 = v.split(' ').next().unwrap().parse().unwrap();
    let nudged = v.replacen(
        &format!("{first:?}"),
        &format!("{:?}", f64::from_bits(first.to_bits() ^ 1)),
        1,
    );
    assert_ne!(pinned.get(k), Some(&nudged));
}

/// Jobs that run the vector kernels on every path beside the pins: the
/// transcendental functions, a d = 100 vector, the categorical relaxations, and
/// a sample count whose batches and chunks leave remainders of every length.
fn kernel_jobs() -> BTreeMap<String, String> {
    let loc: Vec<f64> = (0..100).map(|i| -1.0 + 2.0 * i as f64 / 99.0).collect();
    let logits: Vec<f64> = (0..10).map(|i| -2.0 + 4.0 * i as f64 / 9.0).collect();
    let normal100 = params(&[("loc", loc), ("scale", vec![1.0; 100])]);
    let normal1 = params(&[("loc", vec![0.5]), ("scale", vec![1.2])]);
    let cat = params(&[("logits", logits)]);
    let gamma = params(&[("concentration", vec![0.3, 2.5]), ("rate", vec![1.0, 2.0])]);
    let gs = Estimator::GumbelSoftmax {
        temperature: 0.5,
        hard: false,
    };
    let sf = variants(EstimatorKind::ScoreFunction);
    let sf_last = sf.last().expect("score-function variants").1;
    let jobs = [
        (
            "normal",
            &normal100,
            "sum(cos(x)) + sum(sin(x))",
            Estimator::Reparameterization,
            2_003,
        ),
        (
            "normal",
            &normal1,
            "exp(-x^2) + log(1 + x^2)",
            Estimator::Reparameterization,
            100_003,
        ),
        (
            "normal",
            &normal1,
            "sum((x - 3)^2)",
            variants(EstimatorKind::ScoreFunction)[0].1,
            100_003,
        ),
        (
            "categorical",
            &cat,
            "dot(x, [0,1,2,3,4,5,6,7,8,9])",
            gs,
            10_007,
        ),
        (
            "categorical",
            &cat,
            "exp(dot(x, [0,1,2,3,4,5,6,7,8,9]) / 9)",
            sf_last,
            10_007,
        ),
        (
            "gamma",
            &gamma,
            "sum(log(x)) + sum(exp(-x))",
            Estimator::Reparameterization,
            10_007,
        ),
    ];
    let mut out = BTreeMap::new();
    for (i, (family, input, f, est, n)) in jobs.into_iter().enumerate() {
        let Ok(e) = try_run(&job(family, input, f, est, n, 11)) else {
            out.insert(format!("{i}"), "refused".to_string());
            continue;
        };
        let line = format!(
            "{} | {} | {:?}",
            fmt_all(&e.gradient),
            fmt_all(&e.std_error),
            e.objective.mean
        );
        out.insert(format!("{i} {family} {f}"), line);
    }
    out
}

/// The same bits on every CPU feature level this machine has: every pin and
/// every kernel job, computed with the kernels capped at each level in turn
/// (portable SSE2, AVX2, AVX-512), equal those of the portable build. This is
/// the only test that changes the cap; other tests in this process meanwhile
/// see a different speed, never different numbers.
#[test]
fn every_simd_level_gives_the_same_bits() {
    use gradest::estimation::simd::{self, Level};
    simd::limit(Level::Portable).expect("the portable level is always there");
    let want = (current(), kernel_jobs());
    let refused: Vec<_> = want.1.keys().filter(|k| want.1[*k] == "refused").collect();
    assert!(refused.is_empty(), "kernel jobs refused: {refused:?}");
    let mut compared = 0;
    for level in Level::ALL.into_iter().filter(|l| l.is_available()) {
        simd::limit(level).expect("available");
        assert_eq!(simd::active(), level);
        let got = (current(), kernel_jobs());
        for (k, v) in want.0.iter().chain(&want.1) {
            let g = got.0.get(k).or_else(|| got.1.get(k));
            assert_eq!(g, Some(v), "{k} differs at level {}", level.name());
        }
        compared += 1;
    }
    simd::limit(simd::detected()).expect("available");
    println!(
        "levels compared: {compared} (this CPU: {})",
        simd::detected().name()
    );
    assert!(compared >= 1);
}
