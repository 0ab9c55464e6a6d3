//! The kernels of the objective language over a batch: one node's value
//! forward, and its contribution to an argument's adjoint backward.
//!
//! A batch of `b` samples is laid out sample-major: the value of a node of length
//! `n` is `b × n` floats, read through a [`View`]; a value that does not depend on
//! x is read with a batch stride of 0. Each operation is one tight loop over the
//! batch (vectorised by the compiler for the common shapes), so the interpretive
//! overhead is paid once per node per batch, never per sample.
//!
//! Both the compiler (folding constants, evaluating uniform nodes once) and the
//! evaluator (the per-batch sweeps) call these; neither calls the other.

use super::functions::{Map, Reduce, Zip};
use super::nodes::{Node, Op};
use crate::estimation::{fastmath, simd};

/// A read-only view of a node's value for a batch.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    data: &'a [f64],
    /// Distance between consecutive samples: `len`, or 0 for a value shared by all.
    bstride: usize,
    len: usize,
}

/// A row (one sample's value, or a whole flat batch): a slice or one broadcast number.
#[derive(Clone, Copy)]
enum Flat<'a> {
    Slice(&'a [f64]),
    Const(f64),
}

impl<'a> View<'a> {
    pub(crate) fn uniform(data: &'a [f64]) -> Self {
        View {
            data,
            bstride: 0,
            len: data.len(),
        }
    }

    pub(super) fn varying(data: &'a [f64], len: usize) -> Self {
        View {
            data,
            bstride: len,
            len,
        }
    }

    /// The whole batch as one flat array of `b × n`, when that is possible.
    fn flat(&self, b: usize, n: usize) -> Option<Flat<'a>> {
        if self.len == n && (self.bstride == n || b == 1) {
            Some(Flat::Slice(&self.data[..b * n]))
        } else if self.len == 1 && self.bstride == 0 {
            Some(Flat::Const(self.data[0]))
        } else {
            None
        }
    }

    /// Sample `r` as a row of length `n` (a broadcast number if this is a scalar).
    fn row(&self, r: usize, n: usize) -> Flat<'a> {
        let start = r * self.bstride;
        if self.len == 1 && n != 1 {
            Flat::Const(self.data[start])
        } else {
            Flat::Slice(&self.data[start..start + self.len])
        }
    }

    #[inline]
    pub(super) fn at(&self, r: usize, j: usize) -> f64 {
        self.data[r * self.bstride + if self.len == 1 { 0 } else { j }]
    }
}

/// `out[k] = f(a[k], c[k])` over flat arrays or broadcast numbers.
#[inline(always)]
fn zip_flat(out: &mut [f64], a: Flat<'_>, c: Flat<'_>, f: impl Fn(f64, f64) -> f64) {
    match (a, c) {
        (Flat::Slice(a), Flat::Slice(c)) => {
            for ((o, &p), &q) in out.iter_mut().zip(a).zip(c) {
                *o = f(p, q);
            }
        }
        (Flat::Slice(a), Flat::Const(q)) => {
            for (o, &p) in out.iter_mut().zip(a) {
                *o = f(p, q);
            }
        }
        (Flat::Const(p), Flat::Slice(c)) => {
            for (o, &q) in out.iter_mut().zip(c) {
                *o = f(p, q);
            }
        }
        (Flat::Const(p), Flat::Const(q)) => out.fill(f(p, q)),
    }
}

#[inline(always)]
fn zip_views(
    out: &mut [f64],
    a: View<'_>,
    c: View<'_>,
    b: usize,
    n: usize,
    f: impl Fn(f64, f64) -> f64 + Copy,
) {
    if let (Some(fa), Some(fc)) = (a.flat(b, n), c.flat(b, n)) {
        zip_flat(&mut out[..b * n], fa, fc, f);
    } else {
        for r in 0..b {
            zip_flat(&mut out[r * n..(r + 1) * n], a.row(r, n), c.row(r, n), f);
        }
    }
}

#[inline(always)]
fn map_view(out: &mut [f64], a: View<'_>, b: usize, n: usize, f: impl Fn(f64) -> f64 + Copy) {
    zip_views(out, a, a, b, n, move |p, _| f(p));
}

