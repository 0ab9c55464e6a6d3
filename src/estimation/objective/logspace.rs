//! Log-space inputs: exact logarithms of the sample that the caller supplies
//! beside x, so that `log` of the sample never rounds x first.
//!
//! A sample drawn in log space (gamma, beta and dirichlet with small
//! concentration) can be far below the smallest f64, so x itself is 0 or a
//! subnormal while log x is known exactly. When the caller offers those values
//! ([`LogInputs`]), the compiler turns `log` applied to the sample itself into
//! a read of them (the node `LogX`):
//!
//! | written | read | with |
//! |---|---|---|
//! | `log(x)` | log xᵢ, all i | [`LogInputs::LogX`] or more |
//! | `log(x[i])` | log xᵢ | [`LogInputs::LogX`] or more |
//! | `log(1 - x)`, `log1p(-x)` | log(1 − xᵢ), all i | [`LogInputs::LogXAndLog1mX`] |
//! | `log(1 - x[i])`, `log1p(-x[i])` | log(1 − xᵢ) | [`LogInputs::LogXAndLog1mX`] |
//!
//! Each sample's log values are one row: log xᵢ at offsets 0…D−1, then
//! log(1 − xᵢ) at D…2D−1. The gradient of f with respect to them comes back
//! as `Outputs::grad_log` (same layout); the caller pulls it back to θ in log
//! space. Any other use of x reads x as before. This module knows nothing of
//! distributions: the caller says what it supplies.

use super::ast::{BinOp, Expr};

/// The exact log-transforms of the sample supplied with every sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogInputs {
    /// None: `log(x)` is computed from x.
    #[default]
    None,
    /// log xᵢ for every entry.
    LogX,
    /// log xᵢ, then log(1 − xᵢ), for every entry.
    LogXAndLog1mX,
}

impl LogInputs {
    /// Numbers per sample for samples of length `x_len`.
    pub fn len(self, x_len: usize) -> usize {
        match self {
            LogInputs::None => 0,
            LogInputs::LogX => x_len,
            LogInputs::LogXAndLog1mX => 2 * x_len,
        }
    }
}

/// The sample or one entry of it: `Some(None)` for `x`, `Some(Some(i))` for `x[i]`.
fn sample_part(e: &Expr) -> Option<Option<usize>> {
    match e {
        Expr::Var(name, _) if name == "x" => Some(None),
        Expr::Index(inner, i, _) if matches!(&**inner, Expr::Var(n, _) if n == "x") => {
            Some(Some(*i))
        }
        _ => None,
    }
}

/// If the call `name(args)` is the log of the sample (or of 1 minus it) and the
/// caller supplies that value, the slots it reads: (first offset, length).
pub(super) fn log_slots(
    logs: LogInputs,
    x_len: usize,
    name: &str,
    args: &[Expr],
) -> Option<(usize, usize)> {
    let [arg] = args else { return None };
    let (part, complement) = match (name, arg) {
        ("log", Expr::Binary(BinOp::Sub, one, rest, _)) if matches!(**one, Expr::Num(v, _) if v == 1.0) => {
            (sample_part(rest)?, true)
        }
        ("log", e) => (sample_part(e)?, false),
        ("log1p", Expr::Neg(inner, _)) => (sample_part(inner)?, true),
        _ => return None,
    };
    let base = match (logs, complement) {
        (LogInputs::None, _) | (LogInputs::LogX, true) => return None,
        (_, false) => 0,
        (LogInputs::LogXAndLog1mX, true) => x_len,
    };
    match part {
        None => Some((base, x_len)),
        // Out of range: compiled as usual, so the usual error names the index.
        Some(i) if i < x_len => Some((base + i, 1)),
        Some(_) => None,
    }
}

/// Fills a `LogX` node's values (`out`, b × len) for slots `start..start + len`:
/// from `logx` (b rows of `row` numbers) when the caller supplied it, else
/// computed from x (log xᵢ, or log1p(−xᵢ) for the slots past `x_len`).
#[allow(clippy::too_many_arguments)]
pub(super) fn fill(
    out: &mut [f64],
    start: usize,
    len: usize,
    logx: &[f64],
    row: usize,
    x: &[f64],
    x_len: usize,
    b: usize,
) {
    for r in 0..b {
        let dst = &mut out[r * len..(r + 1) * len];
        if logx.len() == b * row && row > 0 {
            dst.copy_from_slice(&logx[r * row + start..r * row + start + len]);
            continue;
        }
        for (j, o) in dst.iter_mut().enumerate() {
            let s = start + j;
            *o = if s < x_len {
                libm::log(x[r * x_len + s])
            } else {
                libm::log1p(-x[r * x_len + s - x_len])
            };
        }
    }
}

/// Adds a `LogX` node's adjoint (`adj`, b × len) into `grad_log` (b rows of `row`).
pub(super) fn collect(
    grad_log: &mut [f64],
    adj: &[f64],
    start: usize,
    len: usize,
    row: usize,
    b: usize,
) {
    for r in 0..b {
        let dst = &mut grad_log[r * row + start..r * row + start + len];
        for (d, a) in dst.iter_mut().zip(&adj[r * len..(r + 1) * len]) {
            *d += a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimation::objective::parser::{ParseLimits, parse};

    fn slots(logs: LogInputs, text: &str) -> Option<(usize, usize)> {
        let Expr::Call(name, args, _) = parse(text, &ParseLimits::default()).unwrap() else {
            panic!("{text} is not a call");
        };
        log_slots(logs, 3, &name, &args)
    }

    #[test]
    fn recognises_the_log_of_the_sample() {
        let (x, both) = (LogInputs::LogX, LogInputs::LogXAndLog1mX);
        assert_eq!(slots(x, "log(x)"), Some((0, 3)));
        assert_eq!(slots(x, "log(x[2])"), Some((2, 1)));
        assert_eq!(slots(x, "log(x[3])"), None);
        assert_eq!(slots(x, "log(1 - x)"), None);
        assert_eq!(slots(both, "log(1 - x)"), Some((3, 3)));
        assert_eq!(slots(both, "log(1 - x[1])"), Some((4, 1)));
        assert_eq!(slots(both, "log1p(-x)"), Some((3, 3)));
        assert_eq!(slots(both, "log1p(-x[0])"), Some((3, 1)));
        assert_eq!(slots(LogInputs::None, "log(x)"), None);
        // Not the sample itself: computed as written.
        assert_eq!(slots(x, "log(2 * x)"), None);
        assert_eq!(slots(x, "log1p(x)"), None);
        assert_eq!(slots(both, "log(2 - x)"), None);
        assert_eq!(slots(both, "log(x - 1)"), None);
        assert_eq!(slots(x, "exp(x)"), None);
    }
}
