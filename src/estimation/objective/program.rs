//! Compilation of a syntax tree into a flat, validated program: names resolved,
//! shapes checked, constants folded, and every sub-expression that does not depend
//! on x (it may depend on θ, which is fixed for a job) evaluated once, up front.

use super::ObjectiveError;
use super::ast::{BinOp, Column, Expr};
use super::eval::{self, View};
use super::functions::{self, FunctionOp, Map, Reduce, Zip};
use super::logspace::{self, LogInputs};

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

/// Operators of the language, loosest-binding first, for the catalog.
pub const OPERATORS: &[(&str, &str)] = &[
    (
        "< <= > >= == !=",
        "comparisons, elementwise, giving 0 or 1 (no gradient flows through them)",
    ),
    (
        "+ -",
        "addition and subtraction, elementwise, scalars broadcast",
    ),
    (
        "* /",
        "multiplication and division, elementwise, scalars broadcast",
    ),
    ("- (unary)", "negation; binds looser than ^, so -2^2 = -4"),
    ("^", "power, elementwise, right-associative: 2^3^2 = 2^9"),
    (
        "v[i]",
        "indexing with a non-negative integer literal, 0-based",
    ),
    ("[a, b, c]", "vector literal of scalars"),
];

impl Program {
    /// Compiles a parsed objective for samples of length `x_len` and the given
    /// parameters. `max_elements` bounds the per-sample working memory (values
    /// and adjoints of every node, in floats).
    pub fn compile(
        expr: &Expr,
        x_len: usize,
        bindings: &[Binding],
        grad_len: usize,
        max_elements: usize,
    ) -> Result<Program, ObjectiveError> {
        Self::compile_with_logs(
            expr,
            x_len,
            bindings,
            grad_len,
            max_elements,
            LogInputs::None,
        )
    }

    /// Like [`Program::compile`], for a caller that supplies the exact log
    /// values `logs` with every sample: `log(x)`, `log(x[i])` (and, with
    /// log(1 − x), `log(1 - x)`, `log1p(-x)`) then read them instead of
    /// computing the log of a possibly underflowed x.
    pub fn compile_with_logs(
        expr: &Expr,
        x_len: usize,
        bindings: &[Binding],
        grad_len: usize,
        max_elements: usize,
        logs: LogInputs,
    ) -> Result<Program, ObjectiveError> {
        let mut c = Compiler {
            logs,
            nodes: Vec::new(),
            store: Vec::new(),
            x_node: None,
            param_nodes: vec![None; bindings.len()],
            x_len,
            bindings,
            has_step: false,
            spent: 0,
            max_elements,
        };
        let root = c.expr(expr)?;
        if c.nodes[root].len != 1 {
            return Err(ObjectiveError::invalid(
                expr.column(),
                format!(
                    "the objective must be a scalar, but this one is a vector of length {}; \
                     reduce it, for example with sum(...) or mean(...)",
                    c.nodes[root].len
                ),
            ));
        }
        let Compiler {
            mut nodes,
            store,
            has_step,
            ..
        } = c;
        // Lay out per-batch buffers, in topological order (arguments first).
        let mut vals = 0;
        let mut adjs = 0;
        let mut max_len = 1;
        for node in &mut nodes {
            max_len = max_len.max(node.len);
            if node.kind == Kind::Varying && node.op != Op::X {
                node.val = vals;
                vals += node.len;
            }
            if node.reach_x || node.reach_p {
                node.adj = Some(adjs);
                adjs += node.len;
            }
        }
        if vals + adjs > max_elements {
            return Err(ObjectiveError::Limit(format!(
                "evaluating this objective needs {} numbers of working memory per sample; \
                 the limit is {max_elements} (a smaller dimension or a simpler objective fits)",
                vals + adjs
            )));
        }
        Ok(Program {
            nodes,
            root,
            store,
            vals_per_sample: vals,
            adj_per_sample: adjs,
            x_len,
            bindings: bindings.to_vec(),
            grad_len,
            has_step,
            max_len,
            log_len: logs.len(x_len),
        })
    }

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

struct Compiler<'a> {
    /// The log values the caller supplies.
    logs: LogInputs,
    nodes: Vec<Node>,
    store: Vec<f64>,
    x_node: Option<usize>,
    param_nodes: Vec<Option<usize>>,
    x_len: usize,
    bindings: &'a [Binding],
    has_step: bool,
    /// Numbers of memory committed so far, against `max_elements`.
    spent: usize,
    max_elements: usize,
}

