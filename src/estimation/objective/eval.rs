//! Batched forward and reverse-mode evaluation of a compiled [`Program`].
//!
//! A batch of `b` samples is laid out sample-major (see [`super::kernels`]).
//! Nodes that do not depend on x were evaluated at compile time; the forward
//! sweep runs the kernels of the others, once per node per batch.
//!
//! Reverse mode: adjoints ∂f/∂v are per sample (`b × n`) for every node from which
//! x or a differentiated parameter can be reached through differentiable edges;
//! one backward sweep yields ∇ₓf and the direct ∇_θf for the whole batch.

use super::kernels::{self, View};
use super::logspace;
use super::nodes::{Kind, Node, Op, Program};

/// What to compute besides f.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    /// ∇ₓf, for pathwise estimators.
    pub grad_x: bool,
    /// The direct ∇_θf, when f references differentiated parameters.
    pub grad_theta: bool,
}

/// Buffers for evaluating one program on batches of up to `capacity` samples.
/// Allocated once per worker; evaluation itself never allocates.
#[derive(Debug, Clone)]
pub struct Workspace {
    capacity: usize,
    vals: Vec<f64>,
    adj: Vec<f64>,
    scratch: Vec<f64>,
    f: Vec<f64>,
    grad_x: Vec<f64>,
    grad_theta: Vec<f64>,
    grad_log: Vec<f64>,
}

/// The results of evaluating a batch. `grad_theta` is component-major:
/// `grad_theta[k × b + r]` is ∂f/∂θₖ at sample r.
#[derive(Debug)]
pub struct Outputs<'a> {
    pub f: &'a [f64],
    pub grad_x: &'a [f64],
    pub grad_theta: &'a [f64],
    /// ∂f/∂(log values), sample-major like the log values passed to
    /// [`Program::eval_logs`] (`b × log_len`), with `grad_x`; empty when the
    /// program reads no log values or ∇ₓf was not asked for.
    pub grad_log: &'a [f64],
}

impl Want {
    /// Whether the gradients asked for flow through node `n` (so it needs an adjoint).
    fn reaches(self, n: &Node) -> bool {
        (self.grad_x && n.reach_x) || (self.grad_theta && n.reach_p)
    }
}

impl Program {
    /// Buffers for batches of up to `capacity` samples.
    pub fn workspace(&self, capacity: usize) -> Workspace {
        Workspace {
            capacity,
            vals: vec![0.0; self.vals_per_sample * capacity],
            adj: vec![0.0; self.adj_per_sample * capacity],
            // Per-node temporaries: a row for `prod`, a batch for sin′/cos′.
            scratch: vec![0.0; self.max_len * capacity.max(1)],
            f: vec![0.0; capacity],
            grad_x: vec![0.0; self.x_len * capacity],
            grad_theta: vec![0.0; self.grad_len * capacity],
            grad_log: vec![0.0; self.log_len * capacity],
        }
    }

