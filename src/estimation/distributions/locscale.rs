//! The location-scale families, generic over their standard member: independent
//! components xᵢ = locᵢ + scaleᵢ·εᵢ with εᵢ drawn from a fixed standard density φ.
//! Each family (laplace, logistic, cauchy, gumbel, student_t) only says how to
//! draw ε and what (log φ)′ is; sampling, scores and the pullback live here.
//!
//! # Density
//! With z = (x − loc)/scale:  log p(x) = log φ(z) − log scale.
//!
//! # Score
//! With ψ(z) = (log φ)′(z):
//! s_loc = −ψ(z)/scale,   s_scale = (−1 − z·ψ(z))/scale.
//!
//! # Pathwise
//! x = loc + scale·ε:  ∂x/∂loc = 1,  ∂x/∂scale = ε.

use std::fmt;

use super::distribution::{Distribution, FamilyInfo, Reparameterized};
use super::spec::{Constraint, Param, ParamInput, ParamSpec, Shape, vector};
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::{BaseNoise, Sampling, base_uniforms};

/// The standard member φ of a location-scale family (possibly with a
/// per-component shape, as student_t's df).
pub trait Standard: Send + Sync + fmt::Debug + 'static {
    /// Draws one ε for component i.
    fn draw(&self, i: usize, rng: &mut SampleRng) -> f64;

    /// ψ(z) = (log φ)′(z) for component i.
    fn dlog(&self, i: usize, z: f64) -> f64;

    /// `Some(BaseNoise::Uniform)` if ε = F⁻¹(u) from one uniform
    /// ([`Standard::quantile`]), so that antithetic and rqmc sampling apply.
    fn base_noise(&self) -> Option<BaseNoise> {
        None
    }

    /// ε = F⁻¹(u) for component i, u ∈ (0, 1); used only when
    /// [`Standard::base_noise`] is `Some` (NaN otherwise).
    fn quantile(&self, _i: usize, _u: f64) -> f64 {
        f64::NAN
    }
}

/// The `loc` parameter of every location-scale family.
pub const LOC: ParamSpec = ParamSpec {
    name: "loc",
    shape: Shape::Vector,
    constraint: Constraint::Real,
    differentiable: true,
    required: true,
    doc: "location of each component (x = loc + scale·ε)",
};

/// The `scale` parameter of every location-scale family.
pub const SCALE: ParamSpec = ParamSpec {
    name: "scale",
    shape: Shape::Vector,
    constraint: Constraint::Positive,
    differentiable: true,
    required: true,
    doc: "scale of each component (> 0)",
};

/// Independent components loc + scale·ε, ε ~ S.
#[derive(Debug, Clone)]
pub struct LocScale<S> {
    info: &'static FamilyInfo,
    /// Non-differentiated parameters first (student_t's df), then loc and scale.
    params: Vec<Param>,
    loc: Vec<f64>,
    scale: Vec<f64>,
    standard: S,
}

impl<S: Standard> LocScale<S> {
    /// From validated parameters of equal length (scale > 0); `fixed` are the
    /// family's non-differentiated parameters, listed before loc and scale.
    pub(super) fn new(
        info: &'static FamilyInfo,
        fixed: Vec<Param>,
        loc: Vec<f64>,
        scale: Vec<f64>,
        standard: S,
    ) -> Self {
        let mut params = fixed;
        params.push(Param::vector("loc", loc.clone()));
        params.push(Param::vector("scale", scale.clone()));
        LocScale {
            info,
            params,
            loc,
            scale,
            standard,
        }
    }

    /// From a validated input with `loc` and `scale`.
    pub(super) fn from_input(
        info: &'static FamilyInfo,
        fixed: Vec<Param>,
        input: &ParamInput,
        standard: S,
    ) -> Self {
        Self::new(
            info,
            fixed,
            vector(input, "loc"),
            vector(input, "scale"),
            standard,
        )
    }

