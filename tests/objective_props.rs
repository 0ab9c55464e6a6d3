//! Properties of gradest's objective language, checked on random inputs by
//! proptest with a fixed seed and a fixed number of cases (deterministic runs, no
//! regression files):
//!
//! (a) printing a syntax tree and parsing the text gives the same tree back;
//! (b) the reverse-mode gradients ∇ₓf and ∇_θf of random smooth programs agree
//!     with central finite differences.
#![allow(clippy::disallowed_methods)]

use gradest::estimation::objective::{
    BinOp, Binding, Expr, FUNCTION_TABLE, ParseLimits, Program, Want, parse,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};

/// A fixed seed and number of cases, so every run checks the same inputs. For a
/// soak run, `GRADEST_PROPTEST_SOAK=<cases>` checks that many fresh random cases.
fn config(cases: u32) -> Config {
    let soak: Option<u32> = std::env::var("GRADEST_PROPTEST_SOAK")
        .ok()
        .and_then(|v| v.parse().ok());
    Config {
        cases: soak.unwrap_or(cases),
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: if soak.is_some() {
            RngSeed::Random
        } else {
            RngSeed::Fixed(0x67_72_61_64_65_73_74)
        },
        failure_persistence: None,
        ..Config::default()
    }
}

/// The functions taking `arity` arguments, in the table's order.
fn functions_of_arity(arity: usize) -> Vec<&'static str> {
    FUNCTION_TABLE
        .iter()
        .filter(|f| f.arity() == arity)
        .map(|f| f.name)
        .collect()
}

#[test]
fn the_function_list_is_the_one_these_tests_know() {
    let names: Vec<&str> = FUNCTION_TABLE.iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "exp",
            "log",
            "log1p",
            "sqrt",
            "abs",
            "sin",
            "cos",
            "tanh",
            "sigmoid",
            "softplus",
            "min",
            "max",
            "pow",
            "sum",
            "mean",
            "prod",
            "dot",
            "norm",
            "logsumexp"
        ]
    );
}

// ---------------------------------------------------------------------------
// (a) Print / parse round trip
// ---------------------------------------------------------------------------

/// Non-negative finite numbers of every kind: small integers, decimals, and any
/// bit pattern (normal or subnormal, tiny or huge). A minus sign is a `Neg` node.
fn number() -> impl Strategy<Value = f64> {
    use proptest::num::f64 as f;
    prop_oneof![
        (0u32..1000).prop_map(f64::from),
        (0.0..1e6f64),
        (f::POSITIVE | f::NORMAL | f::SUBNORMAL | f::ZERO).prop_map(f64::abs),
    ]
}

fn binop() -> impl Strategy<Value = BinOp> {
    prop::sample::select(vec![
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Pow,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::Eq,
        BinOp::Ne,
    ])
}

fn boxed(e: Expr) -> Box<Expr> {
    Box::new(e)
}

/// Random syntax trees: every node kind, every operator, every function with its
/// arity (columns are 0: `same_shape` ignores them).
fn syntax_tree() -> impl Strategy<Value = Expr> {
    let unary = functions_of_arity(1);
    let binary = functions_of_arity(2);
    assert_eq!(unary.len() + binary.len(), FUNCTION_TABLE.len());
    let leaf = prop_oneof![
        number().prop_map(|v| Expr::Num(v, 0)),
        prop::sample::select(vec!["x", "loc", "scale", "pi", "theta_2"])
            .prop_map(|n| Expr::Var(n.to_string(), 0)),
        (0usize..100).prop_map(|i| Expr::Index(boxed(Expr::Var("x".into(), 0)), i, 0)),
    ];
    leaf.prop_recursive(8, 256, 2, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| Expr::Vector(v, 0)),
            (inner.clone(), 0usize..20).prop_map(|(e, i)| Expr::Index(boxed(e), i, 0)),
            inner.clone().prop_map(|e| Expr::Neg(boxed(e), 0)),
            (binop(), inner.clone(), inner.clone()).prop_map(|(op, a, b)| Expr::Binary(
                op,
                boxed(a),
                boxed(b),
                0
            )),
            (binop(), inner.clone(), inner.clone()).prop_map(|(op, a, b)| Expr::Binary(
                op,
                boxed(a),
                boxed(b),
                0
            )),
            (prop::sample::select(unary.clone()), inner.clone()).prop_map(|(f, a)| Expr::Call(
                f.to_string(),
                vec![a],
                0
            )),
            (prop::sample::select(binary.clone()), inner.clone(), inner)
                .prop_map(|(f, a, b)| Expr::Call(f.to_string(), vec![a, b], 0)),
        ]
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(e in syntax_tree()) {
        let text = e.to_string();
        let back = parse(&text, &ParseLimits::default())
            .map_err(|err| TestCaseError::fail(format!("{text:?} does not parse: {err}")))?;
        prop_assert!(back.same_shape(&e), "{text:?} parses to {back:?}, not {e:?}");
        prop_assert_eq!(back.node_count(), e.node_count());
        // Printing is stable: the parsed tree prints to the same text.
        prop_assert_eq!(back.to_string(), text);
    }
}

