//! Tests that cross the modules of the objective language: parse, compile and
//! evaluate together.
#![allow(clippy::disallowed_methods)]

use super::{LogInputs, ParseLimits, Program, Want, parse};

/// The supplied values are read as they are (here for a first sample whose x₀
/// underflowed to 0 and whose x₁ rounded to 1), their gradient comes back in
/// `grad_log`, x itself is still read where f uses it; without supplied values
/// the logs are computed from x.
#[test]
fn reads_the_supplied_values_and_returns_their_gradient() {
    let expr = parse(
        "log(x[0]) + 2 * log1p(-x[1]) + x[0]",
        &ParseLimits::default(),
    )
    .unwrap();
    let p =
        Program::compile_with_logs(&expr, 2, &[], 0, 1 << 20, LogInputs::LogXAndLog1mX).unwrap();
    assert!(p.reads_x());
    assert_eq!(p.log_len(), 4);
    let x = [0.0, 1.0, 0.5, 0.25];
    // Rows: log x₀, log x₁, log(1 − x₀), log(1 − x₁).
    let (l2, l34) = (0.5f64.ln(), 0.75f64.ln());
    let logx = [-1000.0, -1e-20, -0.0, -46.0, l2, 0.25f64.ln(), l2, l34];
    let want = Want {
        grad_x: true,
        grad_theta: false,
    };
    let mut ws = p.workspace(2);
    let o = p.eval_logs(&mut ws, &x, &logx, 2, want);
    assert_eq!(o.f, [-1000.0 - 92.0, l2 + 2.0 * l34 + 0.5]);
    assert_eq!(o.grad_log, [1.0, 0.0, 0.0, 2.0, 1.0, 0.0, 0.0, 2.0]);
    assert_eq!(o.grad_x, [1.0, 0.0, 1.0, 0.0]);
    let o = p.eval(&mut ws, &x[2..], 1, want);
    assert_eq!(o.f, [l2 + 2.0 * l34 + 0.5]);
    // Without log inputs, log(x) is the ordinary elementwise log of x.
    let expr = parse("sum(log(x))", &ParseLimits::default()).unwrap();
    let q = Program::compile(&expr, 2, &[], 0, 1 << 20).unwrap();
    assert!(q.reads_x() && q.log_len() == 0);
}
