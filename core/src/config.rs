//! The daemon's configuration (TOML). Every field has a default, stated here and in
//! `docs/configuration.md`; an empty file is a valid configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::auth::PRIVILEGE_NAMES;
use crate::error::{Error, Result};

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Table bounds and forwarding behaviour.
    pub tables: TablesConfig,
    /// Function chaining.
    pub chain: ChainConfig,
    /// Forwarding threads.
    pub forwarding: ForwardingConfig,
    /// Listening faces.
    pub faces: FacesConfig,
    /// Faces to create at start.
    #[serde(rename = "face")]
    pub static_faces: Vec<StaticFace>,
    /// Routes to install at start.
    #[serde(rename = "route")]
    pub static_routes: Vec<StaticRoute>,
    /// Strategy choices at start.
    #[serde(rename = "strategy")]
    pub strategies: Vec<StrategyChoiceConfig>,
    /// Who may manage the forwarder (`docs/security.md`).
    pub security: SecurityConfig,
    /// Logging.
    pub log: LogConfig,
    /// Where the SF host (`nfwd start --sf-host`) pulls the packages of SFs it lacks from
    /// (plain settings here: the SF host reads and checks the certificates).
    pub sf_packages: SfPackagesConfig,
}

impl Config {
    /// Parses a TOML document.
    pub fn from_toml(text: &str) -> Result<Self> {
        let config: Self = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// Checks values that TOML types cannot.
    pub fn validate(&self) -> Result<()> {
        self.faces.tcp_listen_addr()?;
        self.faces.udp_listen_addr()?;
        self.faces.quic_listen_addr()?;
        let t = &self.tables;
        if t.pit_max_entries == 0 {
            return Err(Error::Config(
                "tables.pit_max_entries must be at least 1".into(),
            ));
        }
        if t.pit_max_entries_per_face == 0 {
            return Err(Error::Config(
                "tables.pit_max_entries_per_face must be at least 1".into(),
            ));
        }
        self.faces.unix_mode()?;
        self.security.validate()?;
        self.sf_packages.validate()?;
        if !(1..=crate::dispatch::MAX_SHARDS).contains(&self.forwarding.threads) {
            return Err(Error::Config(format!(
                "forwarding.threads must be 1 to {}",
                crate::dispatch::MAX_SHARDS
            )));
        }
        if !(1..=crate::dispatch::MAX_PREFIX_COMPONENTS)
            .contains(&self.forwarding.dispatch_components)
        {
            return Err(Error::Config(format!(
                "forwarding.dispatch_components must be 1 to {}",
                crate::dispatch::MAX_PREFIX_COMPONENTS
            )));
        }
        if self.chain.max_functions == 0 {
            return Err(Error::Config(
                "chain.max_functions must be at least 1".into(),
            ));
        }
        for r in &self.static_routes {
            r.prefix
                .parse::<nfwd_tlv::Name>()
                .map_err(|e| Error::Config(format!("route prefix {:?}: {e}", r.prefix)))?;
        }
        for s in &self.strategies {
            s.prefix
                .parse::<nfwd_tlv::Name>()
                .map_err(|e| Error::Config(format!("strategy prefix {:?}: {e}", s.prefix)))?;
            let name = s
                .strategy
                .parse::<nfwd_tlv::Name>()
                .map_err(|e| Error::Config(format!("strategy {:?}: {e}", s.strategy)))?;
            crate::strategy::create(&name)
                .map_err(|e| Error::Config(format!("strategy {:?}: {e}", s.strategy)))?;
        }
        let f = &self.faces;
        if f.liveness_timeout_ms > 0
            && (f.liveness_interval_ms < 10 || f.liveness_interval_ms >= f.liveness_timeout_ms)
        {
            return Err(Error::Config(
                "faces.liveness_interval_ms must be at least 10 and below faces.liveness_timeout_ms"
                    .into(),
            ));
        }
        for (key, v) in [
            ("udp_listen_buffer_bytes", f.udp_listen_buffer_bytes),
            ("udp_face_buffer_bytes", f.udp_face_buffer_bytes),
        ] {
            if !(64 * 1024..=256 << 20).contains(&v) {
                return Err(Error::Config(format!(
                    "faces.{key} must be between 65536 and 268435456 bytes (is {v})"
                )));
            }
        }
        if f.udp_pacing_rate_mbps > 0 {
            if f.udp_pacing_rate_mbps > 1_000_000 {
                return Err(Error::Config(
                    "faces.udp_pacing_rate_mbps must be at most 1000000 (1 Tbit/s), or 0 for no \
                     pacing"
                        .into(),
                ));
            }
            if f.udp_pacing_burst_bytes < 9000 {
                return Err(Error::Config(
                    "faces.udp_pacing_burst_bytes must be at least 9000 (the largest frame)".into(),
                ));
            }
            if f.udp_pacing_queue_bytes < f.udp_pacing_burst_bytes {
                return Err(Error::Config(
                    "faces.udp_pacing_queue_bytes must be at least faces.udp_pacing_burst_bytes"
                        .into(),
                ));
            }
        }
        if f.write_queue_bytes < 2 * 9000 {
            return Err(Error::Config(
                "faces.write_queue_bytes must be at least 18000 (two of the largest frames)".into(),
            ));
        }
        Ok(())
    }
}

/// `[tables]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TablesConfig {
    /// Most PIT entries at once; Interests beyond it are dropped and counted. Default 131072.
    pub pit_max_entries: usize,
    /// Most PIT entries one face may be a downstream of at once; its Interests beyond it get
    /// Nack Congestion and are counted (`drop_pit_quota`), so one face cannot fill the PIT for
    /// everyone. Default 16384 (an eighth of the PIT).
    pub pit_max_entries_per_face: usize,
    /// Content store capacity in packets (0 disables caching). Default 65536 (NFD's).
    pub cs_max_entries: usize,
    /// Cache unsolicited Data (Data matching no PIT entry). Default false, as NFD.
    pub cs_admit_unsolicited: bool,
    /// How long a nonce stays in the dead nonce list, in milliseconds. Default 6000 (NFD's).
    pub dead_nonce_lifetime_ms: u64,
    /// Bound on the dead nonce list. Default 65536.
    pub dead_nonce_max_entries: usize,
    /// Largest InterestLifetime honoured, in milliseconds (longer ones are cut). Default 60000.
    pub max_interest_lifetime_ms: u64,
}