/// log(1 + eᵃ) without overflow.
#[inline]
pub fn softplus(a: f64) -> f64 {
    a.max(0.0) + libm::log1p(libm::exp(-a.abs()))
}

/// 1/(1 + e⁻ᵃ) without overflow.
#[inline]
pub fn sigmoid(a: f64) -> f64 {
    if a >= 0.0 {
        1.0 / (1.0 + libm::exp(-a))
    } else {
        let e = libm::exp(a);
        e / (1.0 + e)
    }
}

/// Forward kernels, one monomorphised loop per function (the dispatch on the
/// function happens once per batch, outside the loop, so each loop vectorises;
/// [`forward`] runs them at the CPU's best width).
#[inline(always)]
fn forward_map(m: Map, out: &mut [f64], a: View<'_>, b: usize, n: usize) {
    // The transcendental functions go through the vectorised batch kernels
    // (≤ 1 ulp, see `fastmath`) when the argument is one flat array.
    if let Some(Flat::Slice(av)) = a.flat(b, n) {
        let out = &mut out[..b * n];
        match m {
            Map::Exp => return fastmath::exp_batch(av, out),
            Map::Log => return fastmath::ln_batch(av, out),
            Map::Sin => return fastmath::sin_batch(av, out),
            Map::Cos => return fastmath::cos_batch(av, out),
            Map::Neg
            | Map::Log1p
            | Map::Sqrt
            | Map::Abs
            | Map::Tanh
            | Map::Sigmoid
            | Map::Softplus
            | Map::Square
            | Map::PowI(_)
            | Map::PowF(_) => {}
        }
    }
    match m {
        Map::Neg => map_view(out, a, b, n, |v| -v),
        Map::Exp => map_view(out, a, b, n, libm::exp),
        Map::Log => map_view(out, a, b, n, libm::log),
        Map::Log1p => map_view(out, a, b, n, libm::log1p),
        Map::Sqrt => map_view(out, a, b, n, f64::sqrt),
        Map::Abs => map_view(out, a, b, n, f64::abs),
        Map::Sin => map_view(out, a, b, n, libm::sin),
        Map::Cos => map_view(out, a, b, n, libm::cos),
        Map::Tanh => map_view(out, a, b, n, libm::tanh),
        Map::Sigmoid => map_view(out, a, b, n, sigmoid),
        Map::Softplus => map_view(out, a, b, n, softplus),
        Map::Square => map_view(out, a, b, n, |v| v * v),
        Map::PowI(k) => map_view(out, a, b, n, move |v| v.powi(k)),
        Map::PowF(k) => map_view(out, a, b, n, move |v| libm::pow(v, k)),
    }
}

#[inline(always)]
fn forward_zip(z: Zip, out: &mut [f64], a: View<'_>, c: View<'_>, b: usize, n: usize) {
    let step = |t: bool| f64::from(u8::from(t));
    match z {
        Zip::Add => zip_views(out, a, c, b, n, |p, q| p + q),
        Zip::Sub => zip_views(out, a, c, b, n, |p, q| p - q),
        Zip::Mul => zip_views(out, a, c, b, n, |p, q| p * q),
        Zip::Div => zip_views(out, a, c, b, n, |p, q| p / q),
        Zip::Pow => zip_views(out, a, c, b, n, libm::pow),
        Zip::Min => zip_views(out, a, c, b, n, f64::min),
        Zip::Max => zip_views(out, a, c, b, n, f64::max),
        Zip::Lt => zip_views(out, a, c, b, n, move |p, q| step(p < q)),
        Zip::Le => zip_views(out, a, c, b, n, move |p, q| step(p <= q)),
        Zip::Gt => zip_views(out, a, c, b, n, move |p, q| step(p > q)),
        Zip::Ge => zip_views(out, a, c, b, n, move |p, q| step(p >= q)),
        Zip::Eq => zip_views(out, a, c, b, n, move |p, q| step(p == q)),
        Zip::Ne => zip_views(out, a, c, b, n, move |p, q| step(p != q)),
    }
}

