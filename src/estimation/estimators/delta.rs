//! The delta-method control variate, on the pathwise or the score-function
//! estimator of a Gaussian family (normal, multivariate normal).
//!
//! h(x) = f(μ) + gᵀ(x − μ) + ½(x − μ)ᵀH(x − μ), g = ∇ₓf(μ), H = ∇²ₓf(μ),
//! the second-order Taylor expansion of f at the mean, frozen for the run.
//! Its expectation is known, E h = f(μ) + ½ tr(HΣ), and so is ∇θ E h
//! ([`Gaussian::expected_gradient`]). With ũ the estimator's term for h —
//! pathwise (∂x/∂θ)ᵀ(g + H(x − μ)), score function h(x)·s(x) — the control
//! v = ũ − ∇θ E h has mean 0, and the runner applies u − β·v with β per
//! component cross-fitted between chunks (β from the other chunks only, like the
//! optimal baseline), so the estimate stays unbiased whatever H is. For a
//! quadratic f, h = f and β = 1: every term is the exact gradient, variance 0.
//!
//! g and H come from the objective's reverse-mode gradient: g at μ, H by
//! central differences of ∇ₓf at μ ± tᵢeᵢ (tᵢ = max(σᵢ·2⁻¹², |μᵢ|·2⁻²⁶)),
//! symmetrised; 2d + 1 gradient evaluations once per run, exact up to rounding
//! for a quadratic f. Up to [`DENSE_MAX_DIM`] dimensions H is dense (d² work per
//! sample); above it only its diagonal is used (d per sample), which keeps the
//! estimate unbiased and removes the variance of the separable part.

use super::{Batch, Sampler, StepInfo};
use crate::estimation::distributions::{Curvature, Distribution, Gaussian, Reparameterized};
use crate::estimation::error::RunError;
use crate::estimation::objective::{Program, Want, Workspace};
use crate::estimation::rng::SampleRng;

/// Above this dimension only the diagonal of H is used.
pub const DENSE_MAX_DIM: usize = 256;

/// Points per gradient evaluation while the expansion is computed.
const BLOCK: usize = 32;

/// The expansion h of f at the mean.
#[derive(Debug, Clone)]
pub struct Expansion {
    mu: Vec<f64>,
    f0: f64,
    g: Vec<f64>,
    /// Dense d×d (row-major, symmetric) or the diagonal (d numbers).
    h: Vec<f64>,
    dense: bool,
    /// ∇θ E h, in gradient order.
    expected: Vec<f64>,
}

impl Expansion {
    /// Expands `objective` at the mean of `gauss` (dimension d, P gradient
    /// components); refuses an f that is not finite there.
    pub fn new(gauss: &dyn Gaussian, objective: &Program, p: usize) -> Result<Self, RunError> {
        let mu = gauss.mean().to_vec();
        let d = mu.len();
        let dense = d <= DENSE_MAX_DIM;
        let steps: Vec<f64> = gauss
            .coordinate_sd()
            .iter()
            .zip(&mu)
            .map(|(s, m)| (s / 4096.0).max(m.abs() / 67_108_864.0))
            .collect();
        let (f0, g, a) = differences(objective, &mu, &steps, dense)?;
        let h = if dense { symmetrised(&a, d) } else { a };
        let curv = if dense {
            Curvature::Dense(&h)
        } else {
            Curvature::Diagonal(&h)
        };
        let mut expected = vec![0.0; p];
        gauss.expected_gradient(&g, curv, &mut expected);
        let all = std::iter::once(f0)
            .chain(g.iter().copied())
            .chain(h.iter().copied());
        if let Some(bad) = all.clone().find(|v| !v.is_finite()) {
            return Err(RunError::DeltaNotFinite { value: bad });
        }
        Ok(Expansion {
            mu,
            f0,
            g,
            h,
            dense,
            expected,
        })
    }

    /// "dense" or "diagonal": the form of H used.
    pub fn hessian_form(&self) -> &'static str {
        if self.dense { "dense" } else { "diagonal" }
    }

    /// (Hδ)ᵢ for δ = x − μ of one sample.
    fn h_row(&self, i: usize, x: &[f64]) -> f64 {
        let d = self.mu.len();
        if self.dense {
            let row = &self.h[i * d..(i + 1) * d];
            row.iter()
                .zip(x)
                .zip(&self.mu)
                .map(|((h, x), m)| h * (x - m))
                .sum()
        } else {
            self.h[i] * (x[i] - self.mu[i])
        }
    }

    /// ∇h(x) = g + H(x − μ) for each sample (sample-major, like x).
    fn gradient_at(&self, x: &[f64], out: &mut [f64]) {
        let d = self.mu.len();
        for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            for (i, o) in or.iter_mut().enumerate() {
                *o = self.g[i] + self.h_row(i, xr);
            }
        }
    }

    /// h(x) = f(μ) + Σᵢ δᵢ (gᵢ + ½(Hδ)ᵢ) for each sample.
    fn value_at(&self, x: &[f64], out: &mut [f64]) {
        let d = self.mu.len();
        for (xr, o) in x.chunks_exact(d).zip(out.iter_mut()) {
            let quad: f64 = (0..d)
                .map(|i| (xr[i] - self.mu[i]) * (self.g[i] + 0.5 * self.h_row(i, xr)))
                .sum();
            *o = self.f0 + quad;
        }
    }
}

