//! The precise rules of gradest's objective language: precedence and
//! associativity, comparisons, broadcasting, and every kind of refusal.
#![allow(clippy::disallowed_methods)]

use gradest::estimation::objective::{
    Binding, FUNCTION_TABLE, MAX_TREE_DEPTH, ObjectiveError, ParseLimits, Program, Want, parse,
};

/// Compiles `text` for samples of length `x.len()`, with parameters `loc` and
/// `scale` of that length (values 10, 20, … and 1, 2, …).
fn compile(text: &str, d: usize) -> Result<Program, ObjectiveError> {
    let limits = ParseLimits::default();
    let expr = parse(text, &limits)?;
    let bindings = [
        Binding {
            name: "loc".into(),
            values: (1..=d).map(|i| 10.0 * i as f64).collect(),
            grad_offset: Some(0),
        },
        Binding {
            name: "scale".into(),
            values: (1..=d).map(|i| i as f64).collect(),
            grad_offset: Some(d),
        },
    ];
    Program::compile(&expr, d, &bindings, 2 * d, 1 << 20)
}

/// f at x (one sample), and at x in a batch of three copies (which takes the
/// batched code paths); both must agree.
fn eval(text: &str, x: &[f64]) -> f64 {
    let p = compile(text, x.len()).unwrap_or_else(|e| panic!("{text}: {e}"));
    let want = Want {
        grad_x: true,
        grad_theta: true,
    };
    let mut ws = p.workspace(3);
    let one = p.eval(&mut ws, x, 1, want).f[0];
    let batch: Vec<f64> = x.iter().chain(x).chain(x).copied().collect();
    let three = p.eval(&mut ws, &batch, 3, want).f.to_vec();
    assert!(
        three.iter().all(|v| v.to_bits() == one.to_bits()),
        "{text}: {one} alone, {three:?} in a batch"
    );
    one
}

fn error(text: &str, d: usize) -> ObjectiveError {
    match compile(text, d) {
        Ok(_) => panic!("{text:?} was accepted"),
        Err(e) => e,
    }
}

