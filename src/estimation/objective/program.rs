//! Compilation of a syntax tree into a flat, validated program: names resolved,
//! shapes checked, constants folded, and every sub-expression that does not depend
//! on x (it may depend on θ, which is fixed for a job) evaluated once, up front.

use super::ast::{BinOp, Column, Expr};
use super::error::ObjectiveError;
use super::functions::{self, FunctionOp, Map, Zip};
use super::kernels::{self, View};
use super::logspace::{self, LogInputs};
use super::nodes::{Binding, Kind, Node, Op, Program};

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
        let (vals, adjs, max_len) = lay_out(&mut nodes);
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
                kernels::forward(&node, &views, &mut out, 1);
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
            FunctionOp::Reduce(r) if len == 1 && r.is_identity_on_one() => Ok(a),
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

/// Lays out the per-batch buffers, in topological order (arguments first): the
/// offset of each varying node's value and of each reached node's adjoint.
/// Returns the floats per sample of values and of adjoints, and the longest node.
fn lay_out(nodes: &mut [Node]) -> (usize, usize, usize) {
    let mut vals = 0;
    let mut adjs = 0;
    let mut max_len = 1;
    for node in nodes {
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
    (vals, adjs, max_len)
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
