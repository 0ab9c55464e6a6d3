//! Score function (REINFORCE) terms.
//!
//! ĝ = (1/N) Σᵢ [ ∇θf(xᵢ;θ) + (f(xᵢ;θ) − bᵢ)·s(xᵢ) ],  s = ∇θ log p_θ(x),
//!
//! unbiased for any bᵢ independent of xᵢ, because E\[s\] = 0.

use super::{Batch, Sampler, StepInfo};
use crate::estimation::distributions::{Distribution, LogSpace, grad_len, log_len};
use crate::estimation::estimator::Baseline;
use crate::estimation::objective::{Program, Want, Workspace};
use crate::estimation::rng::SampleRng;
use crate::estimation::simd;
use crate::estimation::stats::sum;

/// The score function with its baseline, on a distribution.
pub struct ScoreFunction<'a> {
    dist: &'a dyn Distribution,
    /// The log-space form, for a family drawn there.
    log: Option<&'a dyn LogSpace>,
    baseline: Baseline,
}

impl<'a> ScoreFunction<'a> {
    /// Every family has a score, so this always applies.
    pub fn new(dist: &'a dyn Distribution, baseline: Baseline) -> Self {
        ScoreFunction {
            dist,
            log: dist.log_space(),
            baseline,
        }
    }
}

impl Sampler for ScoreFunction<'_> {
    fn aux_len(&self) -> usize {
        0
    }

    /// Score-function terms of a batch: f, the scores into v, u = ∇θf + (f − b)·s.
    fn step(
        &self,
        objective: &Program,
        rng: &mut SampleRng,
        ws: &mut Workspace,
        batch: &mut Batch,
        b: usize,
    ) -> StepInfo {
        let dist = self.dist;
        let (d, p) = (dist.dim(), grad_len(dist));
        let direct = objective.has_direct_gradient();
        let x = &mut batch.x[..b * d];
        let logx = &mut batch.logx[..b * log_len(dist)];
        match self.log {
            Some(l) => l.sample_log(rng, x, logx),
            None => dist.sample(rng, x),
        }
        let want = Want {
            grad_x: false,
            grad_theta: direct,
        };
        let o = objective.eval_logs(ws, x, logx, b, want);
        let f = &mut batch.f[..b];
        f.copy_from_slice(o.f);
        let s = &mut batch.v[..b * p];
        match self.log {
            Some(l) => l.score_log(x, logx, s),
            None => dist.score(x, s),
        }
        let base: &[f64] = match self.baseline {
            Baseline::None | Baseline::Optimal => &[],
            Baseline::Constant(ref c) => std::slice::from_ref(c),
            Baseline::LeaveOneOut => {
                leave_one_out(f, &mut batch.base[..b]);
                &batch.base[..b]
            }
        };
        let u = &mut batch.u[..b * p];
        terms(f, base, s, direct.then_some(o.grad_theta), u);
        StepInfo {
            scores: self.baseline == Baseline::Optimal,
        }
    }
}

/// Leave-one-out baselines within a batch: bᵢ = (Σⱼ fⱼ − fᵢ)/(m − 1).
/// Entries of `f` that are not finite are left out of the sum (their samples are
/// dropped by the caller); `out[i]` is then only meaningful for finite fᵢ.
pub fn leave_one_out(f: &[f64], out: &mut [f64]) {
    // The vectorised sum when every fᵢ is finite (then so is the sum, unless it
    // overflowed); otherwise the sum over the finite ones, in order.
    let all = sum(f);
    let (sum, m) = if all.is_finite() {
        (all, f.len())
    } else {
        f.iter()
            .filter(|v| v.is_finite())
            .fold((0.0, 0usize), |(s, m), v| (s + v, m + 1))
    };
    if m < 2 {
        out.fill(0.0);
        return;
    }
    let inv = 1.0 / (m - 1) as f64;
    for (o, v) in out.iter_mut().zip(f) {
        *o = (sum - v) * inv;
    }
}

/// Per-sample terms `u[k·b + r] = direct[k·b + r] + (f[r] − base[r])·s[k·b + r]`,
/// where `base` is empty for no baseline, one number for a constant, or b numbers.
pub fn terms(f: &[f64], base: &[f64], s: &[f64], direct: Option<&[f64]>, u: &mut [f64]) {
    simd::dispatch(
        #[inline(always)]
        || {
            let b = f.len();
            for (k, (uk, sk)) in u.chunks_exact_mut(b).zip(s.chunks_exact(b)).enumerate() {
                match base.len() {
                    0 => {
                        for ((o, fv), sv) in uk.iter_mut().zip(f).zip(sk) {
                            *o = fv * sv;
                        }
                    }
                    1 => {
                        let c = base[0];
                        for ((o, fv), sv) in uk.iter_mut().zip(f).zip(sk) {
                            *o = (fv - c) * sv;
                        }
                    }
                    _ => {
                        for (((o, fv), bv), sv) in uk.iter_mut().zip(f).zip(base).zip(sk) {
                            *o = (fv - bv) * sv;
                        }
                    }
                }
                if let Some(d) = direct {
                    for (o, dv) in uk.iter_mut().zip(&d[k * b..(k + 1) * b]) {
                        *o += dv;
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leave_one_out_excludes_the_sample_itself() {
        let f = [1.0, 2.0, 6.0];
        let mut b = [0.0; 3];
        leave_one_out(&f, &mut b);
        assert_eq!(b, [4.0, 3.5, 1.5]);
    }

    #[test]
    fn terms_apply_baseline_and_direct_part() {
        let f = [2.0, 3.0];
        let s = [1.0, -1.0, 0.5, 2.0];
        let d = [10.0, 20.0, 30.0, 40.0];
        let mut u = [0.0; 4];
        terms(&f, &[1.0], &s, Some(&d), &mut u);
        assert_eq!(u, [11.0, 18.0, 30.5, 44.0]);
    }
}
