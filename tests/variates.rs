//! The batch variates have their distributions: Box–Muller normals and the
//! exponentials, 2²² draws each from fixed seeds, drawn in batches of uneven
//! lengths (so odd requests and block edges are exercised).
//!
//! Each check is a z-statistic of a count or a moment against its exact value,
//! with the standard error its own distribution gives, and must stay below 4.5
//! (false alarm about 6.8·10⁻⁶ per check, some 40 checks: below 3·10⁻⁴ per
//! run, and the seeds are fixed, so a pass is repeatable). The negative
//! control: normals 1 % too wide are rejected by the variance check by about
//! 28 standard errors.

mod common;

use common::{Z_MAX, big_phi};
use gradest::estimation::rng::chunk_rng;
use gradest::estimation::variates::{exponentials, normals};

const N: usize = 1 << 22;
/// Batch lengths cycled through: odd, even, below and above one block.
const LENGTHS: [usize; 6] = [1, 255, 256, 257, 1000, 4093];

fn draw(fill: fn(&mut gradest::estimation::SampleRng, &mut [f64]), seed: u64) -> Vec<f64> {
    let mut rng = chunk_rng(seed, 3);
    let mut out = vec![0.0; N];
    let mut at = 0;
    for len in LENGTHS.iter().cycle() {
        if at == N {
            break;
        }
        let end = (at + len).min(N);
        fill(&mut rng, &mut out[at..end]);
        at = end;
    }
    out
}

/// z of the mean of `f` over `xs` against `want`, with variance `var` per term.
fn z_mean(xs: &[f64], f: impl Fn(f64) -> f64, want: f64, var: f64) -> f64 {
    let m = xs.iter().map(|&x| f(x)).sum::<f64>() / xs.len() as f64;
    (m - want) / (var / xs.len() as f64).sqrt()
}

/// z of the fraction of `xs` with `pred` against probability `p` (binomial).
fn z_frac(xs: &[f64], pred: impl Fn(f64) -> bool, p: f64) -> f64 {
    let n = xs.len() as f64;
    let k = xs.iter().filter(|&&x| pred(x)).count() as f64;
    (k - n * p) / (n * p * (1.0 - p)).sqrt()
}

fn check(label: &str, z: f64) {
    println!("{label}: z = {z:+.2}");
    assert!(z.abs() < Z_MAX, "{label}: z = {z:.2}");
}

/// Moments 1–4 of N(0, 1) (variances of the terms: 1, 2, 15, 96), and the
/// distribution function at nine points.
fn check_normal(label: &str, z: &[f64]) {
    check(&format!("{label} mean"), z_mean(z, |x| x, 0.0, 1.0));
    check(&format!("{label} E z²"), z_mean(z, |x| x * x, 1.0, 2.0));
    check(
        &format!("{label} E z³"),
        z_mean(z, |x| x.powi(3), 0.0, 15.0),
    );
    check(
        &format!("{label} E z⁴"),
        z_mean(z, |x| x.powi(4), 3.0, 96.0),
    );
    for t in [-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0] {
        check(
            &format!("{label} P(z < {t})"),
            z_frac(z, |x| x < t, big_phi(t)),
        );
    }
}

#[test]
fn normals_have_the_standard_normal_law() {
    for seed in [1, 2] {
        check_normal(&format!("seed {seed}"), &draw(normals, seed));
    }
}

/// The two normals of one Box–Muller pair (r cos φ, r sin φ) are independent:
/// in a batch of 2m they sit at j and m + j. Their product and the product of
/// their squares minus one have mean 0 and variances 1 and 4.
#[test]
fn the_two_normals_of_a_pair_are_independent() {
    let mut rng = chunk_rng(5, 0);
    let (mut p, mut q) = (Vec::new(), Vec::new());
    let mut batch = vec![0.0; 512];
    for _ in 0..N / 512 {
        normals(&mut rng, &mut batch);
        let (c, s) = batch.split_at(256);
        p.extend(c.iter().zip(s).map(|(a, b)| a * b));
        q.extend(c.iter().zip(s).map(|(a, b)| (a * a - 1.0) * (b * b - 1.0)));
    }
    check("E[z₁z₂]", z_mean(&p, |x| x, 0.0, 1.0));
    check("E[(z₁² − 1)(z₂² − 1)]", z_mean(&q, |x| x, 0.0, 4.0));
}

#[test]
fn exponentials_have_the_standard_exponential_law() {
    for seed in [1, 2] {
        let e = draw(exponentials, seed);
        assert!(e.iter().all(|&x| x > 0.0 && x.is_finite()));
        check(&format!("seed {seed} mean"), z_mean(&e, |x| x, 1.0, 1.0));
        check(
            &format!("seed {seed} E e²"),
            z_mean(&e, |x| x * x, 2.0, 20.0),
        );
        for t in [0.01f64, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0] {
            let p = libm::exp(-t);
            check(&format!("seed {seed} P(e > {t})"), z_frac(&e, |x| x > t, p));
        }
    }
}

/// Negative control: the same draws 1 % too wide fail the variance check.
#[test]
fn normals_one_percent_too_wide_are_rejected() {
    let z: Vec<f64> = draw(normals, 1).iter().map(|x| 1.01 * x).collect();
    let stat = z_mean(&z, |x| x * x, 1.0, 2.0);
    println!("1 % too wide: z = {stat:.1}");
    assert!(stat > 5.0 * Z_MAX, "the variance check missed a 1 % error");
}
