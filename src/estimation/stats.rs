//! Streaming moments and their exact, order-fixed merging.
//!
//! Batches are summarised with the two-pass formulas (mean first, then squared
//! deviations from it), which are accurate whatever the offset of the data; the
//! summaries are then merged with Chan, Golub & LeVeque's parallel update
//!
//!   n = n_a + n_b,  δ = mean_b − mean_a,
//!   mean = mean_a + δ·n_b/n,
//!   M2 = M2_a + M2_b + δ²·n_a·n_b/n,
//!
//! always in the same order, so a result never depends on how many threads ran.

use super::simd;

/// Logical partial sums kept by the batch sums: 16, carried as two AVX-512 or
/// four AVX2 vectors (or 16 scalars), so several dependency chains run side by
/// side; folded pairwise in a fixed order, the same on every level.
const ACC: usize = 16;

/// Folds the `ACC` partial sums pairwise in a fixed order.
#[inline(always)]
fn fold(mut t: [f64; ACC]) -> f64 {
    let mut w = ACC;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            t[i] += t[i + w];
        }
    }
    t[0]
}

/// The vectors of the first `groups` whole groups of ACC values of `xs`.
#[inline(always)]
fn group_vectors<S: pulp::Simd>(xs: &[f64], groups: usize) -> &[S::f64s] {
    pulp::bytemuck::cast_slice(&xs[..groups * ACC])
}

/// Writes vector accumulators out as the ACC logical lanes, in order.
#[inline(always)]
fn lanes<S: pulp::Simd>(acc: &[S::f64s]) -> [f64; ACC] {
    let mut out = [0.0; ACC];
    out.copy_from_slice(pulp::bytemuck::cast_slice(acc));
    out
}

/// Per logical lane over whole groups: (Σ (x − m), Σ (x − m)²), or with
/// `v` and its shift (Σ (u − mu)², Σ (v − mv)², Σ (u − mu)(v − mv)).
struct Groups<'a> {
    u: &'a [f64],
    v: &'a [f64],
    mu: f64,
    mv: f64,
    groups: usize,
}

impl pulp::WithSimd for Groups<'_> {
    type Output = [[f64; ACC]; 3];

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> Self::Output {
        let nv = ACC / S::F64_LANES;
        let zero = simd.splat_f64s(0.0);
        let (mu, mv) = (simd.splat_f64s(self.mu), simd.splat_f64s(self.mv));
        let (mut a, mut b, mut c) = ([zero; ACC], [zero; ACC], [zero; ACC]);
        let us = group_vectors::<S>(self.u, self.groups);
        if self.v.is_empty() {
            for g in us.chunks_exact(nv) {
                for k in 0..nv {
                    let t = simd.sub_f64s(g[k], mu);
                    a[k] = simd.add_f64s(a[k], t);
                    b[k] = simd.add_f64s(b[k], simd.mul_f64s(t, t));
                }
            }
        } else {
            let vs = group_vectors::<S>(self.v, self.groups);
            for (g, h) in us.chunks_exact(nv).zip(vs.chunks_exact(nv)) {
                for k in 0..nv {
                    let (p, q) = (simd.sub_f64s(g[k], mu), simd.sub_f64s(h[k], mv));
                    a[k] = simd.add_f64s(a[k], simd.mul_f64s(p, p));
                    b[k] = simd.add_f64s(b[k], simd.mul_f64s(q, q));
                    c[k] = simd.add_f64s(c[k], simd.mul_f64s(p, q));
                }
            }
        }
        [
            lanes::<S>(&a[..nv]),
            lanes::<S>(&b[..nv]),
            lanes::<S>(&c[..nv]),
        ]
    }
}

/// Σ xᵢ: ACC partial sums over whole groups folded in a fixed order, then the
/// remainder in order; the same bits on every run and level.
pub fn sum(xs: &[f64]) -> f64 {
    let (s, _) = shifted_sums(xs, 0.0);
    s
}

/// (Σ (xᵢ − m), Σ (xᵢ − m)²) in one pass, vectorised at the CPU's best width.
fn shifted_sums(xs: &[f64], m: f64) -> (f64, f64) {
    let groups = xs.len() / ACC;
    let [a, b, _] = simd::dispatch_vectors(Groups {
        u: xs,
        v: &[],
        mu: m,
        mv: 0.0,
        groups,
    });
    let (mut sa, mut sb) = (fold(a), fold(b));
    for v in &xs[groups * ACC..] {
        let t = v - m;
        sa += t;
        sb += t * t;
    }
    (sa, sb)
}