fn assert_eval(text: &str, x: &[f64], want: f64) {
    let got = eval(text, x);
    assert!(
        (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
        "{text} at {x:?} = {got}, expected {want}"
    );
}

#[test]
fn power_binds_tighter_than_unary_minus_and_is_right_associative() {
    // Constant-folded and evaluated per sample.
    assert_eval("-2^2", &[0.0], -4.0);
    assert_eval("-x[0]^2", &[2.0], -4.0);
    assert_eval("(-2)^2", &[0.0], 4.0);
    assert_eval("(-x[0])^2", &[2.0], 4.0);
    assert_eval("2^3^2", &[0.0], 512.0);
    assert_eval("x[0]^x[1]^x[2]", &[2.0, 3.0, 2.0], 512.0);
    assert_eval("(2^3)^2", &[0.0], 64.0);
    assert_eval("2^-1", &[0.0], 0.5);
    assert_eval("x[0]^-x[1]", &[2.0, 1.0], 0.5);
    assert_eval("-2^-2", &[0.0], -0.25);
    assert_eval("2^-1^2", &[0.0], 0.5);
    assert_eval("2**3", &[0.0], 8.0);
    assert_eval("x[0]**3", &[2.0], 8.0);
    assert_eval("pow(2, 3)", &[0.0], 8.0);
    assert_eval("--3", &[0.0], 3.0);
    assert_eval("+3", &[0.0], 3.0);
}

#[test]
fn arithmetic_is_left_associative_with_the_usual_precedence() {
    assert_eval("1 - 2 - 3", &[0.0], -4.0);
    assert_eval("x[0] - x[0] - x[0]", &[1.0], -1.0);
    assert_eval("8 / 4 / 2", &[0.0], 1.0);
    assert_eval("x[0] / 4 / 2", &[8.0], 1.0);
    assert_eval("1 + 2 * 3", &[0.0], 7.0);
    assert_eval("2 * 3 ^ 2", &[0.0], 18.0);
    assert_eval("-3 * 2", &[0.0], -6.0);
    assert_eval("2 * -3", &[0.0], -6.0);
    assert_eval("1e3 + 2.5E-1 + .5 + 5.", &[0.0], 1005.75);
    assert_eval("pi", &[0.0], std::f64::consts::PI);
}

#[test]
fn comparisons_give_zero_or_one_and_bind_loosest() {
    assert_eval("1 < 2", &[0.0], 1.0);
    assert_eval("2 < 1", &[0.0], 0.0);
    assert_eval("1 <= 1", &[0.0], 1.0);
    assert_eval("1 >= 2", &[0.0], 0.0);
    assert_eval("2 > 1", &[0.0], 1.0);
    assert_eval("1 == 1", &[0.0], 1.0);
    assert_eval("1 != 1", &[0.0], 0.0);
    assert_eval("x[0] > x[1]", &[2.0, 1.0], 1.0);
    assert_eval("x[0] == x[1]", &[2.0, 1.0], 0.0);
    assert_eval("sum(x > 1)", &[0.0, 1.0, 2.0], 1.0);
    assert_eval("sum(x >= 1)", &[0.0, 1.0, 2.0], 2.0);
    assert_eval("sum(x != 1)", &[0.0, 1.0, 2.0], 2.0);
    assert_eval("1 + 2 < 4", &[0.0], 1.0);
    assert_eval("(1 < 2) + (3 < 4)", &[0.0], 2.0);
    // Left-associative: (3 > 2) > 1 is 1 > 1.
    assert_eval("3 > 2 > 1", &[0.0], 0.0);
    assert_eval("x[0] > x[1] > x[2]", &[3.0, 2.0, 1.0], 0.0);
}

#[test]
fn scalars_broadcast_over_vectors() {
    let x = [1.0, 2.0, 4.0];
    assert_eval("sum(x + 1)", &x, 10.0);
    assert_eval("sum(1 + x)", &x, 10.0);
    assert_eval("sum(2 * x)", &x, 14.0);
    assert_eval("sum(x / 2)", &x, 3.5);
    assert_eval("sum(8 / x)", &x, 14.0);
    assert_eval("sum(x - [1, 2, 3])", &x, 1.0);
    assert_eval("sum(x ^ 2)", &x, 21.0);
    assert_eval("sum(2 ^ x)", &x, 22.0);
    assert_eval("sum(pow(x, 2))", &x, 21.0);
    assert_eval("sum(pow(2, x))", &x, 22.0);
    assert_eval("sum(min(x, 2))", &x, 5.0);
    assert_eval("sum(max(2, x))", &x, 8.0);
    assert_eval("dot(x, 2)", &x, 14.0);
    assert_eval("dot(x, [1, 0, -1])", &x, -3.0);
    assert_eval("sum(x * loc)", &x, 10.0 + 40.0 + 120.0);
    assert_eval("sum(x[2] * x)", &x, 28.0);
    assert_eval("mean(x)", &x, 7.0 / 3.0);
    assert_eval("prod(x)", &x, 8.0);
    assert_eval("norm([3, 4])", &x, 5.0);
    assert_eval("logsumexp([0, 0])", &x, 2f64.ln());
    assert_eval("logsumexp(1000 + [0, 0])", &x, 1000.0 + 2f64.ln());
    assert_eval("sum(scale)", &x, 6.0);
    assert_eval("[x[0], 5, loc[1]][2]", &x, 20.0);
}

#[test]
fn elementwise_functions() {
    let cases: [(&str, f64); 10] = [
        ("exp(x[0])", 0.5f64.exp()),
        ("log(x[0])", 0.5f64.ln()),
        ("log1p(x[0])", 0.5f64.ln_1p()),
        ("sqrt(x[0])", 0.5f64.sqrt()),
        ("abs(-x[0])", 0.5),
        ("sin(x[0]) + cos(x[0])", 0.5f64.sin() + 0.5f64.cos()),
        ("tanh(x[0])", 0.5f64.tanh()),
        ("sigmoid(x[0])", 1.0 / (1.0 + (-0.5f64).exp())),
        ("softplus(x[0])", 0.5f64.exp().ln_1p()),
        ("softplus(1000 * x[0]) + sigmoid(-1000 * x[0])", 500.0),
    ];
    for (text, want) in cases {
        assert_eval(text, &[0.5], want);
    }
}

/// The message of an error that points at a column.
fn at(e: &ObjectiveError) -> (usize, String) {
    match e {
        ObjectiveError::Syntax { column, message }
        | ObjectiveError::Invalid { column, message } => (*column, message.clone()),
        ObjectiveError::Limit(m) => panic!("expected an error with a column, got the limit {m:?}"),
    }
}

fn limit(e: &ObjectiveError) -> String {
    match e {
        ObjectiveError::Limit(m) => m.clone(),
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn a_negative_index_is_an_error_at_its_column() {
    let e = error("x[-1]", 3);
    assert!(matches!(e, ObjectiveError::Syntax { .. }), "{e:?}");
    let (column, message) = at(&e);
    assert_eq!(column, 3, "{message}");
    assert!(message.contains("negative"), "{message}");
    assert!(e.to_string().starts_with("column 3:"), "{e}");
}

#[test]
fn indices_must_be_in_range_and_integers() {
    let (column, message) = at(&error("sum(x) + x[3]", 3));
    assert_eq!(column, 11);
    assert!(
        message.contains("index 3") && message.contains("length 3"),
        "{message}"
    );
    let (column, message) = at(&error("x[1.5]", 3));
    assert_eq!(column, 3);
    assert!(message.contains("non-negative integer"), "{message}");
    let (_, message) = at(&error("x[i]", 3));
    assert!(message.contains("non-negative integer"), "{message}");
}

#[test]
fn unknown_names_and_functions_list_the_alternatives() {
    let (column, message) = at(&error("sum(x) + y", 2));
    assert_eq!(column, 10);
    assert!(
        message.contains("'y'") && message.contains("x, loc, scale, pi"),
        "{message}"
    );
    let (column, message) = at(&error("1 + foo(x)", 2));
    assert_eq!(column, 5);
    assert!(message.contains("'foo'"), "{message}");
    for name in FUNCTION_TABLE.iter().map(|f| f.name) {
        assert!(message.contains(name), "{message} does not name {name}");
    }
    let (_, message) = at(&error("exp", 2));
    assert!(message.contains("function"), "{message}");
}

#[test]
fn arity_errors_say_what_was_expected() {
    let (column, message) = at(&error("1 + min(x[0])", 1));
    assert_eq!(column, 5);
    assert!(
        message.contains("'min' takes 2 arguments, found 1"),
        "{message}"
    );
    let (_, message) = at(&error("exp(x[0], 1)", 1));
    assert!(
        message.contains("'exp' takes 1 argument, found 2"),
        "{message}"
    );
    for name in FUNCTION_TABLE.iter().map(|f| f.name) {
        let e = error(&format!("{name}(x, x, x)"), 1);
        assert!(at(&e).1.contains("found 3"), "{name}: {e}");
    }
}

#[test]
fn shape_errors() {
    // A vector-valued objective: the error points at its top node (here the '+').
    let (column, message) = at(&error("x + 1", 3));
    assert_eq!(column, 3);
    assert!(
        message.contains("scalar") && message.contains("sum"),
        "{message}"
    );
    let (_, message) = at(&error("sum(x + [1, 2])", 3));
    assert!(
        message.contains("length 3") && message.contains("length 2"),
        "{message}"
    );
    let (_, message) = at(&error("dot(x, [1, 2])", 3));
    assert!(message.contains("dot"), "{message}");
    let (_, message) = at(&error("sum([x, 1])", 3));
    assert!(message.contains("scalars"), "{message}");
}

#[test]
fn syntax_errors_point_at_their_column() {
    let cases = [
        ("1 +", 4, "end of input"),
        ("(1 + 2", 7, "')'"),
        ("1 = 2", 3, "=="),
        ("2 $ 3", 3, "'$'"),
        ("1 2", 3, "after a complete expression"),
        ("sum()", 5, "empty"),
        ("[]", 2, "empty"),
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("1e999", 1, "range"),
    ];
    for (text, col, needle) in cases {
        let e = error(text, 1);
        assert!(
            matches!(e, ObjectiveError::Syntax { .. }),
            "{text:?}: {e:?}"
        );
        let (column, message) = at(&e);
        assert_eq!(column, col, "{text:?}: {message}");
        assert!(message.contains(needle), "{text:?}: {message}");
    }
}

#[test]
fn nesting_deeper_than_64_is_refused() {
    let nested =
        |n: usize, open: &str, close: &str| format!("{}x[0]{}", open.repeat(n), close.repeat(n));
    // The whole expression is level 1, so 63 parentheses nest 64 levels deep.
    assert_eval(&nested(63, "(", ")"), &[1.5], 1.5);
    let m = limit(&error(&nested(64, "(", ")"), 1));
    assert!(m.contains("64"), "{m}");
    let m = limit(&error(&nested(1000, "(", ")"), 1));
    assert!(m.contains("64"), "{m}");
    // Function calls, vector literals and unary minus nest too.
    limit(&error(&nested(70, "tanh(", ")"), 1));
    limit(&error(&nested(70, "[", "]"), 1));
    limit(&error(&nested(70, "-", ""), 1));
    limit(&error(&format!("2{}", "^2".repeat(70)), 1));
}

#[test]
fn the_node_and_length_limits_are_enforced() {
    // 10,000 characters are accepted, 10,001 are not.
    let text = format!("x[0]{}", " ".repeat(10_000 - 4));
    assert_eq!(text.len(), 10_000);
    assert_eval(&text, &[2.0], 2.0);
    let m = limit(&error(&format!("{text} "), 1));
    assert!(m.contains("10000") || m.contains("10,000"), "{m}");
    // Nodes: with a length limit out of the way, sum([1, …, 1]) with 10,000
    // entries has 10,002 nodes.
    let limits = ParseLimits {
        max_length: 1_000_000,
        ..ParseLimits::default()
    };
    let ones = |n: usize| format!("sum([{}])", vec!["1"; n].join(","));
    assert!(parse(&ones(9_998), &limits).is_ok());
    match parse(&ones(10_000), &limits) {
        Err(ObjectiveError::Limit(m)) => assert!(m.contains("nodes"), "{m}"),
        other => panic!("expected the node limit, got {other:?}"),
    }
}

/// A long chain a + a + … is not nesting to a reader, but it is a deep tree:
/// MAX_TREE_DEPTH refuses it before any recursive pass over the tree could
/// overflow the stack. Runs on a thread with 2 MiB of stack, as tokio's workers.
#[test]
fn a_chain_of_2000_additions_is_refused_not_a_stack_overflow() {
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let chain = |n: usize, op: &str| vec!["x[0]"; n + 1].join(op);
            for op in ["+", "*", "-", "/", "<", "^"] {
                let e = error(&chain(2_000, op), 1);
                let m = match &e {
                    ObjectiveError::Limit(m) => m.clone(),
                    other => panic!("{op}: expected a limit, got {other:?}"),
                };
                if op != "^" {
                    assert!(m.contains(&MAX_TREE_DEPTH.to_string()), "{op}: {m}");
                }
            }
            // Just under the limit: parsed, compiled, evaluated, printed and
            // parsed again, all on this stack.
            let n = MAX_TREE_DEPTH - 10;
            let text = chain(n, "+");
            assert_eval(&text, &[0.5], 0.5 * (n + 1) as f64);
            let limits = ParseLimits::default();
            let e = parse(&text, &limits).unwrap();
            assert!(parse(&e.to_string(), &limits).unwrap().same_shape(&e));
            assert_eq!(e.node_count(), 2 * (n + 1) + n);
        })
        .unwrap();
    handle.join().expect("no stack overflow, no panic");
}