/// `adj_a += adj_out · d(a, y)` elementwise, for y = m(a).
#[inline(always)]
fn map_back(
    adj_a: &mut [f64],
    adj_out: &[f64],
    a: View<'_>,
    y: View<'_>,
    b: usize,
    n: usize,
    d: impl Fn(f64, f64) -> f64,
) {
    let m = b * n;
    match (a.flat(b, n), y.flat(b, n)) {
        (Some(Flat::Slice(av)), Some(Flat::Slice(yv))) => {
            for (((g, o), p), q) in adj_a[..m].iter_mut().zip(&adj_out[..m]).zip(av).zip(yv) {
                *g += o * d(*p, *q);
            }
        }
        _ => {
            for r in 0..b {
                for j in 0..n {
                    adj_a[r * n + j] += adj_out[r * n + j] * d(a.at(r, j), y.at(r, j));
                }
            }
        }
    }
}

/// ∂y/∂a for y = m(a), accumulated ([`backward`] runs it at the CPU's best width).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_map(
    m: Map,
    adj_a: &mut [f64],
    adj_out: &[f64],
    a: View<'_>,
    y: View<'_>,
    b: usize,
    n: usize,
    scratch: &mut [f64],
) {
    // sin′ = cos and cos′ = −sin through the batch kernels, into scratch.
    if let (Map::Sin | Map::Cos, Some(Flat::Slice(av))) = (m, a.flat(b, n)) {
        let t = &mut scratch[..b * n];
        let sign = if m == Map::Sin {
            fastmath::cos_batch(av, t);
            1.0
        } else {
            fastmath::sin_batch(av, t);
            -1.0
        };
        for ((g, o), d) in adj_a[..b * n]
            .iter_mut()
            .zip(&adj_out[..b * n])
            .zip(t.iter())
        {
            *g += sign * o * d;
        }
        return;
    }
    match m {
        Map::Neg => map_back(adj_a, adj_out, a, y, b, n, |_, _| -1.0),
        Map::Exp => map_back(adj_a, adj_out, a, y, b, n, |_, y| y),
        Map::Log => map_back(adj_a, adj_out, a, y, b, n, |a, _| 1.0 / a),
        Map::Log1p => map_back(adj_a, adj_out, a, y, b, n, |a, _| 1.0 / (1.0 + a)),
        Map::Sqrt => map_back(adj_a, adj_out, a, y, b, n, |_, y| 0.5 / y),
        Map::Abs => map_back(adj_a, adj_out, a, y, b, n, |a, _| {
            if a > 0.0 {
                1.0
            } else if a < 0.0 {
                -1.0
            } else {
                0.0
            }
        }),
        Map::Sin => map_back(adj_a, adj_out, a, y, b, n, |a, _| libm::cos(a)),
        Map::Cos => map_back(adj_a, adj_out, a, y, b, n, |a, _| -libm::sin(a)),
        Map::Tanh => map_back(adj_a, adj_out, a, y, b, n, |_, y| 1.0 - y * y),
        Map::Sigmoid => map_back(adj_a, adj_out, a, y, b, n, |_, y| y * (1.0 - y)),
        Map::Softplus => map_back(adj_a, adj_out, a, y, b, n, |a, _| sigmoid(a)),
        Map::Square => map_back(adj_a, adj_out, a, y, b, n, |a, _| 2.0 * a),
        // x⁰ is constant even at x = 0 (where k·x⁻¹ would give 0·∞).
        Map::PowI(0) => {}
        Map::PowI(k) => map_back(adj_a, adj_out, a, y, b, n, move |a, _| {
            f64::from(k) * a.powi(k - 1)
        }),
        Map::PowF(k) => map_back(adj_a, adj_out, a, y, b, n, move |a, _| {
            k * libm::pow(a, k - 1.0)
        }),
    }
}

