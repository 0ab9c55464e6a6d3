//! Multivariate normal N(μ, LLᵀ) with a lower-triangular Cholesky factor L
//! (`scale_tril`, positive diagonal).
//!
//! # Density
//! log p(x) = −Σᵢ log Lᵢᵢ − (d/2) log 2π − ½‖z‖²,  z = L⁻¹(x − μ)
//!
//! # Score
//! With z = L⁻¹(x − μ) and w = L⁻ᵀz:  s_μ = w,
//! s_L = lower triangle of (w zᵀ) − diag(1/Lᵢᵢ)   (zero above the diagonal).
//!
//! # Pathwise
//! x = μ + Lε, ε ~ N(0, I):  ∂f/∂μ = ∇f,  ∂f/∂L = lower triangle of (∇f εᵀ).
//!
//! # Delta-method control variate
//! For h(x) = c + gᵀ(x − μ) + ½(x − μ)ᵀH(x − μ): E h = c + ½ tr(H L Lᵀ), so
//! ∇μ E h = g and ∇_L E h = lower triangle of (H L) (H symmetric).

use super::distribution::{Curvature, Distribution, FamilyInfo, Gaussian, Reparameterized};
use super::spec::{
    Constraint, ExampleValue, Param, ParamError, ParamInput, ParamSpec, ParamValue, Shape, vector,
};
use crate::estimation::estimator::EstimatorKind;
use crate::estimation::rng::SampleRng;
use crate::estimation::sampling::{BaseNoise, base_normals};

pub static FAMILY: FamilyInfo = FamilyInfo {
    name: "multivariate_normal",
    doc: "Multivariate normal N(loc, L·Lᵀ) given by its Cholesky factor scale_tril = L. \
          x is a vector of length d.",
    params: &[
        ParamSpec {
            name: "loc",
            shape: Shape::Vector,
            constraint: Constraint::Real,
            differentiable: true,
            required: true,
            doc: "mean vector μ (length d)",
        },
        ParamSpec {
            name: "scale_tril",
            shape: Shape::Matrix,
            constraint: Constraint::LowerTriangular,
            differentiable: true,
            required: true,
            doc: "Cholesky factor L of the covariance (d rows of d numbers); its gradient \
                  has the same shape, zero above the diagonal",
        },
    ],
    alternatives: &[],
    estimators: &[
        EstimatorKind::Reparameterization,
        EstimatorKind::ScoreFunction,
    ],
    example: &[
        ("loc", ExampleValue::Vector(&[0.5, -1.0])),
        (
            "scale_tril",
            ExampleValue::Matrix(&[&[1.0, 0.0], &[0.3, 0.8]]),
        ),
    ],
    build,
};

fn build(input: &ParamInput) -> Result<Box<dyn Distribution>, ParamError> {
    let loc = vector(input, "loc");
    let Some(ParamValue::Matrix(rows)) = input.get("scale_tril") else {
        return Err(ParamError::new(&["scale_tril"], "scale_tril is required"));
    };
    let d = loc.len();
    let tril: Vec<f64> = rows.iter().flatten().copied().collect();
    debug_assert_eq!(tril.len(), d * d);
    Ok(Box::new(MultivariateNormal::new(loc, tril)))
}

/// N(μ, LLᵀ).
#[derive(Debug, Clone)]
pub struct MultivariateNormal {
    params: [Param; 2],
    d: usize,
}

impl MultivariateNormal {
    /// From μ (length d) and L flattened row-major (d², validated).
    pub(super) fn new(loc: Vec<f64>, tril: Vec<f64>) -> Self {
        let d = loc.len();
        MultivariateNormal {
            params: [
                Param::vector("loc", loc),
                Param {
                    name: "scale_tril",
                    values: tril,
                    shape: vec![d, d],
                    differentiable: true,
                },
            ],
            d,
        }
    }

    fn loc(&self) -> &[f64] {
        &self.params[0].values
    }

    fn tril(&self) -> &[f64] {
        &self.params[1].values
    }

    /// x = μ + Lε for each row.
    fn transform(&self, eps: &[f64], x: &mut [f64]) {
        let (d, l, m) = (self.d, self.tril(), self.loc());
        for (xr, er) in x.chunks_exact_mut(d).zip(eps.chunks_exact(d)) {
            for i in 0..d {
                let row = &l[i * d..i * d + i + 1];
                xr[i] = m[i] + row.iter().zip(er).map(|(a, e)| a * e).sum::<f64>();
            }
        }
    }
}

