//! Bearer-token authentication of the /v1 routes, when `GRADEST_API_TOKENS`
//! is set ([`crate::config::ApiTokens`]); `/healthz`, `/readyz`, `/metrics`,
//! `/openapi.json` and `/docs` stay open.
//!
//! [`require_token`] is the one middleware: it answers 401 (problem+json with
//! `WWW-Authenticate: Bearer realm="gradest"`) to a request without a known
//! token, and otherwise puts the request's [`Principal`] in its extensions,
//! where a handler takes it as an argument.
//!
//! Comparison: the presented token is hashed with SHA-256 and its digest is
//! compared with every accepted digest in constant time (`subtle`), with no
//! early exit. Comparing digests of equal length makes the time independent
//! of how much of a guess is right and of the tokens' lengths; the service
//! keeps no token, only its digest.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::state::AppState;
use crate::config::ApiTokens;
use crate::config::tokens::sha256;

/// Who made a request: the identity of its token (the first 16 hexadecimal
/// digits of the token's SHA-256, not a secret), or `None` when
/// authentication is off.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Infallible;

    /// The principal [`require_token`] recorded; `Principal(None)` on a route
    /// it does not guard.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<Principal>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Why a request is not authenticated; its detail and challenge are what the
/// 401 says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header of another scheme (`Basic …`), or not text.
    NotBearer,
    /// `Bearer` with nothing after it.
    NoToken,
    /// A bearer token this service does not accept.
    UnknownToken,
}

impl AuthFailure {
    /// The problem's detail: what is expected, and what the request had.
    pub fn detail(self) -> String {
        let had = match self {
            AuthFailure::Missing => "the request had no Authorization header",
            AuthFailure::NotBearer => {
                "the request's Authorization header is not of the Bearer scheme"
            }
            AuthFailure::NoToken => {
                "the request's Authorization header has no token after `Bearer`"
            }
            AuthFailure::UnknownToken => "the token is not one this service accepts",
        };
        format!("this service requires `Authorization: Bearer <token>`; {had}")
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 §3: no error code when the
    /// request had no credentials).
    pub fn challenge(self) -> &'static str {
        match self {
            AuthFailure::Missing => r#"Bearer realm="gradest""#,
            AuthFailure::NotBearer | AuthFailure::NoToken => {
                r#"Bearer realm="gradest", error="invalid_request""#
            }
            AuthFailure::UnknownToken => r#"Bearer realm="gradest", error="invalid_token""#,
        }
    }
}

/// The middleware of the /v1 routes: passes a request with an accepted token
/// (or any request when authentication is off) on with its [`Principal`].
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let principal = authenticate(state.tokens(), request.headers().get(AUTHORIZATION))
        .map_err(ApiError::Unauthenticated)?;
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

/// The principal of a request with this `Authorization` header, if the tokens
/// accept it.
pub fn authenticate(
    tokens: &ApiTokens,
    header: Option<&axum::http::HeaderValue>,
) -> Result<Principal, AuthFailure> {
    if !tokens.enabled() {
        return Ok(Principal(None));
    }
    let header = header.ok_or(AuthFailure::Missing)?;
    let token = bearer_token(header.as_bytes())?;
    let digest = sha256(token);
    let mut found = None;
    // Every digest is compared, whatever matched before.
    for accepted in tokens.tokens() {
        if bool::from(accepted.digest.ct_eq(&digest)) {
            found = Some(accepted.id.clone());
        }
    }
    found
        .map(|id| Principal(Some(id)))
        .ok_or(AuthFailure::UnknownToken)
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 9110 §11.1).
fn bearer_token(value: &[u8]) -> Result<&[u8], AuthFailure> {
    let value = value.trim_ascii();
    let (scheme, rest) = match value.iter().position(|b| *b == b' ') {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(AuthFailure::NotBearer);
    }
    let token = rest.trim_ascii();
    if token.is_empty() {
        return Err(AuthFailure::NoToken);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const TOKEN: &str = "0123456789abcdef0123";

    fn check(tokens: &ApiTokens, header: Option<&str>) -> Result<Principal, AuthFailure> {
        let value = header.map(|h| HeaderValue::from_str(h).unwrap());
        authenticate(tokens, value.as_ref())
    }

    /// A router whose one guarded route answers with the principal it was given.
    fn whoami(tokens: ApiTokens) -> axum::Router {
        use axum::routing::get;
        let config = crate::config::Config {
            api_tokens: tokens,
            ..Default::default()
        };
        let state = AppState::new(&config).expect("a memory store opens");
        let answer = |p: Principal| async move { p.0.unwrap_or_else(|| "nobody".to_string()) };
        axum::Router::new()
            .route("/v1/whoami", get(answer))
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                require_token,
            ))
            .route("/open", get(answer))
            .with_state(state)
    }

    async fn call(router: axum::Router, path: &str, auth: Option<&str>) -> (u16, String) {
        use tower::ServiceExt;
        let mut request = axum::http::Request::get(path);
        if let Some(auth) = auth {
            request = request.header(AUTHORIZATION, auth);
        }
        let response = router
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn handlers_see_the_principal_of_the_token() {
        let tokens = ApiTokens::accepting([TOKEN]);
        let id = tokens.tokens()[0].id.clone();
        assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()));
        let bearer = format!("Bearer {TOKEN}");
        let router = whoami(tokens);
        assert_eq!(
            call(router.clone(), "/v1/whoami", Some(&bearer)).await,
            (200, id)
        );
        assert_eq!(call(router.clone(), "/v1/whoami", None).await.0, 401);
        // Outside the middleware the extractor gives nobody, token or not.
        assert_eq!(
            call(router, "/open", Some(&bearer)).await,
            (200, "nobody".to_string())
        );
        let off = whoami(ApiTokens::default());
        assert_eq!(
            call(off, "/v1/whoami", None).await,
            (200, "nobody".to_string())
        );
    }

    #[test]
    fn off_accepts_anything_as_nobody() {
        let off = ApiTokens::default();
        assert_eq!(check(&off, None), Ok(Principal(None)));
        assert_eq!(check(&off, Some("Basic abc")), Ok(Principal(None)));
    }

    #[test]
    fn on_tells_the_failures_apart() {
        let on = ApiTokens::accepting([TOKEN, "another-token-of-16"]);
        let id = on.tokens()[0].id.clone();
        assert_eq!(
            check(&on, Some(&format!("Bearer {TOKEN}"))),
            Ok(Principal(Some(id.clone())))
        );
        assert_eq!(
            check(&on, Some(&format!("bearer   {TOKEN} "))),
            Ok(Principal(Some(id)))
        );
        assert_eq!(check(&on, None), Err(AuthFailure::Missing));
        assert_eq!(
            check(&on, Some("Basic dXNlcjpwYXNz")),
            Err(AuthFailure::NotBearer)
        );
        assert_eq!(check(&on, Some(TOKEN)), Err(AuthFailure::NotBearer));
        assert_eq!(check(&on, Some("Bearer")), Err(AuthFailure::NoToken));
        assert_eq!(check(&on, Some("Bearer  ")), Err(AuthFailure::NoToken));
        // Negative controls: a prefix, an extension and a case change of a good token.
        for wrong in [&TOKEN[..19], &format!("{TOKEN}x"), &TOKEN.to_uppercase()] {
            assert_eq!(
                check(&on, Some(&format!("Bearer {wrong}"))),
                Err(AuthFailure::UnknownToken)
            );
        }
    }
}
