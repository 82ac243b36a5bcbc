//! Where a client connects and how bytes become packets on a stream.
//!
//! Stream faces (Unix, TCP) carry back-to-back TLV elements with no extra framing, so the reader
//! cuts frames with [`frame_len`]: a read may end in the middle of a packet or hold several.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use bytes::{Bytes, BytesMut};
use nfwd_tlv::element::{frame_len, read_header};

use crate::error::{Error, Result};

/// The nfwd daemon's default Unix socket.
pub const NFWD_SOCKET: &str = "/run/nfwd/nfwd.sock";
/// NFD's default Unix socket.
pub const NFD_SOCKET: &str = "/run/nfd/nfd.sock";
/// NFD's older Unix socket path, still probed by python-ndn.
pub const NFD_OLD_SOCKET: &str = "/run/nfd.sock";
/// The environment variable python-ndn and ndn-cxx read for the forwarder's address.
pub const TRANSPORT_ENV: &str = "NDN_CLIENT_TRANSPORT";
/// NDN's TCP port.
pub const DEFAULT_TCP_PORT: u16 = 6363;

/// Largest frame the client accepts. NDN packets are at most 8800 bytes on NFD faces; the
/// margin tolerates forwarders with a larger limit while still bounding the read buffer.
pub const MAX_FRAME: usize = 65_536;

/// The address of a forwarder, as a face URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientUri {
    /// `unix:///path/to/socket`.
    Unix(PathBuf),
    /// `tcp4://host:port` (also `tcp://` and `tcp6://`); the port defaults to 6363.
    Tcp {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
}

impl ClientUri {
    /// The forwarder to use when none is given, looked up as python-ndn does:
    /// `$NDN_CLIENT_TRANSPORT` if set, else `transport=` in the first `client.conf` found
    /// (`~/.ndn/`, `/usr/local/etc/ndn/`, `/etc/ndn/`), else the first existing socket among
    /// [`NFWD_SOCKET`], [`NFD_SOCKET`] and [`NFD_OLD_SOCKET`], else [`NFWD_SOCKET`] (so that
    /// the connect error names it).
    pub fn from_env_or_default() -> Result<Self> {
        if let Ok(v) = std::env::var(TRANSPORT_ENV)
            && !v.trim().is_empty()
        {
            return v.trim().parse();
        }
        let home_conf = std::env::var_os("HOME").map(|h| Path::new(&h).join(".ndn/client.conf"));
        let confs = home_conf.into_iter().chain(
            ["/usr/local/etc/ndn/client.conf", "/etc/ndn/client.conf"]
                .into_iter()
                .map(PathBuf::from),
        );
        for conf in confs {
            if let Ok(text) = std::fs::read_to_string(&conf) {
                if let Some(uri) = transport_in_conf(&text) {
                    return uri.parse();
                }
                // python-ndn reads only the first file that exists.
                break;
            }
        }
        let path = [NFWD_SOCKET, NFD_SOCKET, NFD_OLD_SOCKET]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or(NFWD_SOCKET);
        Ok(Self::Unix(PathBuf::from(path)))
    }
}

/// The value of `transport=` in a `client.conf` (INI-like `key=value` lines, `;` comments).
fn transport_in_conf(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with(';') && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "transport")
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn uri_error(uri: &str, reason: &str) -> Error {
    Error::FaceUri {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    }
}

impl FromStr for ClientUri {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(uri_error(s, "expected scheme://address"));
        };
        match scheme {
            "unix" => {
                if rest.is_empty() {
                    return Err(uri_error(s, "missing socket path"));
                }
                Ok(Self::Unix(PathBuf::from(rest)))
            }
            "tcp" | "tcp4" | "tcp6" => {
                let rest = rest.trim_end_matches('/');
                // `[v6]:port`, `[v6]`, `host:port` or `host`.
                let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
                    let Some((h, after)) = inner.split_once(']') else {
                        return Err(uri_error(s, "unclosed '['"));
                    };
                    (h, after.strip_prefix(':'))
                } else {
                    match rest.rsplit_once(':') {
                        Some((h, p)) => (h, Some(p)),
                        None => (rest, None),
                    }
                };
                if host.is_empty() {
                    return Err(uri_error(s, "missing host"));
                }
                let port = match port {
                    Some(p) => p.parse().map_err(|_| uri_error(s, "invalid port"))?,
                    None => DEFAULT_TCP_PORT,
                };
                Ok(Self::Tcp {
                    host: host.to_owned(),
                    port,
                })
            }
            _ => Err(uri_error(s, "unsupported scheme (use unix:// or tcp4://)")),
        }
    }
}

