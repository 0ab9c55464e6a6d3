//! Lexer and recursive-descent parser for the objective language.
//!
//! Grammar (lowest binding first):
//!
//! ```text
//! expr     := additive (("<" | "<=" | ">" | ">=" | "==" | "!=") additive)*
//! additive := term (("+" | "-") term)*
//! term     := unary (("*" | "/") unary)*
//! unary    := ("-" | "+") unary | power
//! power    := postfix ("^" unary)?          right-associative: 2^3^2 = 2^(3^2)
//! postfix  := primary ("[" integer "]")*
//! primary  := number | name | name "(" expr ("," expr)* ")" | "(" expr ")"
//!           | "[" expr ("," expr)* "]"
//! ```
//!
//! `^` binds tighter than unary minus, so `-2^2` is −4, while `2^-1` is 0.5.
//! Recursion depth is bounded by [`ParseLimits::max_depth`], so no input can
//! overflow the stack; length and node count are bounded too.

use super::ast::{BinOp, Column, Expr};
use super::error::ObjectiveError;

/// Bounds that keep parsing and evaluation cheap whatever the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Longest accepted objective, in characters.
    pub max_length: usize,
    /// Most nodes in the syntax tree.
    pub max_nodes: usize,
    /// Deepest nesting of sub-expressions.
    pub max_depth: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_length: 10_000,
            max_nodes: 10_000,
            max_depth: 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(&'static str),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    col: Column,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Num(v) => format!("number {v}"),
        Tok::Ident(s) => format!("name '{s}'"),
        Tok::Op(s) => format!("'{s}'"),
        Tok::End => "end of input".to_string(),
    }
}

/// Splits the text into tokens, each with its column (1-based, in characters).
fn lex(text: &str) -> Result<Vec<Token>, ObjectiveError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (tok, next) = if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            lex_number(&chars, i)?
        } else if c.is_ascii_alphabetic() || c == '_' {
            lex_name(&chars, i)
        } else {
            lex_operator(&chars, i)?
        };
        out.push(Token { tok, col });
        i = next;
    }
    out.push(Token {
        tok: Tok::End,
        col: chars.len() + 1,
    });
    Ok(out)
}

/// The number starting at `chars[i]` (digits, an optional fraction, an optional
/// exponent), and the index after it.
fn lex_number(chars: &[char], mut i: usize) -> Result<(Tok, usize), ObjectiveError> {
    let col = i + 1;
    let start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    if i < chars.len() && chars[i] == '.' {
        i += 1;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
        let mut j = i + 1;
        if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
            j += 1;
        }
        if j < chars.len() && chars[j].is_ascii_digit() {
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let s: String = chars[start..i].iter().collect();
    let v: f64 = s
        .parse()
        .map_err(|_| ObjectiveError::syntax(col, format!("malformed number '{s}'")))?;
    if !v.is_finite() {
        return Err(ObjectiveError::syntax(
            col,
            format!("number '{s}' is out of the range of a 64-bit float"),
        ));
    }
    Ok((Tok::Num(v), i))
}

/// The name starting at `chars[i]`, and the index after it.
fn lex_name(chars: &[char], mut i: usize) -> (Tok, usize) {
    let start = i;
    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    (Tok::Ident(chars[start..i].iter().collect()), i)
}

/// The operator or punctuation starting at `chars[i]` (`**` is read as `^`), and
/// the index after it.
fn lex_operator(chars: &[char], i: usize) -> Result<(Tok, usize), ObjectiveError> {
    let c = chars[i];
    let col = i + 1;
    let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
    let op: Option<&'static str> = match two.as_str() {
        "<=" => Some("<="),
        ">=" => Some(">="),
        "==" => Some("=="),
        "!=" => Some("!="),
        "**" => Some("^"),
        _ => None,
    };
    if let Some(op) = op {
        return Ok((Tok::Op(op), i + 2));
    }
    let op: &'static str = match c {
        '+' => "+",
        '-' => "-",
        '*' => "*",
        '/' => "/",
        '^' => "^",
        '<' => "<",
        '>' => ">",
        '(' => "(",
        ')' => ")",
        '[' => "[",
        ']' => "]",
        ',' => ",",
        '=' => {
            return Err(ObjectiveError::syntax(
                col,
                "'=' is not an operator; use '==' to compare".to_string(),
            ));
        }
        _ => {
            return Err(ObjectiveError::syntax(
                col,
                format!("unexpected character '{c}'"),
            ));
        }
    };
    Ok((Tok::Op(op), i + 1))
}

