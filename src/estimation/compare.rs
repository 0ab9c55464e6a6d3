//! Ranking several estimators run on one problem (same samples, same seed).
//!
//! For each estimate:
//!
//!   biasₖ = gradientₖ − referenceₖ              (when an exact reference exists)
//!   within noise ⇔ |biasₖ| ≤ 4.5·std_errorₖ for every k
//!                                               (no reference: the estimator is unbiased)
//!   work-normalised variance = (1/p)·Σₖ varianceₖ × (elapsed seconds / N)
//!
//! The last is the variance of the estimate that one second of this machine's
//! time would give: an estimator twice as fast at twice the variance ties. It is
//! 0 for exact enumeration (N = 0).
//!
//! Rank 1 is best: first the estimates whose bias is within noise, by
//! work-normalised variance, then the others, by work-normalised variance. A
//! NaN ranks with +∞, after every finite figure; ties keep the input order.

use super::result::Estimate;

/// How many standard errors a bias may be and still count as noise (about a
/// 1-in-150,000 false alarm per component for a normal estimate).
pub const BIAS_NOISE_SE: f64 = 4.5;

/// One estimate's place in a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// gradient − reference, flat in the estimate's layout order, when a
    /// reference exists.
    pub bias: Option<Vec<f64>>,
    /// Whether the bias is within noise (see the module's formulas).
    pub bias_within_noise: bool,
    /// Mean over gradient components of variance × seconds per sample.
    pub work_normalized_variance: f64,
    /// 1 is best.
    pub rank: usize,
}

/// The standings of `estimates`, in their order.
pub fn rank<'a>(estimates: impl IntoIterator<Item = &'a Estimate>) -> Vec<Standing> {
    let mut rows: Vec<Standing> = estimates.into_iter().map(standing).collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    // A NaN (of either sign) ranks with +∞, after every finite figure.
    let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
    order.sort_by(|&a, &b| {
        let (ra, rb) = (&rows[a], &rows[b]);
        rb.bias_within_noise
            .cmp(&ra.bias_within_noise)
            .then(key(ra.work_normalized_variance).total_cmp(&key(rb.work_normalized_variance)))
    });
    for (rank, i) in order.into_iter().enumerate() {
        rows[i].rank = rank + 1;
    }
    rows
}

