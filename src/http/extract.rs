//! A JSON body extractor whose every rejection is one of our problems: a wrong
//! content type is 415, a body over the limit 413, text that is not JSON 400,
//! and a value of the wrong type or an unknown field 422 with a JSON pointer
//! to it (tracked, when a body fails, by `serde_path_to_error`). As a
//! response, the same type writes its value as JSON.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::error::{ApiError, pointer};
use super::state::AppState;

/// A JSON request body, deserialised into `T`; or a response body, `T` written
/// as JSON.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// Room for a small result (an estimate of a few parameters is some 600
/// bytes), so writing one does not grow the buffer from axum's 128 bytes.
const RESPONSE_CAPACITY: usize = 1024;

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(RESPONSE_CAPACITY);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => {
                let mut response = Response::new(Body::from(body));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(e) => ApiError::internal(format!("writing a response failed: {e}")).into_response(),
        }
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        check_content_type(&request)?;
        let limit = state.limits().body_limit(request.uri().path());
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge { limit }
            } else {
                ApiError::MalformedJson {
                    pointer: None,
                    detail: format!("the body could not be read: {e}"),
                }
            }
        })?;
        from_slice(&bytes).map(ApiJson)
    }
}

fn check_content_type(request: &Request) -> Result<(), ApiError> {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType(
            "the request has no Content-Type; send the body as JSON with \
             'Content-Type: application/json'"
                .to_string(),
        ));
    };
    let text = value.to_str().unwrap_or("");
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "the body is declared as '{text}'; send it as JSON with 'Content-Type: application/json'"
        )))
    }
}

/// Deserialises a JSON document, turning serde's errors into problems that
/// point at the offending field. A body is read once, without tracking where
/// in it the reader is; only one that fails is read again to name the field
/// (tracking costs about a third of reading).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| json_error(&e, bytes))?;
    de.end().map_err(|e| ApiError::MalformedJson {
        pointer: None,
        detail: format!(
            "the body has text after the JSON value ({})",
            strip_location(&e)
        ),
    })?;
    Ok(value)
}

fn json_error(e: &serde_path_to_error::Error<serde_json::Error>, bytes: &[u8]) -> ApiError {
    let inner = e.inner();
    let mut segments: Vec<String> = Vec::new();
    for segment in e.path() {
        match segment {
            Segment::Seq { index } => segments.push(index.to_string()),
            Segment::Map { key } => segments.push(key.clone()),
            Segment::Enum { variant } => segments.push(variant.clone()),
            Segment::Unknown => break,
        }
    }
    let message = variant_words(
        &in_api_words(&strip_location(inner)),
        segments.last().map_or("", String::as_str),
    );
    // serde reports a missing or repeated field at the object that lacks it;
    // point at the field itself.
    let names_a_field = message.ends_with("is required") || message.ends_with("is given twice");
    if names_a_field
        && let Some(rest) = message.strip_prefix("the field \"")
        && let Some(name) = rest.split('"').next()
    {
        segments.push(name.to_string());
    }
    let at = pointer("", &segments);
    let pointer = (!segments.is_empty()).then_some(at.clone());
    let place = if segments.is_empty() {
        "the body".to_string()
    } else {
        at
    };
    match inner.classify() {
        serde_json::error::Category::Data => {
            ApiError::field(pointer.unwrap_or_default(), format!("{place}: {message}"))
        }
        serde_json::error::Category::Syntax if non_finite_literal(bytes, inner) => ApiError::field(
            pointer.unwrap_or_default(),
            format!("{place}: NaN and Infinity are not JSON numbers; every number must be finite"),
        ),
        // serde reports some values of the wrong shape (an externally tagged
        // enum's object with no key or two, such as a `{"constant": b}`
        // baseline) as syntax errors; the body is JSON, the field is wrong.
        serde_json::error::Category::Syntax if is_json(bytes) => ApiError::field(
            pointer.unwrap_or_default(),
            format!("{place}: the value does not have the expected form ({message})"),
        ),
        _ => ApiError::MalformedJson {
            pointer,
            detail: format!(
                "the body is not valid JSON: {message} (line {}, column {})",
                inner.line(),
                inner.column()
            ),
        },
    }
}