impl Distribution for MultivariateNormal {
    fn family(&self) -> &'static FamilyInfo {
        &FAMILY
    }

    fn dim(&self) -> usize {
        self.d
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn sample(&self, rng: &mut SampleRng, x: &mut [f64]) {
        let mut eps = vec![0.0; x.len()];
        base_normals(rng, &mut eps, self.d);
        self.transform(&eps, x);
    }

    fn base_noise(&self) -> Option<BaseNoise> {
        Some(BaseNoise::Normal)
    }

    fn score(&self, x: &[f64], s: &mut [f64]) {
        let (d, l, m) = (self.d, self.tril(), self.loc());
        let b = x.len() / d;
        let mut z = vec![0.0; d];
        let mut w = vec![0.0; d];
        let (s_loc, s_tril) = s.split_at_mut(d * b);
        for r in 0..b {
            let xr = &x[r * d..(r + 1) * d];
            // Forward substitution: L z = x − μ.
            for i in 0..d {
                let acc: f64 = (0..i).map(|j| l[i * d + j] * z[j]).sum();
                z[i] = (xr[i] - m[i] - acc) / l[i * d + i];
            }
            // Back substitution: Lᵀ w = z.
            for i in (0..d).rev() {
                let acc: f64 = (i + 1..d).map(|j| l[j * d + i] * w[j]).sum();
                w[i] = (z[i] - acc) / l[i * d + i];
            }
            for i in 0..d {
                s_loc[i * b + r] = w[i];
                for j in 0..d {
                    let k = i * d + j;
                    s_tril[k * b + r] = match j.cmp(&i) {
                        std::cmp::Ordering::Less => w[i] * z[j],
                        std::cmp::Ordering::Equal => w[i] * z[i] - 1.0 / l[k],
                        std::cmp::Ordering::Greater => 0.0,
                    };
                }
            }
        }
    }

    fn reparameterized(&self) -> Option<&dyn Reparameterized> {
        Some(self)
    }

    fn gaussian(&self) -> Option<&dyn Gaussian> {
        Some(self)
    }
}

impl Gaussian for MultivariateNormal {
    fn mean(&self) -> &[f64] {
        self.loc()
    }

    /// √Σᵢᵢ = ‖row i of L‖.
    fn coordinate_sd(&self) -> Vec<f64> {
        let (d, l) = (self.d, self.tril());
        (0..d)
            .map(|i| {
                l[i * d..i * d + i + 1]
                    .iter()
                    .map(|v| v * v)
                    .sum::<f64>()
                    .sqrt()
            })
            .collect()
    }

    fn expected_gradient(&self, g: &[f64], h: Curvature<'_>, out: &mut [f64]) {
        let (d, l) = (self.d, self.tril());
        out[..d].copy_from_slice(g);
        let out_l = &mut out[d..];
        for i in 0..d {
            for j in 0..d {
                // (HL)ᵢⱼ = Σₖ Hᵢₖ Lₖⱼ, with Lₖⱼ = 0 for k < j.
                out_l[i * d + j] = if j <= i {
                    (j..d).map(|k| h.at(i, k, d) * l[k * d + j]).sum()
                } else {
                    0.0
                };
            }
        }
    }
}

impl Reparameterized for MultivariateNormal {
    fn aux_len(&self) -> usize {
        self.d
    }

    fn rsample(&self, rng: &mut SampleRng, x: &mut [f64], aux: &mut [f64]) {
        base_normals(rng, aux, self.d);
        self.transform(aux, x);
    }

    fn pullback(&self, _x: &[f64], eps: &[f64], gx: &[f64], g: &mut [f64]) {
        let d = self.d;
        let b = gx.len() / d;
        let (g_loc, g_tril) = g.split_at_mut(d * b);
        for r in 0..b {
            let (gr, er) = (&gx[r * d..(r + 1) * d], &eps[r * d..(r + 1) * d]);
            for i in 0..d {
                g_loc[i * b + r] = gr[i];
                for j in 0..d {
                    g_tril[(i * d + j) * b + r] = if j <= i { gr[i] * er[j] } else { 0.0 };
                }
            }
        }
    }
}