impl Default for TablesConfig {
    fn default() -> Self {
        Self {
            pit_max_entries: 131_072,
            pit_max_entries_per_face: 16_384,
            cs_max_entries: 65_536,
            cs_admit_unsolicited: false,
            dead_nonce_lifetime_ms: 6_000,
            dead_nonce_max_entries: 65_536,
            max_interest_lifetime_ms: 60_000,
        }
    }
}

/// `[chain]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// Longest function stack accepted; longer ones get a Nack. Default 8.
    pub max_functions: usize,
    /// How long a neighbour forwarder may stay silent to the chain hello before it is taken
    /// for one that does not understand chaining (NFD), in ms (`docs/protocol.md` §4.1).
    /// Chained Interests are then answered at once with an error instead of being sent to
    /// it. Default 1000; 0 turns the hello off (every neighbour is taken as aware).
    pub neighbour_timeout_ms: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            max_functions: 8,
            neighbour_timeout_ms: 1000,
        }
    }
}

/// `[forwarding]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardingConfig {
    /// Forwarding threads (shards), 1 to 64: each forwards the names that hash to it with a
    /// PIT and content store of its own (`docs/ARCHITECTURE.md`, "Sharding"); thread 0 also
    /// does the I/O, management and the link protocols. The table bounds are split between
    /// them. Default 1.
    pub threads: u8,
    /// How many leading name components decide which thread a name belongs to, 1 to 8
    /// (names shorter go by all of theirs). 1 puts names that share a first component
    /// (`/ndn/...`) on one thread; more spreads them, at the cost of a hand-over for a Data
    /// that answers a CanBePrefix Interest shorter than this without echoing our PIT token.
    /// Default 2. (NDN-DPDK's name dispatch table hashes a configured prefix length too.)
    pub dispatch_components: u8,
}