/// (Σ (uᵢ − mu)², Σ (vᵢ − mv)², Σ (uᵢ − mu)(vᵢ − mv)), vectorised like [`sum`].
fn co_sums(u: &[f64], v: &[f64], mu: f64, mv: f64) -> (f64, f64, f64) {
    let groups = u.len() / ACC;
    let [a, b, c] = simd::dispatch_vectors(Groups {
        u,
        v,
        mu,
        mv,
        groups,
    });
    let (mut sa, mut sb, mut sc) = (fold(a), fold(b), fold(c));
    for (x, y) in u[groups * ACC..].iter().zip(&v[groups * ACC..]) {
        let (p, q) = (x - mu, y - mv);
        sa += p * p;
        sb += q * q;
        sc += p * q;
    }
    (sa, sb, sc)
}

/// Clamps rounding noise below zero to 0 but keeps NaN (unlike `f64::max`), so an
/// overflowing sum of squares is reported rather than hidden.
#[inline]
pub fn non_negative(v: f64) -> f64 {
    if v < 0.0 { 0.0 } else { v }
}

/// Count, mean and sum of squared deviations of one stream of numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    /// Summarises a batch in one pass of shifted sums: with t = x − x₀ (x₀ the
    /// batch's first value, a typical value of the data, so the sums do not
    /// cancel catastrophically), mean = x₀ + Σt/n and M2 = Σt² − (Σt)²/n.
    pub fn of(values: &[f64]) -> Moments {
        let Some(&shift) = values.first() else {
            return Moments::default();
        };
        let n = values.len() as f64;
        let (s1, s2) = shifted_sums(values, shift);
        Moments {
            n,
            mean: shift + s1 / n,
            m2: non_negative(s2 - s1 * s1 / n),
        }
    }

    /// Chan et al.'s merge.
    pub fn merge(&mut self, other: &Moments) {
        if other.n == 0.0 {
            return;
        }
        if self.n == 0.0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        self.mean += delta * other.n / n;
        self.m2 += other.m2 + delta * delta * self.n * other.n / n;
        self.n = n;
    }

    /// Whether mean and M2 are finite (they are not if any value was not).
    pub fn is_finite(&self) -> bool {
        self.mean.is_finite() && self.m2.is_finite()
    }

    /// Unbiased sample variance (0 for fewer than two values).
    pub fn variance(&self) -> f64 {
        if self.n > 1.0 {
            non_negative(self.m2 / (self.n - 1.0))
        } else {
            0.0
        }
    }
}

/// Joint moments of two streams u and v: means, M2 of each and their co-moment
/// C = Σ(u − ū)(v − v̄). Used by the score function with the optimal baseline,
/// whose per-sample term u − b·v is linear in b: for any b,
///
///   mean(u − b v) = ū − b v̄,
///   M2(u − b v) = M2_u − 2b·C + b²·M2_v,
///
/// so b can be chosen after the samples were drawn, at no extra cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CoMoments {
    pub n: f64,
    pub mean_u: f64,
    pub mean_v: f64,
    pub m2_u: f64,
    pub m2_v: f64,
    pub c_uv: f64,
}

impl CoMoments {
    /// Summarises a batch with the two-pass formulas.
    pub fn of(u: &[f64], v: &[f64]) -> CoMoments {
        if u.is_empty() {
            return CoMoments::default();
        }
        let n = u.len() as f64;
        let mean_u = sum(u) / n;
        let mean_v = sum(v) / n;
        let (m2_u, m2_v, c_uv) = co_sums(u, v, mean_u, mean_v);
        CoMoments {
            n,
            mean_u,
            mean_v,
            m2_u,
            m2_v,
            c_uv,
        }
    }

    /// Whether every moment is finite (they are not if any value was not).
    pub fn is_finite(&self) -> bool {
        self.mean_u.is_finite()
            && self.mean_v.is_finite()
            && self.m2_u.is_finite()
            && self.m2_v.is_finite()
            && self.c_uv.is_finite()
    }

