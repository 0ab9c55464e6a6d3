//! The syntax tree of an objective, and a printer whose output parses back to the
//! same tree (the round-trip property the tests check).

use std::fmt;

/// A 1-based character column in the objective text, used in every error message.
pub type Column = usize;

/// Binary operators, in the surface syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
        }
    }

    /// Binding strength: comparisons 1, additive 2, multiplicative 3, power 5
    /// (unary minus is 4: `-2^2` is −(2²)).
    fn precedence(self) -> u8 {
        match self {
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => 1,
            BinOp::Add | BinOp::Sub => 2,
            BinOp::Mul | BinOp::Div => 3,
            BinOp::Pow => 5,
        }
    }
}

/// An objective expression as parsed. Every node keeps the column it starts at.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A non-negative finite literal (a leading minus is [`Expr::Neg`]).
    Num(f64, Column),
    /// `x`, a parameter name, or a named constant such as `pi`.
    Var(String, Column),
    /// `[a, b, c]`.
    Vector(Vec<Expr>, Column),
    /// `e[i]` with a non-negative integer literal `i`.
    Index(Box<Expr>, usize, Column),
    /// `-e`.
    Neg(Box<Expr>, Column),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>, Column),
    /// `name(args)`.
    Call(String, Vec<Expr>, Column),
}

impl Expr {
    /// The column where this node starts.
    pub fn column(&self) -> Column {
        match self {
            Expr::Num(_, c)
            | Expr::Var(_, c)
            | Expr::Vector(_, c)
            | Expr::Index(_, _, c)
            | Expr::Neg(_, c)
            | Expr::Binary(_, _, _, c)
            | Expr::Call(_, _, c) => *c,
        }
    }

    /// Structural equality that ignores columns (printing changes them).
    pub fn same_shape(&self, other: &Expr) -> bool {
        match (self, other) {
            (Expr::Num(a, _), Expr::Num(b, _)) => a.to_bits() == b.to_bits(),
            (Expr::Var(a, _), Expr::Var(b, _)) => a == b,
            (Expr::Vector(a, _), Expr::Vector(b, _))
            | (Expr::Call(_, a, _), Expr::Call(_, b, _))
                if a.len() == b.len() =>
            {
                let names_match = match (self, other) {
                    (Expr::Call(n, _, _), Expr::Call(m, _, _)) => n == m,
                    _ => true,
                };
                names_match && a.iter().zip(b).all(|(p, q)| p.same_shape(q))
            }
            (Expr::Index(a, i, _), Expr::Index(b, j, _)) => i == j && a.same_shape(b),
            (Expr::Neg(a, _), Expr::Neg(b, _)) => a.same_shape(b),
            (Expr::Binary(o, a1, a2, _), Expr::Binary(p, b1, b2, _)) => {
                o == p && a1.same_shape(b1) && a2.same_shape(b2)
            }
            _ => false,
        }
    }

    /// Number of nodes in the tree.
    pub fn node_count(&self) -> usize {
        1 + match self {
            Expr::Num(..) | Expr::Var(..) => 0,
            Expr::Vector(items, _) | Expr::Call(_, items, _) => {
                items.iter().map(Expr::node_count).sum()
            }
            Expr::Index(e, _, _) | Expr::Neg(e, _) => e.node_count(),
            Expr::Binary(_, a, b, _) => a.node_count() + b.node_count(),
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Binary(op, ..) => op.precedence(),
            Expr::Neg(..) => 4,
            Expr::Num(..) | Expr::Var(..) | Expr::Vector(..) | Expr::Index(..) | Expr::Call(..) => {
                6
            }
        }
    }
}

/// Prints with the fewest parentheses that keep the tree unchanged on re-parsing.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `{:?}` is the shortest text that parses back to the same f64.
            Expr::Num(v, _) => write!(f, "{v:?}"),
            Expr::Var(name, _) => f.write_str(name),
            Expr::Vector(items, _) => {
                f.write_str("[")?;
                write_list(f, items)?;
                f.write_str("]")
            }
            Expr::Call(name, args, _) => {
                write!(f, "{name}(")?;
                write_list(f, args)?;
                f.write_str(")")
            }
            Expr::Index(e, i, _) => {
                write_operand(f, e, e.precedence() < 6)?;
                write!(f, "[{i}]")
            }
            Expr::Neg(e, _) => {
                f.write_str("-")?;
                // `-(-a)` needs no parentheses but `--a` reads badly; `-(a+b)` needs them.
                write_operand(f, e, e.precedence() < 4)
            }
            Expr::Binary(op, a, b, _) => {
                let p = op.precedence();
                let (left_paren, right_paren) = if *op == BinOp::Pow {
                    // right-associative, and its left operand may not be a negation
                    (a.precedence() <= p, b.precedence() < 4)
                } else if p == 1 {
                    // comparisons do not chain: parenthesise nested ones on both sides
                    (a.precedence() <= p, b.precedence() <= p)
                } else {
                    (a.precedence() < p, b.precedence() <= p)
                };
                write_operand(f, a, left_paren)?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, b, right_paren)
            }
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, e: &Expr, paren: bool) -> fmt::Result {
    if paren {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}