impl Default for ForwardingConfig {
    fn default() -> Self {
        Self {
            threads: 1,
            dispatch_components: 2,
        }
    }
}

/// `[faces]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FacesConfig {
    /// Unix stream socket applications connect to. Default `/run/nfwd/nfwd.sock`.
    pub unix_path: Option<PathBuf>,
    /// Also listen at NFD's `/run/nfd/nfd.sock`, so NDN applications find nfwd with no
    /// configuration. Default false.
    pub nfd_compat_socket: bool,
    /// TCP listen address. Default `"127.0.0.1:6363"` (loopback only); `""` disables.
    pub tcp_listen: String,
    /// UDP listen address. Default `"127.0.0.1:6363"`; `""` disables.
    pub udp_listen: String,
    /// QUIC listen address (between forwarders). Default `""` (disabled).
    pub quic_listen: String,
    /// MTU of UDP faces: larger packets are fragmented with NDNLPv2. Default 8800 (NFD's).
    pub udp_mtu: usize,
    /// Seconds an on-demand face may stay idle (nothing received) before it is closed: UDP
    /// faces, and TCP/QUIC faces from non-local peers. Local stream faces (applications) are
    /// never idle-closed. 0 means never. Default 600.
    pub idle_timeout_s: u64,
    /// Permissions of the Unix socket (octal). Default `"0666"`: any local user may use the
    /// forwarder as an application; management is decided by peer credentials, not by who can
    /// connect (`docs/security.md`). `"0660"` with `unix_group` admits only that group.
    pub unix_mode: String,
    /// Group owning the Unix socket (a name or a number); `""` keeps the daemon's. Default "".
    pub unix_group: String,
    /// Directory under which restricted channels (`channels/open`, one socket per SF
    /// instance) may be opened. Default: `sf` next to `unix_path` (`/run/nfwd/sf`).
    pub channel_dir: Option<PathBuf>,
    /// Seconds a stream face may hold an incomplete frame before it is closed (a peer that
    /// trickles a frame byte by byte). 0 means never. Default 10.
    pub partial_frame_timeout_s: u64,
    /// Most UDP faces at once. When full, a datagram from a new peer evicts the on-demand face
    /// idle the longest (counted); configured faces are never evicted. Default 16384.
    pub max_udp_faces: usize,
    /// Most stream faces (Unix, TCP, QUIC) at once; connections beyond it are refused and
    /// counted. Default 8192.
    pub max_stream_faces: usize,
    /// Bytes a stream face (Unix, TCP, QUIC) may hold queued for its socket. Beyond, frames
    /// are dropped and counted per face (`drop_queue_full`); well before, from
    /// `DefaultCongestionThreshold` (65536 bytes, or half this if smaller), outgoing packets
    /// carry NDNLPv2 CongestionMarks as NFD's. Default 33554432 (32 MiB).
    pub write_queue_bytes: u64,
    /// Kernel buffer (SO_RCVBUF and SO_SNDBUF) asked for the UDP listening socket, in bytes:
    /// bursts of first datagrams from new peers queue there while the core is busy. As root
    /// it is set beyond `net.core.rmem_max`/`wmem_max` (SO_RCVBUFFORCE); otherwise the kernel
    /// caps it there. Default 4194304 (4 MiB).
    pub udp_listen_buffer_bytes: usize,
    /// The same for each UDP face's own socket (what one peer may have queued while the core
    /// serves others: a cap, not an allocation). Default 1048576 (1 MiB).
    pub udp_face_buffer_bytes: usize,
    /// Pacing of what each UDP face sends (`driver/pacing.rs`): a token bucket of this rate,
    /// in Mbit/s, so that a burst of Data does not overflow a peer's receive buffer (NFD's
    /// is ~208 KiB by default). 0 turns pacing off. Default 1000.
    pub udp_pacing_rate_mbps: u64,
    /// Bytes a UDP face may send at once after a pause, before pacing holds frames back.
    /// At least 9000 (the largest frame). Default 65536.
    pub udp_pacing_burst_bytes: u64,
    /// Bytes a UDP face may hold waiting for its pacing; beyond, frames are dropped and
    /// counted (`drop_queue_full`), and from `DefaultCongestionThreshold` (as on stream faces)
    /// packets carry CongestionMarks. At least the burst. Default 4194304 (4 MiB).
    pub udp_pacing_queue_bytes: u64,
    /// Link liveness (`docs/protocol.md` §8): a face towards another forwarder that has sent
    /// Interests and heard nothing for this many milliseconds is probed, and again as often.
    /// Default 250.
    pub liveness_interval_ms: u64,
    /// Such a face whose peer answers probes, silent this long while Interests wait, is down:
    /// strategies skip it and its pending Interests go elsewhere or get a Nack. 0 disables
    /// liveness (probes from peers are still answered). Default 1000.
    pub liveness_timeout_ms: u64,
}

