//! Independent normals, N(μᵢ, σᵢ²) for each component i.
//!
//! # Density
//! log p(x) = Σᵢ −log σᵢ − ½ log 2π − (xᵢ − μᵢ)²/(2σᵢ²)
//!
//! # Score
//! s_μᵢ = (xᵢ − μᵢ)/σᵢ²,   s_σᵢ = ((xᵢ − μᵢ)² − σᵢ²)/σᵢ³
//!
//! # Pathwise
//! x = μ + σε, ε ~ N(0, 1):  ∂x/∂μ = 1,  ∂x/∂σ = ε.
//!
//! # Delta-method control variate
//! For h(x) = c + gᵀ(x − μ) + ½(x − μ)ᵀH(x − μ): E h = c + ½ Σᵢ Hᵢᵢσᵢ², so
//! ∇μ E h = g and ∂E h/∂σᵢ = Hᵢᵢσᵢ.

//! # Measure-valued
//! Coordinate i of a base sample replaced, the others kept:
//! ∂μᵢ E f = 1/(σᵢ√(2π)) · E[f(xᵢ ← μᵢ + σᵢW) − f(xᵢ ← μᵢ − σᵢW′)], W, W′ ~ Rayleigh(1)
//! (density w e^{−w²/2}, W = √(2E), E standard exponential); coupled, W′ = W.
//! ∂σᵢ E f = (1/σᵢ) · E[f(xᵢ ← μᵢ + σᵢM) − f(xᵢ ← μᵢ + σᵢε)], M double-sided Maxwell
//! (density m² e^{−m²/2}/√(2π): |M| = √(2E + N²), a χ with 3 degrees of freedom,
//! with a random sign); coupled, ε = U·M with U ~ Uniform(0, 1), which is exactly
//! N(0, 1); uncoupled, ε an independent standard normal.

use rand::RngExt;

use super::distribution::{
    Curvature, Distribution, FamilyInfo, Gaussian, MeasureValued, MvdBuffers, MvdPoints,
    Reparameterized,
};
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, Shape, vector,
};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::{BaseNoise, base_normals};
use crate::estimation::simd;
use crate::estimation::variates;

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "normal",
    doc: "Independent normal components N(loc, scale²). x is a vector with one entry per component.",
    params: &[
        ParamSpec {
            name: "loc",
            shape: Shape::Vector,
            constraint: Constraint::Real,
            differentiable: true,
            required: true,
            doc: "mean μ of each component",
        },
        ParamSpec {
            name: "scale",
            shape: Shape::Vector,
            constraint: Constraint::Positive,
            differentiable: true,
            required: true,
            doc: "standard deviation σ of each component",
        },
    ],
    alternatives: &[],
    estimators: &[
        EstimatorKind::Reparameterization,
        EstimatorKind::ScoreFunction,
        EstimatorKind::MeasureValued,
    ],
    example: &[
        ("loc", ExampleValue::Vector(&[0.5, -1.0])),
        ("scale", ExampleValue::Vector(&[1.0, 2.0])),
    ],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    Ok(Box::new(Normal::new(
        vector(input, "loc"),
        vector(input, "scale"),
    )))
}

/// Independent normals.
#[derive(Debug, Clone)]
pub struct Normal {
    params: [Param; 2],
    loc: Vec<f64>,
    scale: Vec<f64>,
}

impl Normal {
    /// Builds from validated parameters of equal length (scale > 0).
    pub(super) fn new(loc: Vec<f64>, scale: Vec<f64>) -> Self {
        Normal {
            params: [
                Param::vector("loc", loc.clone()),
                Param::vector("scale", scale.clone()),
            ],
            loc,
            scale,
        }
    }
}

impl Normal {
    /// x ← μ + σ·x, componentwise, for standard normals x (sample-major).
    fn shift_scale(&self, x: &mut [f64]) {
        simd::dispatch(
            #[inline(always)]
            || {
                let d = self.dim();
                if d == 1 {
                    let (m, s) = (self.loc[0], self.scale[0]);
                    x.iter_mut().for_each(|v| *v = m + s * *v);
                    return;
                }
                for row in x.chunks_exact_mut(d) {
                    for ((v, m), s) in row.iter_mut().zip(&self.loc).zip(&self.scale) {
                        *v = m + s * *v;
                    }
                }
            },
        )
    }
}

