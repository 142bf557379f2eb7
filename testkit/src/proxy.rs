//! [`DropResponseProxy`]: forces a "lost response after commit".
//!
//! The proxy listens on `127.0.0.1:0` and relays HTTP/1.1 between a client
//! and the upstream server, one upstream connection per client connection,
//! request by request (keep-alive works). For the next N requests whose head
//! matches a predicate it forwards the whole request, reads the server's
//! whole response (so the server has finished handling it: the write is
//! committed) and then closes the client's connection without sending a
//! byte of that response. The client sees "connection closed before the
//! message completed", exactly what a dropped network answer looks like.
//!
//! It understands `Content-Length` and chunked bodies in both directions and
//! close-delimited responses; it does not do upgrades (WebSocket).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest request or response head the proxy accepts.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The parsed head of one request, given to the predicate.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent: path and query, e.g. `/v1/conversations/3/messages`.
    pub path: String,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `POST /v1/conversations/{id}/messages`: a message send.
    pub fn is_message_post(&self) -> bool {
        let path = self.path.split('?').next().unwrap_or("");
        self.method == "POST" && path.starts_with("/v1/conversations/") && path.ends_with("/messages")
    }
}

type Predicate = dyn Fn(&RequestHead) -> bool + Send + Sync;

struct Shared {
    upstream: String,
    predicate: Box<Predicate>,
    /// Matching requests whose response will still be dropped.
    budget: AtomicUsize,
    /// Responses read in full from the server and then withheld.
    dropped: AtomicUsize,
    /// Every request seen, as `METHOD PATH` (dropped ones end in ` [dropped]`).
    seen: Mutex<Vec<String>>,
}

/// A loopback proxy that withholds the responses to the next N matching
/// requests (see the module docs). Stops when dropped.
pub struct DropResponseProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DropResponseProxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:PORT` or
    /// `127.0.0.1:PORT`) that drops the responses to the next `drops`
    /// requests for which `predicate` is true.
    pub fn start(
        upstream: &str,
        drops: usize,
        predicate: impl Fn(&RequestHead) -> bool + Send + Sync + 'static,
    ) -> DropResponseProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the proxy cannot bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("set_nonblocking");
        let addr = listener.local_addr().expect("the proxy's local address");
        let shared = Arc::new(Shared {
            upstream,
            predicate: Box::new(predicate),
            budget: AtomicUsize::new(drops),
            dropped: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        });
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("drop-response-proxy".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the proxy's tokio runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    loop {
                        tokio::select! {
                            _ = &mut rx => break,
                            accepted = listener.accept() => {
                                let Ok((client, _)) = accepted else { continue };
                                let shared = Arc::clone(&thread_shared);
                                tokio::spawn(async move {
                                    // A broken connection only ends that connection.
                                    let _ = relay(client, shared).await;
                                });
                            }
                        }
                    }
                });
            })
            .expect("cannot start the proxy thread");
        DropResponseProxy {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// A proxy that drops the responses to the next `drops` message sends
    /// (`POST /v1/conversations/{id}/messages`).
    pub fn message_posts(upstream: &str, drops: usize) -> DropResponseProxy {
        DropResponseProxy::start(upstream, drops, RequestHead::is_message_post)
    }

    /// `http://127.0.0.1:PORT` of the proxy: point the client here.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many responses were withheld so far (each after the server had
    /// answered in full).
    pub fn dropped(&self) -> usize {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// How many more matching requests will lose their response.
    pub fn remaining(&self) -> usize {
        self.shared.budget.load(Ordering::SeqCst)
    }

    /// Sets how many more matching requests will lose their response.
    pub fn set_remaining(&self, drops: usize) {
        self.shared.budget.store(drops, Ordering::SeqCst);
    }

    /// Every request relayed so far, as `METHOD PATH`; withheld ones end in
    /// ` [dropped]`.
    pub fn seen(&self) -> Vec<String> {
        self.shared.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for DropResponseProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for DropResponseProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropResponseProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .field("remaining", &self.remaining())
            .field("dropped", &self.dropped())
            .finish()
    }
}

fn invalid(what: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.into())
}