/// Bias and work-normalised variance of one estimate (rank still 0).
fn standing(e: &Estimate) -> Standing {
    let mut bias = None;
    let within = match &e.reference {
        Some(r) => {
            let flat: Vec<f64> = e
                .gradient
                .iter()
                .zip(&r.gradient)
                .map(|(g, t)| g - t)
                .collect();
            let ok = flat
                .iter()
                .zip(&e.std_error)
                .all(|(b, se)| b.abs() <= BIAS_NOISE_SE * se);
            bias = Some(flat);
            ok
        }
        None => e.unbiased,
    };
    let per_sample_seconds = if e.diagnostics.samples == 0 {
        0.0
    } else {
        e.diagnostics.elapsed_ms / 1e3 / e.diagnostics.samples as f64
    };
    let mean_variance = if e.variance.is_empty() {
        0.0
    } else {
        e.variance.iter().sum::<f64>() / e.variance.len() as f64
    };
    Standing {
        bias,
        bias_within_noise: within,
        work_normalized_variance: mean_variance * per_sample_seconds,
        rank: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimation::EstimatorKind;
    use crate::estimation::result::{Diagnostics, Reference, Summary};

    /// An estimate with the figures a ranking reads; the rest is filler.
    fn estimate(
        unbiased: bool,
        gradient: &[f64],
        variance: &[f64],
        std_error: &[f64],
        elapsed_ms: f64,
        samples: u64,
        reference: Option<&[f64]>,
    ) -> Estimate {
        Estimate {
            estimator: EstimatorKind::ScoreFunction,
            unbiased,
            layout: Vec::new(),
            gradient: gradient.to_vec(),
            variance: variance.to_vec(),
            std_error: std_error.to_vec(),
            objective: Summary {
                mean: 0.0,
                variance: 0.0,
                std_error: 0.0,
            },
            reference: reference.map(|g| Reference {
                method: "enumeration",
                gradient: g.to_vec(),
                objective: 0.0,
            }),
            diagnostics: Diagnostics {
                samples,
                seed: 1,
                elapsed_ms,
                samples_per_second: 0.0,
                non_finite: 0,
                underflow: 0,
                sample_mean: Vec::new(),
                sample_variance: Vec::new(),
                baseline: None,
                category_frequencies: None,
                control_variate: None,
                chunks: 1,
                sampling: crate::estimation::result::SamplingReport {
                    method: "iid",
                    std_error: String::new(),
                },
                evaluations_per_sample: 1.0,
                warnings: Vec::new(),
            },
        }
    }

    #[test]
    fn work_normalised_variance_is_mean_variance_times_seconds_per_sample() {
        // (2 + 4)/2 × (500 ms / 1000 samples) = 3 × 5e-4.
        let e = estimate(true, &[0.0; 2], &[2.0, 4.0], &[0.1; 2], 500.0, 1000, None);
        let s = &rank([&e])[0];
        assert_eq!(s.work_normalized_variance, 3.0 * 5e-4);
        assert_eq!(
            (s.bias.as_ref(), s.bias_within_noise, s.rank),
            (None, true, 1)
        );
        // Exact enumeration draws nothing: 0.
        let exact = estimate(true, &[0.0], &[0.0], &[0.0], 3.0, 0, Some(&[0.0]));
        assert_eq!(rank([&exact])[0].work_normalized_variance, 0.0);
    }

    #[test]
    fn a_bias_counts_as_noise_up_to_4_5_standard_errors_in_every_component() {
        let reference: &[f64] = &[1.0, -1.0];
        let se = &[0.1, 0.2];
        let within = estimate(
            false,
            &[1.44, -1.89],
            &[1.0; 2],
            se,
            1.0,
            10,
            Some(reference),
        );
        let beyond = estimate(
            false,
            &[1.0, -1.91],
            &[1.0; 2],
            se,
            1.0,
            10,
            Some(reference),
        );
        let s = rank([&within, &beyond]);
        let bias = s[0].bias.as_ref().unwrap();
        assert!((bias[0] - 0.44).abs() < 1e-12 && (bias[1] + 0.89).abs() < 1e-12);
        assert!(s[0].bias_within_noise);
        assert!(!s[1].bias_within_noise, "|−0.91| > 4.5 × 0.2: {:?}", s[1]);
        // Without a reference, only the estimator's own claim is known.
        let biased = estimate(false, &[0.0], &[1.0], &[0.1], 1.0, 10, None);
        assert!(!rank([&biased])[0].bias_within_noise);
    }

    #[test]
    fn estimates_within_noise_rank_first_then_by_work_normalised_variance() {
        let r: &[f64] = &[0.0];
        // Work-normalised variances: 1e-3, 1e-4, NaN, 1e-5 (biased), 2e-3.
        let slow = estimate(true, &[0.0], &[1.0], &[1.0], 1.0, 1, Some(r));
        let fast = estimate(true, &[0.0], &[0.1], &[1.0], 1.0, 1, Some(r));
        let nan = estimate(true, &[0.0], &[f64::NAN], &[1.0], 1.0, 1, Some(r));
        let biased = estimate(true, &[9.0], &[0.01], &[1.0], 1.0, 1, Some(r));
        let slower = estimate(true, &[0.0], &[2.0], &[1.0], 1.0, 1, Some(r));
        let ranks: Vec<usize> = rank([&slow, &fast, &nan, &biased, &slower])
            .iter()
            .map(|s| s.rank)
            .collect();
        assert_eq!(ranks, [2, 1, 4, 5, 3]);
        // Negative control: without its bias the cheap estimate ranks first.
        let unbiased = estimate(true, &[0.0], &[0.01], &[1.0], 1.0, 1, Some(r));
        assert_eq!(rank([&slow, &unbiased])[1].rank, 1);
    }
}
