//! The warnings of a sampled result: one check per kind, in [`CHECKS`], each
//! deciding from the job, its plan and the merged chunks alone.

use super::merge::Merged;
use super::plan::{MIN_CHUNKS, Plan};
use crate::estimation::estimator::Estimator;
use crate::estimation::job::Job;

/// What a warning is decided from.
pub(super) struct Facts<'a> {
    pub job: &'a Job,
    pub plan: &'a Plan,
    pub merged: &'a Merged,
}

type Check = fn(&Facts<'_>) -> Option<String>;

/// Every warning, in the order a result lists them.
const CHECKS: [Check; 8] = [
    cross_fit_skipped,
    few_chunks,
    pathwise_step,
    dropped,
    underflow,
    overflow,
    constant_objective,
    biased,
];

/// The result's warnings.
pub(super) fn warnings(facts: &Facts<'_>) -> Vec<String> {
    CHECKS.iter().filter_map(|check| check(facts)).collect()
}

fn cross_fit_skipped(facts: &Facts<'_>) -> Option<String> {
    facts.merged.cross_fit_skipped.then(|| {
        let what = if facts.merged.cv_coefficient.is_some() {
            "the delta control variate's coefficient; no control variate was applied"
        } else {
            "the optimal baseline; no baseline was applied"
        };
        format!("too few samples to cross-fit {what}")
    })
}

fn few_chunks(facts: &Facts<'_>) -> Option<String> {
    let chunks = facts.plan.chunks;
    (chunks < MIN_CHUNKS as usize && facts.job.samples >= 2 * MIN_CHUNKS).then(|| {
        format!(
            "the parameter vector is so large that only {chunks} chunks fit the memory budget; \
             std_error rests on that few batch means and is itself uncertain"
        )
    })
}

fn pathwise_step(facts: &Facts<'_>) -> Option<String> {
    let job = facts.job;
    (job.estimator == Estimator::Reparameterization && job.objective.has_step()).then(|| {
        "the objective compares an x-dependent value (a step): the pathwise gradient \
         misses the jump and is biased; use score_function for such f"
            .to_string()
    })
}

fn dropped(facts: &Facts<'_>) -> Option<String> {
    let non_finite = facts.merged.non_finite;
    (non_finite > 0).then(|| {
        format!(
            "{non_finite} samples had a non-finite objective or gradient and were dropped; \
             the estimate covers the rest only"
        )
    })
}

fn underflow(facts: &Facts<'_>) -> Option<String> {
    let underflow = facts.merged.underflow;
    (underflow > 0).then(|| {
        format!(
            "{underflow} of {} samples had an entry of x below 2.2e-308 (the smallest normal \
             64-bit float), so x holds 0 or a subnormal there while the objective uses x itself: \
             f and its gradient saw the rounded x at those samples. log(x), log(x[i]) (and for \
             beta log(1 - x), log1p(-x)) read the exact value drawn in log space; write f \
             through them where it matters (such as 1/x or x^-k)",
            facts.job.samples
        )
    })
}

fn overflow(facts: &Facts<'_>) -> Option<String> {
    facts.merged.overflow.then(|| {
        "some values are so large (beyond about 1e154) that their squares overflow 64-bit \
         floats: the variances affected are not finite and are reported as null"
            .to_string()
    })
}

fn constant_objective(facts: &Facts<'_>) -> Option<String> {
    (!facts.job.objective.depends_on_x()).then(|| "the objective does not depend on x".to_string())
}

fn biased(facts: &Facts<'_>) -> Option<String> {
    match facts.job.estimator {
        Estimator::GumbelSoftmax { temperature, .. } => Some(format!(
            "Gumbel-Softmax at temperature {temperature} is biased; compare with the reference"
        )),
        Estimator::ReinMax { temperature } => Some(format!(
            "ReinMax at temperature {temperature} is biased; compare with the reference"
        )),
        Estimator::GumbelRao { temperature, .. } => Some(format!(
            "Gumbel-Rao at temperature {temperature} is biased (as straight-through \
             Gumbel-Softmax is); compare with the reference"
        )),
        _ => None,
    }
}
