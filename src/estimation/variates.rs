//! Standard variates a batch at a time: normals and exponentials (from
//! uniforms made of the generator's words).
//!
//! Each fills a slice from the chunk's stream ([`SampleRng`]) in blocks: the
//! 64-bit words of a block are drawn in one bulk fill, then turned into
//! variates by straight-line, branch-free arithmetic that [`simd::dispatch`]
//! runs at the CPU's best vector width with the same bits at every width.
//!
//! # Uniforms
//! From a word w, u = (1 + (w ≫ 12)·2⁻⁵²) − 1 ∈ [0, 1) (the 52 high bits as a
//! mantissa: exact, and cheaper than an integer conversion without AVX-512);
//! where a logarithm follows, the cell midpoint u + 2⁻⁵³ ∈ (0, 1) instead, so
//! the logarithm is finite and never 0.
//!
//! # Normals: Box–Muller
//! From two words a, b: r = √(−2 ln u₁) with u₁ = u(a) + 2⁻⁵³ ∈ (0, 1), and an
//! angle φ = θ + q·π/2 with q = b mod 4 and θ = (u(b) − ½)·π/2 ∈ [−π/4, π/4),
//! so φ is uniform on a whole turn and (cos θ, sin θ) need no argument
//! reduction. Then (r cos φ, r sin φ) are two independent N(0, 1) draws.
//! u₁ ≥ 2⁻⁵³ bounds |z| ≤ √(106 ln 2) = 8.57: the mass of N(0, 1) beyond that
//! is 10⁻¹⁷, far below anything a Monte Carlo estimate can resolve. ln, sin
//! and cos are fdlibm's kernels ([`super::fastmath`], < 1 ulp).
//!
//! A block of m pairs takes 2m words, the first m for the radii and the next m
//! for the angles, and writes the m cosines then the m sines; an odd request
//! drops the last sine.
//!
//! # Exponentials
//! e = −ln(u + 2⁻⁵³) ∈ [1.1·10⁻¹⁶, 36.7]: never 0 (so log E is finite), and
//! the 2⁻⁵³ of mass beyond 36.7 sits at the top value (10⁻¹⁶, negligible as
//! above).

use super::fastmath::{cos_sin_quadrant, ln_in_range};
use super::rng::SampleRng;
use super::simd;

/// Pairs of normals (or exponentials) per block: 2 KiB of words on the stack.
const BLOCK: usize = 128;

/// u = (1 + (w ≫ 12)·2⁻⁵²) − 1 ∈ [0, 1), exactly a multiple of 2⁻⁵².
#[inline(always)]
fn unit(w: u64) -> f64 {
    f64::from_bits(0x3FF0_0000_0000_0000 | (w >> 12)) - 1.0
}

/// u + 2⁻⁵³ ∈ (0, 1), exact: the midpoints of the 2⁵² cells, so neither 0
/// nor 1 (a logarithm of it is finite and never 0).
#[inline(always)]
pub(crate) fn open_unit(w: u64) -> f64 {
    unit(w) + f64::EPSILON / 2.0
}

/// One Box–Muller pair from the radius word `a` and the angle word `b`.
#[inline(always)]
fn box_muller(a: u64, b: u64) -> (f64, f64) {
    let r = (-2.0 * ln_in_range(open_unit(a))).sqrt();
    let theta = (unit(b) - 0.5) * std::f64::consts::FRAC_PI_2;
    let (c, s) = cos_sin_quadrant(theta, b);
    (r * c, r * s)
}

/// Fills `out` with independent standard normals (Box–Muller, module docs).
pub fn normals(rng: &mut SampleRng, out: &mut [f64]) {
    let mut words = [0u64; 2 * BLOCK];
    for block in out.chunks_mut(2 * BLOCK) {
        let m = block.len().div_ceil(2);
        let w = &mut words[..2 * m];
        rng.fill_u64(w);
        simd::dispatch(
            #[inline(always)]
            || normal_block(w, block),
        );
    }
}