impl Distribution for Normal {
    fn family(&self) -> &'static FamilyInfo {
        &FAMILY
    }

    fn dim(&self) -> usize {
        self.loc.len()
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]) {
        base_normals(rng, x, self.dim());
        self.shift_scale(x);
    }

    fn base_noise(&self) -> Option<BaseNoise> {
        Some(BaseNoise::Normal)
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        simd::dispatch(
            #[inline(always)]
            || {
                let d = self.dim();
                let b = x.len() / d;
                let (s_loc, s_scale) = s.split_at_mut(d * b);
                for i in 0..d {
                    let (m, sd) = (self.loc[i], self.scale[i]);
                    let inv_sd = 1.0 / sd;
                    let sl = &mut s_loc[i * b..(i + 1) * b];
                    let ss = &mut s_scale[i * b..(i + 1) * b];
                    for r in 0..b {
                        let z = (x[r * d + i] - m) * inv_sd;
                        sl[r] = z * inv_sd;
                        ss[r] = (z * z - 1.0) * inv_sd;
                    }
                }
            },
        )
    }

    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        Some(self)
    }

    fn gaussian(&self) -> Option<&dyn Gaussian> {
        Some(self)
    }

    fn measure_valued(&self) -> Option<&dyn MeasureValued> {
        Some(self)
    }
}

impl Gaussian for Normal {
    fn mean(&self) -> &[f64] {
        &self.loc
    }

    fn coordinate_sd(&self) -> Vec<f64> {
        self.scale.clone()
    }

    fn expected_gradient(&self, g: &[f64], h: Curvature<'_>, out: &mut [f64]) {
        let d = self.dim();
        out[..d].copy_from_slice(g);
        for (i, o) in out[d..].iter_mut().enumerate() {
            *o = h.at(i, i, d) * self.scale[i];
        }
    }
}

/// 1/√(2π).
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// A Rayleigh(1) variate, √(2E).
fn rayleigh(rng: &mut SampleRng) -> f64 {
    (2.0 * variates::exponential(rng)).sqrt()
}

/// A double-sided Maxwell variate: ±√(2E + N²), the sign from one more word.
fn maxwell(rng: &mut SampleRng) -> f64 {
    let n = variates::normal(rng);
    let m = (2.0 * variates::exponential(rng) + n * n).sqrt();
    if rng.next_word() & 1 == 1 { -m } else { m }
}

impl MeasureValued for Normal {
    fn mvd_form(&self) -> MvdPoints {
        MvdPoints::Pair
    }

    /// 1/(σᵢ√(2π)) for locᵢ (entry i), 1/σᵢ for scaleᵢ (entry D + i).
    fn mvd_constant(&self, k: usize) -> f64 {
        let d = self.dim();
        if k < d {
            FRAC_1_SQRT_2PI / self.scale[k]
        } else {
            1.0 / self.scale[k - d]
        }
    }

    /// Per sample, loc: W then (uncoupled) W′; scale: M, then U (coupled) or ε.
    fn mvd_points(
        &self,
        k: usize,
        coupled: bool,
        rng: &mut SampleRng,
        x: &[f64],
        out: &mut MvdBuffers<'_>,
    ) {
        let d = self.dim();
        let (is_loc, i) = if k < d { (true, k) } else { (false, k - d) };
        let (m, s) = (self.loc[i], self.scale[i]);
        out.plus.copy_from_slice(x);
        out.minus.copy_from_slice(x);
        for r in 0..x.len() / d {
            let (hi, lo) = if is_loc {
                let w = rayleigh(rng);
                let w2 = if coupled { w } else { rayleigh(rng) };
                (w, -w2)
            } else {
                let mx = maxwell(rng);
                let eps = if coupled {
                    rng.random::<f64>() * mx
                } else {
                    variates::normal(rng)
                };
                (mx, eps)
            };
            out.plus[r * d + i] = m + s * hi;
            out.minus[r * d + i] = m + s * lo;
        }
    }
}

impl Reparameterized for Normal {
    fn aux_len(&self) -> usize {
        self.dim()
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        base_normals(rng, aux, self.dim());
        x.copy_from_slice(aux);
        self.shift_scale(x);
    }

    fn pullback(&self, _x: &[f64], eps: &[f64], gx: &[f64], g: &mut [f64]) {
        simd::dispatch(
            #[inline(always)]
            || {
                let d = self.dim();
                let b = gx.len() / d;
                let (g_loc, g_scale) = g.split_at_mut(d * b);
                if d == 1 {
                    g_loc.copy_from_slice(gx);
                    for ((o, v), e) in g_scale.iter_mut().zip(gx).zip(eps) {
                        *o = v * e;
                    }
                    return;
                }
                for i in 0..d {
                    let gl = &mut g_loc[i * b..(i + 1) * b];
                    let gs = &mut g_scale[i * b..(i + 1) * b];
                    for r in 0..b {
                        let v = gx[r * d + i];
                        gl[r] = v;
                        gs[r] = v * eps[r * d + i];
                    }
                }
            },
        )
    }
}
