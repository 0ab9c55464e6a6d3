//! Draws are independent: across the chunks of one run, across neighbouring
//! seeds, and so the spread of an estimate over many seeds is the one theory
//! gives, whatever N (and so however few samples each chunk holds).
//!
//! Each check compares a statistic with its exact or asymptotic distribution
//! under independence and allows 4.5 of its standard deviations (false alarm
//! about 6.8e-6 per check for a normal statistic; the χ² ones are within a few
//! times that). The negative control of the stream checks is the seeding
//! gradest used before 0.2, which shared one xoshiro state word between all
//! the chunks of a seed: its first draws were correlated by up to 0.7, and the
//! same statistics reject it by tens of standard deviations.
#![allow(clippy::disallowed_methods)]

mod common;

use common::*;
use gradest::estimation::Estimator;
use gradest::estimation::SampleRng;
use gradest::estimation::normal_batch;
use gradest::estimation::rng::LANES;
use gradest::estimation::runner::chunk_rng;
use rand::Rng;

/// Seeds of the spread test: the spread ratio's own noise is then about
/// 1/√(2·2000) = 1.6%, so a tolerance of 4.5 of it is 7% and the 1.2× spread of
/// correlated chunk streams would stand out by about 12 of its standard deviations.
const SPREAD_SEEDS: u64 = 2000;

/// Spread of the pathwise ∂/∂loc of E[x²] for x ~ N(0, 1) over many seeds. Each
/// estimate is the mean of N independent terms 2x ~ N(0, 4), so with the truth
/// (0) known, Q = Σₛ (N/4)·ĝₛ² is exactly χ² with S degrees of freedom: Q/S has
/// mean 1 and standard deviation √(2/S). The same seeds check the std_error:
/// z = ĝ/std_error is Student's t with C − 1 degrees of freedom for the C batch
/// means (exactly so for equal chunks of normal terms), so the mean of z² is
/// ν/(ν − 2), with variance (E[t⁴] − E[t²]²)/S, E[t⁴] = 3ν²/((ν − 2)(ν − 4)).
#[test]
fn estimates_spread_as_independent_draws_for_any_n() {
    println!(
        "{:>6} {:>7} {:>14} {:>10} {:>12}",
        "N", "chunks", "spread ratio", "mean z²", "t's E[z²]"
    );
    for n in [64u64, 100, 128, 256, 512, 1000, 5000] {
        let (mut q, mut z2, mut chunks) = (0.0, 0.0, 0);
        for seed in 0..SPREAD_SEEDS {
            let e = run_ok(&normal_job(
                &[0.0],
                &[1.0],
                "sum(x^2)",
                Estimator::Reparameterization,
                n,
                seed,
            ));
            let g = e.gradient[0];
            q += n as f64 / 4.0 * g * g;
            let z = g / e.std_error[0];
            z2 += z * z;
            chunks = e.diagnostics.chunks;
        }
        let s = SPREAD_SEEDS as f64;
        let ratio = q / s;
        let z_ratio = (ratio - 1.0) / (2.0 / s).sqrt();
        let nu = (chunks - 1) as f64;
        let (t2, t4) = (nu / (nu - 2.0), 3.0 * nu * nu / ((nu - 2.0) * (nu - 4.0)));
        let mean_z2 = z2 / s;
        let z_se = (mean_z2 - t2) / ((t4 - t2 * t2) / s).sqrt();
        println!(
            "{n:>6} {chunks:>7} {:>14.4} {mean_z2:>10.4} {t2:>12.4}",
            ratio.sqrt()
        );
        assert!(
            z_ratio.abs() < Z_MAX,
            "N = {n}: estimates spread {:.3}× as much as independent draws would ({z_ratio:.1} sd)",
            ratio.sqrt()
        );
        assert!(
            z_se.abs() < Z_MAX,
            "N = {n}: mean z² = {mean_z2:.3} where t with {nu} degrees of freedom gives {t2:.3} \
             ({z_se:.1} sd): the std_error is miscalibrated"
        );
        // Negative control: a spread 1.1× the theory's is rejected by the same check.
        assert!((ratio * 1.21 - 1.0) / (2.0 / s).sqrt() > Z_MAX);
    }
}