/// Relays one client connection, request by request.
async fn relay(client: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let upstream = TcpStream::connect(&shared.upstream).await?;
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_r, mut client_w) = client.into_split();
    let (upstream_r, mut upstream_w) = upstream.into_split();
    let mut client_r = BufReader::new(client_r);
    let mut upstream_r = BufReader::new(upstream_r);
    loop {
        let Some(raw_head) = read_head(&mut client_r).await? else {
            return Ok(()); // the client closed between requests
        };
        let head = parse_request_head(&raw_head)?;
        let body = read_body(&mut client_r, &head.headers, true).await?;
        let withhold = (shared.predicate)(&head)
            && shared
                .budget
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
                .is_ok();
        upstream_w.write_all(&raw_head).await?;
        upstream_w.write_all(&body).await?;
        upstream_w.flush().await?;

        let raw_response = read_head(&mut upstream_r)
            .await?
            .ok_or_else(|| invalid("the server closed the connection without answering"))?;
        let (status, response_headers) = parse_response_head(&raw_response)?;
        let no_body = head.method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304;
        let response_body = if no_body {
            Vec::new()
        } else {
            read_body(&mut upstream_r, &response_headers, false).await?
        };
        let entry = format!("{} {}", head.method, head.path);
        if withhold {
            shared.dropped.fetch_add(1, Ordering::SeqCst);
            shared
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("{entry} [dropped]"));
            // The server's answer is complete and discarded; closing the
            // client side now is the lost response.
            let _ = client_w.shutdown().await;
            return Ok(());
        }
        shared.seen.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
        client_w.write_all(&raw_response).await?;
        client_w.write_all(&response_body).await?;
        client_w.flush().await?;
        let closes = |headers: &[(String, String)]| {
            headers
                .iter()
                .any(|(k, v)| k == "connection" && v.to_ascii_lowercase().contains("close"))
        };
        let delimited = no_body
            || response_headers
                .iter()
                .any(|(k, _)| k == "content-length" || k == "transfer-encoding");
        if closes(&head.headers) || closes(&response_headers) || !delimited {
            let _ = client_w.shutdown().await;
            return Ok(());
        }
    }
}

/// Reads a head up to and including the empty line; `None` on a clean EOF
/// before the first byte.
async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = r.read_until(b'\n', &mut head).await?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(invalid("connection closed in the middle of a head"))
            };
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(invalid("head too large"));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                // Tolerate stray empty lines between messages (RFC 9112 §2.2).
                head.clear();
                continue;
            }
            return Ok(Some(head));
        }
    }
}

fn header_lines(raw: &[u8]) -> std::io::Result<(String, Vec<(String, String)>)> {
    let text = std::str::from_utf8(raw).map_err(|_| invalid("head is not UTF-8"))?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let first = lines.next().unwrap_or("").to_string();
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((first, headers))
}

fn parse_request_head(raw: &[u8]) -> std::io::Result<RequestHead> {
    let (first, headers) = header_lines(raw)?;
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    if method.is_empty() || path.is_empty() {
        return Err(invalid(format!("bad request line {first:?}")));
    }
    Ok(RequestHead {
        method,
        path,
        headers,
    })
}

fn parse_response_head(raw: &[u8]) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let (first, headers) = header_lines(raw)?;
    let status = first
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {first:?}")))?;
    Ok((status, headers))
}

/// Reads a body as framed by `headers`, returning its raw bytes (chunk
/// framing included, so it can be relayed as is). A request without
/// framing has no body; a response without framing runs to EOF.
async fn read_body<R: AsyncBufRead + Unpin>(
    r: &mut R,
    headers: &[(String, String)],
    is_request: bool,
) -> std::io::Result<Vec<u8>> {
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(r).await;
    }
    if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        let len: usize = len.parse().map_err(|_| invalid("bad content-length"))?;
        let mut body = vec![0; len];
        r.read_exact(&mut body).await?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if !is_request {
        r.read_to_end(&mut body).await?;
    }
    Ok(body)
}

async fn read_chunked<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    loop {
        let start = raw.len();
        if r.read_until(b'\n', &mut raw).await? == 0 {
            return Err(invalid("connection closed inside a chunked body"));
        }
        let line = String::from_utf8_lossy(&raw[start..]);
        let size_text = line.trim().split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, then the final empty line.
            loop {
                let start = raw.len();
                if r.read_until(b'\n', &mut raw).await? == 0 {
                    return Err(invalid("connection closed inside chunk trailers"));
                }
                if matches!(&raw[start..], b"\r\n" | b"\n") {
                    return Ok(raw);
                }
            }
        }
        let start = raw.len();
        raw.resize(start + size, 0);
        r.read_exact(&mut raw[start..]).await?;
        if r.read_until(b'\n', &mut raw).await? == 0 {
            return Err(invalid("connection closed after a chunk"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_post_predicate() {
        let head = |m: &str, p: &str| RequestHead {
            method: m.into(),
            path: p.into(),
            headers: vec![("content-type".into(), "application/json".into())],
        };
        assert!(head("POST", "/v1/conversations/12/messages").is_message_post());
        assert!(!head("GET", "/v1/conversations/12/messages").is_message_post());
        assert!(!head("POST", "/v1/conversations").is_message_post());
        assert_eq!(head("POST", "/").header("Content-Type"), Some("application/json"));
    }

    #[test]
    fn chunked_bodies_are_relayed_whole() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let raw = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        let mut r = BufReader::new(&raw[..]);
        let body = rt.block_on(read_chunked(&mut r)).unwrap();
        assert_eq!(body, &raw[..raw.len() - 4]);
    }
}
