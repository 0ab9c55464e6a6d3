//! The one table of the language's functions and constants, and the kernels they
//! name. Parsing, arity, dispatch, error messages and the catalog all read
//! [`FUNCTION_TABLE`] and [`CONSTANT_TABLE`]; nothing else lists them.
//!
//! A function is a name and a [`FunctionOp`]; its arity and its signature follow
//! from the op, and every match over [`FunctionOp`], [`Map`], [`Zip`] and
//! [`Reduce`] is exhaustive, so a new entry or a new kernel does not compile
//! until every place that dispatches on it handles it.

/// Elementwise functions of one argument (the functions, and the kernels that
/// negation and constant powers compile to).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Map {
    Neg,
    Exp,
    Log,
    Log1p,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Softplus,
    Square,
    PowI(i32),
    PowF(f64),
}

/// Elementwise functions of two arguments, with broadcasting of scalars (the
/// functions, the arithmetic operators and the comparisons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zip {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Min,
    Max,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Zip {
    /// Comparisons are steps: their derivative is zero almost everywhere and they
    /// pass no gradient, which a pathwise estimator silently misses.
    pub(crate) fn is_step(self) -> bool {
        match self {
            Zip::Lt | Zip::Le | Zip::Gt | Zip::Ge | Zip::Eq | Zip::Ne => true,
            Zip::Add | Zip::Sub | Zip::Mul | Zip::Div | Zip::Pow | Zip::Min | Zip::Max => false,
        }
    }
}

/// Reductions of a vector to a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reduce {
    Sum,
    Mean,
    Prod,
    Norm,
    LogSumExp,
}

impl Reduce {
    /// Whether reducing a single entry a gives a itself, bit for bit, value and
    /// gradient: sum = −0 + a, mean = a/1 and prod = 1·a are exact; norm = √(a²)
    /// is |a| (and overflows), and logsumexp, max + log Σ e^(a − max) with max
    /// taken ignoring NaN, is not a at a = NaN.
    /// The compiler drops such a reduction of a one-entry vector, so
    /// `sum((x - 3)^2)` costs what `(x - 3)^2` costs when x has one entry.
    pub(crate) fn is_identity_on_one(self) -> bool {
        match self {
            Reduce::Sum | Reduce::Mean | Reduce::Prod => true,
            Reduce::Norm | Reduce::LogSumExp => false,
        }
    }
}

/// What a function of the language computes, and so how many arguments it takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FunctionOp {
    /// `f(a)`, elementwise.
    Map(Map),
    /// `f(a, b)`, elementwise, scalars broadcast.
    Zip(Zip),
    /// `f(v)`, a vector to a scalar.
    Reduce(Reduce),
    /// `dot(a, b)` = Σᵢ aᵢ bᵢ.
    Dot,
}

impl FunctionOp {
    /// The number of arguments.
    pub(crate) fn arity(self) -> usize {
        match self {
            FunctionOp::Map(_) | FunctionOp::Reduce(_) => 1,
            FunctionOp::Zip(_) | FunctionOp::Dot => 2,
        }
    }

    /// The arguments' names as the signature shows them.
    fn params(self) -> &'static str {
        match self {
            FunctionOp::Map(_) => "a",
            FunctionOp::Reduce(_) => "v",
            FunctionOp::Zip(_) | FunctionOp::Dot => "a, b",
        }
    }
}

/// A function of the objective language.
#[derive(Debug, Clone, Copy)]
pub struct FunctionDef {
    /// The name it is called by.
    pub name: &'static str,
    /// What it computes, in terms of the arguments of [`FunctionDef::signature`].
    pub formula: &'static str,
    pub(crate) op: FunctionOp,
}

impl FunctionDef {
    /// The number of arguments it takes.
    pub fn arity(&self) -> usize {
        self.op.arity()
    }

    /// How it is called, e.g. `min(a, b)`.
    pub fn signature(&self) -> String {
        format!("{}({})", self.name, self.op.params())
    }

    /// The signature and the formula, e.g. `min(a, b): elementwise minimum, …`.
    pub fn doc(&self) -> String {
        format!("{}: {}", self.signature(), self.formula)
    }
}

const fn def(name: &'static str, op: FunctionOp, formula: &'static str) -> FunctionDef {
    FunctionDef { name, formula, op }
}

/// Every function of the language, in the order the catalog lists them.
pub static FUNCTION_TABLE: &[FunctionDef] = &[
    def("exp", FunctionOp::Map(Map::Exp), "elementwise eᵃ"),
    def(
        "log",
        FunctionOp::Map(Map::Log),
        "elementwise natural logarithm",
    ),
    def(
        "log1p",
        FunctionOp::Map(Map::Log1p),
        "elementwise log(1 + a), accurate near 0",
    ),
    def(
        "sqrt",
        FunctionOp::Map(Map::Sqrt),
        "elementwise square root",
    ),
    def("abs", FunctionOp::Map(Map::Abs), "elementwise |a|"),
    def("sin", FunctionOp::Map(Map::Sin), "elementwise sine"),
    def("cos", FunctionOp::Map(Map::Cos), "elementwise cosine"),
    def(
        "tanh",
        FunctionOp::Map(Map::Tanh),
        "elementwise hyperbolic tangent",
    ),
    def(
        "sigmoid",
        FunctionOp::Map(Map::Sigmoid),
        "elementwise 1/(1 + e⁻ᵃ)",
    ),
    def(
        "softplus",
        FunctionOp::Map(Map::Softplus),
        "elementwise log(1 + eᵃ), stable for large |a|",
    ),
    def(
        "min",
        FunctionOp::Zip(Zip::Min),
        "elementwise minimum, scalars broadcast",
    ),
    def(
        "max",
        FunctionOp::Zip(Zip::Max),
        "elementwise maximum, scalars broadcast",
    ),
    def(
        "pow",
        FunctionOp::Zip(Zip::Pow),
        "elementwise aᵇ, scalars broadcast",
    ),
    def("sum", FunctionOp::Reduce(Reduce::Sum), "Σᵢ vᵢ"),
    def("mean", FunctionOp::Reduce(Reduce::Mean), "(1/n) Σᵢ vᵢ"),
    def("prod", FunctionOp::Reduce(Reduce::Prod), "Πᵢ vᵢ"),
    def("dot", FunctionOp::Dot, "Σᵢ aᵢ bᵢ"),
    def("norm", FunctionOp::Reduce(Reduce::Norm), "√(Σᵢ vᵢ²)"),
    def(
        "logsumexp",
        FunctionOp::Reduce(Reduce::LogSumExp),
        "log Σᵢ e^{vᵢ}, computed stably",
    ),
];

/// The function called `name`, if there is one.
pub fn function(name: &str) -> Option<&'static FunctionDef> {
    FUNCTION_TABLE.iter().find(|f| f.name == name)
}

/// The functions' names, comma-separated, for error messages.
pub(crate) fn function_names() -> String {
    let names: Vec<&str> = FUNCTION_TABLE.iter().map(|f| f.name).collect();
    names.join(", ")
}

/// A named constant of the language.
#[derive(Debug, Clone, Copy)]
pub struct ConstantDef {
    pub name: &'static str,
    pub value: f64,
    pub doc: &'static str,
}

/// Every named constant of the language.
pub static CONSTANT_TABLE: &[ConstantDef] = &[ConstantDef {
    name: "pi",
    value: std::f64::consts::PI,
    doc: "π = 3.14159…",
}];

/// The constant called `name`, if there is one.
pub fn constant(name: &str) -> Option<&'static ConstantDef> {
    CONSTANT_TABLE.iter().find(|c| c.name == name)
}