    /// Draws ε into `eps` (sample-major) and writes x = loc + scale·ε: iid
    /// with [`Standard::draw`], antithetic or rqmc through the quantile of
    /// the base uniforms.
    fn draw(&self, rng: &mut SampleRng, x: &mut [f64], eps: Option<&mut [f64]>) {
        let d = self.loc.len();
        if rng.sampling() != Sampling::Iid {
            return self.draw_quantile(rng, x, eps);
        }
        match eps {
            Some(eps) => {
                for (xr, er) in x.chunks_exact_mut(d).zip(eps.chunks_exact_mut(d)) {
                    for i in 0..d {
                        let e = self.standard.draw(i, rng);
                        er[i] = e;
                        xr[i] = self.loc[i] + self.scale[i] * e;
                    }
                }
            }
            None => {
                for xr in x.chunks_exact_mut(d) {
                    for (i, v) in xr.iter_mut().enumerate() {
                        *v = self.loc[i] + self.scale[i] * self.standard.draw(i, rng);
                    }
                }
            }
        }
    }
}

impl<S: Standard> LocScale<S> {
    /// ε = F⁻¹(u) from the base uniforms u, x = loc + scale·ε.
    fn draw_quantile(&self, rng: &mut SampleRng, x: &mut [f64], eps: Option<&mut [f64]>) {
        let d = self.loc.len();
        match eps {
            Some(eps) => {
                self.quantiles(rng, eps);
                for (xr, er) in x.chunks_exact_mut(d).zip(eps.chunks_exact(d)) {
                    for i in 0..d {
                        xr[i] = self.loc[i] + self.scale[i] * er[i];
                    }
                }
            }
            None => {
                self.quantiles(rng, x);
                for xr in x.chunks_exact_mut(d) {
                    for (i, v) in xr.iter_mut().enumerate() {
                        *v = self.loc[i] + self.scale[i] * *v;
                    }
                }
            }
        }
    }

    /// ε = F⁻¹(u) into `e` (rows of d) from the base uniforms.
    fn quantiles(&self, rng: &mut SampleRng, e: &mut [f64]) {
        let d = self.loc.len();
        base_uniforms(rng, e, d);
        for row in e.chunks_exact_mut(d) {
            for (i, v) in row.iter_mut().enumerate() {
                *v = self.standard.quantile(i, *v);
            }
        }
    }
}

impl<S: Standard> Distribution for LocScale<S> {
    fn family(&self) -> &'static FamilyInfo {
        self.info
    }

    fn dim(&self) -> usize {
        self.loc.len()
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]) {
        self.draw(rng, x, None);
    }

    fn base_noise(&self) -> Option<BaseNoise> {
        self.standard.base_noise()
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        let d = self.dim();
        let b = x.len() / d;
        let (s_loc, s_scale) = s.split_at_mut(d * b);
        for i in 0..d {
            let (m, inv) = (self.loc[i], 1.0 / self.scale[i]);
            let sl = &mut s_loc[i * b..(i + 1) * b];
            let ss = &mut s_scale[i * b..(i + 1) * b];
            for r in 0..b {
                let z = (x[r * d + i] - m) * inv;
                let psi = self.standard.dlog(i, z);
                sl[r] = -psi * inv;
                ss[r] = (-1.0 - z * psi) * inv;
            }
        }
    }

    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        Some(self)
    }
}

impl<S: Standard> Reparameterized for LocScale<S> {
    fn aux_len(&self) -> usize {
        self.dim()
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        self.draw(rng, x, Some(aux));
    }

    fn pullback(&self, _x: &[f64], eps: &[f64], gx: &[f64], g: &mut [f64]) {
        let d = self.dim();
        let b = gx.len() / d;
        let (g_loc, g_scale) = g.split_at_mut(d * b);
        for i in 0..d {
            let gl = &mut g_loc[i * b..(i + 1) * b];
            let gs = &mut g_scale[i * b..(i + 1) * b];
            for r in 0..b {
                let v = gx[r * d + i];
                gl[r] = v;
                gs[r] = v * eps[r * d + i];
            }
        }
    }
}
