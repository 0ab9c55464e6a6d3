//! How a job draws its base noise: independently (`iid`, the default), in
//! antithetic pairs, or by randomised quasi-Monte Carlo (`rqmc`).
//!
//! Only the base noise of a family is structured: the standard normals ε of
//! x = g_θ(ε) for normal, multivariate_normal and log_normal, and the one
//! uniform per component that an inverse-CDF family (exponential, uniform,
//! laplace, logistic, cauchy, gumbel) turns into x. A family says which it has
//! with [`Distribution::base_noise`](super::distributions::Distribution::base_noise)
//! and draws it through [`base_normals`] or [`base_uniforms`]; every other draw
//! stays independent.
//!
//! # Antithetic
//! Within each batch of b samples (b×d, sample-major), rows h..2h (h = ⌊b/2⌋)
//! are the partners of rows 0..h: −ε for normal noise, 1 − u for uniform
//! noise (exact: u is an odd multiple of 2⁻⁵³). An odd batch's last row is
//! drawn fresh. Each sample is still distributed as p_θ, so the mean stays
//! unbiased; a pair's mean has variance ½(Var f + Cov(f(ε), f(−ε))), below
//! iid's ½Var f when f∘g is monotone-ish in ε.
//!
//! # Randomised QMC
//! Each chunk of a run is one randomisation of the d-dimensional Sobol
//! sequence (Joe & Kuo's direction numbers, [`joe_kuo`], d ≤ [`RQMC_MAX_DIM`]):
//! its j-th sample (counting across batches) is Sobol point j (natural order),
//! scrambled by a random lower-triangular binary matrix with unit diagonal
//! (Matoušek's linear matrix scramble) and a random digital shift, both drawn
//! from the chunk's stream when the chunk starts. Every point is then uniform
//! on the unit cube, so the estimate stays unbiased, and the chunk's points
//! keep the net's equidistribution, so its mean converges faster than iid
//! for a smooth integrand. A coordinate's 64 bits become u = (k + ½)·2⁻⁵²
//! from the top 52 bits k (never 0 nor 1; with 53 bits the top cell's
//! midpoint 1 − 2⁻⁵⁴ would round to 1), then Φ⁻¹(u) (Wichura's AS241,
//! [`ndtri`]) for normal noise.
//!
//! # Standard errors
//! The runner's standard errors are batch means over the chunks (≥ 64 when
//! N ≥ 128, ≥ 2 when N ≥ 4): the chunks are independent streams, antithetic
//! pairs never leave a batch (so never a chunk), and each randomisation is one
//! chunk, so the chunk means are independent and the batch-means error stays
//! honest where a per-sample √(Var/N) would not be.

pub mod joe_kuo;
mod ndtri;
mod sobol;

pub use ndtri::ndtri;
pub use sobol::{RQMC_MAX_DIM, Sobol};

/// log₂ of the most samples one rqmc chunk may draw.
pub const fn sobol_bits() -> u32 {
    sobol::BITS as u32
}

use super::rng::SampleRng;
use super::variates;

/// How the base noise of a job is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Sampling {
    /// Independent draws (the default).
    #[default]
    Iid,
    /// Antithetic pairs within each batch.
    Antithetic,
    /// Randomised quasi-Monte Carlo: one scrambled Sobol sequence per chunk.
    Rqmc,
}

impl Sampling {
    /// Every method, as the catalog lists them.
    pub const ALL: [Sampling; 3] = [Sampling::Iid, Sampling::Antithetic, Sampling::Rqmc];

