//! `GRADEST_API_TOKENS`: the bearer tokens the service accepts.
//!
//! The value is either a comma-separated list of tokens or `@/path/to/file`
//! (one token per line; blank lines and lines starting with `#` are ignored).
//! Unset or empty turns authentication off. A token must be at least
//! [`MIN_TOKEN_CHARS`] characters of visible ASCII (no whitespace).
//!
//! Only the SHA-256 digest of each token is kept, never the token itself, so
//! nothing that prints the configuration (its `Debug` included) can show one;
//! errors name a token by its position, never by its text.

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The shortest accepted token, in characters.
pub const MIN_TOKEN_CHARS: usize = 16;

/// One accepted token, as its SHA-256 digest and a non-secret identity.
#[derive(Clone, PartialEq, Eq)]
pub struct AcceptedToken {
    /// SHA-256 of the token's bytes.
    pub digest: [u8; 32],
    /// The first 16 hexadecimal digits of the digest: names the token in logs
    /// and as the request's principal without revealing it.
    pub id: String,
}

impl AcceptedToken {
    fn new(token: &str) -> AcceptedToken {
        let digest = sha256(token.as_bytes());
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        AcceptedToken { digest, id }
    }
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The accepted tokens; empty means authentication is off.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ApiTokens {
    tokens: Vec<AcceptedToken>,
}

impl fmt::Debug for ApiTokens {
    /// Redacted: the count and the identities, never a token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.tokens.iter().map(|t| t.id.as_str()).collect();
        write!(
            f,
            "ApiTokens {{ redacted: {} token(s) {ids:?} }}",
            ids.len()
        )
    }
}

impl fmt::Display for ApiTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tokens.len() {
            0 => f.write_str("off"),
            1 => f.write_str("bearer, 1 token"),
            n => write!(f, "bearer, {n} tokens"),
        }
    }
}

impl ApiTokens {
    /// Parses the value of `GRADEST_API_TOKENS` (a list or `@file`); the error
    /// says what is wrong and where, without the token's text.
    pub fn parse(value: &str) -> Result<ApiTokens, String> {
        let value = value.trim();
        if let Some(path) = value.strip_prefix('@') {
            return ApiTokens::from_file(Path::new(path));
        }
        if value.is_empty() {
            return Ok(ApiTokens::default());
        }
        let mut tokens = Vec::new();
        for (i, item) in value.split(',').enumerate() {
            let token = item.trim();
            check(token)
                .map_err(|why| format!("GRADEST_API_TOKENS: token {} of the list {why}", i + 1))?;
            tokens.push(token);
        }
        Ok(ApiTokens::accepting(tokens))
    }

    /// Reads a token file: one token per line, `#` comments and blank lines ignored.
    pub fn from_file(path: &Path) -> Result<ApiTokens, String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("GRADEST_API_TOKENS: cannot read the token file {shown}: {e}"))?;
        let mut tokens = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let token = line.trim();
            if token.is_empty() || token.starts_with('#') {
                continue;
            }
            check(token).map_err(|why| {
                format!(
                    "GRADEST_API_TOKENS: the token on line {} of {shown} {why}",
                    i + 1
                )
            })?;
            tokens.push(token);
        }
        if tokens.is_empty() {
            return Err(format!(
                "GRADEST_API_TOKENS: the token file {shown} holds no token; \
                 leave GRADEST_API_TOKENS unset to turn authentication off"
            ));
        }
        Ok(ApiTokens::accepting(tokens))
    }

    /// The given tokens, unchecked (tests; [`ApiTokens::parse`] checks them).
    pub fn accepting<S: AsRef<str>>(tokens: impl IntoIterator<Item = S>) -> ApiTokens {
        let mut accepted: Vec<AcceptedToken> = Vec::new();
        for token in tokens {
            let token = AcceptedToken::new(token.as_ref());
            if !accepted.contains(&token) {
                accepted.push(token);
            }
        }
        ApiTokens { tokens: accepted }
    }

    /// Whether requests must carry a token.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    pub fn tokens(&self) -> &[AcceptedToken] {
        &self.tokens
    }
}

/// Why a token is refused (completing "token N …"), if it is.
fn check(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("is empty".to_string());
    }
    if let Some(c) = token.chars().find(|c| c.is_whitespace()) {
        return Err(format!(
            "contains whitespace ({}); tokens are one word",
            c.escape_unicode()
        ));
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err("contains a character that is not visible ASCII; \
                    tokens travel in an HTTP header"
            .to_string());
    }
    let n = token.chars().count();
    if n < MIN_TOKEN_CHARS {
        return Err(format!(
            "is {n} characters long; tokens must be at least {MIN_TOKEN_CHARS} \
             (use e.g. `openssl rand -hex 32`)"
        ));
    }
    Ok(())
}

/// The clap parser of `--api-tokens`: its errors never echo the value (it holds
/// secrets), unlike clap's default "invalid value '…'".
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiTokensParser;

impl clap::builder::TypedValueParser for ApiTokensParser {
    type Value = ApiTokens;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ApiTokens, clap::Error> {
        let refuse = |message: String| {
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, message + "\n").with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("GRADEST_API_TOKENS: the value is not UTF-8".to_string()))?;
        ApiTokens::parse(text).map_err(refuse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef";
    const B: &str = "fedcba9876543210-long";

    #[test]
    fn empty_means_off() {
        assert!(!ApiTokens::parse("").unwrap().enabled());
        assert!(!ApiTokens::parse("  ").unwrap().enabled());
        assert!(ApiTokens::parse(A).unwrap().enabled());
    }

    #[test]
    fn a_list_is_split_on_commas() {
        let tokens = ApiTokens::parse(&format!("{A}, {B}")).unwrap();
        assert_eq!(tokens, ApiTokens::accepting([A, B]));
        assert_eq!(tokens.tokens()[0].digest, sha256(A.as_bytes()));
        assert_eq!(tokens.tokens()[0].id.len(), 16);
        assert_ne!(tokens.tokens()[0].id, tokens.tokens()[1].id);
        // The identity is the start of the SHA-256 (FIPS 180-2's "abc" vector).
        let abc = ApiTokens::accepting(["abc"]);
        assert_eq!(abc.tokens()[0].id, "ba7816bf8f01cfea");
    }

    #[test]
    fn bad_tokens_are_refused_by_position_without_their_text() {
        let e = ApiTokens::parse(&format!("{A},short")).unwrap_err();
        assert!(
            e.contains("token 2 of the list is 5 characters long"),
            "{e}"
        );
        assert!(!e.contains("short"), "{e}");
        let e = ApiTokens::parse(&format!("{A},,{B}")).unwrap_err();
        assert!(e.contains("token 2 of the list is empty"), "{e}");
        let e = ApiTokens::parse("0123456789\tabcdefgh").unwrap_err();
        assert!(e.contains("whitespace"), "{e}");
        let e = ApiTokens::parse("0123456789abcdefé").unwrap_err();
        assert!(e.contains("visible ASCII"), "{e}");
        // Negative control: exactly the minimum length is accepted.
        assert!(ApiTokens::parse(&"x".repeat(MIN_TOKEN_CHARS)).is_ok());
    }

    #[test]
    fn debug_and_display_never_show_a_token() {
        let tokens = ApiTokens::parse(&format!("{A},{B}")).unwrap();
        for shown in [format!("{tokens:?}"), tokens.to_string()] {
            assert!(!shown.contains(A) && !shown.contains(B), "{shown}");
        }
        assert!(format!("{tokens:?}").contains("redacted: 2 token(s)"));
    }
}