/// `adj_arg += adj_out · d(a, c, y)`, summing over the row when the argument was
/// a broadcast scalar.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn zip_back(
    adj_arg: &mut [f64],
    la: usize,
    adj_out: &[f64],
    a: View<'_>,
    c: View<'_>,
    y: View<'_>,
    b: usize,
    n: usize,
    d: impl Fn(f64, f64, f64) -> f64 + Copy,
) {
    let m = b * n;
    if la == n {
        match (a.flat(b, n), c.flat(b, n), y.flat(b, n)) {
            (Some(Flat::Slice(av)), Some(Flat::Slice(cv)), Some(Flat::Slice(yv))) => {
                for k in 0..m {
                    adj_arg[k] += adj_out[k] * d(av[k], cv[k], yv[k]);
                }
            }
            (Some(Flat::Slice(av)), Some(Flat::Const(q)), Some(Flat::Slice(yv))) => {
                for ((g, o), (p, w)) in adj_arg[..m]
                    .iter_mut()
                    .zip(&adj_out[..m])
                    .zip(av.iter().zip(yv))
                {
                    *g += o * d(*p, q, *w);
                }
            }
            (Some(Flat::Const(p)), Some(Flat::Slice(cv)), Some(Flat::Slice(yv))) => {
                for ((g, o), (q, w)) in adj_arg[..m]
                    .iter_mut()
                    .zip(&adj_out[..m])
                    .zip(cv.iter().zip(yv))
                {
                    *g += o * d(p, *q, *w);
                }
            }
            _ => {
                for r in 0..b {
                    for j in 0..n {
                        adj_arg[r * n + j] +=
                            adj_out[r * n + j] * d(a.at(r, j), c.at(r, j), y.at(r, j));
                    }
                }
            }
        }
    } else {
        for r in 0..b {
            let mut acc = 0.0;
            for j in 0..n {
                acc += adj_out[r * n + j] * d(a.at(r, j), c.at(r, j), y.at(r, j));
            }
            adj_arg[r] += acc;
        }
    }
}

/// ∂y/∂a (`which` = 0) or ∂y/∂c (`which` = 1) for y = z(a, c), accumulated.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_zip(
    z: Zip,
    which: usize,
    adj_arg: &mut [f64],
    la: usize,
    adj_out: &[f64],
    a: View<'_>,
    c: View<'_>,
    y: View<'_>,
    b: usize,
    n: usize,
) {
    let step = |t: bool| f64::from(u8::from(t));
    macro_rules! go {
        ($d:expr) => {
            zip_back(adj_arg, la, adj_out, a, c, y, b, n, $d)
        };
    }
    match (z, which) {
        (Zip::Add, _) | (Zip::Sub, 0) => go!(|_, _, _| 1.0),
        (Zip::Sub, _) => go!(|_, _, _| -1.0),
        (Zip::Mul, 0) => go!(|_, c, _| c),
        (Zip::Mul, _) => go!(|a, _, _| a),
        (Zip::Div, 0) => go!(|_, c, _| 1.0 / c),
        (Zip::Div, _) => go!(|_, c, y| -y / c),
        (Zip::Pow, 0) => go!(|a: f64, c: f64, _| if c == 0.0 {
            0.0
        } else {
            c * libm::pow(a, c - 1.0)
        }),
        (Zip::Pow, _) => go!(|a: f64, _, y: f64| if a == 0.0 { 0.0 } else { y * libm::log(a) }),
        // Ties send the gradient to the first argument.
        (Zip::Min, 0) => go!(move |a, c, _| step(a <= c)),
        (Zip::Min, _) => go!(move |a, c, _| step(a > c)),
        (Zip::Max, 0) => go!(move |a, c, _| step(a >= c)),
        (Zip::Max, _) => go!(move |a, c, _| step(a < c)),
        // Steps pass no gradient (the sweep skips them).
        (Zip::Lt | Zip::Le | Zip::Gt | Zip::Ge | Zip::Eq | Zip::Ne, _) => {}
    }
}

