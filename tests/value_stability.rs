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