/// Parses an objective into its syntax tree, enforcing `limits`.
pub fn parse(text: &str, limits: &ParseLimits) -> Result<Expr, ObjectiveError> {
    let length = text.chars().count();
    if length > limits.max_length {
        return Err(ObjectiveError::Limit(format!(
            "the objective has {length} characters; the limit is {}",
            limits.max_length
        )));
    }
    if text.trim().is_empty() {
        return Err(ObjectiveError::syntax(
            1,
            "the objective is empty".to_string(),
        ));
    }
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        nodes: 0,
        tree_depth: 0,
        limits: *limits,
    };
    let e = p.expr()?;
    let t = p.peek();
    if t.tok != Tok::End {
        return Err(ObjectiveError::syntax(
            t.col,
            format!(
                "unexpected {} after a complete expression",
                describe(&t.tok)
            ),
        ));
    }
    Ok(e)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    nodes: usize,
    /// Depth of the tree being built: nesting plus the length of operator chains
    /// (`a+b+c` is a left-deep tree), bounded by [`MAX_TREE_DEPTH`] so that every
    /// later recursive pass over the tree has a small, known stack need.
    tree_depth: usize,
    limits: ParseLimits,
}

/// Deepest syntax tree accepted, counting chains such as `a+b+c+…` (which are not
/// nesting to a reader, and so not bounded by [`ParseLimits::max_depth`]).
pub const MAX_TREE_DEPTH: usize = 1_000;

impl Parser {
    fn peek(&self) -> Token {
        self.tokens[self.pos].clone()
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(&self.tokens[self.pos].tok, Tok::Op(o) if *o == op)
    }

    fn expect(&mut self, op: &str, context: &str) -> Result<(), ObjectiveError> {
        if self.is_op(op) {
            self.bump();
            Ok(())
        } else {
            let t = self.peek();
            Err(ObjectiveError::syntax(
                t.col,
                format!("expected '{op}' {context}, found {}", describe(&t.tok)),
            ))
        }
    }