impl Default for FacesConfig {
    fn default() -> Self {
        Self {
            unix_path: Some(PathBuf::from("/run/nfwd/nfwd.sock")),
            nfd_compat_socket: false,
            tcp_listen: "127.0.0.1:6363".into(),
            udp_listen: "127.0.0.1:6363".into(),
            quic_listen: String::new(),
            udp_mtu: 8800,
            idle_timeout_s: 600,
            unix_mode: "0666".into(),
            unix_group: String::new(),
            channel_dir: None,
            partial_frame_timeout_s: 10,
            max_udp_faces: 16_384,
            max_stream_faces: 8_192,
            write_queue_bytes: 32 << 20,
            udp_listen_buffer_bytes: 4 << 20,
            udp_face_buffer_bytes: 1 << 20,
            udp_pacing_rate_mbps: 1000,
            udp_pacing_burst_bytes: 64 << 10,
            udp_pacing_queue_bytes: 4 << 20,
            liveness_interval_ms: 250,
            liveness_timeout_ms: 1000,
        }
    }
}

impl FacesConfig {
    /// The liveness settings, `None` if disabled.
    #[must_use]
    pub fn liveness(&self) -> Option<crate::liveness::LivenessConfig> {
        (self.liveness_timeout_ms > 0).then(|| crate::liveness::LivenessConfig {
            interval: std::time::Duration::from_millis(self.liveness_interval_ms),
            timeout: std::time::Duration::from_millis(self.liveness_timeout_ms),
        })
    }

    /// The TCP listen address, if enabled.
    pub fn tcp_listen_addr(&self) -> Result<Option<SocketAddr>> {
        parse_listen("faces.tcp_listen", &self.tcp_listen)
    }

    /// The UDP listen address, if enabled.
    pub fn udp_listen_addr(&self) -> Result<Option<SocketAddr>> {
        parse_listen("faces.udp_listen", &self.udp_listen)
    }

    /// The QUIC listen address, if enabled.
    pub fn quic_listen_addr(&self) -> Result<Option<SocketAddr>> {
        parse_listen("faces.quic_listen", &self.quic_listen)
    }

    /// `unix_mode` as permission bits.
    pub fn unix_mode(&self) -> Result<u32> {
        let text = self.unix_mode.trim();
        let digits = text.strip_prefix("0o").unwrap_or(text);
        match u32::from_str_radix(digits, 8) {
            Ok(mode) if mode <= 0o777 => Ok(mode),
            _ => Err(Error::Config(format!(
                "faces.unix_mode = {:?}: want octal permissions such as \"0666\" or \"0660\"",
                self.unix_mode
            ))),
        }
    }

    /// Where restricted channels may be opened: `channel_dir`, else `sf` beside the Unix
    /// socket, else `/run/nfwd/sf`.
    #[must_use]
    pub fn channel_dir(&self) -> PathBuf {
        if let Some(d) = &self.channel_dir {
            return d.clone();
        }
        self.unix_path
            .as_deref()
            .and_then(std::path::Path::parent)
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("/run/nfwd/sf"), |d| d.join("sf"))
    }
}