/// The check itself can fail: trees that print alike only up to the structure
/// the printer must preserve are told apart.
#[test]
fn same_shape_tells_different_trees_apart() {
    let l = ParseLimits::default();
    let pairs = [
        ("1 - (2 - 3)", "1 - 2 - 3"),
        ("(2 ^ 3) ^ 2", "2 ^ 3 ^ 2"),
        ("(-2) ^ 2", "-2 ^ 2"),
        ("(1 < 2) < 3", "1 < (2 < 3)"),
        ("x[1]", "x[2]"),
        ("min(x, 1)", "max(x, 1)"),
        ("0.1", "0.10000000000000002"),
        ("[1, 2]", "[1, 2, 3]"),
    ];
    for (a, b) in pairs {
        let (ea, eb) = (parse(a, &l).unwrap(), parse(b, &l).unwrap());
        assert!(!ea.same_shape(&eb), "{a} and {b}");
        assert!(ea.same_shape(&parse(&ea.to_string(), &l).unwrap()), "{a}");
    }
}

// ---------------------------------------------------------------------------
// (b) Gradients against finite differences
// ---------------------------------------------------------------------------

/// Length of x and of each parameter vector.
const D: usize = 3;

/// Random smooth objectives as text, built from subexpressions that are scalars
/// (`scalar`) or vectors of length 3 (`vector`). Every function and operator
/// appears, restricted to where it is smooth: log, sqrt and fractional powers of
/// 1 + (·)², norm of a vector away from 0, division by 2 + sin(·), min and max of
/// arguments at least 2 apart (no ties), abs away from 0. Values stay below ~1e3:
/// products and powers take one bounded factor (tanh, sin, sigmoid…).
struct Gen {
    scalar: BoxedStrategy<String>,
    vector: BoxedStrategy<String>,
    /// The same without leaves (an operation at the top).
    scalar_op: BoxedStrategy<String>,
    vector_op: BoxedStrategy<String>,
}

fn bounded(s: BoxedStrategy<String>) -> BoxedStrategy<String> {
    (
        prop::sample::select(vec!["tanh", "sin", "cos", "sigmoid"]),
        s,
    )
        .prop_map(|(f, a)| format!("{f}({a})"))
        .boxed()
}