/// The chunk streams of gradest before 0.2: one state word shared by every chunk of
/// a seed, another taken from the chunk alone (every lane from that state). Kept
/// here as the negative control.
fn shared_word_rng(seed: u64, chunk: u64) -> SampleRng {
    fn m(x: u64) -> u64 {
        let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    let words = [
        m(seed),
        m(chunk),
        m(seed ^ 0xD1B5_4A32_D192_ED03),
        m(chunk ^ 0x8CB9_2BA7_2F3D_8DD7),
    ];
    SampleRng::from_lane_states([words; LANES])
}

/// Streams compared, and the first draws taken from each.
const CHUNKS: usize = 64;
const DRAWS: usize = 2;
const SEEDS: u64 = 4000;

/// The first `DRAWS` draws of each of the `CHUNKS` streams of each seed, as
/// standardised uniforms (from the first 64-bit outputs) and as standard normals
/// (Box–Muller, as the families draw them). `draw(s, c)` gives stream c's.
fn first_draws(draw: impl Fn(u64, usize) -> [[f64; 2]; DRAWS]) -> Vec<Vec<[f64; 2]>> {
    (0..SEEDS)
        .map(|s| (0..CHUNKS).flat_map(|c| draw(s, c)).collect())
        .collect()
}

/// A standardised uniform from a 64-bit output.
fn std_uniform(w: u64) -> f64 {
    let u = (w >> 11) as f64 * (-53f64).exp2();
    (u - 0.5) * 12f64.sqrt()
}

/// The first draws of the stream `rng_of(key(s, c))`.
fn stream_draws(
    rng_of: fn(u64, u64) -> SampleRng,
    key: fn(u64, usize) -> (u64, u64),
) -> impl Fn(u64, usize) -> [[f64; 2]; DRAWS] {
    move |s, c| {
        let (seed, chunk) = key(s, c);
        let mut r = rng_of(seed, chunk);
        let mut z = [0.0; DRAWS];
        normal_batch(&mut rng_of(seed, chunk), &mut z);
        std::array::from_fn(|k| [std_uniform(r.next_u64()), z[k]])
    }
}

/// Stream c is lane c mod 8 of chunk c / 8 of seed s: its first two outputs
/// (positions l and l + 8 of the chunk's stream), and the two normals made
/// from them (a batch of 16 normals pairs lane l's first output, a radius,
/// with its second, an angle, into normals l and l + 8).
fn lane_draws(s: u64, c: usize) -> [[f64; 2]; DRAWS] {
    let (chunk, lane) = ((c / LANES) as u64, c % LANES);
    let mut r = chunk_rng(s, chunk);
    let words: Vec<u64> = (0..2 * LANES).map(|_| r.next_u64()).collect();
    let mut z = [0.0; 2 * LANES];
    normal_batch(&mut chunk_rng(s, chunk), &mut z);
    std::array::from_fn(|k| [std_uniform(words[lane + k * LANES]), z[lane + k * LANES]])
}

/// Statistics of the correlations between streams i and j (first draws, pooled
/// over `DRAWS` and `SEEDS`): r·√n is about standard normal for each pair, so
/// (1) the pooled neighbour statistic Σ_{c} r(c, c+1)·√n / √(CHUNKS − 1) and
/// (2) the mean correlation over all pairs, times √(n·pairs), are standard
/// normal; (3) Q = Σ_{i<j} n·r²ᵢⱼ is about χ² with `pairs` degrees of freedom,
/// standardised as (Q − pairs)/√(2·pairs). Returns the largest |statistic|.
fn dependence(draws: &[Vec<[f64; 2]>], which: usize) -> f64 {
    let n = (SEEDS as usize * DRAWS) as f64;
    let corr = |i: usize, j: usize| -> f64 {
        let mut sxy = 0.0;
        for row in draws {
            for k in 0..DRAWS {
                sxy += row[i * DRAWS + k][which] * row[j * DRAWS + k][which];
            }
        }
        sxy / n
    };
    let pairs = (CHUNKS * (CHUNKS - 1) / 2) as f64;
    let (mut neighbours, mut sum, mut q) = (0.0, 0.0, 0.0);
    for i in 0..CHUNKS {
        for j in i + 1..CHUNKS {
            let r = corr(i, j);
            sum += r;
            q += n * r * r;
            if j == i + 1 {
                neighbours += r * n.sqrt();
            }
        }
    }
    let stats = [
        neighbours / ((CHUNKS - 1) as f64).sqrt(),
        sum / pairs * (n * pairs).sqrt(),
        (q - pairs) / (2.0 * pairs).sqrt(),
    ];
    stats.iter().fold(0.0f64, |a, s| a.max(s.abs()))
}

/// Chunks c and c' of one seed: (seed, c).
fn same_seed(s: u64, c: usize) -> (u64, u64) {
    (s, c as u64)
}

/// Chunk 0 of neighbouring seeds: (64·s + c, 0).
fn neighbouring_seeds(s: u64, c: usize) -> (u64, u64) {
    (s * CHUNKS as u64 + c as u64, 0)
}

#[test]
fn first_draws_of_neighbouring_chunks_lanes_and_seeds_are_uncorrelated() {
    let cases: [(&str, Vec<Vec<[f64; 2]>>); 3] = [
        (
            "chunks of one seed",
            first_draws(stream_draws(chunk_rng, same_seed)),
        ),
        (
            "neighbouring seeds",
            first_draws(stream_draws(chunk_rng, neighbouring_seeds)),
        ),
        ("lanes of one chunk", first_draws(lane_draws)),
    ];
    for (label, draws) in cases {
        for (which, name) in [(0, "uniform"), (1, "normal")] {
            let worst = dependence(&draws, which);
            println!("{label}, {name} draws: largest |statistic| {worst:.2}");
            assert!(
                worst < Z_MAX,
                "{label}: the first {name} draws are dependent ({worst:.1} sd)"
            );
        }
    }
}

#[test]
fn the_check_rejects_streams_that_share_a_state_word() {
    let draws = first_draws(stream_draws(shared_word_rng, same_seed));
    for which in [0, 1] {
        let worst = dependence(&draws, which);
        println!("shared-word streams: largest |statistic| {worst:.1}");
        assert!(worst > 10.0 * Z_MAX, "the check missed correlated streams");
    }
}