impl fmt::Display for ClientUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix://{}", p.display()),
            Self::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "tcp4://{host}:{port}"),
        }
    }
}

/// Accumulates stream bytes and cuts them into TLV frames.
#[derive(Debug, Default)]
pub(crate) struct FrameBuf {
    buf: BytesMut,
}

impl FrameBuf {
    /// The buffer to read into.
    pub(crate) fn buf_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The next complete frame, `None` if more bytes are needed. An error means the stream is
    /// no longer in sync (bad header) or a peer announced an oversized packet: the connection
    /// must be closed, since there is no way to find the next frame boundary.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Bytes>> {
        if let Some(n) = frame_len(&self.buf)? {
            if n > MAX_FRAME {
                return Err(Error::Other(format!(
                    "frame of {n} bytes exceeds {MAX_FRAME}"
                )));
            }
            return Ok(Some(self.buf.split_to(n).freeze()));
        }
        // Incomplete: refuse early if the header already announces too much, so a peer cannot
        // make us buffer an arbitrary amount.
        if let Ok((_, len, hdr)) = read_header(&self.buf)
            && hdr.saturating_add(len) > MAX_FRAME
        {
            return Err(Error::Other(format!(
                "frame of {} bytes exceeds {MAX_FRAME}",
                hdr.saturating_add(len)
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_uris() {
        assert_eq!(
            "unix:///run/nfd/nfd.sock".parse::<ClientUri>().unwrap(),
            ClientUri::Unix(PathBuf::from("/run/nfd/nfd.sock"))
        );
        assert_eq!(
            "tcp4://127.0.0.1:6364".parse::<ClientUri>().unwrap(),
            ClientUri::Tcp {
                host: "127.0.0.1".into(),
                port: 6364
            }
        );
        assert_eq!(
            "tcp4://localhost".parse::<ClientUri>().unwrap(),
            ClientUri::Tcp {
                host: "localhost".into(),
                port: 6363
            }
        );
        assert_eq!(
            "tcp6://[::1]:7000".parse::<ClientUri>().unwrap(),
            ClientUri::Tcp {
                host: "::1".into(),
                port: 7000
            }
        );
        assert!("udp4://1.2.3.4".parse::<ClientUri>().is_err());
        assert!("tcp4://h:x".parse::<ClientUri>().is_err());
        assert!("/run/nfd.sock".parse::<ClientUri>().is_err());
    }

    #[test]
    fn reads_transport_from_client_conf() {
        let conf = "; comment\ntransport = tcp4://10.0.0.1:6363\n";
        assert_eq!(transport_in_conf(conf), Some("tcp4://10.0.0.1:6363"));
        assert_eq!(transport_in_conf("; transport=unix:///x\n"), None);
    }

    #[test]
    fn cuts_partial_and_coalesced_frames() {
        let mut f = FrameBuf::default();
        f.buf_mut().extend_from_slice(&[0x08, 0x02, b'a']);
        assert!(f.next_frame().unwrap().is_none());
        f.buf_mut()
            .extend_from_slice(&[b'b', 0x08, 0x01, b'c', 0x08]);
        assert_eq!(
            &f.next_frame().unwrap().unwrap()[..],
            &[0x08, 0x02, b'a', b'b']
        );
        assert_eq!(&f.next_frame().unwrap().unwrap()[..], &[0x08, 0x01, b'c']);
        assert!(f.next_frame().unwrap().is_none());
        let mut big = FrameBuf::default();
        big.buf_mut()
            .extend_from_slice(&[0x06, 0xFE, 0x01, 0x00, 0x00, 0x00]);
        assert!(big.next_frame().is_err());
    }
}