    /// Counts a node and checks the node limit.
    fn node(&mut self, e: Expr) -> Result<Expr, ObjectiveError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(ObjectiveError::Limit(format!(
                "the objective has more than {} nodes",
                self.limits.max_nodes
            )));
        }
        Ok(e)
    }

    fn enter(&mut self, col: Column) -> Result<(), ObjectiveError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(ObjectiveError::Limit(format!(
                "the objective nests deeper than {} levels (at column {col})",
                self.limits.max_depth
            )));
        }
        self.grow(1, col)
    }

    fn leave(&mut self) {
        self.depth -= 1;
        self.tree_depth -= 1;
    }

    /// One more level of tree depth (a nesting level or one more link of a chain).
    fn grow(&mut self, by: usize, col: Column) -> Result<(), ObjectiveError> {
        self.tree_depth += by;
        if self.tree_depth > MAX_TREE_DEPTH {
            return Err(ObjectiveError::Limit(format!(
                "the objective's operator chains are longer than {MAX_TREE_DEPTH} links \
                 (at column {col}); sum a vector with sum([..]) instead"
            )));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ObjectiveError> {
        let col = self.peek().col;
        self.enter(col)?;
        let mut lhs = self.additive()?;
        let mut links = 0;
        loop {
            let op = match &self.peek().tok {
                Tok::Op("<") => BinOp::Lt,
                Tok::Op("<=") => BinOp::Le,
                Tok::Op(">") => BinOp::Gt,
                Tok::Op(">=") => BinOp::Ge,
                Tok::Op("==") => BinOp::Eq,
                Tok::Op("!=") => BinOp::Ne,
                _ => break,
            };
            let c = self.bump().col;
            self.grow(1, c)?;
            links += 1;
            let rhs = self.additive()?;
            lhs = self.node(Expr::Binary(op, Box::new(lhs), Box::new(rhs), c))?;
        }
        self.tree_depth -= links;
        self.leave();
        Ok(lhs)
    }

    fn additive(&mut self) -> Result<Expr, ObjectiveError> {
        let mut lhs = self.term()?;
        let mut links = 0;
        loop {
            let op = match &self.peek().tok {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => break,
            };
            let c = self.bump().col;
            self.grow(1, c)?;
            links += 1;
            let rhs = self.term()?;
            lhs = self.node(Expr::Binary(op, Box::new(lhs), Box::new(rhs), c))?;
        }
        self.tree_depth -= links;
        Ok(lhs)
    }

    fn term(&mut self) -> Result<Expr, ObjectiveError> {
        let mut lhs = self.unary()?;
        let mut links = 0;
        loop {
            let op = match &self.peek().tok {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                _ => break,
            };
            let c = self.bump().col;
            self.grow(1, c)?;
            links += 1;
            let rhs = self.unary()?;
            lhs = self.node(Expr::Binary(op, Box::new(lhs), Box::new(rhs), c))?;
        }
        self.tree_depth -= links;
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ObjectiveError> {
        let t = self.peek();
        if self.is_op("-") || self.is_op("+") {
            self.bump();
            self.enter(t.col)?;
            let inner = self.unary()?;
            self.leave();
            if t.tok == Tok::Op("+") {
                return Ok(inner);
            }
            return self.node(Expr::Neg(Box::new(inner), t.col));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, ObjectiveError> {
        let base = self.postfix()?;
        if self.is_op("^") {
            let c = self.bump().col;
            self.enter(c)?;
            let exponent = self.unary()?;
            self.leave();
            return self.node(Expr::Binary(
                BinOp::Pow,
                Box::new(base),
                Box::new(exponent),
                c,
            ));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Expr, ObjectiveError> {
        let mut e = self.primary()?;
        let mut links = 0;
        while self.is_op("[") {
            let open = self.bump().col;
            self.grow(1, open)?;
            links += 1;
            let t = self.bump();
            let index = match t.tok {
                Tok::Num(v) if v >= 0.0 && v.fract() == 0.0 && v < 1e15 => v as usize,
                Tok::Op("-") => {
                    return Err(ObjectiveError::syntax(
                        t.col,
                        "an index must be a non-negative integer (negative indices are not supported)"
                            .to_string(),
                    ));
                }
                other => {
                    return Err(ObjectiveError::syntax(
                        t.col,
                        format!(
                            "an index must be a non-negative integer literal, found {}",
                            describe(&other)
                        ),
                    ));
                }
            };
            self.expect("]", "to close the index")?;
            e = self.node(Expr::Index(Box::new(e), index, open))?;
        }
        self.tree_depth -= links;
        Ok(e)
    }

    fn list(&mut self, close: &str, what: &str) -> Result<Vec<Expr>, ObjectiveError> {
        let mut items = Vec::new();
        if self.is_op(close) {
            let t = self.peek();
            return Err(ObjectiveError::syntax(t.col, format!("empty {what}")));
        }
        loop {
            items.push(self.expr()?);
            if self.is_op(",") {
                self.bump();
                continue;
            }
            self.expect(close, &format!("to close the {what}"))?;
            return Ok(items);
        }
    }

    fn primary(&mut self) -> Result<Expr, ObjectiveError> {
        let t = self.bump();
        match t.tok {
            Tok::Num(v) => self.node(Expr::Num(v, t.col)),
            Tok::Ident(name) => {
                if self.is_op("(") {
                    self.bump();
                    self.enter(t.col)?;
                    let args = self.list(")", "argument list")?;
                    self.leave();
                    self.node(Expr::Call(name, args, t.col))
                } else {
                    self.node(Expr::Var(name, t.col))
                }
            }
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect(")", "to close the parenthesis")?;
                Ok(e)
            }
            Tok::Op("[") => {
                self.enter(t.col)?;
                let items = self.list("]", "vector literal")?;
                self.leave();
                self.node(Expr::Vector(items, t.col))
            }
            other => Err(ObjectiveError::syntax(
                t.col,
                format!(
                    "expected a number, a name, '(' or '[', found {}",
                    describe(&other)
                ),
            )),
        }
    }
}
