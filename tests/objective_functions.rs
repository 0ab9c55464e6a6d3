//! Every function of gradest's objective language, driven by the one table the
//! compiler and the catalog read (`FUNCTION_TABLE`, `CONSTANT_TABLE`):
//!
//! - every entry parses, takes the number of arguments the table says, and a
//!   wrong count is refused naming the function and the count it takes;
//! - every entry evaluates to the value and gradient of an independent,
//!   hand-written closed form (the `REFERENCE` table below) at a few points; an
//!   entry without a reference fails, so a new function cannot go untested;
//! - negative control: checked against any other function's closed form, every
//!   entry fails (so a name quietly compiled to the wrong kernel, such as
//!   softplus, is caught);
//! - `GET /v1/catalog`, over real HTTP, lists exactly the table's functions and
//!   constants, with their signatures.
//!
//! Deterministic: fixed points, no sampling. Tolerance: 1e-12 relative, against
//! kernels that are within a few ulp of the closed forms (≈ 1e-15 relative).
#![allow(clippy::disallowed_methods)]

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use gradest::estimation::objective::{
    CONSTANT_TABLE, FUNCTION_TABLE, FunctionDef, ObjectiveError, ParseLimits, Program, Want, parse,
};
use serde_json::Value;

/// (∇ₐf, ∇_b f) of a function of two vectors.
type PairGradient = fn(&[f64], &[f64]) -> (Vec<f64>, Vec<f64>);

/// A closed form: the value and the gradient with respect to every input.
#[derive(Clone, Copy)]
enum Closed {
    /// `f(a)`, elementwise: f and f′.
    Unary(fn(f64) -> f64, fn(f64) -> f64),
    /// `f(a, b)`, elementwise: f, ∂f/∂a and ∂f/∂b.
    Binary(
        fn(f64, f64) -> f64,
        fn(f64, f64) -> f64,
        fn(f64, f64) -> f64,
    ),
    /// `f(v)`, a vector to a scalar: f and ∇f.
    Reduction(fn(&[f64]) -> f64, fn(&[f64]) -> Vec<f64>),
    /// `f(a, b)`, two vectors of equal length to a scalar: f and (∇ₐf, ∇_b f).
    Pairing(fn(&[f64], &[f64]) -> f64, PairGradient),
}

impl Closed {
    fn arity(self) -> usize {
        match self {
            Closed::Unary(..) | Closed::Reduction(..) => 1,
            Closed::Binary(..) | Closed::Pairing(..) => 2,
        }
    }

    /// The objective in x that applies `name`, for inputs of length `n`.
    fn objective(self, name: &str, n: usize) -> String {
        match self {
            Closed::Unary(..) => format!("{name}(x[0])"),
            Closed::Binary(..) => format!("{name}(x[0], x[1])"),
            Closed::Reduction(..) => format!("{name}(x)"),
            Closed::Pairing(..) => {
                let h = n / 2;
                let a: Vec<String> = (0..h).map(|i| format!("x[{i}]")).collect();
                let b: Vec<String> = (h..n).map(|i| format!("x[{i}]")).collect();
                format!("{name}([{}], [{}])", a.join(", "), b.join(", "))
            }
        }
    }

    /// f and ∇ₓf at the input `x` (a point of the reference).
    fn at(self, x: &[f64]) -> (f64, Vec<f64>) {
        match self {
            Closed::Unary(f, d) => (f(x[0]), vec![d(x[0])]),
            Closed::Binary(f, da, db) => (f(x[0], x[1]), vec![da(x[0], x[1]), db(x[0], x[1])]),
            Closed::Reduction(f, g) => (f(x), g(x)),
            Closed::Pairing(f, g) => {
                let (a, b) = x.split_at(x.len() / 2);
                let (ga, gb) = g(a, b);
                (f(a, b), ga.into_iter().chain(gb).collect())
            }
        }
    }
}

/// A function's closed form and the inputs it is checked at (each point is
/// the whole x: one number for `Unary`, (a, b) for `Binary`, the vector for
/// `Reduction`, a then b for `Pairing`).
struct Reference {
    name: &'static str,
    closed: Closed,
    points: &'static [&'static [f64]],
}

