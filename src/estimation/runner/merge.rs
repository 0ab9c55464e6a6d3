//! The deterministic merge of the chunk summaries, in chunk order: totals,
//! the cross-fitted optimal baseline, and each component's mean, variance and
//! batch-means standard error.

use super::chunk::ChunkOut;
use crate::estimation::distributions::{Constraint, Distribution, grad_len};
use crate::estimation::error::RunError;
use crate::estimation::estimator::{Baseline, Estimator};
use crate::estimation::job::Job;
use crate::estimation::sampling::Sampling;
use crate::estimation::stats::{CoMoments, Moments, batch_means_se};

/// Everything the merged chunks say, before warnings.
#[derive(Debug, Clone)]
pub(super) struct Merged {
    pub f: Moments,
    /// Under antithetic or rqmc sampling, the standard error of f's mean by
    /// batch means over the chunks (iid keeps √(Var f/N), as pinned).
    pub f_std_error: Option<f64>,
    pub xs: Vec<Moments>,
    pub non_finite: u64,
    pub underflow: u64,
    /// Some squares overflowed in some chunk.
    pub overflow: bool,
    pub gradient: Vec<f64>,
    pub variance: Vec<f64>,
    pub std_error: Vec<f64>,
    /// The baseline applied, per component (score function only).
    pub baseline: Option<Vec<f64>>,
    /// The delta control variate's coefficient β, per component (mean over chunks).
    pub cv_coefficient: Option<Vec<f64>>,
    /// A cross-fitted coefficient was asked for, but one chunk cannot be cross-fitted.
    pub cross_fit_skipped: bool,
}

/// Merges the chunks of a job, in chunk order.
pub(super) fn merge(job: &Job, outs: &[ChunkOut<'_>]) -> Result<Merged, RunError> {
    let dist = job.distribution.as_ref();
    let (d, p) = (dist.dim(), grad_len(dist));
    let mut m = Merged {
        f: Moments::default(),
        f_std_error: None,
        xs: vec![Moments::default(); d],
        non_finite: 0,
        underflow: 0,
        overflow: outs.iter().any(|o| o.overflow),
        gradient: vec![0.0; p],
        variance: vec![0.0; p],
        std_error: vec![0.0; p],
        baseline: None,
        cv_coefficient: None,
        cross_fit_skipped: false,
    };
    for o in outs {
        m.f.merge(&o.f);
        for (a, b) in m.xs.iter_mut().zip(o.x) {
            a.merge(b);
        }
        m.non_finite += o.non_finite;
        m.underflow += o.underflow;
    }
    // With (nearly) every sample dropped there is nothing to estimate from: a
    // gradient of 0 ± 0 would claim certainty that no sample supports.
    if m.non_finite > 0 && m.f.n < 2.0 {
        return Err(RunError::TooFewFinite {
            dropped: m.non_finite,
            total: job.samples,
            kept: m.f.n as u64,
        });
    }
    if job.sampling != Sampling::Iid {
        m.f_std_error = batch_means_se(outs.iter().map(|o| (o.f.n, o.f.mean)));
    }
    let coef = coefficients(job, outs, p, &mut m);
    components(outs, &coef, &mut m);
    for k in fixed_zeros(dist) {
        m.gradient[k] = 0.0;
        m.variance[k] = 0.0;
        m.std_error[k] = 0.0;
    }
    if let Estimator::ScoreFunction { baseline } = job.estimator {
        match baseline {
            Baseline::Constant(b) => m.baseline = Some(vec![b; p]),
            Baseline::None => m.baseline = Some(vec![0.0; p]),
            _ => {}
        }
    }
    Ok(m)
}

/// Per chunk c and component k, the coefficient applied to v, at `c·p + k`:
/// the cross-fitted optimal baseline or control-variate coefficient β
/// (reported as its mean over the chunks), else 0.
fn coefficients(job: &Job, outs: &[ChunkOut<'_>], p: usize, m: &mut Merged) -> Vec<f64> {
    let mut coef = vec![0.0; outs.len() * p];
    if job.estimator.cross_fits() {
        if outs.len() < 2 {
            m.cross_fit_skipped = true;
        } else {
            cross_fit(outs, p, &mut coef);
        }
        let mean_b: Vec<f64> = (0..p)
            .map(|k| coef.chunks_exact(p).map(|c| c[k]).sum::<f64>() / outs.len() as f64)
            .collect();
        if matches!(job.estimator, Estimator::Delta(_)) {
            m.cv_coefficient = Some(mean_b);
        } else {
            m.baseline = Some(mean_b);
        }
    }
    coef
}

/// Each component k: the terms uᵢ − b_c·vᵢ of chunk c merged over the chunks;
/// the gradient is their mean, `variance` the per-sample variance, and the
/// standard error comes from the chunk means (batch means), or √(var/n) when
/// there are too few chunks for that.
fn components(outs: &[ChunkOut<'_>], coef: &[f64], m: &mut Merged) {
    let p = m.gradient.len();
    for k in 0..p {
        let per_chunk: Vec<Moments> = outs
            .iter()
            .enumerate()
            .map(|(c, o)| o.terms[k].apply(coef[c * p + k]))
            .collect();
        let mut all = Moments::default();
        per_chunk.iter().for_each(|q| all.merge(q));
        m.gradient[k] = all.mean;
        m.variance[k] = all.variance();
        m.std_error[k] = batch_means_se(per_chunk.iter().map(|q| (q.n, q.mean)))
            .unwrap_or_else(|| (all.variance() / all.n.max(1.0)).sqrt());
    }
}

/// Leave-one-chunk-out optimal baselines: for chunk c and component k,
/// b = C_uv/M2_v of all chunks but c (merged from prefix and suffix summaries,
/// in a fixed order), so b is independent of chunk c's samples.
fn cross_fit(outs: &[ChunkOut<'_>], p: usize, coef: &mut [f64]) {
    let c = outs.len();
    for k in 0..p {
        let mut suffix = vec![CoMoments::default(); c + 1];
        for i in (0..c).rev() {
            let mut m = outs[i].terms[k];
            m.merge(&suffix[i + 1]);
            suffix[i] = m;
        }
        let mut prefix = CoMoments::default();
        for (i, (row, out)) in coef.chunks_exact_mut(p).zip(outs).enumerate() {
            let mut rest = prefix;
            rest.merge(&suffix[i + 1]);
            row[k] = rest.optimal_b();
            prefix.merge(&out.terms[k]);
        }
    }
}

/// Gradient components that are not free parameters: the entries above the
/// diagonal of a lower-triangular matrix parameter (such as `scale_tril`), fixed
/// at 0. f may reference the whole matrix, so its direct term ∇θf has entries
/// there; the gradient keeps them at exactly 0.
fn fixed_zeros(dist: &dyn Distribution) -> Vec<usize> {
    let specs = dist.family().params;
    let mut out = Vec::new();
    let mut offset = 0;
    for q in dist.params().iter().filter(|q| q.differentiable) {
        let lower = specs
            .iter()
            .any(|s| s.name == q.name && s.constraint == Constraint::LowerTriangular);
        if let (true, &[rows, cols]) = (lower, q.shape.as_slice()) {
            out.extend((0..rows).flat_map(|i| (i + 1..cols).map(move |j| offset + i * cols + j)));
        }
        offset += q.values.len();
    }
    out
}
