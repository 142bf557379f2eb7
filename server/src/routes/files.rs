//! `/v1/files`: streaming uploads and participant-only downloads.
//!
//! An upload is streamed to a temporary file (`Config::uploads_dir`) while
//! it is hashed and counted (never held in memory, so the global body limit
//! does not apply: `files.max_bytes` does, checked on `Content-Length` first
//! and on every chunk), then stored under its content address `ab/cdef…`
//! (SHA-256; a second copy of the same bytes is dropped) in the blob store:
//! renamed into the files directory, or sent to the bucket. A download
//! streams the stored bytes back with a sanitised file name.
//!
//! A refused upload (413, 415, 401…) is answered at once, and the rest of
//! its body is then read and discarded — up to [`DRAIN_MAX_BYTES`] and
//! [`DRAIN_TIME`] — before the connection closes: closing a socket with
//! unread data makes the kernel reset it, and a client still sending would
//! see a broken pipe instead of the answer. Both directions end the moment
//! their token is revoked or expires (the hub's [`TokenWatch`]).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::openapi::local::Binary;
use crate::openapi::responses::{Invalid, NotFound, TooLarge, Unauthorized, UnsupportedType};
use crate::realtime::hub::TokenWatch;
use crate::state::AppState;
use crate::store::BlobPin;
use axum::body::{Body, BodyDataStream};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use mchat_shared::api::{FileInfo, UploadQuery};
use mchat_shared::{ErrorCode, FileId, UserId, validate};
use sha2::{Digest, Sha256};
use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Write buffer for uploads: few, large writes to the file.
const WRITE_BUFFER: usize = 256 * 1024;
/// Longest accepted `Content-Type` value.
const CONTENT_TYPE_MAX: usize = 127;
/// How much of a refused upload is read and thrown away after answering, so
/// that a client still sending it reads the answer rather than a reset…
const DRAIN_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// …and for how long at most (a slow client is not waited for).
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Upload a file: the raw bytes as the body, the type in Content-Type.
///
/// `name` is the file's name. A refused upload is answered at once and its
/// connection closed (`Connection: close`) after reading a bounded part of
/// the rest of the body: send the next request on a new connection.
#[utoipa::path(post, path = "/files", tag = "files", operation_id = "upload_file", security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = inline(Binary), content_type = "application/octet-stream",
        description = "The bytes; Content-Type is the file's type (default application/octet-stream)"),
    responses(
        (status = 201, description = "Stored", body = FileInfo),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedType),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    auth: Result<Auth, ApiError>,
    query: Result<Query<UploadQuery>, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut stream = body.into_data_stream();
    let received = async {
        let Auth(me) = auth?;
        let Query(q) = query?;
        let token = state.hub.watch_token(me.token_id, me.expires_at);
        receive(&state, me.user_id, &q, &headers, &mut stream, token).await
    };
    match received.await {
        Ok(info) => (StatusCode::CREATED, Json(info)).into_response(),
        Err(e) => {
            drain_later(stream);
            let mut resp = e.into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}

/// Reads and discards what is left of a refused upload in the background,
/// within [`DRAIN_MAX_BYTES`] and [`DRAIN_TIME`], while the answer goes out;
/// dropping the stream then lets the connection close.
fn drain_later(mut stream: BodyDataStream) {
    tokio::spawn(async move {
        let mut left = DRAIN_MAX_BYTES;
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            while left > 0 {
                match stream.next().await {
                    Some(Ok(chunk)) => left = left.saturating_sub(chunk.len() as u64),
                    Some(Err(_)) | None => break,
                }
            }
        })
        .await;
    });
}

async fn receive(
    state: &AppState,
    uploader: UserId,
    q: &UploadQuery,
    headers: &HeaderMap,
    stream: &mut BodyDataStream,
    token: TokenWatch,
) -> ApiResult<FileInfo> {
    let name = validate::file_name(&q.name)?;
    let content_type = media_type(headers)?;
    let files = &state.config.files;
    if !files.allows(&content_type) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            mchat_shared::api::file_type_refused_message(&content_type),
        ));
    }
    let max = files.max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large(max));
    }
    let (sha256, size, pin) = store_blob(state, stream, max, token).await?;
    let info = state
        .store
        .insert_file(uploader, sha256, name, size, content_type)
        .await?;
    // The row names the bytes now: a deletion sees it and keeps them.
    drop(pin);
    metrics::counter!("mchatd_file_uploaded_bytes_total").increment(size);
    Ok(info)
}

/// Download a file I may see (uploader, or a participant of a conversation carrying it).
///
/// The stream stops short of `Content-Length` when the token is revoked or
/// expires mid-transfer.
#[utoipa::path(get, path = "/files/{id}", tag = "files", operation_id = "download_file", security(("bearer" = [])),
    params(("id" = i64, Path, description = "File id")),
    responses(
        (status = 200, description = "The bytes, with Content-Type, Content-Length and Content-Disposition: attachment",
            content_type = "*/*", body = inline(Binary)),
        (status = 400, response = Invalid),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ))]
