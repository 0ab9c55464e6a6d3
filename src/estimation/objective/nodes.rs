//! The compiled form of an objective: a flat list of nodes in topological order
//! (arguments before their users), each an operation of [`Op`], with its shape,
//! how it varies ([`Kind`]) and where its value and adjoint live.
//!
//! This is the one definition the compiler (`program`) writes and the evaluator
//! (`eval`) and the kernels (`kernels`) read; it imports neither of them.

use super::functions::{Map, Reduce, Zip};

/// A parameter of the distribution that the objective may reference by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The name, as in the request (`loc`, `scale`, `logits`…).
    pub name: String,
    /// Its value, flattened row-major.
    pub values: Vec<f64>,
    /// Where its gradient starts in the flat gradient vector, or `None` for a
    /// parameter that is not differentiated (such as student_t's `df`).
    pub grad_offset: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// The sample x.
    X,
    /// Binding number k.
    Param(usize),
    /// A folded constant.
    Const,
    Map(Map),
    Zip(Zip),
    Index(usize),
    Vector,
    Reduce(Reduce),
    Dot,
    /// Exact log-space values of the sample supplied by the caller, slots
    /// `k..k + len` of each sample's log row (see [`super::logspace`]).
    LogX(usize),
}

/// How a node's value varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Fixed: no x, no parameter below it.
    Const,
    /// The same for every sample, but depends on a parameter (so gradients flow).
    Uniform,
    /// Depends on the sample.
    Varying,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub op: Op,
    pub args: Vec<usize>,
    /// Length of the node's value per sample (1 for a scalar).
    pub len: usize,
    pub kind: Kind,
    /// Offset of the value: into the uniform store for Const/Uniform nodes, into
    /// the per-batch value buffer (in units of `len × batch`) for Varying ones.
    pub val: usize,
    /// Offset of the adjoint buffer (per-batch), when gradients can reach it.
    pub adj: Option<usize>,
    /// The node depends on x through differentiable edges.
    pub reach_x: bool,
    /// The node depends on a differentiated parameter through differentiable edges.
    pub reach_p: bool,
}

/// A validated objective, ready to evaluate over batches.
#[derive(Debug, Clone)]
pub struct Program {
    pub(crate) nodes: Vec<Node>,
    pub(crate) root: usize,
    /// Values of Const and Uniform nodes.
    pub(crate) store: Vec<f64>,
    /// Per sample, the number of floats of Varying values.
    pub(crate) vals_per_sample: usize,
    /// Per sample, the number of floats of adjoints.
    pub(crate) adj_per_sample: usize,
    pub(crate) x_len: usize,
    pub(crate) bindings: Vec<Binding>,
    /// Total length of the flat gradient vector.
    pub(crate) grad_len: usize,
    /// The objective applies a comparison to something that depends on x.
    pub(crate) has_step: bool,
    /// Longest node value, for scratch space.
    pub(crate) max_len: usize,
    /// Numbers per sample of the log values the caller supplies (0 for none).
    pub(crate) log_len: usize,
}

/// What a compiled program can tell about f without evaluating it.
impl Program {
    /// Whether f reads x itself, other than through exact log values (so an x
    /// that underflowed to 0 or a subnormal changes f).
    pub fn reads_x(&self) -> bool {
        self.nodes.iter().any(|n| n.op == Op::X)
    }

    /// Numbers per sample of the log values [`Program::eval_logs`] expects.
    pub fn log_len(&self) -> usize {
        self.log_len
    }

    /// Length of the sample vector x this program was compiled for.
    pub fn x_len(&self) -> usize {
        self.x_len
    }

    /// Whether f depends on any differentiated parameter directly.
    pub fn has_direct_gradient(&self) -> bool {
        self.nodes[self.root].reach_p
    }

    /// Whether f depends on x at all.
    pub fn depends_on_x(&self) -> bool {
        self.nodes[self.root].kind == Kind::Varying
    }

    /// Whether f applies a comparison (a step) to something that depends on x,
    /// so that a pathwise gradient misses the jump.
    pub fn has_step(&self) -> bool {
        self.has_step
    }

    /// Working memory per sample, in floats.
    pub fn floats_per_sample(&self) -> usize {
        self.vals_per_sample + self.adj_per_sample + self.x_len + self.log_len
    }
}
