//! Special functions of the estimation core: digamma ψ, trigamma ψ′ and the
//! regularized upper incomplete gamma function Q(a, x).
//!
//! Everything here is built on the `libm` crate (and exact arithmetic), never on
//! std's f64 methods or statrs, which call the system libm: the system libm may
//! pick FMA or non-FMA variants at run time by CPU, and those can differ in the
//! last bit, whereas these functions give the same bits on every machine.

use std::f64::consts::PI;

/// ψ(x) = d/dx ln Γ(x), the digamma function.
///
/// For x > 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the
/// asymptotic series
///
/// ```text
/// ψ(x) = ln x − 1/(2x) − Σₖ₌₁⁷ B₂ₖ/(2k·x²ᵏ)
///      = ln x − 1/(2x) − 1/(12x²) + 1/(120x⁴) − 1/(252x⁶) + 1/(240x⁸)
///        − 1/(132x¹⁰) + 691/(32760x¹²) − 1/(12x¹⁴)
/// ```
///
/// (first omitted term 3617/(8160·x¹⁶) ≤ 4.5e-17 at x = 10), with ln = `libm::log`.
/// For x < 0 the reflection ψ(x) = ψ(1 − x) − π/tan(πx); at the poles
/// (0, −1, −2, …), −∞ and NaN it is NaN; ψ(+∞) = +∞.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || (x <= 0.0 && x == x.floor()) {
        return f64::NAN;
    }
    if x < 0.0 {
        return digamma(1.0 - x) - PI / libm::tan(PI * x);
    }
    let (mut x, mut acc) = (x, 0.0);
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let r = 1.0 / x;
    let r2 = r * r;
    let tail = r2
        * (1.0 / 12.0
            - r2 * (1.0 / 120.0
                - r2 * (1.0 / 252.0
                    - r2 * (1.0 / 240.0
                        - r2 * (1.0 / 132.0 - r2 * (691.0 / 32760.0 - r2 * (1.0 / 12.0)))))));
    acc + (libm::log(x) - 0.5 * r - tail)
}

/// ψ′(x), the trigamma function (x > 0): the recurrence ψ′(x) = ψ′(x + 1) + 1/x²
/// up to x ≥ 20, then the asymptotic series 1/x + 1/(2x²) + Σₖ B₂ₖ/x^(2k+1)
/// (first omitted term 691/(2730 x¹³) < 4e-18). It is the variance of log G and
/// the mean of ∂ log G/∂α for G ~ Gamma(α, 1), which the tests check against.
pub fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 20.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let r = 1.0 / x;
    let r2 = r * r;
    let tail = r2
        * r
        * (1.0 / 6.0
            + r2 * (-1.0 / 30.0 + r2 * (1.0 / 42.0 + r2 * (-1.0 / 30.0 + r2 * (5.0 / 66.0)))));
    acc + r + 0.5 * r2 + tail
}

/// Relative tolerance at which the series and the continued fraction of
/// [`gamma_q`] stop.
const GAMMA_EPS: f64 = 1e-15;

/// log of the smallest positive normal prefactor: below it e^(a ln x − x − ln Γ(a))
/// is taken as 0.
const LOG_PREFACTOR_MIN: f64 = -709.782_712_893_384;

/// Q(a, x) = Γ(a, x)/Γ(a) = (1/Γ(a)) ∫ₓ^∞ tᵃ⁻¹ e⁻ᵗ dt, the regularized upper
/// incomplete gamma function (a > 0, x ≥ 0): the upper-tail probability of a
/// Gamma(a, 1) variable, so the χ² p-value on k degrees of freedom is Q(k/2, χ²/2).
///
/// Cephes' igam/igamc (the algorithm statrs' `gamma_ur` uses), on `libm`: with
/// the prefactor e^(a ln x − x − ln Γ(a)) (`libm::lgamma`),
/// - x < 1 or x ≤ a: Q = 1 − P, with P = prefactor·(1/a)·Σₙ xⁿ/((a+1)…(a+n))
///   summed until a term is below 1e-15 of the sum;
/// - otherwise the continued fraction
///   Q = prefactor·1/(x + 1 − a − 1·(1 − a)/(x + 3 − a − 2·(2 − a)/(x + 5 − a − …)))
///   evaluated by its convergents pₖ/qₖ (both rescaled by 2⁻⁵² when |pₖ| > 2⁵²)
///   until two successive ones agree to 1e-15.
///
/// Where the prefactor is below e^−709.78, P or Q is taken as 0 (and the other
/// as 1). Q(a, 0) = 1, Q(a, +∞) = 0; NaN for a NaN argument, a ≤ 0, a = +∞ or
/// x < 0.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || x.is_nan() || a <= 0.0 || a == f64::INFINITY || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    if x < 1.0 || x <= a {
        return 1.0 - gamma_p_series(a, x);
    }
    let log_prefactor = a * libm::log(x) - x - libm::lgamma(a);
    if log_prefactor < LOG_PREFACTOR_MIN {
        return if a < x { 0.0 } else { 1.0 };
    }
    libm::exp(log_prefactor) * gamma_q_fraction(a, x)
}

/// P(a, x) = 1 − Q(a, x) by its power series (for x < 1 or x ≤ a; see [`gamma_q`]).
fn gamma_p_series(a: f64, x: f64) -> f64 {
    let log_prefactor = a * libm::log(x) - x - libm::lgamma(a);
    if log_prefactor < LOG_PREFACTOR_MIN {
        return if a < x { 1.0 } else { 0.0 };
    }
    let (mut r, mut c, mut sum) = (a, 1.0, 1.0);
    loop {
        r += 1.0;
        c *= x / r;
        sum += c;
        if c / sum <= GAMMA_EPS {
            break;
        }
    }
    libm::exp(log_prefactor) * sum / a
}

/// The continued fraction of Q(a, x)/prefactor (for x ≥ 1 and x > a; see [`gamma_q`]).
fn gamma_q_fraction(a: f64, x: f64) -> f64 {
    const BIG: f64 = 4_503_599_627_370_496.0; // 2⁵²
    const BIG_INV: f64 = f64::EPSILON; // 2⁻⁵²
    let mut y = 1.0 - a;
    let mut z = x + y + 1.0;
    let mut c = 0.0;
    let (mut pkm2, mut qkm2) = (1.0, x);
    let (mut pkm1, mut qkm1) = (x + 1.0, z * x);
    let mut ans = pkm1 / qkm1;
    loop {
        y += 1.0;
        z += 2.0;
        c += 1.0;
        let yc = y * c;
        let pk = pkm1 * z - pkm2 * yc;
        let qk = qkm1 * z - qkm2 * yc;
        (pkm2, pkm1, qkm2, qkm1) = (pkm1, pk, qkm1, qk);
        if pk.abs() > BIG {
            pkm2 *= BIG_INV;
            pkm1 *= BIG_INV;
            qkm2 *= BIG_INV;
            qkm1 *= BIG_INV;
        }
        if qk != 0.0 {
            let r = pk / qk;
            let t = ((ans - r) / r).abs();
            ans = r;
            if t <= GAMMA_EPS {
                return ans;
            }
        }
    }
}

#[cfg(test)]
mod tests;
