//! The Sobol sequence with Joe & Kuo's direction numbers, randomised by a
//! linear matrix scramble and a digital shift (see the module docs above).
//!
//! # Construction
//! Dimension i has direction numbers vₖ = mₖ·2⁻ᵏ (k = 1, 2, …), as 64-bit
//! binary fractions: the first s given by the table, then
//! mₖ = 2a₁mₖ₋₁ ⊕ 2²a₂mₖ₋₂ ⊕ … ⊕ 2ˢ⁻¹aₛ₋₁mₖ₋ₛ₊₁ ⊕ 2ˢmₖ₋ₛ ⊕ mₖ₋ₛ; dimension 1
//! has every mₖ = 1. Point j (bits j₀ j₁ …) has coordinate xᵢ(j) = ⊕ₖ jₖ₋₁·vₖ.
//!
//! # Randomisation
//! y = M·x ⊕ e over GF(2), digit by digit (digit r is bit 63 − r): M lower
//! triangular with unit diagonal and independent fair bits below it, e a
//! uniform 64-bit shift. Since M is linear, M·x(j) = ⊕ₖ jₖ₋₁·(M·vₖ): the
//! scrambled direction numbers are computed once per chunk.

use std::sync::OnceLock;

use super::joe_kuo::JOE_KUO;
use crate::estimation::rng::SampleRng;
use crate::estimation::variates::open_unit;

/// Largest dimension d that rqmc supports (the rows of [`JOE_KUO`] and the
/// first dimension).
pub const RQMC_MAX_DIM: usize = JOE_KUO.len() + 1;

/// Direction numbers per dimension: a chunk may hold up to 2³² samples.
pub const BITS: usize = 32;

/// The unscrambled direction numbers, `[i·BITS + k]` = v_{k+1} of dimension i.
fn directions() -> &'static [u64] {
    static TABLE: OnceLock<Vec<u64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut v = vec![0u64; RQMC_MAX_DIM * BITS];
        for (k, w) in v[..BITS].iter_mut().enumerate() {
            *w = 1 << (63 - k);
        }
        for (row, &(s, a, m)) in v[BITS..].chunks_exact_mut(BITS).zip(JOE_KUO.iter()) {
            let s = s as usize;
            for k in 0..s.min(BITS) {
                row[k] = u64::from(m[k]) << (63 - k);
            }
            for k in s..BITS {
                let mut w = row[k - s] ^ (row[k - s] >> s);
                for j in 1..s {
                    if (a >> (s - 1 - j)) & 1 == 1 {
                        w ^= row[k - j];
                    }
                }
                row[k] = w;
            }
        }
        v
    })
}

/// A chunk's randomised Sobol sequence in d dimensions.
#[derive(Debug, Clone, Default)]
pub struct Sobol {
    d: usize,
    /// The next point's index.
    index: u64,
    /// Scrambled direction numbers M·vₖ, `[i·BITS + k]`.
    dirs: Vec<u64>,
    /// The digital shift of each dimension.
    shift: Vec<u64>,
}

/// M·v for the matrix with rows `rows` (row r gives digit r, bit 63 − r).
fn scramble(rows: &[u64; 64], v: u64) -> u64 {
    rows.iter().enumerate().fold(0, |y, (r, &row)| {
        y | (u64::from((row & v).count_ones() & 1) << (63 - r))
    })
}

impl Sobol {
    /// A fresh randomisation in `d` ≤ [`RQMC_MAX_DIM`] dimensions, starting
    /// at point 0: per dimension, 64 words for M's rows and one for the shift.
    pub fn randomise(&mut self, d: usize, rng: &mut SampleRng) {
        assert!(
            d <= RQMC_MAX_DIM,
            "rqmc supports at most {RQMC_MAX_DIM} dimensions"
        );
        let table = directions();
        self.d = d;
        self.index = 0;
        self.dirs.resize(d * BITS, 0);
        self.shift.resize(d, 0);
        let mut rows = [0u64; 64];
        for i in 0..d {
            rng.fill_u64(&mut rows);
            for (r, row) in rows.iter_mut().enumerate() {
                let below = if r == 0 { 0 } else { !(u64::MAX >> r) };
                *row = (*row & below) | (1 << (63 - r));
            }
            self.shift[i] = rng.next_word();
            let (src, dst) = (
                &table[i * BITS..][..BITS],
                &mut self.dirs[i * BITS..][..BITS],
            );
            for (o, &v) in dst.iter_mut().zip(src) {
                *o = scramble(&rows, v);
            }
        }
    }

    /// Fills `out` (rows of d) with the next points as uniforms (k + ½)·2⁻⁵²
    /// in (0, 1), k the top 52 bits of each coordinate.
    pub fn fill(&mut self, out: &mut [f64], d: usize) {
        debug_assert_eq!(d, self.d);
        for row in out.chunks_exact_mut(d) {
            let j = self.index;
            self.index += 1;
            debug_assert!(j < 1 << BITS, "a chunk of more than 2³² samples");
            for (i, o) in row.iter_mut().enumerate() {
                let dirs = &self.dirs[i * BITS..][..BITS];
                let mut w = self.shift[i];
                let mut bits = j;
                while bits != 0 {
                    w ^= dirs[bits.trailing_zeros() as usize];
                    bits &= bits - 1;
                }
                *o = open_unit(w);
            }
        }
    }

    /// The unscrambled points' raw coordinates (tests).
    #[cfg(test)]
    pub(crate) fn raw_directions(i: usize) -> &'static [u64] {
        &directions()[i * BITS..][..BITS]
    }
}
