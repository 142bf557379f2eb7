//! The client's address, for the per-IP limits. Behind nginx or Caddy every
//! TCP peer is the proxy, so keying on the peer would put all users in one
//! bucket. When the peer is in `[server] trusted_proxies`, the client is the
//! right-most address of `Forwarded` (RFC 7239, preferred) or else
//! `X-Forwarded-For` that is not itself a trusted proxy: every entry right of
//! it was written by a proxy we trust, everything left of it could have been
//! written by the client. An untrusted peer's headers are ignored, and so is
//! a chain whose first untrusted entry is no address (`unknown`, an
//! obfuscated name): the peer is used then.
//!
//! An RFC 7239 element is parsed by `forwarded-header-value` (the parser
//! `axum-client-ip` uses for `Forwarded`); neither crate walks the chain
//! past trusted hops — `axum-client-ip` takes only the right-most entry,
//! which behind two proxies is the first proxy — so the walk is here.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, header};
use forwarded_header_value::ForwardedStanza;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The address the per-IP limits key on.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client behind `peer` given the request's headers (see the module doc).
pub fn resolve(trusted: &[IpNet], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
    let peer = peer.to_canonical();
    if !is_trusted(trusted, peer) {
        return peer;
    }
    for hop in hops(headers) {
        match hop {
            Some(ip) if is_trusted(trusted, ip) => continue,
            Some(ip) => return ip.to_canonical(),
            // Whatever is left of an unreadable entry cannot be attributed.
            None => return peer,
        }
    }
    peer
}

/// The addresses the proxies recorded, nearest first, from `Forwarded` when
/// there is one, else `X-Forwarded-For`; `None` for an entry that is no
/// address (`unknown`, an obfuscated name, garbage).
fn hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    fn forwarded(element: &str) -> Option<IpAddr> {
        element.parse::<ForwardedStanza>().ok()?.forwarded_for_ip()
    }
    fn x_forwarded_for(entry: &str) -> Option<IpAddr> {
        let entry = entry.trim();
        // Some balancers append the port.
        entry
            .parse()
            .ok()
            .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
    }
    let (name, parse): (HeaderName, fn(&str) -> Option<IpAddr>) = if headers.contains_key(header::FORWARDED) {
        (header::FORWARDED, forwarded)
    } else {
        (HeaderName::from_static("x-forwarded-for"), x_forwarded_for)
    };
    let mut hops = Vec::new();
    for value in headers.get_all(name) {
        match value.to_str() {
            Ok(text) => hops.extend(text.split(',').map(parse)),
            Err(_) => hops.push(None),
        }
    }
    hops.reverse();
    hops
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            tracing::error!("no peer address on the request: the server was started without ConnectInfo");
            return Err(ApiError::internal());
        };
        Ok(ClientIp(resolve(
            &state.config.server.trusted_proxies,
            peer.ip(),
            &parts.headers,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().filter_map(|n| n.parse().ok()).collect()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(resolve(&[], ip("127.0.0.1"), &h), ip("127.0.0.1"));
        assert_eq!(
            resolve(&nets(&["10.0.0.0/8"]), ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn right_most_untrusted_entry_is_the_client() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        // The client forged the left-most entry; 10.1.2.3 is a trusted hop.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.1.2.3")]);
        assert_eq!(resolve(&trusted, ip("127.0.0.1"), &h), ip("198.51.100.7"));
        let h = headers(&[("forwarded", "for=1.1.1.1, for=\"[2001:db8::5]:443\";proto=https")]);
        assert_eq!(resolve(&trusted, ip("::ffff:127.0.0.1"), &h), ip("2001:db8::5"));
        // Several header lines are one list, in order; a port is not part of the address.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.8:5555, 10.0.0.1"),
        ]);
        assert_eq!(resolve(&trusted, ip("127.0.0.1"), &h), ip("198.51.100.8"));
    }

    #[test]
    fn no_usable_entry_falls_back_to_the_peer() {
        let trusted = nets(&["127.0.0.0/8"]);
        assert_eq!(
            resolve(&trusted, ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(resolve(&trusted, ip("127.0.0.1"), &h), ip("127.0.0.1"));
        let h = headers(&[("x-forwarded-for", "127.0.0.5")]);
        assert_eq!(resolve(&trusted, ip("127.0.0.1"), &h), ip("127.0.0.1"));
        // Garbage right of a forged address: the forged one is not used.
        let h = headers(&[("x-forwarded-for", "198.51.100.1, not-an-ip")]);
        assert_eq!(resolve(&trusted, ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }
}