pub async fn download(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(id): Path<FileId>,
) -> ApiResult<Response> {
    let mut token = state.hub.watch_token(me.token_id, me.expires_at);
    let info = state.store.file_for_download(me.user_id, id).await?;
    let bytes = state.blobs.get(&info.sha256).await.map_err(|e| {
        tracing::error!(file = id.0, store = %state.blobs.describe(), error = %e, "stored file is unreadable");
        ApiError::internal()
    })?;
    let content_type = HeaderValue::from_str(&info.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&info.name))
        .unwrap_or(HeaderValue::from_static("attachment"));
    let stream = bytes.take_until(Box::pin(async move { token.ended().await }));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, info.size)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        // Never rendered as a page, even by a browser that ignores `attachment`.
        .header(header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox")
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(Body::from_stream(stream))
        .map_err(|e| {
            tracing::error!(error = %e, "cannot build the download response");
            ApiError::internal()
        })
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        mchat_shared::api::file_too_large_message(max),
    )
}

fn io_failure(what: &str, path: &FsPath, e: std::io::Error) -> ApiError {
    tracing::error!(path = %path.display(), error = %e, "{what}");
    ApiError::internal()
}

/// The upload's media type: the essence of `Content-Type` (no parameters,
/// lowercase), `application/octet-stream` when absent. A malformed value is 415.
fn media_type(headers: &HeaderMap) -> ApiResult<String> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok("application/octet-stream".into());
    };
    let unsupported = || {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the Content-Type header is not a valid media type",
        )
    };
    let text = value.to_str().map_err(|_| unsupported())?;
    let essence = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence.is_empty() {
        return Ok("application/octet-stream".into());
    }
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if essence.len() <= CONTENT_TYPE_MAX && token(kind) && token(sub) => Ok(essence),
        _ => Err(unsupported()),
    }
}

/// Removes an unfinished upload's temporary file unless it was kept (also
/// when the request is dropped half-way because the client went away).
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // One unlink; not worth a trip to the blocking pool.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Streams `stream` to the uploads directory while hashing and counting
/// it, then stores it under its content address. Returns the hex SHA-256,
/// the size and the pin that keeps those bytes until the caller has
/// committed its row. Ends with 401 the moment `token` is revoked or expires.
async fn store_blob(
    state: &AppState,
    stream: &mut BodyDataStream,
    max: u64,
    mut token: TokenWatch,
) -> ApiResult<(String, u64, BlobPin)> {
    let tmp_dir = state.config.uploads_dir();
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .map_err(|e| io_failure("cannot create the upload directory", &tmp_dir, e))?;
    let mut temp = TempFile {
        path: tmp_dir.join(uuid::Uuid::new_v4().simple().to_string()),
        keep: false,
    };
    let file = tokio::fs::File::create(&temp.path)
        .await
        .map_err(|e| io_failure("cannot create an upload file", &temp.path, e))?;
    let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let ended = token.ended();
    tokio::pin!(ended);
    loop {
        let next = tokio::select! {
            biased;
            end = &mut ended => return Err(end.error()),
            next = stream.next() => next,
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|_| {
            ApiError::new(
                ErrorCode::ValidationFailed,
                "the upload was cut off before the end of the file",
            )
        })?;
        size = size.saturating_add(chunk.len() as u64);
        if size > max {
            return Err(too_large(max));
        }
        hasher.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| io_failure("cannot write an upload", &temp.path, e))?;
    }
    out.flush()
        .await
        .map_err(|e| io_failure("cannot write an upload", &temp.path, e))?;
    let file = out.into_inner();
    file.sync_all()
        .await
        .map_err(|e| io_failure("cannot sync an upload", &temp.path, e))?;
    drop(file);
    let sha256 = hex(&hasher.finalize());
    // Pinned before looking: a deletion that just dropped the last row of
    // these bytes cannot remove them between this check and our row.
    let pin = state.store.pin_blob(&sha256).await?;
    let blobs = &state.blobs;
    let stored = |e: std::io::Error| {
        tracing::error!(store = %blobs.describe(), error = %e, "cannot store an upload");
        ApiError::internal()
    };
    if !blobs.exists(&sha256).await.map_err(stored)? {
        temp.keep = blobs.put(&sha256, &temp.path).await.map_err(stored)?;
    }
    Ok((sha256, size, pin))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `attachment; filename="…"; filename*=UTF-8''…` from a sanitised name:
/// an ASCII fallback for old clients and the exact name, percent-encoded.
fn content_disposition(name: &str) -> String {
    let safe = validate::safe_file_name(name);
    let fallback: String = safe
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%')) || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(safe.len() * 3);
    for b in safe.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_is_ascii_and_keeps_the_name_encoded() {
        let d = content_disposition("../../etc/pass\"wd é.txt");
        assert_eq!(
            d,
            "attachment; filename=\"pass_wd _.txt\"; filename*=UTF-8''pass_wd%20%C3%A9.txt"
        );
        assert!(d.is_ascii());
        let d = content_disposition("CON");
        assert!(d.contains("filename=\"_CON\""), "{d}");
    }

    #[test]
    fn media_types_are_normalised_or_refused() {
        let mut h = HeaderMap::new();
        assert_eq!(media_type(&h).ok().as_deref(), Some("application/octet-stream"));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Text/Plain; charset=utf-8"),
        );
        assert_eq!(media_type(&h).ok().as_deref(), Some("text/plain"));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text"));
        assert!(media_type(&h).is_err());
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/pl ain"));
        assert!(media_type(&h).is_err());
    }
}