/// Whether the bytes are one well-formed JSON document.
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// Whether a syntax error sits on a `NaN` or `Infinity` literal (which
/// Python's json module, for one, writes by default).
fn non_finite_literal(bytes: &[u8], e: &serde_json::Error) -> bool {
    let Some(line) = bytes.split(|b| *b == b'\n').nth(e.line().saturating_sub(1)) else {
        return false;
    };
    let col = e.column().saturating_sub(1).min(line.len());
    let start = col.saturating_sub(9);
    let window = &line[start..(col + 9).min(line.len())];
    [&b"NaN"[..], b"Infinity"]
        .iter()
        .any(|lit| window.windows(lit.len()).any(|w| w == *lit))
}

fn strip_location(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(" at line ") {
        Some((head, _)) => head.to_string(),
        None => text,
    }
}

/// serde's words for a value of the wrong kind, in the API's: backquotes become
/// double quotes and Rust type names become JSON kinds, so a client reads
/// "\"leave_one_out\" is not accepted; use one of \"none\", \"mean\"" and never
/// "unknown variant" or "expected f64".
fn in_api_words(message: &str) -> String {
    let quoted = |t: &str| t.replace('`', "\"");
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let expected = expected.trim_start_matches("one of ");
        return format!(
            "{} is not accepted; use one of {}",
            quoted(got),
            quoted(expected)
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let expected = expected.trim_start_matches("one of ");
        return format!(
            "{} is not a field here; the fields are {}",
            quoted(got),
            quoted(expected)
        );
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("the field {} is required", quoted(rest));
    }
    if let Some(rest) = message.strip_prefix("duplicate field ") {
        return format!("the field {} is given twice", quoted(rest));
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
            return format!("expected {}, got {}", kind(expected), unexpected(got));
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return format!("expected {}, got {got} entries", kind(expected));
    }
    quoted(message)
}

/// serde's words for an option written with or without the value it takes
/// (`"baseline": "constant"`, `"baseline": {"none": 1}`), in the API's.
fn variant_words(message: &str, name: &str) -> String {
    match message {
        "expected newtype variant, got unit variant" => {
            format!("\"{name}\" takes a value: write it as {{\"{name}\": value}}")
        }
        m if m.starts_with("expected unit, got ") => {
            format!("\"{name}\" takes no value: write it as the string \"{name}\"")
        }
        m => m.to_string(),
    }
}

/// serde's description of the value it got, as JSON: `integer \`3\`` and
/// `floating point \`1.5\`` are "the number 3", strings keep their quotes.
fn unexpected(got: &str) -> String {
    for prefix in ["integer `", "floating point `"] {
        if let Some(n) = got.strip_prefix(prefix) {
            return format!("the number {}", n.trim_end_matches('`'));
        }
    }
    match got.strip_prefix("string ") {
        Some(s) => format!("the string {}", s.replace('`', "\"")),
        None => got.replace('`', "\""),
    }
}

/// A Rust type in serde's "expected …" as the JSON it stands for.
fn kind(expected: &str) -> String {
    match expected {
        "f64" | "f32" => "a number".to_string(),
        "u64" | "u32" | "usize" => "a whole number ≥ 0".to_string(),
        "i64" | "i32" => "a whole number".to_string(),
        "a boolean" | "bool" => "true or false".to_string(),
        "a sequence" => "a list".to_string(),
        "a map" => "an object".to_string(),
        e if e.starts_with("struct ") || e.starts_with("enum ") => "an object".to_string(),
        e if e.starts_with("internally tagged enum") => "an object with a \"kind\"".to_string(),
        e => e.replace('`', "\""),
    }
}
