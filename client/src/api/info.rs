//! `GET /v1/info`: the limits a server holds requests to, fetched once and
//! cached per server URL for [`INFO_TTL`], so `send --file` can refuse a
//! file the server would refuse before streaming a byte of it.
//!
//! The cache is advisory: a missing, stale or unreadable entry is simply
//! fetched again, and a server without the endpoint (404, an older mchatd)
//! or out of reach means "no preflight" — the upload itself then reports
//! whatever happens, so nothing here can make a send fail that would have
//! worked.

use super::{Client, ClientError};
use mchat_shared::api::ServerInfo;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a fetched answer is trusted (limits change with a server's
/// config, which is rare; a stale limit only costs one refused upload).
pub const INFO_TTL: Duration = Duration::from_secs(3600);

impl Client {
    /// `GET /v1/info`; `None` from a server that does not have it (404).
    pub async fn server_info(&self) -> Result<Option<ServerInfo>, ClientError> {
        match self.get::<ServerInfo>("/v1/info", &[]).await {
            Ok(info) => Ok(Some(info)),
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// One cache file: when it was fetched, and what (`None`: no endpoint).
#[derive(Serialize, Deserialize)]
struct Entry {
    fetched_at: u64,
    info: Option<ServerInfo>,
}

/// Server infos cached on disk, one file per server URL.
#[derive(Debug, Clone)]
pub struct InfoCache {
    dir: PathBuf,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A file name for `url` that cannot collide with another URL's: ASCII
/// letters, digits, `.` and `-` as they are, every other byte as `_XX`.
fn file_name(url: &str) -> String {
    let mut out = String::with_capacity(url.len() + 5);
    for b in url.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out.push_str(".json");
    out
}

impl InfoCache {
    /// A cache under `dir` (created when first written).
    pub fn new(dir: &Path) -> InfoCache {
        InfoCache {
            dir: dir.to_path_buf(),
        }
    }

    /// The file that caches `url`'s answer.
    pub fn entry_path(&self, url: &str) -> PathBuf {
        self.dir.join(file_name(url))
    }

    /// The limits of `client`'s server: from the cache when fresh, else
    /// fetched (and cached). `None`: no preflight is possible.
    pub async fn get(&self, client: &Client) -> Option<ServerInfo> {
        if let Some(entry) = self.read(client.base()).await
            && unix_now().saturating_sub(entry.fetched_at) < INFO_TTL.as_secs()
        {
            return entry.info;
        }
        self.refresh(client).await
    }

    /// Fetches the limits again, whatever the cache holds, and caches them.
    pub async fn refresh(&self, client: &Client) -> Option<ServerInfo> {
        let info = client.server_info().await.ok()?;
        self.write(
            client.base(),
            &Entry {
                fetched_at: unix_now(),
                info: info.clone(),
            },
        )
        .await;
        info
    }

    async fn read(&self, url: &str) -> Option<Entry> {
        let bytes = tokio::fs::read(self.entry_path(url)).await.ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes beside the entry and renames over it, so a reader never sees
    /// half a file. Failing to cache is not worth reporting.
    async fn write(&self, url: &str, entry: &Entry) {
        let Ok(bytes) = serde_json::to_vec(entry) else {
            return;
        };
        let path = self.entry_path(url);
        let temp = path.with_extension(format!("{}.tmp", std::process::id()));
        let written = async {
            tokio::fs::create_dir_all(&self.dir).await?;
            tokio::fs::write(&temp, &bytes).await?;
            tokio::fs::rename(&temp, &path).await
        };
        if written.await.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_to_distinct_plain_file_names() {
        let a = file_name("http://127.0.0.1:7878");
        assert_eq!(a, "http_3a_2f_2f127.0.0.1_3a7878.json");
        assert_ne!(file_name("http://a_3a"), file_name("http://a:"));
        assert!(!file_name("https://x/../../etc").contains('/'));
    }
}