/// Box–Muller over one block: `w` has 2m words, `out` 2m or 2m − 1 slots.
#[inline(always)]
fn normal_block(w: &[u64], out: &mut [f64]) {
    let m = w.len() / 2;
    let (radii, angles) = w.split_at(m);
    let (cos, sin) = out.split_at_mut(m);
    let pairs = cos
        .iter_mut()
        .zip(sin.iter_mut())
        .zip(radii.iter().zip(angles));
    for ((zc, zs), (&a, &b)) in pairs {
        (*zc, *zs) = box_muller(a, b);
    }
    if sin.len() < m {
        cos[m - 1] = box_muller(radii[m - 1], angles[m - 1]).0;
    }
}

/// Fills `out` with independent standard exponentials, e = −ln(u + 2⁻⁵³) > 0.
pub fn exponentials(rng: &mut SampleRng, out: &mut [f64]) {
    let mut words = [0u64; 2 * BLOCK];
    for block in out.chunks_mut(2 * BLOCK) {
        let w = &mut words[..block.len()];
        rng.fill_u64(w);
        simd::dispatch(
            #[inline(always)]
            || {
                for (e, &wi) in block.iter_mut().zip(w.iter()) {
                    *e = -ln_in_range(open_unit(wi));
                }
            },
        );
    }
}

/// Fills `out` with independent uniforms u + 2⁻⁵³ ∈ (0, 1), one word each
/// (the base noise of the inverse-CDF families under structured sampling).
pub fn open_uniforms(rng: &mut SampleRng, out: &mut [f64]) {
    let mut words = [0u64; 2 * BLOCK];
    for block in out.chunks_mut(2 * BLOCK) {
        let w = &mut words[..block.len()];
        rng.fill_u64(w);
        for (u, &wi) in block.iter_mut().zip(w.iter()) {
            *u = open_unit(wi);
        }
    }
}

/// One standard normal (the cosine of one Box–Muller pair; the sine is not
/// kept), for samplers that need one at a time.
pub fn normal(rng: &mut SampleRng) -> f64 {
    let (a, b) = (rng.next_word(), rng.next_word());
    box_muller(a, b).0
}

/// One standard exponential, −ln(u + 2⁻⁵³).
pub fn exponential(rng: &mut SampleRng) -> f64 {
    -ln_in_range(open_unit(rng.next_word()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimation::rng::chunk_rng;

    #[test]
    fn unit_spans_zero_to_one_minus_ulp() {
        assert_eq!(unit(0), 0.0);
        assert_eq!(unit(u64::MAX), 1.0 - f64::EPSILON);
        assert_eq!(open_unit(0), f64::EPSILON / 2.0);
        assert_eq!(1.0 - open_unit(u64::MAX), f64::EPSILON / 2.0);
    }

    /// (r cos φ, r sin φ) lands in the right quadrant, with r² = −2 ln u₁.
    #[test]
    fn box_muller_angle_and_radius() {
        let a = 0x8000_0000_0000_0000u64; // u₁ = ½
        for q in 0..4u64 {
            let b = (1u64 << 63) | q; // θ = 0: φ = q·π/2
            let (zc, zs) = box_muller(a, b);
            let r = (2.0 * std::f64::consts::LN_2).sqrt();
            let want = [(r, 0.0), (0.0, r), (-r, 0.0), (0.0, -r)][q as usize];
            assert!((zc - want.0).abs() < 1e-15 && (zs - want.1).abs() < 1e-15);
        }
    }

    /// An odd length drops the last sine; every length reads whole pairs.
    #[test]
    fn lengths_and_blocks_agree() {
        let mut long = vec![0.0; 2 * BLOCK];
        normals(&mut chunk_rng(1, 2), &mut long);
        let mut odd = vec![0.0; 2 * BLOCK - 1];
        normals(&mut chunk_rng(1, 2), &mut odd);
        assert_eq!(odd[..BLOCK], long[..BLOCK]);
        assert_eq!(odd[BLOCK..], long[BLOCK..2 * BLOCK - 1]);
        assert!(long.iter().all(|z| z.is_finite() && z.abs() <= 8.6));
    }
}