fn generators(depth: u32) -> Gen {
    let scalar_leaf = prop_oneof![
        (0..D).prop_map(|i| format!("x[{i}]")),
        (0..D).prop_map(|i| format!("loc[{i}]")),
        (0..D).prop_map(|i| format!("scale[{i}]")),
        (-2.0..2.0f64).prop_map(|c| format!("({c})")),
        Just("pi".to_string()),
    ]
    .boxed();
    let vector_leaf = prop_oneof![
        Just("x".to_string()),
        Just("loc".to_string()),
        Just("scale".to_string()),
        Just("[0.5, -1, 2]".to_string()),
    ]
    .boxed();
    if depth == 0 {
        return Gen {
            scalar: scalar_leaf.clone(),
            vector: vector_leaf.clone(),
            scalar_op: scalar_leaf,
            vector_op: vector_leaf,
        };
    }
    let Gen {
        scalar: s,
        vector: v,
        ..
    } = generators(depth - 1);
    let (bs, bv) = (bounded(s.clone()), bounded(v.clone()));
    let elementwise = |a: BoxedStrategy<String>, b: BoxedStrategy<String>| {
        prop_oneof![
            a.clone().prop_map(|a| format!("exp(tanh({a}))")),
            a.clone().prop_map(|a| format!("log(1 + ({a})^2)")),
            a.clone().prop_map(|a| format!("log1p(({a})^2)")),
            a.clone().prop_map(|a| format!("sqrt(1 + ({a})^2)")),
            a.clone().prop_map(|a| format!("tanh({a})")),
            a.clone().prop_map(|a| format!("sigmoid({a})")),
            a.clone().prop_map(|a| format!("softplus({a})")),
            a.clone().prop_map(|a| format!("sin({a})")),
            a.clone().prop_map(|a| format!("cos({a})")),
            a.clone().prop_map(|a| format!("-({a})")),
            a.clone().prop_map(|a| format!("abs(tanh({a}) + 2)")),
            a.clone().prop_map(|a| format!("abs(tanh({a}) - 2)")),
            b.clone().prop_map(|a| format!("({a})^2")),
            b.clone().prop_map(|a| format!("({a})^3")),
            b.clone().prop_map(|a| format!("({a}) ** 4")),
            a.clone().prop_map(|a| format!("(1 + ({a})^2)^0.7")),
            a.clone().prop_map(|a| format!("(1 + ({a})^2)^-2")),
            a.clone().prop_map(|a| format!("(2 + sin({a}))^(-1.5)")),
        ]
        .boxed()
    };
    let scalar_op = prop_oneof![
        4 => elementwise(s.clone(), bs.clone()),
        1 => (s.clone(), s.clone()).prop_map(|(a, b)| format!("({a}) + ({b})")),
        1 => (s.clone(), s.clone()).prop_map(|(a, b)| format!("({a}) - ({b})")),
        1 => (s.clone(), bs.clone()).prop_map(|(a, b)| format!("({a}) * ({b})")),
        1 => (s.clone(), s.clone()).prop_map(|(a, b)| format!("({a}) / (2 + sin({b}))")),
        1 => (bs.clone(), bs.clone()).prop_map(|(a, b)| format!("pow(1.5 + ({a}), {b})")),
        1 => (bs.clone(), bs.clone()).prop_map(|(a, b)| format!("(1.5 + ({a}))^({b})")),
        1 => (bs.clone(), bs.clone(), any::<bool>()).prop_map(|(a, b, swap)| if swap {
            format!("min(({b}) + 2.5, {a})")
        } else {
            format!("min({a}, ({b}) + 2.5)")
        }),
        1 => (bs.clone(), bs.clone(), any::<bool>()).prop_map(|(a, b, swap)| if swap {
            format!("max(({b}) - 2.5, {a})")
        } else {
            format!("max({a}, ({b}) - 2.5)")
        }),
        1 => v.clone().prop_map(|a| format!("sum({a})")),
        1 => v.clone().prop_map(|a| format!("mean({a})")),
        1 => bv.clone().prop_map(|a| format!("prod(1 + 0.5 * ({a}))")),
        1 => (v.clone(), bv.clone()).prop_map(|(a, b)| format!("dot({a}, {b})")),
        1 => bv.clone().prop_map(|a| format!("norm(1.5 + ({a}))")),
        1 => v.clone().prop_map(|a| format!("logsumexp({a})")),
        1 => (v.clone(), 0..D).prop_map(|(a, i)| format!("({a})[{i}]")),
    ]
    .boxed();
    let vector_op = prop_oneof![
        4 => elementwise(v.clone(), bv.clone()),
        1 => (s.clone(), s.clone(), s.clone()).prop_map(|(a, b, c)| format!("[{a}, {b}, {c}]")),
        1 => (v.clone(), v.clone()).prop_map(|(a, b)| format!("({a}) + ({b})")),
        1 => (s.clone(), v.clone()).prop_map(|(a, b)| format!("({a}) - ({b})")),
        1 => (v.clone(), bs.clone()).prop_map(|(a, b)| format!("({a}) * ({b})")),
        1 => (bs.clone(), v.clone()).prop_map(|(a, b)| format!("({a}) * ({b})")),
        1 => (v.clone(), bv.clone()).prop_map(|(a, b)| format!("({a}) * ({b})")),
        1 => (v.clone(), v.clone()).prop_map(|(a, b)| format!("({a}) / (2 + cos({b}))")),
        1 => (s.clone(), v.clone()).prop_map(|(a, b)| format!("({a}) / (2 + cos({b}))")),
        1 => (bv.clone(), bs.clone()).prop_map(|(a, b)| format!("pow(1.5 + ({a}), {b})")),
        1 => (bs.clone(), bv.clone()).prop_map(|(a, b)| format!("(1.5 + ({a}))^({b})")),
        1 => (bv.clone(), bs.clone()).prop_map(|(a, b)| format!("min({a}, ({b}) + 2.5)")),
        1 => (bv.clone(), bv.clone()).prop_map(|(a, b)| format!("max(({b}) - 2.5, {a})")),
    ]
    .boxed();
    Gen {
        scalar: prop_oneof![1 => scalar_leaf, 4 => scalar_op.clone()].boxed(),
        vector: prop_oneof![1 => vector_leaf, 4 => vector_op.clone()].boxed(),
        scalar_op,
        vector_op,
    }
}