    /// Chan et al.'s merge, extended to the co-moment.
    pub fn merge(&mut self, o: &CoMoments) {
        if o.n == 0.0 {
            return;
        }
        if self.n == 0.0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let du = o.mean_u - self.mean_u;
        let dv = o.mean_v - self.mean_v;
        let w = self.n * o.n / n;
        self.mean_u += du * o.n / n;
        self.mean_v += dv * o.n / n;
        self.m2_u += o.m2_u + du * du * w;
        self.m2_v += o.m2_v + dv * dv * w;
        self.c_uv += o.c_uv + du * dv * w;
        self.n = n;
    }

    /// The variance-minimising coefficient b* = C/M2_v for u − b·v
    /// (0 when v does not vary).
    pub fn optimal_b(&self) -> f64 {
        if self.m2_v > 0.0 {
            self.c_uv / self.m2_v
        } else {
            0.0
        }
    }

    /// Moments of u − b·v.
    pub fn apply(&self, b: f64) -> Moments {
        Moments {
            n: self.n,
            mean: self.mean_u - b * self.mean_v,
            m2: non_negative(self.m2_u - 2.0 * b * self.c_uv + b * b * self.m2_v),
        }
    }
}

/// Standard error of a weighted mean of independent batch estimates (batch means):
///
///   se² = C/(C − 1) · Σ_c w_c² (g_c − ḡ)²,   w_c = n_c / N,  ḡ = Σ_c w_c g_c,
///
/// which is sd(g_c)/√C for equal batches. Robust when the per-sample terms within
/// a batch are correlated (leave-one-out, cross-fitted baselines). `None` for
/// fewer than two batches.
pub fn batch_means_se(estimates: impl Iterator<Item = (f64, f64)> + Clone) -> Option<f64> {
    let total: f64 = estimates.clone().map(|(n, _)| n).sum();
    let count = estimates.clone().count();
    if count < 2 || total <= 0.0 {
        return None;
    }
    let mean: f64 = estimates.clone().map(|(n, g)| n / total * g).sum();
    let ss: f64 = estimates
        .map(|(n, g)| {
            let w = n / total;
            w * w * (g - mean) * (g - mean)
        })
        .sum();
    let c = count as f64;
    Some((ss * c / (c - 1.0)).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_moments_equal_moments_of_the_concatenation() {
        let a = [1.0, 2.0, 4.0, 8.0];
        let b = [1e6 + 1.0, 1e6 + 3.0, -7.0];
        let mut m = Moments::of(&a);
        m.merge(&Moments::of(&b));
        let all: Vec<f64> = a.iter().chain(&b).copied().collect();
        let direct = Moments::of(&all);
        assert_eq!(m.n, direct.n);
        assert!((m.mean - direct.mean).abs() < 1e-9 * direct.mean.abs());
        assert!((m.m2 - direct.m2).abs() < 1e-9 * direct.m2);
    }

    #[test]
    fn co_moments_apply_equals_moments_of_the_difference() {
        let u = [1.0, -2.0, 3.5, 0.25, 9.0];
        let v = [0.5, 0.1, -1.0, 2.0, 3.0];
        let (mut c, b) = (CoMoments::of(&u[..2], &v[..2]), 0.7);
        c.merge(&CoMoments::of(&u[2..], &v[2..]));
        let diff: Vec<f64> = u.iter().zip(&v).map(|(p, q)| p - b * q).collect();
        let direct = Moments::of(&diff);
        let applied = c.apply(b);
        assert!((applied.mean - direct.mean).abs() < 1e-12);
        assert!((applied.m2 - direct.m2).abs() < 1e-12);
        // b* minimises the M2 of u − b v.
        let best = c.apply(c.optimal_b()).m2;
        for db in [-0.1, 0.1] {
            assert!(c.apply(c.optimal_b() + db).m2 > best);
        }
    }

    #[test]
    fn batch_means_of_equal_batches_is_sd_over_root_c() {
        let g = [1.0, 2.0, 3.0, 6.0];
        let se = batch_means_se(g.iter().map(|&v| (10.0, v))).unwrap();
        let m = Moments::of(&g);
        assert!((se - (m.variance() / 4.0).sqrt()).abs() < 1e-12);
        assert!(batch_means_se([(5.0, 1.0)].into_iter()).is_none());
    }
}
