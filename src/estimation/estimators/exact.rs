//! Exact enumeration of a finite support: the ground truth that shows bias.
//!
//! L(θ) = Σₖ pₖ f(eₖ; θ), so
//! ∇θL = Σₖ pₖ [ ∇θf(eₖ; θ) + f(eₖ; θ)·s(eₖ) ],  s = ∇θ log p_θ,
//! which for a categorical with logits z is pₖ (f(eₖ) − Σⱼ pⱼ f(eⱼ)) componentwise.

use crate::estimation::distributions::{Distribution, grad_len};
use crate::estimation::error::RunError;
use crate::estimation::estimator::{Estimator, EstimatorKind};
use crate::estimation::job::Job;
use crate::estimation::objective::Want;
use crate::estimation::result::{
    CategoryFit, Diagnostics, Estimate, ParamLayout, Reference, SamplingReport, Summary,
};
use crate::estimation::special::gamma_q;
use crate::estimation::stats::Moments;

/// Everything enumeration gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Exact {
    pub gradient: Vec<f64>,
    pub mean: f64,
    pub variance: f64,
    pub x_mean: Vec<f64>,
    pub x_variance: Vec<f64>,
    pub outcomes: u64,
}

/// Outcomes evaluated per batch.
const BATCH: usize = 512;

/// Whether the job's distribution can be enumerated within its limit.
pub fn feasible(dist: &dyn Distribution, max_outcomes: u64) -> bool {
    dist.enumerable()
        .and_then(|e| e.outcomes())
        .is_some_and(|n| n <= max_outcomes)
}

impl Exact {
    /// The gradient and objective as a reference for a sampled estimate.
    pub fn reference(&self) -> Reference {
        Reference {
            method: "enumeration",
            gradient: self.gradient.clone(),
            objective: self.mean,
        }
    }

    /// The exact estimator's result: no noise and no sampling; `elapsed` in
    /// seconds.
    pub fn into_estimate(self, layout: Vec<ParamLayout>, seed: u64, elapsed: f64) -> Estimate {
        let p = self.gradient.len();
        let reference = Some(self.reference());
        Estimate {
            estimator: EstimatorKind::Exact,
            unbiased: true,
            layout,
            gradient: self.gradient,
            variance: vec![0.0; p],
            std_error: vec![0.0; p],
            objective: Summary {
                mean: self.mean,
                variance: self.variance,
                std_error: 0.0,
            },
            reference,
            diagnostics: Diagnostics {
                samples: 0,
                seed,
                elapsed_ms: elapsed * 1e3,
                samples_per_second: 0.0,
                non_finite: 0,
                underflow: 0,
                sample_mean: self.x_mean,
                sample_variance: self.x_variance,
                baseline: None,
                category_frequencies: None,
                control_variate: None,
                chunks: 0,
                sampling: SamplingReport {
                    method: "iid",
                    std_error: "none: exact enumeration has no noise".into(),
                },
                evaluations_per_sample: 0.0,
                warnings: vec![format!(
                    "exact enumeration over {} outcomes; no sampling was done",
                    self.outcomes
                )],
            },
        }
    }
}

/// Enumerates the job's distribution when it is small enough, else `None`.
pub fn enumerate_if_feasible(job: &Job) -> Result<Option<Exact>, RunError> {
    if !feasible(job.distribution.as_ref(), job.max_outcomes) {
        return Ok(None);
    }
    enumerate(job).map(Some)
}

/// Enumerates every outcome.
pub fn enumerate(job: &Job) -> Result<Exact, RunError> {
    let dist = job.distribution.as_ref();
    let en = dist.enumerable().ok_or(RunError::NotEnumerable)?;
    let total = en.outcomes().unwrap_or(u64::MAX);
    let (d, p) = (dist.dim(), grad_len(dist));
    let prog = &job.objective;
    let direct = prog.has_direct_gradient();
    let mut ws = prog.workspace(BATCH);
    let mut x = vec![0.0; BATCH * d];
    let mut s = vec![0.0; p];
    let mut scores = vec![0.0; BATCH * p];
    let mut probs = vec![0.0; BATCH];
    let mut gradient = vec![0.0; p];
    let (mut mean, mut second) = (0.0, 0.0);
    let mut x_mean = vec![0.0; d];
    let mut x_second = vec![0.0; d];
    let mut k = 0u64;
    while k < total {
        let b = (total - k).min(BATCH as u64) as usize;
        for r in 0..b {
            probs[r] = en.outcome(k + r as u64, &mut x[r * d..(r + 1) * d], &mut s);
            for (j, sv) in s.iter().enumerate() {
                scores[j * b + r] = *sv;
            }
        }
        let o = prog.eval(
            &mut ws,
            &x[..b * d],
            b,
            Want {
                grad_x: false,
                grad_theta: direct,
            },
        );
        for r in 0..b {
            let (pr, fv) = (probs[r], o.f[r]);
            if pr == 0.0 {
                continue;
            }
            if !fv.is_finite() {
                return Err(RunError::NonFiniteOutcome {
                    x: x[r * d..(r + 1) * d].to_vec(),
                    f: fv,
                });
            }
            mean += pr * fv;
            second += pr * fv * fv;
            for j in 0..d {
                let xv = x[r * d + j];
                x_mean[j] += pr * xv;
                x_second[j] += pr * xv * xv;
            }
            for (j, g) in gradient.iter_mut().enumerate() {
                let dv = if direct { o.grad_theta[j * b + r] } else { 0.0 };
                *g += pr * (dv + fv * scores[j * b + r]);
            }
        }
        k += b as u64;
    }
    Ok(Exact {
        gradient,
        mean,
        variance: (second - mean * mean).max(0.0),
        x_variance: x_mean
            .iter()
            .zip(&x_second)
            .map(|(m, s)| (s - m * m).max(0.0))
            .collect(),
        x_mean,
        outcomes: total,
    })
}

/// For a categorical sampled by Gumbel-Max (score function, or straight-through
/// whose forward sample is a real one-hot), the observed frequencies — the mean of
/// the one-hot samples — against softmax(logits), with Pearson's
/// χ² = Σₖ (Oₖ − Eₖ)²/Eₖ on K − 1 degrees of freedom and its upper-tail p-value
/// Q((K − 1)/2, χ²/2).
pub fn category_fit(
    dist: &dyn Distribution,
    estimator: &Estimator,
    x: &[Moments],
    n: f64,
) -> Option<CategoryFit> {
    let real_samples = match estimator {
        Estimator::ScoreFunction { .. } => true,
        Estimator::GumbelSoftmax { hard, .. } => *hard,
        _ => false,
    };
    let expected = dist.category_probs()?;
    if !real_samples || n <= 0.0 || expected.len() < 2 {
        return None;
    }
    let frequencies: Vec<f64> = x.iter().map(|m| m.mean).collect();
    let chi_square: f64 = frequencies
        .iter()
        .zip(&expected)
        .filter(|(_, e)| **e > 0.0)
        .map(|(o, e)| n * (o - e) * (o - e) / e)
        .sum();
    let dof = expected
        .iter()
        .filter(|e| **e > 0.0)
        .count()
        .saturating_sub(1);
    let p_value = if dof == 0 {
        1.0
    } else {
        gamma_q(dof as f64 / 2.0, chi_square / 2.0)
    };
    Some(CategoryFit {
        frequencies,
        expected,
        chi_square,
        degrees_of_freedom: dof,
        p_value,
    })
}
