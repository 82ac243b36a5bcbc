//! Face URIs the driver can open: `udp4://`, `udp6://`, `tcp4://`, `tcp6://`, `quic://`,
//! `unix://`.
//!
//! Hosts must be IP addresses: testbed containers have no DNS (and an empty root has no
//! `/etc/hosts`), so a name would fail late and obscurely; we refuse it early and say why.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::error::{Error, Result};

/// NFD's port, used when a URI gives none.
const DEFAULT_PORT: u16 = 6363;

/// A parsed remote face URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FaceUri {
    /// UDP unicast to this address.
    Udp(SocketAddr),
    /// TCP connection to this address.
    Tcp(SocketAddr),
    /// QUIC connection to this address (between forwarders).
    Quic(SocketAddr),
    /// Unix stream socket at this absolute path.
    Unix(PathBuf),
}

impl FaceUri {
    /// Parses `scheme://host[:port]` or `unix:///absolute/path`.
    pub fn parse(uri: &str) -> Result<Self> {
        let err = |reason: &str| Error::FaceUri {
            uri: uri.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = uri
            .split_once("://")
            .ok_or_else(|| err("expected scheme://address"))?;
        // The family digit of udp4/tcp4 constrains the address; plain udp/tcp accept both.
        let (family, ctor): (Option<u8>, fn(SocketAddr) -> Self) =
            match scheme.to_ascii_lowercase().as_str() {
                "unix" => {
                    let path = PathBuf::from(rest);
                    if !path.is_absolute() {
                        return Err(err("unix:// needs an absolute path (unix:///run/x.sock)"));
                    }
                    return Ok(Self::Unix(path));
                }
                "udp" => (None, Self::Udp),
                "udp4" => (Some(4), Self::Udp),
                "udp6" => (Some(6), Self::Udp),
                "tcp" => (None, Self::Tcp),
                "tcp4" => (Some(4), Self::Tcp),
                "tcp6" => (Some(6), Self::Tcp),
                "quic" => (None, Self::Quic),
                _ => {
                    return Err(err(
                        "unsupported scheme (udp4, udp6, tcp4, tcp6, quic, unix)",
                    ));
                }
            };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = split_host_port(rest).ok_or_else(|| err("expected host[:port]"))?;
        let ip: IpAddr = host.parse().map_err(|_| {
            err("host must be an IP address: names are not resolved (testbeds have no DNS)")
        })?;
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => p.parse().map_err(|_| err("bad port"))?,
        };
        match (family, ip) {
            (Some(4), IpAddr::V6(_)) => return Err(err("IPv6 address in an IPv4 scheme")),
            (Some(6), IpAddr::V4(_)) => return Err(err("IPv4 address in an IPv6 scheme")),
            _ => {}
        }
        if port == 0 || ip.is_unspecified() || ip.is_multicast() {
            return Err(err("not a unicast peer address"));
        }
        Ok(ctor(SocketAddr::new(ip, port)))
    }
}

/// Splits `1.2.3.4:5`, `1.2.3.4`, `[::1]:5` or `[::1]`.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(v6) = s.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match s.rsplit_once(':') {
        // A bare IPv6 address without brackets has several colons: take it whole.
        Some((host, _)) if host.contains(':') => Some((s, None)),
        Some((host, port)) => Some((host, Some(port))),
        None => Some((s, None)),
    }
}

/// `udp4://1.2.3.4:5` or `udp6://[::1]:5` — NFD's canonical forms.
pub(super) fn ip_uri(base: &str, addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{base}4://{a}"),
        SocketAddr::V6(a) => format!("{base}6://{a}"),
    }
}

impl fmt::Display for FaceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Udp(a) => f.write_str(&ip_uri("udp", *a)),
            Self::Tcp(a) => f.write_str(&ip_uri("tcp", *a)),
            Self::Quic(a) => write!(f, "quic://{a}"),
            Self::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonically() {
        for (text, canon) in [
            ("udp4://127.0.0.1:6363", "udp4://127.0.0.1:6363"),
            ("udp://10.0.0.1", "udp4://10.0.0.1:6363"),
            ("tcp4://10.0.0.1:7000/", "tcp4://10.0.0.1:7000"),
            ("tcp6://[::1]:7000", "tcp6://[::1]:7000"),
            ("tcp://[fe80::1]", "tcp6://[fe80::1]:6363"),
            ("quic://192.168.1.2:6367", "quic://192.168.1.2:6367"),
            ("unix:///run/nfd/nfd.sock", "unix:///run/nfd/nfd.sock"),
        ] {
            assert_eq!(FaceUri::parse(text).unwrap().to_string(), canon, "{text}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_open() {
        for bad in [
            "udp4://localhost:6363",
            "tcp4://[::1]:1",
            "udp6://1.2.3.4:1",
            "tcp4://1.2.3.4:99999",
            "tcp4://1.2.3.4:0",
            "udp4://0.0.0.0:6363",
            "ws://1.2.3.4",
            "unix://relative.sock",
            "127.0.0.1:6363",
            "tcp4://[::1",
        ] {
            assert!(FaceUri::parse(bad).is_err(), "{bad}");
        }
        let e = FaceUri::parse("udp4://router1:6363")
            .unwrap_err()
            .to_string();
        assert!(e.contains("IP address"), "{e}");
    }
}