/// `[sf_packages]`: SF packages pulled over NDN by the SF host (`docs/sf-host.md`, "Pulling
/// packages"). Without a source, a deployment of a package is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SfPackagesConfig {
    /// The package cache. Default `/var/cache/nfwd/sf-packages`.
    pub cache_dir: Option<PathBuf>,
    /// Most MiB of artifacts kept in the cache; packages no deployed SF uses are evicted,
    /// least recently used first. Default 1024.
    pub cache_max_mib: u64,
    /// Longest a pull may take, in seconds. Default 25 (under a deploy command's 30 s).
    pub fetch_timeout_s: u64,
    /// Where packages may come from.
    #[serde(rename = "source")]
    pub sources: Vec<SfPackageSource>,
}

impl Default for SfPackagesConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            cache_max_mib: 1024,
            fetch_timeout_s: 25,
            sources: Vec::new(),
        }
    }
}

/// `[[sf_packages.source]]`: packages under `prefix`, their manifests signed by the key of
/// `trust_anchor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SfPackageSource {
    /// The publisher's prefix, e.g. `/site/a` (not `/`).
    pub prefix: String,
    /// The publisher's certificate (`nfwd key generate`).
    pub trust_anchor: PathBuf,
}

impl SfPackagesConfig {
    fn validate(&self) -> Result<()> {
        if self.cache_max_mib == 0 || self.fetch_timeout_s == 0 {
            return Err(Error::Config(
                "sf_packages: cache_max_mib and fetch_timeout_s must be at least 1".into(),
            ));
        }
        for (i, s) in self.sources.iter().enumerate() {
            let prefix: nfwd_tlv::Name = s.prefix.parse().map_err(|e| {
                Error::Config(format!(
                    "sf_packages.source[{i}].prefix {:?}: {e}",
                    s.prefix
                ))
            })?;
            if prefix.is_empty() {
                return Err(Error::Config(format!(
                    "sf_packages.source[{i}].prefix must not be / (name the publisher's prefix)"
                )));
            }
        }
        Ok(())
    }
}

/// `[security]`: who may manage the forwarder and its local services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Members of this group (a name or a number) may manage, with every privilege but
    /// `sf-exec`; `""` for none. Ignored when `authorize` rules are given. Default "".
    pub manage_group: String,
    /// Authorization rules (NFD's `authorizations`, plus local users). Empty: the defaults —
    /// root and the daemon's own user get every privilege, `manage_group` (if set) every
    /// privilege but `sf-exec`.
    pub authorize: Vec<AuthorizeRule>,
}

impl SecurityConfig {
    fn validate(&self) -> Result<()> {
        for (i, r) in self.authorize.iter().enumerate() {
            let at = |what: String| Error::Config(format!("security.authorize[{i}]: {what}"));
            if r.users.is_empty() && r.key.is_none() {
                return Err(at(
                    "needs `users` (local peers) or `key` (a signer), or both".into(),
                ));
            }
            if r.privileges.is_empty() {
                return Err(at("`privileges` is empty".into()));
            }
            for p in &r.privileges {
                if p != "*" && !PRIVILEGE_NAMES.contains(&p.as_str()) {
                    return Err(at(format!(
                        "unknown privilege {p:?} (known: {}, or \"*\")",
                        PRIVILEGE_NAMES.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }
}

/// `[[security.authorize]]`: a command is allowed if one rule matches both who sent it and
/// the privilege it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRule {
    /// Local peers (Unix socket credentials): user names, `uid:N`, `@group`, `@gid:N`, or
    /// `"*"` for any local peer including anonymous loopback ones. Empty: any peer, as long
    /// as `key` signed the command.
    #[serde(default)]
    pub users: Vec<String>,
    /// The command must be signed by this key: an NDN certificate file (base64, as `ndnsec
    /// cert-dump` or `nfwd key generate` write it). Absent: any signature that verifies
    /// where it can (DigestSha256 is recomputed; a key not configured anywhere is taken on
    /// trust, as NFD's `certfile any`).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// What the rule allows (see [`PRIVILEGE_NAMES`], or `"*"`).
    pub privileges: Vec<String>,
}

fn parse_listen(field: &str, text: &str) -> Result<Option<SocketAddr>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim()
        .parse()
        .map(Some)
        .map_err(|e| Error::Config(format!("{field} = {text:?}: {e} (want IP:port, or \"\")")))
}

/// `[[face]]`: a face created at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticFace {
    /// Remote URI: `udp4://host:port`, `tcp4://host:port`, `quic://host:port`, `unix:///path`.
    pub uri: String,
    /// `persistent` (default) or `permanent`.
    #[serde(default = "default_persistency")]
    pub persistency: String,
}

fn default_persistency() -> String {
    "persistent".into()
}

/// `[[route]]`: a route installed at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticRoute {
    /// Name prefix.
    pub prefix: String,
    /// Remote URI of the face (one of `[[face]]`).
    pub face: String,
    /// Cost. Default 0.
    #[serde(default)]
    pub cost: u64,
}

/// `[[strategy]]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyChoiceConfig {
    /// Name prefix.
    pub prefix: String,
    /// Strategy name, e.g. `/localhost/nfd/strategy/multicast`.
    pub strategy: String,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `nfwd_forwarder=debug`. Default `info`; the
    /// `NFWD_LOG` environment variable overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn the_documented_example_is_a_valid_configuration() {
        let doc = include_str!("../../docs/configuration.md");
        let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let end = start + doc[start..].find("```").expect("its end");
        let c = Config::from_toml(&doc[start..end]).unwrap();
        assert_eq!(c.security.authorize.len(), 2);
        assert_eq!(c.tables.pit_max_entries_per_face, 16_384);
        assert_eq!(c.sf_packages.sources.len(), 1);
        assert!(
            Config::from_toml("[[sf_packages.source]]\nprefix = \"/\"\ntrust_anchor = \"c\"\n")
                .is_err()
        );
    }