/// A scalar objective (a vector one is summed).
fn smooth_objective() -> impl Strategy<Value = String> {
    let Gen {
        scalar_op,
        vector_op,
        ..
    } = generators(3);
    prop_oneof![scalar_op, vector_op.prop_map(|v| format!("sum({v})"))]
}

fn compile(text: &str, loc: &[f64], scale: &[f64]) -> Program {
    let d = loc.len();
    let bindings = [
        Binding {
            name: "loc".into(),
            values: loc.to_vec(),
            grad_offset: Some(0),
        },
        Binding {
            name: "scale".into(),
            values: scale.to_vec(),
            grad_offset: Some(d),
        },
    ];
    let limits = ParseLimits::default();
    let expr = parse(text, &limits).unwrap_or_else(|e| panic!("{text}: {e}"));
    Program::compile(&expr, d, &bindings, 2 * d, 1 << 20).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// f, ∇ₓf (sample-major) and ∇_θf (component-major) of a batch.
fn evaluate(p: &Program, xs: &[f64], want: Want) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let b = xs.len() / p.x_len();
    let mut ws = p.workspace(b);
    let o = p.eval(&mut ws, xs, b, want);
    (o.f.to_vec(), o.grad_x.to_vec(), o.grad_theta.to_vec())
}

/// Central differences, h = 1e-6·(1 + |v|). Every value and intermediate stays
/// below ~1e3 by construction (checked: |f| < 1e4), so the rounding error is about
/// 1e-16·1e3/h ≈ 1e-7 and the truncation error h²·|f‴|/6 ≲ 1e-12·1e5 ≈ 1e-7:
/// a tolerance of 1e-5·(1 + |∂f|) leaves a 100× margin and still catches any
/// wrong derivative rule, which errs by O(1) relative to ∂f.
fn close(analytic: f64, fd: f64) -> bool {
    (analytic - fd).abs() <= 1e-5 * (1.0 + analytic.abs())
}

fn step(v: f64) -> f64 {
    1e-6 * (1.0 + v.abs())
}