fn sign(a: f64) -> f64 {
    if a > 0.0 { 1.0 } else { -1.0 }
}

fn step(t: bool) -> f64 {
    if t { 1.0 } else { 0.0 }
}

/// Points on the whole line (no 0, no ties); positive points for log, sqrt, pow.
const LINE: &[&[f64]] = &[&[-2.5], &[-0.75], &[0.3], &[1.2], &[4.0]];
const POSITIVE: &[&[f64]] = &[&[0.2], &[0.9], &[1.7], &[3.5], &[12.0]];
const PAIRS: &[&[f64]] = &[&[-1.5, 0.5], &[2.0, -3.0], &[0.25, 0.75], &[4.0, 1.0]];
const POSITIVE_PAIRS: &[&[f64]] = &[&[0.5, 2.5], &[2.0, -1.5], &[1.5, 0.5], &[3.0, 2.0]];
const VECTORS: &[&[f64]] = &[&[0.5, -1.0, 2.0], &[3.0, 0.25, -0.5], &[-2.0, -1.5, 1.25]];
const VECTOR_PAIRS: &[&[f64]] = &[&[0.5, -1.0, 2.0, 1.5], &[3.0, 0.25, -0.5, 4.0]];

/// The hand-written closed forms, one per function of the language. They are
/// the textbook formulas, not the kernels' numerically careful ones (hence
/// ln(1 + …) as written); the points keep them accurate.
#[allow(clippy::imprecise_flops)]
const REFERENCE: &[Reference] = &[
    Reference {
        name: "exp",
        closed: Closed::Unary(
            |a| std::f64::consts::E.powf(a),
            |a| std::f64::consts::E.powf(a),
        ),
        points: LINE,
    },
    Reference {
        name: "log",
        closed: Closed::Unary(|a| a.log2() * std::f64::consts::LN_2, |a| 1.0 / a),
        points: POSITIVE,
    },
    Reference {
        name: "log1p",
        closed: Closed::Unary(|a| (1.0 + a).ln(), |a| 1.0 / (1.0 + a)),
        points: POSITIVE,
    },
    Reference {
        name: "sqrt",
        closed: Closed::Unary(|a| a.powf(0.5), |a| 0.5 / a.powf(0.5)),
        points: POSITIVE,
    },
    Reference {
        name: "abs",
        closed: Closed::Unary(|a| sign(a) * a, sign),
        points: LINE,
    },
    Reference {
        name: "sin",
        closed: Closed::Unary(f64::sin, f64::cos),
        points: LINE,
    },
    Reference {
        name: "cos",
        closed: Closed::Unary(f64::cos, |a| -a.sin()),
        points: LINE,
    },
    Reference {
        name: "tanh",
        closed: Closed::Unary(
            |a| (a.exp() - (-a).exp()) / (a.exp() + (-a).exp()),
            |a| (2.0 / (a.exp() + (-a).exp())).powi(2),
        ),
        points: LINE,
    },
    Reference {
        name: "sigmoid",
        closed: Closed::Unary(
            |a| 1.0 / (1.0 + (-a).exp()),
            |a| (-a).exp() / (1.0 + (-a).exp()).powi(2),
        ),
        points: LINE,
    },
    Reference {
        name: "softplus",
        closed: Closed::Unary(|a| (1.0 + a.exp()).ln(), |a| a.exp() / (1.0 + a.exp())),
        points: LINE,
    },
    Reference {
        name: "min",
        closed: Closed::Binary(
            |a, b| if a < b { a } else { b },
            |a, b| step(a < b),
            |a, b| step(b < a),
        ),
        points: PAIRS,
    },
    Reference {
        name: "max",
        closed: Closed::Binary(
            |a, b| if a > b { a } else { b },
            |a, b| step(a > b),
            |a, b| step(b > a),
        ),
        points: PAIRS,
    },
    Reference {
        name: "pow",
        closed: Closed::Binary(
            |a, b| (b * a.ln()).exp(),
            |a, b| b * (b * a.ln()).exp() / a,
            |a, b| a.ln() * (b * a.ln()).exp(),
        ),
        points: POSITIVE_PAIRS,
    },
    Reference {
        name: "sum",
        closed: Closed::Reduction(|v| v[0] + v[1] + v[2], |_| vec![1.0; 3]),
        points: VECTORS,
    },
    Reference {
        name: "mean",
        closed: Closed::Reduction(|v| (v[0] + v[1] + v[2]) / 3.0, |_| vec![1.0 / 3.0; 3]),
        points: VECTORS,
    },
    Reference {
        name: "prod",
        closed: Closed::Reduction(
            |v| v[0] * v[1] * v[2],
            |v| vec![v[1] * v[2], v[0] * v[2], v[0] * v[1]],
        ),
        points: VECTORS,
    },
    Reference {
        name: "dot",
        closed: Closed::Pairing(
            |a, b| a[0] * b[0] + a[1] * b[1],
            |a, b| (b.to_vec(), a.to_vec()),
        ),
        points: VECTOR_PAIRS,
    },
    Reference {
        name: "norm",
        closed: Closed::Reduction(
            |v| v[0].hypot(v[1]).hypot(v[2]),
            |v| {
                let r = v[0].hypot(v[1]).hypot(v[2]);
                v.iter().map(|x| x / r).collect()
            },
        ),
        points: VECTORS,
    },
    Reference {
        name: "logsumexp",
        closed: Closed::Reduction(
            |v| (v[0].exp() + v[1].exp() + v[2].exp()).ln(),
            |v| {
                let z = v[0].exp() + v[1].exp() + v[2].exp();
                v.iter().map(|x| x.exp() / z).collect()
            },
        ),
        points: VECTORS,
    },
];