impl Compiler<'_> {
    /// Counts `n` more numbers of memory against the budget, so an objective too
    /// large for it is refused as it is compiled, before it takes the memory.
    fn spend(&mut self, n: usize) -> Result<(), ObjectiveError> {
        self.spent += n;
        if self.spent > self.max_elements {
            return Err(ObjectiveError::Limit(format!(
                "this objective needs more than {} numbers of working memory per sample \
                 (a smaller dimension or a simpler objective fits)",
                self.max_elements
            )));
        }
        Ok(())
    }

    fn push_const(&mut self, values: &[f64]) -> Result<usize, ObjectiveError> {
        self.spend(values.len())?;
        let val = self.store.len();
        self.store.extend_from_slice(values);
        self.nodes.push(Node {
            op: Op::Const,
            args: Vec::new(),
            len: values.len(),
            kind: Kind::Const,
            val,
            adj: None,
            reach_x: false,
            reach_p: false,
        });
        Ok(self.nodes.len() - 1)
    }

    /// Adds an operation node; folds it to a constant, or evaluates it once as a
    /// uniform value, when it does not depend on x.
    fn push_op(&mut self, op: Op, args: Vec<usize>, len: usize) -> Result<usize, ObjectiveError> {
        // Value and adjoint, at most.
        self.spend(2 * len)?;
        let kinds: Vec<Kind> = args.iter().map(|&a| self.nodes[a].kind).collect();
        let kind = if kinds.contains(&Kind::Varying) {
            Kind::Varying
        } else if kinds.contains(&Kind::Uniform) {
            Kind::Uniform
        } else {
            Kind::Const
        };
        let differentiable = !matches!(op, Op::Zip(z) if z.is_step());
        let reach_x = differentiable && args.iter().any(|&a| self.nodes[a].reach_x);
        let reach_p = differentiable && args.iter().any(|&a| self.nodes[a].reach_p);
        if !differentiable && kind == Kind::Varying {
            self.has_step = true;
        }
        let mut node = Node {
            op,
            args,
            len,
            kind,
            val: 0,
            adj: None,
            reach_x,
            reach_p,
        };
        if kind != Kind::Varying {
            // Evaluate now: one "sample", every argument read from the store.
            let mut out = vec![0.0; len];
            {
                let views: Vec<View<'_>> = node
                    .args
                    .iter()
                    .map(|&a| {
                        let n = &self.nodes[a];
                        View::uniform(&self.store[n.val..n.val + n.len])
                    })
                    .collect();
                eval::forward(&node, &views, &mut out, 1);
            }
            if kind == Kind::Const {
                return self.push_const(&out);
            }
            node.val = self.store.len();
            self.store.extend_from_slice(&out);
        }
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    /// A node reading the supplied log values `start..start + len`: varying,
    /// and differentiable in x (its adjoint is returned as `grad_log`).
    fn push_log_x(&mut self, start: usize, len: usize) -> Result<usize, ObjectiveError> {
        self.spend(2 * len)?;
        self.nodes.push(Node {
            op: Op::LogX(start),
            args: Vec::new(),
            len,
            kind: Kind::Varying,
            val: 0,
            adj: None,
            reach_x: true,
            reach_p: false,
        });
        Ok(self.nodes.len() - 1)
    }

    fn names(&self) -> String {
        let mut names = vec!["x".to_string()];
        names.extend(self.bindings.iter().map(|b| b.name.clone()));
        names.extend(functions::CONSTANT_TABLE.iter().map(|c| c.name.to_string()));
        names.join(", ")
    }

    fn expr(&mut self, e: &Expr) -> Result<usize, ObjectiveError> {
        match e {
            Expr::Num(v, _) => self.push_const(&[*v]),
            Expr::Var(name, col) => self.var(name, *col),
            Expr::Vector(items, _) => {
                let mut args = Vec::with_capacity(items.len());
                for item in items {
                    let a = self.expr(item)?;
                    if self.nodes[a].len != 1 {
                        return Err(ObjectiveError::invalid(
                            item.column(),
                            format!(
                                "the entries of a vector literal must be scalars, \
                                 this one is a vector of length {}",
                                self.nodes[a].len
                            ),
                        ));
                    }
                    args.push(a);
                }
                let len = args.len();
                self.push_op(Op::Vector, args, len)
            }
            Expr::Index(inner, i, col) => {
                let a = self.expr(inner)?;
                let len = self.nodes[a].len;
                if *i >= len {
                    return Err(ObjectiveError::invalid(
                        *col,
                        format!(
                            "index {i} is out of range for a vector of length {len} \
                             (indices start at 0)"
                        ),
                    ));
                }
                self.push_op(Op::Index(*i), vec![a], 1)
            }
            Expr::Neg(inner, _) => {
                let a = self.expr(inner)?;
                let len = self.nodes[a].len;
                self.push_op(Op::Map(Map::Neg), vec![a], len)
            }
            Expr::Binary(op, lhs, rhs, col) => {
                let a = self.expr(lhs)?;
                let b = self.expr(rhs)?;
                let zip = match op {
                    BinOp::Add => Zip::Add,
                    BinOp::Sub => Zip::Sub,
                    BinOp::Mul => Zip::Mul,
                    BinOp::Div => Zip::Div,
                    BinOp::Pow => Zip::Pow,
                    BinOp::Lt => Zip::Lt,
                    BinOp::Le => Zip::Le,
                    BinOp::Gt => Zip::Gt,
                    BinOp::Ge => Zip::Ge,
                    BinOp::Eq => Zip::Eq,
                    BinOp::Ne => Zip::Ne,
                };
                self.zip(zip, a, b, *col, op.symbol())
            }
            Expr::Call(name, args, col) => self.call(name, args, *col),
        }
    }

    fn var(&mut self, name: &str, col: Column) -> Result<usize, ObjectiveError> {
        if name == "x" {
            if let Some(n) = self.x_node {
                return Ok(n);
            }
            self.nodes.push(Node {
                op: Op::X,
                args: Vec::new(),
                len: self.x_len,
                kind: Kind::Varying,
                val: 0,
                adj: None,
                reach_x: true,
                reach_p: false,
            });
            self.x_node = Some(self.nodes.len() - 1);
            return Ok(self.nodes.len() - 1);
        }
        if let Some(k) = self.bindings.iter().position(|b| b.name == name) {
            if let Some(n) = self.param_nodes[k] {
                return Ok(n);
            }
            let b = &self.bindings[k];
            self.spend(b.values.len())?;
            let val = self.store.len();
            self.store.extend_from_slice(&b.values);
            self.nodes.push(Node {
                op: Op::Param(k),
                args: Vec::new(),
                len: b.values.len(),
                kind: Kind::Uniform,
                val,
                adj: None,
                reach_x: false,
                reach_p: b.grad_offset.is_some(),
            });
            self.param_nodes[k] = Some(self.nodes.len() - 1);
            return Ok(self.nodes.len() - 1);
        }
        if let Some(c) = functions::constant(name) {
            return self.push_const(&[c.value]);
        }
        if functions::function(name).is_some() {
            return Err(ObjectiveError::invalid(
                col,
                format!("'{name}' is a function: call it as {name}(...)"),
            ));
        }
        Err(ObjectiveError::invalid(
            col,
            format!("unknown name '{name}'; the names here are {}", self.names()),
        ))
    }

    fn zip(
        &mut self,
        zip: Zip,
        a: usize,
        b: usize,
        col: Column,
        what: &str,
    ) -> Result<usize, ObjectiveError> {
        let (la, lb) = (self.nodes[a].len, self.nodes[b].len);
        let len = broadcast(la, lb).ok_or_else(|| {
            ObjectiveError::invalid(
                col,
                format!(
                    "'{what}' cannot combine a vector of length {la} with a vector of length {lb}"
                ),
            )
        })?;
        // x^k for a constant k: cheaper and exact kernels.
        if zip == Zip::Pow && self.nodes[b].kind == Kind::Const && self.nodes[b].len == 1 {
            let k = self.store[self.nodes[b].val];
            let map = if k == 2.0 {
                Map::Square
            } else if k == 0.5 {
                Map::Sqrt
            } else if k.fract() == 0.0 && k.abs() <= 64.0 {
                Map::PowI(k as i32)
            } else {
                Map::PowF(k)
            };
            return self.push_op(Op::Map(map), vec![a], len);
        }
        self.push_op(Op::Zip(zip), vec![a, b], len)
    }

    /// A call of a function of [`functions::FUNCTION_TABLE`]: its arity and its
    /// kernel both come from the table entry's op.
    fn call(&mut self, name: &str, args: &[Expr], col: Column) -> Result<usize, ObjectiveError> {
        if let Some((start, len)) = logspace::log_slots(self.logs, self.x_len, name, args) {
            return self.push_log_x(start, len);
        }
        let Some(def) = functions::function(name) else {
            return Err(ObjectiveError::invalid(
                col,
                format!(
                    "unknown function '{name}'; the functions are {}",
                    functions::function_names()
                ),
            ));
        };
        let arity = def.arity();
        if args.len() != arity {
            return Err(ObjectiveError::invalid(
                col,
                format!(
                    "'{name}' takes {arity} argument{}, found {}",
                    if arity == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        let mut ids = Vec::with_capacity(arity);
        for arg in args {
            ids.push(self.expr(arg)?);
        }
        let a = ids[0];
        let len = self.nodes[a].len;
        match def.op {
            FunctionOp::Map(m) => self.push_op(Op::Map(m), ids, len),
            FunctionOp::Zip(z) => self.zip(z, a, ids[1], col, def.name),
            FunctionOp::Reduce(r) => self.push_op(Op::Reduce(r), ids, 1),
            FunctionOp::Dot => {
                let lb = self.nodes[ids[1]].len;
                if broadcast(len, lb).is_none() {
                    return Err(ObjectiveError::invalid(
                        col,
                        format!("'dot' needs vectors of equal length, found {len} and {lb}"),
                    ));
                }
                self.push_op(Op::Dot, ids, 1)
            }
        }
    }
}

/// The length of an elementwise result: equal lengths, or a scalar against anything.
fn broadcast(a: usize, b: usize) -> Option<usize> {
    if a == b || b == 1 {
        Some(a)
    } else if a == 1 {
        Some(b)
    } else {
        None
    }
}
