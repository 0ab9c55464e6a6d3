//! Accuracy and special-value tests of the batch kernels against `std`.
#![allow(clippy::disallowed_methods)]

use super::*;

/// splitmix64: small deterministic PRNG for test inputs.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// ±2^e·m with e uniform in [emin, emax) and a random mantissa.
    fn log_uniform(&mut self, emin: f64, emax: f64, signed: bool) -> f64 {
        let m = 1.0 + self.unit();
        let v = m * self.uniform(emin, emax).exp2();
        if signed && self.next_u64() & 1 == 1 {
            -v
        } else {
            v
        }
    }
}

/// Number of random points per distribution (env `FASTMATH_TEST_POINTS`
/// overrides; default 2²⁰ ≈ 10⁶).
fn points() -> usize {
    std::env::var("FASTMATH_TEST_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 20)
}

/// Distance in ulps between two doubles via their ordered bit patterns
/// (+0 and −0 are 0 apart, NaN vs NaN is 0, NaN vs number is u64::MAX).
fn ulp_diff(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    fn ord(v: f64) -> i128 {
        let b = v.to_bits() as i64;
        if b < 0 {
            -((b & i64::MAX) as i128)
        } else {
            b as i128
        }
    }
    (ord(a) - ord(b)).unsigned_abs() as u64
}

type Batch = fn(&[f64], &mut [f64]);
type Scalar = fn(f64) -> f64;

fn sin_via_pair(x: &[f64], out: &mut [f64]) {
    let mut c = vec![0.0; x.len()];
    sin_cos_batch(x, out, &mut c);
}

fn cos_via_pair(x: &[f64], out: &mut [f64]) {
    let mut s = vec![0.0; x.len()];
    sin_cos_batch(x, &mut s, out);
}

/// Runs `batch` over `xs` in chunks of pseudo-random (often odd) lengths
/// and returns the maximum ulp distance from the scalar `reference`.
fn max_ulp(batch: Batch, reference: fn(f64) -> f64, xs: &[f64], rng: &mut Rng) -> (u64, f64) {
    let mut out = vec![0.0; xs.len()];
    let mut i = 0;
    while i < xs.len() {
        let len = ((rng.next_u64() % 2048) as usize + 1).min(xs.len() - i);
        batch(&xs[i..i + len], &mut out[i..i + len]);
        i += len;
    }
    let mut worst = (0, f64::NAN);
    for (&x, &y) in xs.iter().zip(&out) {
        let d = ulp_diff(y, reference(x));
        if d > worst.0 {
            worst = (d, x);
        }
    }
    worst
}

fn check(
    name: &str,
    batch: Batch,
    reference: fn(f64) -> f64,
    sample: &mut dyn FnMut(&mut Rng) -> f64,
) {
    let mut rng = Rng(0x5eed_0000_0000_0000 ^ name.len() as u64 ^ (name.as_bytes()[0] as u64) << 8);
    let n = points();
    let xs: Vec<f64> = (0..n).map(|_| sample(&mut rng)).collect();
    let (d, x) = max_ulp(batch, reference, &xs, &mut rng);
    println!("{name}: max {d} ulp over {n} points (worst x = {x:e})");
    assert!(d <= 2, "{name}: {d} ulp at x = {x:e}");
}

#[test]
fn exp_accuracy() {
    check("exp U[-50,50]", exp_batch, f64::exp, &mut |r| {
        r.uniform(-50.0, 50.0)
    });
    check("exp U[-746,710]", exp_batch, f64::exp, &mut |r| {
        r.uniform(-746.0, 710.0)
    });
    check(
        "exp log-uniform 2^-60..2^10",
        exp_batch,
        f64::exp,
        &mut |r| r.log_uniform(-60.0, 10.0, true).clamp(-746.0, 710.0),
    );
    check("exp U[-1,1]", exp_batch, f64::exp, &mut |r| {
        r.uniform(-1.0, 1.0)
    });
}

#[test]
fn ln_accuracy() {
    check("ln all positive finite", ln_batch, f64::ln, &mut |r| {
        f64::from_bits(r.next_u64() % 0x7ff0_0000_0000_0000)
    });
    check("ln log-uniform 2^-40..2^40", ln_batch, f64::ln, &mut |r| {
        r.log_uniform(-40.0, 40.0, false)
    });
    check("ln U(0,100]", ln_batch, f64::ln, &mut |r| {
        100.0 - r.uniform(0.0, 100.0)
    });
    check("ln near 1", ln_batch, f64::ln, &mut |r| {
        1.0 + r.uniform(-0.3, 0.42)
    });
}

fn check_trig(name: &str, sample: &mut dyn FnMut(&mut Rng) -> f64) {
    check(&format!("sin {name}"), sin_batch, f64::sin, sample);
    check(&format!("cos {name}"), cos_batch, f64::cos, sample);
    check(
        &format!("sin_cos.sin {name}"),
        sin_via_pair,
        f64::sin,
        sample,
    );
    check(
        &format!("sin_cos.cos {name}"),
        cos_via_pair,
        f64::cos,
        sample,
    );
}

#[test]
fn trig_accuracy() {
    check_trig("U[-50,50]", &mut |r| r.uniform(-50.0, 50.0));
    check_trig("U[-pi,pi]", &mut |r| {
        r.uniform(-std::f64::consts::PI, std::f64::consts::PI)
    });
    check_trig("log-uniform 2^-60..2^20", &mut |r| {
        r.log_uniform(-60.0, 20.0, true)
    });
    check_trig("log-uniform 2^-30..2^1000", &mut |r| {
        r.log_uniform(-30.0, 1000.0, true)
    });
    // Around and beyond the fast range (2^20) up to where n·pio2_1 stops being exact.
    check_trig("log-uniform 2^15..2^70", &mut |r| {
        r.log_uniform(15.0, 70.0, true)
    });
    // Doubles within a few ulps of k·π/2 (cancellation in the reduction).
    check_trig("near k*pi/2", &mut |r| {
        let k = (r.next_u64() % 70_000) as f64 - 5_000.0;
        let x = k * std::f64::consts::FRAC_PI_2;
        let ulps = (r.next_u64() % 9) as i64 - 4;
        f64::from_bits((x.to_bits() as i64 + ulps) as u64)
    });
}

fn one(f: Batch, x: f64) -> f64 {
    let mut o = [0.0];
    f(&[x], &mut o);
    o[0]
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Arguments at the edges of every kernel's fast range, and the special values.
fn specials() -> [f64; 44] {
    let inf = f64::INFINITY;
    [
        0.0,
        -0.0,
        inf,
        -inf,
        f64::NAN,
        -f64::NAN,
        1.0,
        -1.0,
        f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 2.0,
        5e-324,
        -5e-324,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        1e-300,
        708.0,
        -708.0,
        709.0,
        709.5,
        709.782712893384,
        709.7827128933841,
        710.0,
        -708.5,
        -745.0,
        -745.2,
        -1000.0,
        std::f64::consts::PI,
        -std::f64::consts::PI,
        std::f64::consts::FRAC_PI_2,
        std::f64::consts::FRAC_PI_4,
        2.0 * std::f64::consts::PI,
        1e5,
        100_000.000_000_001,
        1e22,
        1e19,
        1.234e22,
        3e17,
        1_048_576.0,
        1_048_577.0,
        -4_194_304.5,
        6_381_956_970_095_103.0 * 2f64.powi(797),
        2.0,
        0.5,
    ]
}

#[test]
/// Against `libm`, which computes the lanes outside the fast ranges (it and
/// glibc disagree far out, e.g. cos(6381956970095103·2⁷⁹⁷), where libm's
/// −4.687165924254628e-19 is the correctly rounded value).
fn special_cases_match_libm() {
    for x in specials() {
        let cases: [(&str, Batch, Scalar); 6] = [
            ("exp", exp_batch, libm::exp),
            ("ln", ln_batch, libm::log),
            ("sin", sin_batch, libm::sin),
            ("cos", cos_batch, libm::cos),
            ("sin_cos.sin", sin_via_pair, libm::sin),
            ("sin_cos.cos", cos_via_pair, libm::cos),
        ];
        for (name, f, reference) in cases {
            let (got, want) = (one(f, x), reference(x));
            let exact_required = !want.is_finite() || want == 0.0 || x == 0.0 || !x.is_finite();
            if exact_required {
                assert!(
                    same(got, want),
                    "{name}({x:e}) = {got:e}, libm gives {want:e}"
                );
            } else {
                assert!(
                    ulp_diff(got, want) <= 2,
                    "{name}({x:e}) = {got:e}, libm gives {want:e}"
                );
            }
        }
    }
}

/// Spelled-out expectations at the special values.
#[test]
fn special_values_spelled_out() {
    let inf = f64::INFINITY;
    assert_eq!(one(exp_batch, inf), inf);
    assert_eq!(one(exp_batch, -inf).to_bits(), 0.0f64.to_bits());
    assert_eq!(one(exp_batch, 710.0), inf);
    assert_eq!(one(exp_batch, -800.0), 0.0);
    assert_eq!(one(exp_batch, 0.0), 1.0);
    assert!(one(exp_batch, -740.0) > 0.0 && one(exp_batch, -740.0) < f64::MIN_POSITIVE);
    assert!(one(exp_batch, f64::NAN).is_nan());
    assert!(one(ln_batch, -1.0).is_nan());
    assert!(one(ln_batch, -inf).is_nan());
    assert!(one(ln_batch, f64::NAN).is_nan());
    assert_eq!(one(ln_batch, 0.0), -inf);
    assert_eq!(one(ln_batch, -0.0), -inf);
    assert_eq!(one(ln_batch, inf), inf);
    assert_eq!(one(ln_batch, 1.0).to_bits(), 0.0f64.to_bits());
    assert_eq!(one(ln_batch, 5e-324), (5e-324f64).ln());
    for f in [sin_batch as Batch, cos_batch, sin_via_pair, cos_via_pair] {
        assert!(one(f, inf).is_nan());
        assert!(one(f, -inf).is_nan());
        assert!(one(f, f64::NAN).is_nan());
    }
    assert_eq!(one(sin_batch, -0.0).to_bits(), (-0.0f64).to_bits());
    assert_eq!(one(sin_via_pair, -0.0).to_bits(), (-0.0f64).to_bits());
    assert_eq!(one(cos_batch, -0.0), 1.0);
    assert_eq!(
        one(sin_batch, std::f64::consts::PI),
        std::f64::consts::PI.sin()
    );
}

#[test]
fn ln_subnormals_and_extremes() {
    let mut rng = Rng(7);
    let xs: Vec<f64> = (0..10_000)
        .map(|i| match i % 3 {
            0 => f64::from_bits(rng.next_u64() % 0x0010_0000_0000_0000),
            1 => f64::from_bits(0x7fe0_0000_0000_0000 + rng.next_u64() % 0x0010_0000_0000_0000),
            _ => f64::from_bits(0x0010_0000_0000_0000 + rng.next_u64() % 0x0010_0000_0000_0000),
        })
        .collect();
    let (d, x) = max_ulp(ln_batch, f64::ln, &xs, &mut rng);
    assert!(d <= 2, "ln: {d} ulp at {x:e}");
}

/// The hexadecimal constants are the ones printed in the fdlibm/msun
/// sources, whose decimal literals must round to the same doubles.
#[test]
fn coefficients_match_msun_decimals() {
    let table: [(f64, &str); 35] = [
        (INV_LN2, "1.44269504088896338700e+00"),
        (LN2_HI, "6.93147180369123816490e-01"),
        (LN2_LO, "1.90821492927058770002e-10"),
        (EXP_P1, "1.66666666666666019037e-01"),
        (EXP_P2, "-2.77777777770155933842e-03"),
        (EXP_P3, "6.61375632143793436117e-05"),
        (EXP_P4, "-1.65339022054652515390e-06"),
        (EXP_P5, "4.13813679705723846039e-08"),
        (LG1, "6.666666666666735130e-01"),
        (LG2, "3.999999999940941908e-01"),
        (LG3, "2.857142874366239149e-01"),
        (LG4, "2.222219843214978396e-01"),
        (LG5, "1.818357216161805012e-01"),
        (LG6, "1.531383769920937332e-01"),
        (LG7, "1.479819860511658591e-01"),
        (INV_PIO2, "6.36619772367581382433e-01"),
        (PIO2_1, "1.57079632673412561417e+00"),
        (PIO2_1T, "6.07710050650619224932e-11"),
        (S1, "-1.66666666666666324348e-01"),
        (S2, "8.33333333332248946124e-03"),
        (S3, "-1.98412698298579493134e-04"),
        (S4, "2.75573137070700676789e-06"),
        (S5, "-2.50507602534068634195e-08"),
        (S6, "1.58969099521155010221e-10"),
        (C1, "4.16666666666666019037e-02"),
        (C2, "-1.38888888888741095749e-03"),
        (C3, "2.48015872894767294178e-05"),
        (C4, "-2.75573143513906633035e-07"),
        (C5, "2.08757232129817482790e-09"),
        (C6, "-1.13596475577881948265e-11"),
        (MAGIC, "6755399441055744"),
        (TWO52_PLUS_BIAS, "4503599627371519"),
        (f64::from_bits(LN_SQRT_HALF), "7.07106590270996093750e-01"),
        (TRIG_LIMIT, "1048576"),
        (TRIG_GUARD, "67108864"),
    ];
    for (value, text) in table {
        assert_eq!(
            value.to_bits(),
            text.parse::<f64>().unwrap().to_bits(),
            "{text}"
        );
    }
    assert_eq!(
        PIO2_1.to_bits().trailing_zeros(),
        22,
        "n·pio2_1 exact for |n| < 2^22"
    );
    assert_eq!(
        LN2_HI.to_bits().trailing_zeros(),
        21,
        "k·ln2_hi exact for |k| < 2^21"
    );
}

#[test]
fn empty_and_odd_lengths() {
    let fns: [(Batch, Scalar); 4] = [
        (exp_batch, f64::exp),
        (ln_batch, f64::ln),
        (sin_batch, f64::sin),
        (cos_batch, f64::cos),
    ];
    for (f, reference) in fns {
        f(&[], &mut []);
        for len in [1usize, 2, 3, 5, 7, 9, 15, 17, 31, 33, 1023, 1025] {
            // Mix in a special lane at the end to exercise the fix-up pass on remainders.
            let mut xs: Vec<f64> = (0..len).map(|i| 0.37 + 1.9 * i as f64).collect();
            if len > 2 {
                xs[len - 1] = f64::NAN;
                xs[len - 2] = -0.0;
            }
            let mut out = vec![f64::NAN; len];
            f(&xs, &mut out);
            for (&x, &y) in xs.iter().zip(&out) {
                assert!(
                    ulp_diff(y, reference(x)) <= 2,
                    "len {len}: x = {x:e}, got {y:e}"
                );
            }
        }
    }
    sin_cos_batch(&[], &mut [], &mut []);
    let xs = [0.1, 1.0, 10.0, f64::INFINITY, 3.0];
    let (mut s, mut c) = ([0.0; 5], [0.0; 5]);
    sin_cos_batch(&xs, &mut s, &mut c);
    for i in 0..5 {
        assert!(same(s[i], xs[i].sin()) || ulp_diff(s[i], xs[i].sin()) <= 2);
        assert!(same(c[i], xs[i].cos()) || ulp_diff(c[i], xs[i].cos()) <= 2);
    }
}

/// `sin_cos_batch` shares its kernels with `sin_batch`/`cos_batch`: same bits.
#[test]
fn sin_cos_matches_single_kernels() {
    let mut rng = Rng(99);
    let xs: Vec<f64> = (0..100_003)
        .map(|_| rng.log_uniform(-40.0, 24.0, true))
        .collect();
    let (mut s1, mut c1, mut s2, mut c2) = (
        vec![0.0; xs.len()],
        vec![0.0; xs.len()],
        vec![0.0; xs.len()],
        vec![0.0; xs.len()],
    );
    sin_batch(&xs, &mut s1);
    cos_batch(&xs, &mut c1);
    sin_cos_batch(&xs, &mut s2, &mut c2);
    for i in 0..xs.len() {
        assert!(same(s1[i], s2[i]) && same(c1[i], c2[i]), "x = {:e}", xs[i]);
    }
}

#[test]
#[should_panic(expected = "length mismatch")]
fn length_mismatch_panics() {
    exp_batch(&[1.0, 2.0], &mut [0.0]);
}