    #[test]
    fn udp_buffers_default_to_4_and_1_mib_and_stay_within_bounds() {
        let f = Config::default().faces;
        assert_eq!(
            (f.udp_listen_buffer_bytes, f.udp_face_buffer_bytes),
            (4 << 20, 1 << 20)
        );
        let c = Config::from_toml("[faces]\nudp_listen_buffer_bytes = 16777216\n").unwrap();
        assert_eq!(c.faces.udp_listen_buffer_bytes, 16 << 20);
        for bad in [
            "udp_listen_buffer_bytes = 1000",
            "udp_face_buffer_bytes = 1073741824",
        ] {
            let e = Config::from_toml(&format!("[faces]\n{bad}\n")).unwrap_err();
            assert!(e.to_string().contains("buffer_bytes"), "{e}");
        }
    }

    #[test]
    fn write_queue_bytes_defaults_to_32_mib_and_holds_two_frames_at_least() {
        assert_eq!(Config::default().faces.write_queue_bytes, 32 << 20);
        let c = Config::from_toml("[faces]\nwrite_queue_bytes = 65536\n").unwrap();
        assert_eq!(c.faces.write_queue_bytes, 65536);
        let e = Config::from_toml("[faces]\nwrite_queue_bytes = 9000\n").unwrap_err();
        assert!(e.to_string().contains("write_queue_bytes"), "{e}");
    }

    #[test]
    fn unknown_privileges_are_refused() {
        let e = Config::from_toml(
            "[[security.authorize]]\nusers = [\"root\"]\nprivileges = [\"root\"]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown privilege"), "{e}");
        let e = Config::from_toml("[[security.authorize]]\nprivileges = [\"*\"]\n").unwrap_err();
        assert!(e.to_string().contains("users"), "{e}");
    }

    #[test]
    fn bad_values_are_explained() {
        let e = Config::from_toml("[tables]\npit_max_entries = 0\n").unwrap_err();
        assert!(e.to_string().contains("pit_max_entries"));
        let e = Config::from_toml("[tables]\nbogus = 1\n").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = Config::from_toml("[[route]]\nprefix = \"/a//b\"\nface = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("route prefix"));
        let e = Config::from_toml("[faces]\ntcp_listen = \"localhost\"\n").unwrap_err();
        assert!(e.to_string().contains("faces.tcp_listen"));
        let c = Config::from_toml("[faces]\nudp_listen = \"\"\n").unwrap();
        assert_eq!(c.faces.udp_listen_addr().unwrap(), None);
    }
}