    /// Evaluates f (and the requested gradients) for the `b` samples in `x`
    /// (sample-major, `b × x_len`). Log values the program reads are computed
    /// from x (see [`Program::eval_logs`] to supply exact ones).
    pub fn eval<'w>(&self, ws: &'w mut Workspace, x: &[f64], b: usize, want: Want) -> Outputs<'w> {
        self.eval_logs(ws, x, &[], b, want)
    }

    /// Like [`Program::eval`], with the exact log values of the samples in
    /// `logx` (sample-major, `b × log_len`; empty, or of any other length, to
    /// compute them from x).
    /// Their gradient comes back as [`Outputs::grad_log`].
    pub fn eval_logs<'w>(
        &self,
        ws: &'w mut Workspace,
        x: &[f64],
        logx: &[f64],
        b: usize,
        want: Want,
    ) -> Outputs<'w> {
        assert!(b <= ws.capacity, "batch larger than the workspace");
        assert_eq!(x.len(), b * self.x_len, "x has the wrong length");
        let Workspace {
            vals,
            adj,
            scratch,
            f,
            grad_x,
            grad_theta,
            grad_log,
            ..
        } = ws;
        self.forward_sweep(vals, x, logx, b);
        let reached = want.reaches(&self.nodes[self.root]);
        if reached {
            self.backward_sweep(adj, vals, x, b, want, scratch);
        }
        let adj: &'w [f64] = adj;
        let vals: &'w [f64] = vals;
        Outputs {
            f: self.f_out(vals, f, x, b),
            grad_x: self.grad_x_out(adj, grad_x, b, want.grad_x && reached),
            grad_theta: self.grad_theta_out(adj, grad_theta, b, want.grad_theta, reached),
            grad_log: self.grad_log_out(adj, grad_log, b, want.grad_x && reached),
        }
    }

    /// The forward sweep: the value of every node that varies with x, into `vals`.
    fn forward_sweep(&self, vals: &mut [f64], x: &[f64], logx: &[f64], b: usize) {
        for node in &self.nodes {
            if node.kind != Kind::Varying || node.op == Op::X {
                continue;
            }
            let (before, rest) = vals.split_at_mut(node.val * b);
            let out = &mut rest[..node.len * b];
            if let Op::LogX(start) = node.op {
                let row = self.log_len;
                logspace::fill(out, start, node.len, logx, row, x, self.x_len, b);
                continue;
            }
            if node.op == Op::Vector {
                // Entries are scalars; copied one by one, so no list of views is built.
                let n = node.len;
                for (k, &a) in node.args.iter().enumerate() {
                    let v = self.view(a, before, x, b);
                    for r in 0..b {
                        out[r * n + k] = v.at(r, 0);
                    }
                }
                continue;
            }
            let mut views = [View::uniform(&[]); 2];
            for (slot, &a) in views.iter_mut().zip(&node.args) {
                *slot = self.view(a, before, x, b);
            }
            let args = &views[..node.args.len()];
            kernels::forward(node, args, out, b);
        }
    }

    /// f: the root's own buffer when it varies, else its one value broadcast into `f`.
    fn f_out<'w>(&self, vals: &'w [f64], f: &'w mut [f64], x: &[f64], b: usize) -> &'w [f64] {
        let root = &self.nodes[self.root];
        match root.kind {
            Kind::Varying if root.op != Op::X => &vals[root.val * b..(root.val + 1) * b],
            _ => {
                let fv = self.view(self.root, vals, x, b);
                for (r, o) in f[..b].iter_mut().enumerate() {
                    *o = fv.at(r, 0);
                }
                &f[..b]
            }
        }
    }

    /// ∇ₓf: the adjoint of x itself when it is `wanted` and f depends on x,
    /// else zeros.
    fn grad_x_out<'w>(
        &self,
        adj: &'w [f64],
        grad_x: &'w mut [f64],
        b: usize,
        wanted: bool,
    ) -> &'w [f64] {
        match self.nodes.iter().find(|n| n.op == Op::X) {
            Some(n) if wanted && n.reach_x => {
                let off = n.adj.expect("x has an adjoint") * b;
                &adj[off..off + b * self.x_len]
            }
            _ => {
                let gx = &mut grad_x[..b * self.x_len];
                gx.fill(0.0);
                gx
            }
        }
    }

    /// The direct ∇_θf, component-major (`grad_theta[k × b + r]`): the adjoints of
    /// the differentiated parameters, transposed; zeros where f does not reach
    /// them (`reached` false: f reaches none). Left as it was when not `wanted`.
    fn grad_theta_out<'w>(
        &self,
        adj: &[f64],
        grad_theta: &'w mut [f64],
        b: usize,
        wanted: bool,
        reached: bool,
    ) -> &'w [f64] {
        let gt = &mut grad_theta[..b * self.grad_len];
        if wanted {
            gt.fill(0.0);
            if reached {
                for n in &self.nodes {
                    let Op::Param(k) = n.op else { continue };
                    let (Some(g0), Some(a0)) = (self.bindings[k].grad_offset, n.adj) else {
                        continue;
                    };
                    let src = &adj[a0 * b..(a0 + n.len) * b];
                    for j in 0..n.len {
                        let dst = &mut gt[(g0 + j) * b..(g0 + j + 1) * b];
                        for (r, d) in dst.iter_mut().enumerate() {
                            *d = src[r * n.len + j];
                        }
                    }
                }
            }
        }
        gt
    }

    /// ∂f/∂(log values) when `wanted` and the program reads any, else empty.
    fn grad_log_out<'w>(
        &self,
        adj: &[f64],
        grad_log: &'w mut [f64],
        b: usize,
        wanted: bool,
    ) -> &'w [f64] {
        if !wanted || self.log_len == 0 {
            return &[];
        }
        let gl = &mut grad_log[..b * self.log_len];
        gl.fill(0.0);
        for n in &self.nodes {
            if let (Op::LogX(start), Some(a0)) = (&n.op, n.adj) {
                let src = &adj[a0 * b..(a0 + n.len) * b];
                logspace::collect(gl, src, *start, n.len, self.log_len, b);
            }
        }
        gl
    }

    fn view<'a>(&'a self, id: usize, vals: &'a [f64], x: &'a [f64], b: usize) -> View<'a> {
        let n = &self.nodes[id];
        match n.kind {
            Kind::Varying if n.op == Op::X => View::varying(&x[..b * n.len], n.len),
            Kind::Varying => View::varying(&vals[n.val * b..(n.val + n.len) * b], n.len),
            Kind::Const | Kind::Uniform => View::uniform(&self.store[n.val..n.val + n.len]),
        }
    }

    /// The reverse sweep: seeds ∂f/∂f = 1 at the root and accumulates every
    /// wanted adjoint, arguments after their users.
    fn backward_sweep(
        &self,
        adj: &mut [f64],
        vals: &[f64],
        x: &[f64],
        b: usize,
        want: Want,
        scratch: &mut [f64],
    ) {
        let reach = |n: &Node| want.reaches(n);
        for n in &self.nodes {
            if let (Some(a), true) = (n.adj, reach(n)) {
                adj[a * b..(a + n.len) * b].fill(0.0);
            }
        }
        let r0 = self.nodes[self.root].adj.expect("the root is reached");
        adj[r0 * b..(r0 + 1) * b].fill(1.0);
        for id in (0..self.nodes.len()).rev() {
            let node = &self.nodes[id];
            if !reach(node) || node.args.is_empty() || matches!(node.op, Op::Zip(z) if z.is_step())
            {
                continue;
            }
            let out_off = node.adj.expect("reached nodes have adjoints");
            let (before, rest) = adj.split_at_mut(out_off * b);
            let adj_out = &rest[..node.len * b];
            let y = self.view(id, vals, x, b);
            // Vector literals need no argument values going backwards.
            let mut small = [View::uniform(&[]); 2];
            let views: &[View<'_>] = if node.op == Op::Vector {
                &[]
            } else {
                for (slot, &a) in small.iter_mut().zip(&node.args) {
                    *slot = self.view(a, vals, x, b);
                }
                &small[..node.args.len()]
            };
            for (which, &a) in node.args.iter().enumerate() {
                let an = &self.nodes[a];
                if !reach(an) {
                    continue;
                }
                let off = an.adj.expect("reached nodes have adjoints");
                let adj_arg = &mut before[off * b..(off + an.len) * b];
                kernels::backward(node, which, views, y, adj_out, adj_arg, b, scratch);
            }
        }
    }
}