fn reference(name: &str) -> &'static Reference {
    REFERENCE
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| {
            panic!(
                "'{name}' is in FUNCTION_TABLE but has no closed form in REFERENCE \
             (tests/objective_functions.rs); add one, with its derivative"
            )
        })
}

fn compile(text: &str, x_len: usize) -> Result<Program, ObjectiveError> {
    let expr = parse(text, &ParseLimits::default())?;
    Program::compile(&expr, x_len, &[], 0, 1 << 20)
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-12 * (1.0 + want.abs())
}

/// Evaluates the program for function `name`, shaped as `closed`, at all of
/// `points` in one batch (so the batch kernels run), and compares f and ∇ₓf
/// with `closed`. The first mismatch is the error.
fn check(name: &str, closed: Closed, points: &[&[f64]]) -> Result<(), String> {
    let n = points[0].len();
    let text = closed.objective(name, n);
    let p = compile(&text, n).map_err(|e| format!("{text}: {e}"))?;
    let b = points.len();
    let x: Vec<f64> = points.iter().flat_map(|p| p.iter().copied()).collect();
    let mut ws = p.workspace(b);
    let want = Want {
        grad_x: true,
        grad_theta: false,
    };
    let out = p.eval(&mut ws, &x, b, want);
    for (r, point) in points.iter().enumerate() {
        let (f, grad) = closed.at(point);
        if !close(out.f[r], f) {
            return Err(format!("{text} at {point:?} = {}, expected {f}", out.f[r]));
        }
        let got = &out.grad_x[r * n..(r + 1) * n];
        if !got.iter().zip(&grad).all(|(g, w)| close(*g, *w)) {
            return Err(format!(
                "∇ {text} at {point:?} = {got:?}, expected {grad:?}"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_function_has_exactly_one_closed_form_and_every_closed_form_a_function() {
    for def in FUNCTION_TABLE {
        reference(def.name);
    }
    for r in REFERENCE {
        assert!(
            FUNCTION_TABLE.iter().any(|f| f.name == r.name),
            "REFERENCE has '{}', which FUNCTION_TABLE does not list",
            r.name
        );
        let copies = REFERENCE.iter().filter(|s| s.name == r.name).count();
        assert_eq!(copies, 1, "'{}' has {copies} references", r.name);
    }
    for (i, f) in FUNCTION_TABLE.iter().enumerate() {
        assert!(
            FUNCTION_TABLE[..i].iter().all(|g| g.name != f.name),
            "'{}' is listed twice",
            f.name
        );
        assert!(
            CONSTANT_TABLE.iter().all(|c| c.name != f.name) && f.name != "x",
            "'{}' is both a function and a variable",
            f.name
        );
    }
}

#[test]
fn every_function_parses_as_a_call_with_the_arity_the_table_says() {
    for def in FUNCTION_TABLE {
        let closed = reference(def.name).closed;
        assert_eq!(
            def.arity(),
            closed.arity(),
            "'{}' takes {} arguments by the table, {} by its closed form",
            def.name,
            def.arity(),
            closed.arity()
        );
        let args = vec!["x"; def.arity()].join(", ");
        let text = format!("{}({args})", def.name);
        match parse(&text, &ParseLimits::default()) {
            Ok(gradest::estimation::objective::Expr::Call(name, args, 1)) => {
                assert_eq!(name, def.name);
                assert_eq!(args.len(), def.arity());
            }
            other => panic!("{text} parsed as {other:?}"),
        }
        // The signature shows as many arguments as the function takes.
        let sig = def.signature();
        let inside = &sig[def.name.len() + 1..sig.len() - 1];
        assert_eq!(inside.split(", ").count(), def.arity(), "{sig}");
        assert_eq!(def.doc(), format!("{sig}: {}", def.formula));
    }
}

#[test]
fn a_wrong_number_of_arguments_names_the_function_and_the_count_it_takes() {
    for def in FUNCTION_TABLE {
        let k = def.arity();
        let wrong = [k - 1, k + 1, k + 2].into_iter().filter(|&m| m > 0);
        for m in wrong {
            let args = vec!["x[0]"; m].join(", ");
            let text = format!("1 + {}({args})", def.name);
            match compile(&text, 2) {
                Err(ObjectiveError::Invalid { column, message }) => {
                    assert_eq!(column, 5, "{text}: {message}");
                    let s = if k == 1 { "" } else { "s" };
                    let expected = format!("'{}' takes {k} argument{s}, found {m}", def.name);
                    assert!(message.contains(&expected), "{text}: {message}");
                }
                other => panic!("{text}: expected an arity error, got {other:?}"),
            }
        }
    }
}

#[test]
fn every_function_matches_its_closed_form_in_value_and_gradient() {
    for def in FUNCTION_TABLE {
        let r = reference(def.name);
        if let Err(e) = check(def.name, r.closed, r.points) {
            panic!("{e}");
        }
        // Elementwise functions also over a whole vector: sum(f(x)) has gradient f′(xᵢ).
        if let Closed::Unary(f, d) = r.closed {
            let x: Vec<f64> = r.points.iter().map(|p| p[0]).collect();
            let text = format!("sum({}(x))", def.name);
            let p = compile(&text, x.len()).unwrap();
            let mut ws = p.workspace(1);
            let want = Want {
                grad_x: true,
                grad_theta: false,
            };
            let out = p.eval(&mut ws, &x, 1, want);
            let total: f64 = x.iter().map(|&a| f(a)).sum();
            assert!(
                close(out.f[0], total),
                "{text} = {}, expected {total}",
                out.f[0]
            );
            for (g, &a) in out.grad_x.iter().zip(&x) {
                assert!(
                    close(*g, d(a)),
                    "∂{text}/∂x at {a} = {g}, expected {}",
                    d(a)
                );
            }
        }
    }
}

/// Negative control: every function, checked against the closed form of any
/// other function of the same shape (at that function's points), is rejected.
/// So `check` tells each kernel from every other, and a name dispatched to the
/// wrong kernel cannot pass.
#[test]
fn every_function_fails_against_every_other_functions_closed_form() {
    let same_shape =
        |a: Closed, b: Closed| std::mem::discriminant(&a) == std::mem::discriminant(&b);
    let mut controls = 0;
    for def in FUNCTION_TABLE {
        for other in REFERENCE.iter().filter(|r| r.name != def.name) {
            if !same_shape(reference(def.name).closed, other.closed) {
                continue;
            }
            assert!(
                check(def.name, other.closed, other.points).is_err(),
                "'{}' passes as '{}'",
                def.name,
                other.name
            );
            controls += 1;
        }
    }
    assert!(controls >= 90, "only {controls} pairs were compared");
    // The case that motivated the table: a unary name falling through to softplus.
    let softplus = reference("softplus");
    let err = check("sigmoid", softplus.closed, softplus.points).unwrap_err();
    assert!(err.contains("sigmoid(x[0])"), "{err}");
}

#[test]
fn unknown_functions_list_the_tables_names_and_functions_are_not_variables() {
    let names: Vec<&str> = FUNCTION_TABLE.iter().map(|f| f.name).collect();
    match compile("foo(x)", 1) {
        Err(ObjectiveError::Invalid { message, .. }) => assert!(
            message.ends_with(&format!("the functions are {}", names.join(", "))),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    for def in FUNCTION_TABLE {
        match compile(&format!("x[0] + {}", def.name), 1) {
            Err(ObjectiveError::Invalid { message, .. }) => {
                assert!(message.contains("is a function"), "{message}");
            }
            other => panic!("{}: {other:?}", def.name),
        }
    }
}

#[test]
fn every_constant_evaluates_to_its_value() {
    for c in CONSTANT_TABLE {
        let p = compile(&format!("{} + 0 * x[0]", c.name), 1).unwrap();
        let mut ws = p.workspace(1);
        let want = Want {
            grad_x: false,
            grad_theta: false,
        };
        let f = p.eval(&mut ws, &[1.0], 1, want).f[0];
        assert_eq!(f.to_bits(), c.value.to_bits(), "{}", c.name);
    }
    assert!(CONSTANT_TABLE.iter().any(|c| c.name == "pi"));
}

/// The served catalog's entries as (name, doc) pairs.
fn symbols(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("a name").to_string(),
                s["doc"].as_str().expect("a doc").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_served_catalog_lists_exactly_the_tables_functions_and_constants() {
    let app = helpers::spawn_app().await;
    let response = app.get("/v1/catalog").await;
    assert_eq!(response.status(), 200);
    let c: Value = response.json().await.unwrap();
    let functions = symbols(&c["objective"]["functions"]);
    let expected: Vec<(String, String)> = FUNCTION_TABLE
        .iter()
        .map(|f: &FunctionDef| (f.name.to_string(), f.doc()))
        .collect();
    assert_eq!(functions, expected);
    let constants = symbols(&c["objective"]["constants"]);
    let expected: Vec<(String, String)> = CONSTANT_TABLE
        .iter()
        .map(|k| (k.name.to_string(), k.doc.to_string()))
        .collect();
    assert_eq!(constants, expected);
}

/// f and ∇ₓf of `text` over a batch of one-entry samples.
fn eval_one_entry(text: &str, xs: &[f64]) -> (Vec<f64>, Vec<f64>, usize) {
    let p = compile(text, 1).unwrap();
    let mut ws = p.workspace(xs.len());
    let want = Want {
        grad_x: true,
        grad_theta: false,
    };
    let out = p.eval(&mut ws, xs, xs.len(), want);
    (out.f.to_vec(), out.grad_x.to_vec(), p.floats_per_sample())
}

/// A sum, mean or product of a one-entry vector is dropped by the compiler: the
/// same bits as the expression itself (value and gradient, at −0, ±∞ and NaN
/// too) and no more working numbers. Norm and logsumexp are not the identity
/// on one entry (|a|; not NaN at NaN) and are kept: the negative control.
#[test]
fn reducing_one_entry_is_free_and_exact() {
    let xs = [
        -0.0,
        0.0,
        2.5,
        -3.0,
        1e300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let bits = |v: &[f64]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
    for inner in ["(x - 3)^2", "x", "x[0] * x[0]", "exp(x) + 1"] {
        let (f, g, floats) = eval_one_entry(inner, &xs);
        for reduce in ["sum", "mean", "prod"] {
            let text = format!("{reduce}({inner})");
            let (rf, rg, rfloats) = eval_one_entry(&text, &xs);
            assert_eq!(bits(&rf), bits(&f), "{text}: f");
            assert_eq!(bits(&rg), bits(&g), "{text}: ∇ₓf");
            assert_eq!(rfloats, floats, "{text}: working numbers");
        }
    }
    let (f, _, _) = eval_one_entry("norm(x)", &[-2.0]);
    assert_eq!(f, [2.0], "norm(x) is |x|, kept");
    let (f, _, _) = eval_one_entry("logsumexp(x)", &[f64::NAN]);
    assert!(!f[0].is_nan(), "logsumexp(x) at NaN is not NaN, kept");
}