/// Computes one node's value for a batch of `b` samples into `out` (`b × len`).
pub(crate) fn forward(node: &Node, args: &[View<'_>], out: &mut [f64], b: usize) {
    simd::dispatch(
        #[inline(always)]
        || forward_lanes(node, args, out, b),
    )
}

/// The body of [`forward`], inlined into each level's copy.
#[inline(always)]
fn forward_lanes(node: &Node, args: &[View<'_>], out: &mut [f64], b: usize) {
    let n = node.len;
    match &node.op {
        Op::X | Op::Param(_) | Op::Const | Op::LogX(_) => {}
        Op::Map(m) => forward_map(*m, out, args[0], b, n),
        Op::Zip(z) => forward_zip(*z, out, args[0], args[1], b, n),
        Op::Index(i) => {
            let a = args[0];
            for (r, o) in out[..b].iter_mut().enumerate() {
                *o = a.at(r, *i);
            }
        }
        Op::Vector => {
            for r in 0..b {
                for (k, a) in args.iter().enumerate() {
                    out[r * n + k] = a.at(r, 0);
                }
            }
        }
        Op::Dot if args[0].len == args[1].len => {
            let (a, c) = (args[0], args[1]);
            across_samples(&mut out[..b], a.len, 0.0, |r, k| {
                a.data[r * a.bstride + k] * c.data[r * c.bstride + k]
            });
        }
        Op::Reduce(red @ (Reduce::Sum | Reduce::Mean | Reduce::Norm | Reduce::Prod)) => {
            let a = args[0];
            let m = a.len;
            let at = |r: usize, k: usize| a.data[r * a.bstride + k];
            match red {
                Reduce::Prod => across_samples(&mut out[..b], m, 1.0, at),
                Reduce::Norm => across_samples(&mut out[..b], m, 0.0, |r, k| at(r, k) * at(r, k)),
                _ => across_samples(&mut out[..b], m, 0.0, at),
            }
            match red {
                Reduce::Mean => out[..b].iter_mut().for_each(|o| *o /= m as f64),
                Reduce::Norm => out[..b].iter_mut().for_each(|o| *o = o.sqrt()),
                _ => {}
            }
        }
        Op::Dot => {
            let (a, c) = (args[0], args[1]);
            let m = a.len.max(c.len);
            for (r, o) in out[..b].iter_mut().enumerate() {
                *o = match (a.row(r, m), c.row(r, m)) {
                    (Flat::Slice(p), Flat::Slice(q)) => p.iter().zip(q).map(|(u, v)| u * v).sum(),
                    (Flat::Slice(p), Flat::Const(v)) | (Flat::Const(v), Flat::Slice(p)) => {
                        v * p.iter().sum::<f64>()
                    }
                    (Flat::Const(u), Flat::Const(v)) => u * v,
                };
            }
        }
        Op::Reduce(red) => {
            let a = args[0];
            let m = a.len;
            for (r, o) in out[..b].iter_mut().enumerate() {
                let row = match a.row(r, m) {
                    Flat::Slice(s) => s,
                    Flat::Const(_) => unreachable!("a row of its own length is a slice"),
                };
                *o = reduce(*red, row);
            }
        }
    }
}

/// out[r] = t(r, 0) ∘ t(r, 1) ∘ … ∘ t(r, m − 1) for every sample r, with ∘ a
/// sum (from −0.0, as `Iterator::sum`) or, for `one` = 1, a product: the same
/// numbers in the same order as a fold along each row, but the b samples'
/// chains run side by side instead of one row's m-long chain at a time.
#[inline(always)]
fn across_samples(out: &mut [f64], m: usize, one: f64, t: impl Fn(usize, usize) -> f64) {
    let product = one == 1.0;
    out.fill(if product { 1.0 } else { -0.0 });
    for k in 0..m {
        for (r, o) in out.iter_mut().enumerate() {
            if product {
                *o *= t(r, k);
            } else {
                *o += t(r, k);
            }
        }
    }
}

#[inline(always)]
fn reduce(red: Reduce, row: &[f64]) -> f64 {
    match red {
        Reduce::Sum => row.iter().sum(),
        Reduce::Mean => row.iter().sum::<f64>() / row.len() as f64,
        Reduce::Prod => row.iter().product(),
        Reduce::Norm => row.iter().map(|v| v * v).sum::<f64>().sqrt(),
        Reduce::LogSumExp => {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if m == f64::NEG_INFINITY || !m.is_finite() {
                return m;
            }
            m + libm::log(row.iter().map(|v| libm::exp(v - m)).sum::<f64>())
        }
    }
}

/// Adds the contribution of `node`'s adjoint (`adj_out`, `b × len`) to the adjoint
/// of its argument number `which` (`adj_arg`, `b × len_arg`).
#[allow(clippy::too_many_arguments)]
pub(super) fn backward(
    node: &Node,
    which: usize,
    args: &[View<'_>],
    y: View<'_>,
    adj_out: &[f64],
    adj_arg: &mut [f64],
    b: usize,
    scratch: &mut [f64],
) {
    simd::dispatch(
        #[inline(always)]
        || backward_lanes(node, which, args, y, adj_out, adj_arg, b, scratch),
    )
}

/// The body of [`backward`], inlined into each level's copy.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_lanes(
    node: &Node,
    which: usize,
    args: &[View<'_>],
    y: View<'_>,
    adj_out: &[f64],
    adj_arg: &mut [f64],
    b: usize,
    scratch: &mut [f64],
) {
    let n = node.len;
    let la = if node.op == Op::Vector {
        1
    } else {
        args[which].len
    };
    match &node.op {
        Op::X | Op::Param(_) | Op::Const | Op::LogX(_) => {}
        Op::Map(m) => backward_map(*m, adj_arg, adj_out, args[0], y, b, n, scratch),
        Op::Zip(z) => backward_zip(*z, which, adj_arg, la, adj_out, args[0], args[1], y, b, n),
        Op::Index(i) => {
            for r in 0..b {
                adj_arg[r * la + i] += adj_out[r];
            }
        }
        Op::Vector => {
            for r in 0..b {
                adj_arg[r] += adj_out[r * n + which];
            }
        }
        Op::Dot => backward_dot(which, args, adj_out, adj_arg, la, b),
        Op::Reduce(red) => backward_reduce(*red, args[0], y, adj_out, adj_arg, la, b, scratch),
    }
}

/// `dot(a, c)` backwards: ∂/∂a = c (summed over the row for a broadcast scalar a).
#[inline(always)]
fn backward_dot(
    which: usize,
    args: &[View<'_>],
    adj_out: &[f64],
    adj_arg: &mut [f64],
    la: usize,
    b: usize,
) {
    let other = args[1 - which];
    let m = args[0].len.max(args[1].len);
    for r in 0..b {
        let g = adj_out[r];
        if la == m {
            for j in 0..m {
                adj_arg[r * m + j] += g * other.at(r, j);
            }
        } else {
            let s: f64 = (0..m).map(|j| other.at(r, j)).sum();
            adj_arg[r] += g * s;
        }
    }
}

/// A reduction y = red(a) backwards, for `a` of length `la`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_reduce(
    red: Reduce,
    a: View<'_>,
    y: View<'_>,
    adj_out: &[f64],
    adj_arg: &mut [f64],
    la: usize,
    b: usize,
    scratch: &mut [f64],
) {
    for r in 0..b {
        let g = adj_out[r];
        let yr = y.at(r, 0);
        let dst = &mut adj_arg[r * la..(r + 1) * la];
        let src = match a.row(r, la) {
            Flat::Slice(s) => s,
            Flat::Const(_) => unreachable!("a row of its own length is a slice"),
        };
        match red {
            Reduce::Sum => dst.iter_mut().for_each(|d| *d += g),
            Reduce::Mean => {
                let w = g / la as f64;
                dst.iter_mut().for_each(|d| *d += w);
            }
            Reduce::Norm => {
                if yr > 0.0 {
                    for (d, v) in dst.iter_mut().zip(src) {
                        *d += g * v / yr;
                    }
                }
            }
            Reduce::LogSumExp => {
                for (d, v) in dst.iter_mut().zip(src) {
                    *d += g * libm::exp(v - yr);
                }
            }
            Reduce::Prod => {
                // ∂/∂vⱼ Πᵢ vᵢ = Π_{i<j} vᵢ · Π_{i>j} vᵢ (exact even when some vᵢ = 0).
                let suffix = &mut scratch[..la];
                let mut acc = 1.0;
                for j in (0..la).rev() {
                    suffix[j] = acc;
                    acc *= src[j];
                }
                let mut prefix = 1.0;
                for j in 0..la {
                    dst[j] += g * prefix * suffix[j];
                    prefix *= src[j];
                }
            }
        }
    }
}