    /// The name used in requests and results.
    pub fn name(self) -> &'static str {
        match self {
            Sampling::Iid => "iid",
            Sampling::Antithetic => "antithetic",
            Sampling::Rqmc => "rqmc",
        }
    }

    /// One line on what it is.
    pub fn doc(self) -> &'static str {
        match self {
            Sampling::Iid => "independent draws (the default)",
            Sampling::Antithetic => {
                "antithetic pairs within each batch: (ε, −ε) for normal base noise, (u, 1 − u) for \
                 inverse-CDF families; not with the mean (leave-one-out) baseline"
            }
            Sampling::Rqmc => {
                "randomised quasi-Monte Carlo: per chunk one scrambled Sobol sequence (Joe–Kuo \
                 directions, linear matrix scramble and digital shift) through the inverse CDF; \
                 up to 1024 dimensions; not with the mean (leave-one-out) baseline"
            }
        }
    }

    /// How the standard error of a run with `chunks` chunks was computed.
    pub fn std_error_method(self, chunks: usize) -> String {
        if chunks < 2 {
            return "per-sample variance / N (one chunk: too few for batch means)".to_string();
        }
        match self {
            Sampling::Iid => format!("batch means over {chunks} independent chunks"),
            Sampling::Antithetic => {
                format!("batch means over {chunks} independent chunks of antithetic pairs")
            }
            Sampling::Rqmc => format!("batch means over {chunks} independent randomisations"),
        }
    }
}

/// The base noise a family's samples are made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseNoise {
    /// Standard normals ε (x = g_θ(ε)).
    Normal,
    /// One uniform per component, through the inverse CDF.
    Uniform,
}

/// The sampling state a chunk's generator carries: the method and, for rqmc,
/// the chunk's randomised Sobol sequence.
#[derive(Debug, Clone, Default)]
pub struct Noise {
    method: Sampling,
    sobol: Sobol,
}

impl Noise {
    /// The method.
    pub fn method(&self) -> Sampling {
        self.method
    }

    /// Starts a chunk: `method`, and for rqmc a fresh randomisation of the
    /// d-dimensional sequence drawn from `rng` (nothing is drawn otherwise,
    /// so iid streams are untouched). Reuses the buffers it has.
    pub fn start(&mut self, method: Sampling, d: usize, rng: &mut SampleRng) {
        self.method = method;
        if method == Sampling::Rqmc {
            self.sobol.randomise(d, rng);
        }
    }
}

/// Fills `out` (b rows of d, sample-major) with standard normal base noise in
/// the generator's sampling mode: iid exactly as [`variates::normals`],
/// antithetic ε/−ε pairs, or Φ⁻¹ of the chunk's scrambled Sobol points.
pub fn base_normals(rng: &mut SampleRng, out: &mut [f64], d: usize) {
    match rng.noise.method() {
        Sampling::Iid => variates::normals(rng, out),
        Sampling::Antithetic => {
            let h = out.len() / d / 2 * d;
            let (first, rest) = out.split_at_mut(h);
            variates::normals(rng, first);
            let (second, last) = rest.split_at_mut(h);
            for (p, e) in second.iter_mut().zip(first.iter()) {
                *p = -e;
            }
            variates::normals(rng, last);
        }
        Sampling::Rqmc => {
            rng.noise.sobol.fill(out, d);
            out.iter_mut().for_each(|u| *u = ndtri(*u));
        }
    }
}

/// Fills `out` (b rows of d) with uniform base noise in (0, 1), each an odd
/// multiple of 2⁻⁵³: iid, antithetic u/1 − u pairs, or the chunk's scrambled
/// Sobol points. (An iid family keeps its own uniforms, so its bits never
/// change; this serves the structured methods, and iid for completeness.)
pub fn base_uniforms(rng: &mut SampleRng, out: &mut [f64], d: usize) {
    match rng.noise.method() {
        Sampling::Iid => variates::open_uniforms(rng, out),
        Sampling::Antithetic => {
            let h = out.len() / d / 2 * d;
            let (first, rest) = out.split_at_mut(h);
            variates::open_uniforms(rng, first);
            let (second, last) = rest.split_at_mut(h);
            for (p, u) in second.iter_mut().zip(first.iter()) {
                *p = 1.0 - u;
            }
            variates::open_uniforms(rng, last);
        }
        Sampling::Rqmc => rng.noise.sobol.fill(out, d),
    }
}

#[cfg(test)]
mod tests;