fn check_gradients(
    text: &str,
    xs: &[f64],
    loc: &[f64],
    scale: &[f64],
) -> Result<(), TestCaseError> {
    let d = loc.len();
    let b = xs.len() / d;
    let p = compile(text, loc, scale);
    let all = Want {
        grad_x: true,
        grad_theta: true,
    };
    let (f, gx, gt) = evaluate(&p, xs, all);
    for v in &f {
        prop_assert!(v.is_finite() && v.abs() < 1e4, "{text}: f = {v}");
    }
    // f and each gradient do not depend on what else was asked for.
    let (f0, _, _) = evaluate(
        &p,
        xs,
        Want {
            grad_x: false,
            grad_theta: false,
        },
    );
    let (_, gx1, _) = evaluate(
        &p,
        xs,
        Want {
            grad_x: true,
            grad_theta: false,
        },
    );
    let (_, _, gt1) = evaluate(
        &p,
        xs,
        Want {
            grad_x: false,
            grad_theta: true,
        },
    );
    prop_assert!(bits(&f0) == bits(&f) && bits(&gx1) == bits(&gx) && bits(&gt1) == bits(&gt));
    // ∇ₓf: all perturbed points in one batch.
    let mut pert = Vec::with_capacity(2 * d * xs.len());
    for r in 0..b {
        for i in 0..d {
            for sign in [1.0, -1.0] {
                let mut row = xs[r * d..(r + 1) * d].to_vec();
                row[i] += sign * step(row[i]);
                pert.extend(row);
            }
        }
    }
    let (fp, _, _) = evaluate(&p, &pert, all);
    for r in 0..b {
        for i in 0..d {
            let k = 2 * (r * d + i);
            let h = step(xs[r * d + i]);
            let fd = (fp[k] - fp[k + 1]) / (2.0 * h);
            let g = gx[r * d + i];
            prop_assert!(
                close(g, fd),
                "{text}: ∂f/∂x[{i}] at sample {r}: {g} vs {fd}"
            );
        }
    }
    // ∇_θf: recompile with each parameter entry moved.
    let theta: Vec<f64> = loc.iter().chain(scale).copied().collect();
    for k in 0..2 * d {
        let h = step(theta[k]);
        let mut fs = Vec::new();
        for sign in [1.0, -1.0] {
            let mut t = theta.clone();
            t[k] += sign * h;
            fs.push(evaluate(&compile(text, &t[..d], &t[d..]), xs, all).0);
        }
        for r in 0..b {
            let fd = (fs[0][r] - fs[1][r]) / (2.0 * h);
            let g = gt[k * b + r];
            prop_assert!(
                close(g, fd),
                "{text}: ∂f/∂θ[{k}] at sample {r}: {g} vs {fd}"
            );
        }
    }
    Ok(())
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn gradients_match_finite_differences(
        text in smooth_objective(),
        xs in prop::collection::vec(-2.0..2.0f64, 4 * D),
        loc in prop::collection::vec(-2.0..2.0f64, D),
        scale in prop::collection::vec(0.5..2.0f64, D),
    ) {
        check_gradients(&text, &xs, &loc, &scale)?;
    }
}

/// With one-component x and parameters, `x`, `loc` and `scale` are scalars shared
/// by every use, broadcast against vectors: their adjoints collect contributions
/// from several consumers, through every broadcasting rule (checked at 64 points
/// in one batch, same tolerance as above).
#[test]
fn gradients_of_shared_broadcast_scalars_match_finite_differences() {
    let programs = [
        "sum(x * [1, 2, 3]) + x^2 + loc * x",
        "sum(pow(1.5 + tanh([1, 2]), x)) + sum(pow([1, 2], tanh(x))) + x",
        "dot(x, [2, 3]) + dot([2, 3], loc) + sum(min(tanh(x), [5, 6])) + sum(max([-5, -6], sin(x)))",
        "sum([x, loc, scale] * x) / (2 + cos(scale)) + sum(x - [1, 2]) * loc",
        "logsumexp([x, 2 * x, loc]) + norm([x, 1]) + prod([x, scale, 2]) + mean(x + [1, 2, 3])",
        "sum(scale / (2 + sin([x, x, loc]))) + sum(exp(tanh(x * loc)) * [1, -1])",
    ];
    let xs: Vec<f64> = (0..64)
        .map(|i| -2.0 + 4.0 * f64::from(i) / 63.0 + 0.01)
        .collect();
    for text in programs {
        for (loc, scale) in [(0.7, 1.3), (-1.2, 0.6)] {
            if let Err(e) = check_gradients(text, &xs, &[loc], &[scale]) {
                panic!("{e}");
            }
        }
    }
}

/// The finite-difference check can fail: a function whose reverse-mode rule were
/// wrong by a factor would be caught. Here the "analytic" side is deliberately
/// off by 0.1%, 1% and 10% on a known program, and each is rejected.
#[test]
fn the_finite_difference_check_rejects_wrong_derivatives() {
    let p = compile("sum(sin(x) * x)", &[0.0; D], &[1.0; D]);
    let xs = [0.3, -1.2, 1.7];
    let (_, gx, _) = evaluate(
        &p,
        &xs,
        Want {
            grad_x: true,
            grad_theta: false,
        },
    );
    for i in 0..D {
        let truth = xs[i].sin() + xs[i] * xs[i].cos();
        assert!(close(gx[i], truth), "{} vs {truth}", gx[i]);
        for rel in [1e-3, 1e-2, 1e-1] {
            assert!(!close(gx[i] * (1.0 + rel), truth), "a {rel} error passed");
        }
    }
}
