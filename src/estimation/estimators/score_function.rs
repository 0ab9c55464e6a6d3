//! Score function (REINFORCE) terms.
//!
//! ĝ = (1/N) Σᵢ [ ∇θf(xᵢ;θ) + (f(xᵢ;θ) − bᵢ)·s(xᵢ) ],  s = ∇θ log p_θ(x),
//!
//! unbiased for any bᵢ independent of xᵢ, because E\[s\] = 0.

/// Leave-one-out baselines within a batch: bᵢ = (Σⱼ fⱼ − fᵢ)/(m − 1).
/// Entries of `f` that are not finite are left out of the sum (their samples are
/// dropped by the caller); `out[i]` is then only meaningful for finite fᵢ.
pub fn leave_one_out(f: &[f64], out: &mut [f64]) {
    let (mut sum, mut m) = (0.0, 0usize);
    for v in f.iter().filter(|v| v.is_finite()) {
        sum += v;
        m += 1;
    }
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
