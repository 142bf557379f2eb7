//! Extractors whose rejections use the API's one error shape.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

/// `axum::Json`, but a bad body answers `{"error": ...}` (400/413/415).
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` with the API's error shape, decoded strictly: a
/// value whose percent-escapes are not UTF-8 is refused (400
/// `validation_failed`, `field` = its key), as a path with those bytes is,
/// instead of being stored with U+FFFD in place of the bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(query) = parts.uri.query() {
            strict_utf8(query)?;
        }
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// Checks that every key and value of `query` percent-decodes to UTF-8.
fn strict_utf8(query: &str) -> Result<(), ApiError> {
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key_text = percent_decode(key);
        let field = String::from_utf8_lossy(&key_text).into_owned();
        for part in [&key_text, &percent_decode(value)] {
            if std::str::from_utf8(part).is_err() {
                let mut e = ApiError::new(
                    mchat_shared::ErrorCode::ValidationFailed,
                    format!("{field} must be UTF-8 text (percent-escapes of other bytes are refused)"),
                );
                e.field = Some(field);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The bytes `%XX` escapes stand for (a malformed escape stays as written,
/// as `application/x-www-form-urlencoded` parsers do; '+' is ASCII either way).
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// `axum::extract::Path` with the API's error shape.
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::invalid_query(format!("invalid path: {}", r.body_text()))
    }
}

/// The raw request body, for handlers whose body is optional. A body that
/// cannot be read (over the size limit: 413) answers in the API's error shape.
#[derive(Debug, Clone, Default)]
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Body(Bytes::from_request(req, state).await?))
    }
}

/// Parses an optional JSON body: empty means `T::default()`.
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            mchat_shared::ErrorCode::InvalidJson,
            format!("invalid request: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_must_decode_to_utf8() {
        assert!(strict_utf8("name=r%C3%A9sum%C3%A9+v2.txt&x=%41").is_ok());
        assert!(
            strict_utf8("name=100%25&b=%zz&c=%").is_ok(),
            "malformed escapes stay literal"
        );
        for bad in ["name=a%FFb", "name=%C3", "x=1&name=%ED%A0%80", "%FF=1"] {
            assert!(strict_utf8(bad).is_err(), "{bad}");
        }
        let e = strict_utf8("limit=5&name=a%80").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("name"));
        assert_eq!(percent_decode("a%2Fb%e9"), b"a/b\xe9");
    }
}
