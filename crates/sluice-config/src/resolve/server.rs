//! The `[server]` table: the Host allow-list, the read and idle timeouts of client
//! connections, the connection cap and the largest non-streaming provider answer.

use std::net::Ipv6Addr;

use super::Cx;
use crate::bounds::MAX_CONNECTIONS;
use crate::config::Server;
use crate::error::Problem;
use crate::path::push_index;
use crate::raw::RawServer;

impl Cx {
    /// `[server]` with its defaults; every key is checked, a wrong one keeps its default.
    pub(super) fn server(&mut self, raw: RawServer) -> Server {
        let default = Server::default();
        let mut allowed_hosts = Vec::new();
        for (idx, entry) in raw
            .allowed_hosts
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            match host(&entry) {
                Some(host) => allowed_hosts.push(host),
                None => {
                    let mut field = "server.allowed_hosts".to_owned();
                    push_index(&mut field, idx);
                    self.push(field, Problem::Host { value: entry });
                }
            }
        }
        Server {
            allowed_hosts,
            header_timeout: self.duration(
                "server.header_timeout".into(),
                raw.header_timeout,
                default.header_timeout,
                true,
            ),
            body_timeout: self.duration(
                "server.body_timeout".into(),
                raw.body_timeout,
                default.body_timeout,
                true,
            ),
            idle_timeout: self.duration(
                "server.idle_timeout".into(),
                raw.idle_timeout,
                default.idle_timeout,
                true,
            ),
            max_connections: self
                .count(
                    "server.max_connections".into(),
                    raw.max_connections,
                    true,
                    MAX_CONNECTIONS,
                )
                .unwrap_or(default.max_connections),
            max_response_body: self.size(
                "server.max_response_body".into(),
                raw.max_response_body,
                default.max_response_body,
            ),
        }
    }
}

/// An allow-list entry as a `Host` header would carry it, lower-cased: a DNS name, an IPv4
/// address or a bracketed IPv6 address, optionally followed by `:port`. `None` for anything
/// else, such as a URL with a scheme or a path, so a mistaken entry is refused at load time
/// instead of silently never matching.
fn host(entry: &str) -> Option<String> {
    let host = entry.trim().to_ascii_lowercase();
    let port = if let Some(bracketed) = host.strip_prefix('[') {
        let (addr, after) = bracketed.split_once(']')?;
        addr.parse::<Ipv6Addr>().ok()?;
        match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        }
    } else {
        let (name, port) = match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host.as_str(), None),
        };
        let label_ok = |label: &str| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !name.split('.').all(label_ok) {
            return None;
        }
        port
    };
    if let Some(port) = port {
        let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
        if !digits || !matches!(port.parse::<u16>(), Ok(p) if p > 0) {
            return None;
        }
    }
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::host;

    #[test]
    fn hosts_as_a_host_header_names_them() {
        for (entry, want) in [
            ("api.example.com", "api.example.com"),
            ("API.Example.COM", "api.example.com"),
            (" localhost:8080 ", "localhost:8080"),
            ("127.0.0.1", "127.0.0.1"),
            ("127.0.0.1:65535", "127.0.0.1:65535"),
            ("[::1]", "[::1]"),
            ("[::1]:8080", "[::1]:8080"),
            ("my_host-1.internal", "my_host-1.internal"),
        ] {
            assert_eq!(host(entry).as_deref(), Some(want), "{entry:?}");
        }
        for bad in [
            "",
            " ",
            "http://example.com",
            "example.com/v1",
            "example.com:",
            "example.com:0",
            "example.com:65536",
            "example.com:80:80",
            "example..com",
            ".example.com",
            "example.com.",
            "*.example.com",
            "user@example.com",
            "::1",
            "[::1",
            "[nope]:80",
            "[::1]8080",
            "exämple.com",
            "a b",
        ] {
            assert_eq!(host(bad), None, "{bad:?}");
        }
    }
}