/// f(μ), ∇f(μ) and the rows Aᵢ = (∇f(μ + tᵢeᵢ) − ∇f(μ − tᵢeᵢ))/(2tᵢ) (all d
/// of each row when `dense`, else only Aᵢᵢ), evaluated in blocks of points.
fn differences(
    objective: &Program,
    mu: &[f64],
    steps: &[f64],
    dense: bool,
) -> Result<(f64, Vec<f64>, Vec<f64>), RunError> {
    let d = mu.len();
    let mut ws: Workspace = objective.workspace(BLOCK);
    let want = Want {
        grad_x: true,
        grad_theta: false,
    };
    let o = objective.eval(&mut ws, mu, 1, want);
    let (f0, g) = (o.f[0], o.grad_x.to_vec());
    let mut a = vec![0.0; if dense { d * d } else { d }];
    let mut x = vec![0.0; BLOCK * d];
    let per = BLOCK / 2;
    for start in (0..d).step_by(per) {
        let coords = start..(start + per).min(d);
        let n = 2 * coords.len();
        for (slot, i) in coords.clone().enumerate() {
            for (sign, row) in [(1.0, 2 * slot), (-1.0, 2 * slot + 1)] {
                let xr = &mut x[row * d..(row + 1) * d];
                xr.copy_from_slice(mu);
                xr[i] = mu[i] + sign * steps[i];
            }
        }
        let o = objective.eval(&mut ws, &x[..n * d], n, want);
        for (slot, i) in coords.enumerate() {
            // The step actually taken, after rounding of μᵢ ± tᵢ.
            let width = x[2 * slot * d + i] - x[(2 * slot + 1) * d + i];
            let (plus, minus) = (
                &o.grad_x[2 * slot * d..(2 * slot + 1) * d],
                &o.grad_x[(2 * slot + 1) * d..(2 * slot + 2) * d],
            );
            if dense {
                for j in 0..d {
                    a[i * d + j] = (plus[j] - minus[j]) / width;
                }
            } else {
                a[i] = (plus[i] - minus[i]) / width;
            }
        }
    }
    Ok((f0, g, a))
}

/// (A + Aᵀ)/2.
fn symmetrised(a: &[f64], d: usize) -> Vec<f64> {
    let mut h = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            h[i * d + j] = 0.5 * (a[i * d + j] + a[j * d + i]);
        }
    }
    h
}

/// An estimator with the delta-method control variate in `v`.
pub struct DeltaCv<'a> {
    inner: Box<dyn Sampler + 'a>,
    /// The pullback for the pathwise form; `None` for the score function.
    rep: Option<&'a dyn Reparameterized>,
    expansion: Expansion,
    d: usize,
    p: usize,
}

impl<'a> DeltaCv<'a> {
    /// Wraps `inner` (the pathwise sampler when `rep` is given, else the score
    /// function's, whose step leaves the scores in `v`).
    pub fn new(
        dist: &'a dyn Distribution,
        objective: &Program,
        inner: Box<dyn Sampler + 'a>,
        pathwise: bool,
    ) -> Result<Self, RunError> {
        let gauss = dist.gaussian().ok_or(RunError::NotGaussian)?;
        let p = crate::estimation::distributions::grad_len(dist);
        let rep = if pathwise {
            Some(
                dist.reparameterized()
                    .ok_or(RunError::NoReparameterization)?,
            )
        } else {
            None
        };
        Ok(DeltaCv {
            inner,
            rep,
            expansion: Expansion::new(gauss, objective, p)?,
            d: dist.dim(),
            p,
        })
    }

    /// The expansion used.
    pub fn expansion(&self) -> &Expansion {
        &self.expansion
    }
}

impl Sampler for DeltaCv<'_> {
    /// The inner estimator's, plus d numbers per sample for ∇h(x) (pathwise).
    fn aux_len(&self) -> usize {
        self.inner.aux_len() + if self.rep.is_some() { self.d } else { 0 }
    }

    fn hessian_form(&self) -> Option<&'static str> {
        Some(self.expansion.hessian_form())
    }

    /// The inner estimator's terms u, and v = ũ − ∇θ E h.
    fn step(
        &self,
        objective: &Program,
        rng: &mut SampleRng,
        ws: &mut Workspace,
        batch: &mut Batch,
        b: usize,
    ) -> StepInfo {
        let (d, p) = (self.d, self.p);
        self.inner.step(objective, rng, ws, batch, b);
        let x = &batch.x[..b * d];
        let v = &mut batch.v[..b * p];
        match self.rep {
            Some(rep) => {
                let (aux, rest) = batch.aux.split_at_mut(b * self.inner.aux_len());
                let gh = &mut rest[..b * d];
                self.expansion.gradient_at(x, gh);
                rep.pullback(x, aux, gh, v);
            }
            None => {
                // The score function's step left the scores s in v.
                let h = &mut batch.base[..b];
                self.expansion.value_at(x, h);
                for vk in v.chunks_exact_mut(b) {
                    vk.iter_mut().zip(h.iter()).for_each(|(s, h)| *s *= h);
                }
            }
        }
        for (vk, e) in v.chunks_exact_mut(b).zip(&self.expansion.expected) {
            vk.iter_mut().for_each(|t| *t -= e);
        }
        StepInfo { scores: true }
    }
}
