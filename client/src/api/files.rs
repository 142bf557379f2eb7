//! Streaming upload and download of attachments, with progress callbacks.
//!
//! Neither direction holds the file in memory: uploads read it in chunks
//! from disk into the request body, downloads write the response in chunks
//! to a temporary file next to the destination, renamed into place only
//! once complete (never a half-written file under the final name).

use super::{Client, ClientError, describe};
use futures_util::StreamExt;
use mchat_shared::FileId;
use mchat_shared::api::FileInfo;
use reqwest::header;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Transfers may take long on a slow link; only a stalled connection should end them.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// Read size for uploads.
const CHUNK: usize = 64 * 1024;

/// A failure on this machine (reading the file to send, writing the one
/// received). Reported like an API error with no HTTP status behind it
/// (status 0, code `internal`: exit code 1, not worth retrying as is).
fn local(message: String) -> ClientError {
    ClientError::Local(message)
}

impl Client {
    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            reason: describe(e),
        }
    }

    /// `POST /v1/files?name=NAME`: streams the file at `path` with
    /// `content_type`; `progress` gets the number of bytes sent so far.
    pub async fn upload_file(
        &self,
        path: &Path,
        name: &str,
        content_type: &str,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<FileInfo, ClientError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| local(format!("cannot read {}: {e}", path.display())))?;
        let len = file
            .metadata()
            .await
            .map_err(|e| local(format!("cannot read {}: {e}", path.display())))?
            .len();
        let mut sent = 0u64;
        let stream = tokio_util::io::ReaderStream::with_capacity(file, CHUNK).map(move |chunk| {
            if let Ok(bytes) = &chunk {
                sent += bytes.len() as u64;
                progress(sent);
            }
            chunk
        });
        let mut req = self
            .http
            .post(format!("{}/v1/files", self.base))
            .query(&[("name", name)])
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, len)
            .timeout(TRANSFER_TIMEOUT)
            .body(reqwest::Body::wrap_stream(stream));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        if !status.is_success() {
            return Err(ClientError::from_response(status.as_u16(), &body, retry_after));
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Protocol {
            status: status.as_u16(),
            detail: format!("cannot decode the answer: {e}"),
        })
    }

    /// `GET /v1/files/{id}` into `out`; `progress` gets the bytes received so
    /// far and the total when the server announced it. Returns the byte count.
    pub async fn download_file_to<W: AsyncWrite + Unpin>(
        &self,
        id: FileId,
        out: &mut W,
        mut progress: impl FnMut(u64, Option<u64>),
    ) -> Result<u64, ClientError> {
        let mut req = self
            .http
            .get(format!("{}/v1/files/{id}", self.base))
            .timeout(TRANSFER_TIMEOUT);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let mut resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
            return Err(ClientError::from_response(status.as_u16(), &body, None));
        }
        let total = resp.content_length();
        let mut got = 0u64;
        progress(got, total);
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.unreachable(&e))? {
            out.write_all(&chunk)
                .await
                .map_err(|e| local(format!("cannot write the file: {e}")))?;
            got += chunk.len() as u64;
            progress(got, total);
        }
        out.flush()
            .await
            .map_err(|e| local(format!("cannot write the file: {e}")))?;
        if total.is_some_and(|t| t != got) {
            return Err(ClientError::Unreachable {
                url: self.base.clone(),
                reason: "the download was cut off".into(),
            });
        }
        Ok(got)
    }

    /// Downloads file `id` to `dest`, which must not exist yet (see
    /// [`Client::download_file_replacing`]). The bytes go to a temporary
    /// file in the same directory, renamed to `dest` once complete.
    pub async fn download_file(
        &self,
        id: FileId,
        dest: &Path,
        progress: impl FnMut(u64, Option<u64>),
    ) -> Result<u64, ClientError> {
        self.download_to_path(id, dest, false, progress).await
    }

    /// [`Client::download_file`], replacing `dest` if it exists.
    pub async fn download_file_replacing(
        &self,
        id: FileId,
        dest: &Path,
        progress: impl FnMut(u64, Option<u64>),
    ) -> Result<u64, ClientError> {
        self.download_to_path(id, dest, true, progress).await
    }

    async fn download_to_path(
        &self,
        id: FileId,
        dest: &Path,
        replace: bool,
        progress: impl FnMut(u64, Option<u64>),
    ) -> Result<u64, ClientError> {
        if !replace && dest.exists() {
            return Err(local(format!("{} already exists", dest.display())));
        }
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".mchat-download-");
        // Like any file the user saves (0666 less the umask), not a private temp file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = builder
            .tempfile_in(&dir)
            .map_err(|e| local(format!("cannot write in {}: {e}", dir.display())))?;
        let (file, temp_path) = temp.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let n = self.download_file_to(id, &mut file, progress).await?;
        file.sync_all()
            .await
            .map_err(|e| local(format!("cannot write the file: {e}")))?;
        drop(file);
        let placed = if replace {
            temp_path.persist(dest).map_err(|e| e.error)
        } else {
            temp_path.persist_noclobber(dest).map_err(|e| e.error)
        };
        placed.map_err(|e| local(format!("cannot save {}: {e}", dest.display())))?;
        Ok(n)
    }
}
