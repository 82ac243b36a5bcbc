//! NFD management inside the core: `/localhost/nfd/<module>/<verb>` command Interests and
//! status datasets, answered as NFD answers them.
//!
//! **Commands** are accepted in both signed formats ([`ControlCommand::parse`]) and authorized
//! by [`super::auth`] (`docs/security.md`): the signature is verified as far as it can be and
//! its timestamp checked, then the privilege the command needs — its module, except that any
//! local application may register prefixes outside `/localhost` for itself and update its own
//! face — must be granted to the face's peer credentials and signer by a rule. A face of a
//! restricted channel may only register and unregister its channel's prefix for itself.
//! Refusals are 403 and counted. The reply is a Data named exactly like the command, Content =
//! ControlResponse, signed with DigestSha256, sent to the requester with the PIT token the
//! command came with.
//!
//! **Local services** under `/localhost/nfwd/<service>` (the SF host) are authorized here too,
//! before the Interest is forwarded to the application serving them: privilege `<service>`.
//!
//! **Datasets** are produced, as NFD's dispatcher does, for any Interest under the dataset's
//! name that does not end in a version or segment — plain (`/localhost/nfd/faces/list`) or
//! signed (python-ndn's pynfdc appends ApplicationParameters and a parameters digest): the
//! payload is cut into segments `<Interest name>/v=<version>/seg=<n>` (NFD's segmentation,
//! `segment_dataset`) and segment 0 is the reply. The segments are kept in a small cache owned by management (not
//! the content store, which `cs/config` may disable and which management Interests never
//! reach), so that the consumer's follow-up Interests for `v=<version>/seg=<n>` are answered
//! from the same snapshot. Entries live [`DATASET_CACHE_LIFETIME`] and at most
//! [`MAX_CACHED_DATASETS`] are kept; a request for a version no longer cached gets no answer,
//! as with NFD once its dispatcher storage dropped it — the consumer restarts without a version.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nfwd_tlv::lp::PitToken;
use nfwd_tlv::nfd::{
    self, ChannelStatus, ControlCommand, ControlParameters, ControlResponse, CsInfo,
    FaceQueryFilter, FaceStatus, ForwarderStatus, NextHopRecord, RibEntry, StrategyChoice,
    encode_all, segment_dataset, status_code,
};
use nfwd_tlv::{Component, Data, Element, Interest, Name, Signer};

use super::auth::{Denied, SignedParts, Signer as SignedBy};
use super::face::{ChannelId, CongestionMarking, FaceCounters, FaceScope, LinkType, Persistency};
use super::replica::Change;
use super::rib::Route;
use super::{Action, Channel, FaceId, FaceInfo, FaceState, Forwarder, MAX_CHANNELS};
use crate::metrics::{self, Exposition};

/// faces/create requests waiting for the driver, at most (then 503).
const MAX_PENDING_CREATES: usize = 64;
/// A faces/create the driver has not reported on after this is forgotten (its command
/// Interest expired long before).
const PENDING_CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Dataset snapshots kept for segment retrieval, at most.
const MAX_CACHED_DATASETS: usize = 16;
/// How long a dataset snapshot answers segment Interests: twice its FreshnessPeriod, so a
/// consumer that fetched segment 0 just before it went stale can still finish.
const DATASET_CACHE_LIFETIME: Duration = Duration::from_secs(2);
/// Longest prefix accepted in the FIB and RIB (NFD's FIB depth limit); longer is 414.
const MAX_PREFIX_DEPTH: usize = 32;
/// At most this many CS entries go per `cs/erase` (as NFD, to bound one command's work).
const CS_ERASE_LIMIT: usize = 256;
/// "Gone": the face a command names does not exist (NFD's FIB manager uses 410).
const GONE: u64 = 410;

/// Components of `/localhost/nfd/<module>/<verb>`.
const BASE_LEN: usize = 4;

#[derive(Debug)]
struct PendingCreate {
    reply: PendingReply,
    /// LocalFieldsEnabled as the command asked (None: not mentioned).
    local_fields: Option<bool>,
    /// Congestion marking settings the command gave (None: none, the defaults apply).
    congestion: Option<CongestionRequest>,
    /// The persistency asked for (an existing face found late is upgraded to it).
    persistency: Persistency,
    asked: Instant,
}

/// A command whose reply waits for the driver.
#[derive(Debug)]
pub(super) struct PendingReply {
    requester: FaceId,
    command: Name,
    token: Option<PitToken>,
}

#[derive(Debug)]
struct CachedDataset {
    /// The dataset name without version and segment (with the filter for faces/query).
    prefix: Name,
    version: u64,
    segments: Vec<Data>,
    produced: Instant,
}

/// State management keeps between requests. Every collection is bounded.
#[derive(Debug, Default)]
pub(super) struct MgmtState {
    /// Wall-clock time (ms since the Unix epoch) at `Forwarder::started`, from the driver.
    wall_clock_at_start_ms: u64,
    next_request: u64,
    pending: BTreeMap<u64, PendingCreate>,
    datasets: VecDeque<CachedDataset>,
    last_version: u64,
    requests: u64,
    /// Replies by status code (keys come from the fixed set of codes we send).
    replies: BTreeMap<u64, u64>,
    /// Dataset segment Interests that could not be answered.
    unanswered: u64,
    /// LocalUris of the driver's listening channels (`faces/channels`), as it reported them.
    listening: Vec<String>,
    /// Actions decided outside an action-returning call (closing a face closes its
    /// channels); handed out with the next ones.
    pub(super) deferred: Vec<Action>,
}

/// What a command handler decided: the effective parameters (200) or a refusal.
type Outcome = Result<ControlParameters, Refusal>;

/// A refusal: a ControlResponse with a non-200 code (boxed: it is large and rare).
type Refusal = Box<ControlResponse>;

fn refuse(code: u64, text: &str) -> Refusal {
    Box::new(ControlResponse::new(code, text))
}

fn required_name(p: &ControlParameters) -> Result<Name, Refusal> {
    let name = p
        .name
        .clone()
        .ok_or_else(|| refuse(status_code::BAD_PARAMETERS, "Name is required"))?;
    if name.len() > MAX_PREFIX_DEPTH {
        return Err(refuse(status_code::NAME_TOO_LONG, "Name is too long"));
    }
    Ok(name)
}

/// Flags and Mask come together or not at all (NFD's rule for faces/update and cs/config).
fn flags_and_mask(p: &ControlParameters) -> Result<Option<(u64, u64)>, Refusal> {
    match (p.flags, p.mask) {
        (Some(f), Some(m)) => Ok(Some((f, m))),
        (None, None) => Ok(None),
        _ => Err(refuse(
            status_code::BAD_PARAMETERS,
            "Flags and Mask must be given together",
        )),
    }
}

/// What a faces/create or faces/update asks of congestion marking; absent fields are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CongestionRequest {
    enabled: Option<bool>,
    base_interval_ns: Option<u64>,
    threshold: Option<u64>,
}

impl CongestionRequest {
    /// From BaseCongestionMarkingInterval, DefaultCongestionThreshold and the Flags/Mask bit
    /// CongestionMarkingEnabled; `None` if the command mentions none of them.
    fn from_params(p: &ControlParameters) -> Result<Option<Self>, Refusal> {
        let bit = nfd::face_flags::CONGESTION_MARKING_ENABLED;
        let r = Self {
            enabled: flags_and_mask(p)?.and_then(|(f, m)| (m & bit != 0).then_some(f & bit != 0)),
            base_interval_ns: p.base_congestion_marking_interval_ns,
            threshold: p.default_congestion_threshold,
        };
        Ok((r != Self::default()).then_some(r))
    }

    fn apply(self, to: CongestionMarking) -> CongestionMarking {
        CongestionMarking {
            enabled: self.enabled.unwrap_or(to.enabled),
            base_interval_ns: self.base_interval_ns.unwrap_or(to.base_interval_ns),
            threshold: self.threshold.unwrap_or(to.threshold),
        }
    }
}

/// LocalFieldsEnabled as Flags/Mask set it, if they mention it.
fn local_fields_request(p: &ControlParameters) -> Result<Option<bool>, Refusal> {
    let bit = nfd::face_flags::LOCAL_FIELDS_ENABLED;
    Ok(flags_and_mask(p)?.and_then(|(f, m)| (m & bit != 0).then_some(f & bit != 0)))
}

fn persistency_param(p: &ControlParameters) -> Result<Option<Persistency>, Refusal> {
    p.face_persistency
        .map(|c| {
            Persistency::from_code(c)
                .ok_or_else(|| refuse(status_code::BAD_PARAMETERS, "unknown FacePersistency"))
        })
        .transpose()
}

fn face_flags(state: &FaceState) -> u64 {
    let mut flags = 0;
    if state.local_fields {
        flags |= nfd::face_flags::LOCAL_FIELDS_ENABLED;
    }
    if state.congestion.enabled {
        flags |= nfd::face_flags::CONGESTION_MARKING_ENABLED;
    }
    flags
}

fn scope_code(s: FaceScope) -> u64 {
    match s {
        FaceScope::Local => nfd::face_scope::LOCAL,
        FaceScope::NonLocal => nfd::face_scope::NON_LOCAL,
    }
}

fn link_code(l: LinkType) -> u64 {
    match l {
        LinkType::PointToPoint => nfd::link_type::POINT_TO_POINT,
        LinkType::MultiAccess => nfd::link_type::MULTI_ACCESS,
    }
}

/// What faces/create and faces/update report about a face.
fn face_parameters(id: FaceId, state: &FaceState) -> ControlParameters {
    ControlParameters {
        face_id: Some(id.0),
        uri: Some(state.info.remote_uri.as_str().into()),
        local_uri: Some(state.info.local_uri.as_str().into()),
        face_persistency: Some(state.info.persistency.code()),
        flags: Some(face_flags(state)),
        base_congestion_marking_interval_ns: Some(state.congestion.base_interval_ns),
        default_congestion_threshold: Some(state.congestion.threshold),
        mtu: state.info.mtu.map(|m| m as u64),
        ..ControlParameters::default()
    }
}

/// `state`'s status, with `c` its counters (on every shard).
fn face_status(id: FaceId, state: &FaceState, c: &FaceCounters) -> FaceStatus {
    FaceStatus {
        face_id: id.0,
        uri: state.info.remote_uri.as_str().into(),
        local_uri: state.info.local_uri.as_str().into(),
        expiration_period_ms: None,
        face_scope: scope_code(state.info.scope),
        face_persistency: state.info.persistency.code(),
        link_type: link_code(state.info.link_type),
        base_congestion_marking_interval_ns: Some(state.congestion.base_interval_ns),
        default_congestion_threshold: Some(state.congestion.threshold),
        mtu: state.info.mtu.map(|m| m as u64),
        n_in_interests: c.in_interests,
        n_in_data: c.in_data,
        n_in_nacks: c.in_nacks,
        n_out_interests: c.out_interests,
        n_out_data: c.out_data,
        n_out_nacks: c.out_nacks,
        n_in_bytes: c.in_bytes,
        n_out_bytes: c.out_bytes,
        flags: face_flags(state),
    }
}

fn uri_scheme(uri: &str) -> &str {
    uri.split_once("://").map_or(uri, |(s, _)| s)
}

fn filter_matches(q: &FaceQueryFilter, id: FaceId, state: &FaceState) -> bool {
    let info = &state.info;
    q.face_id.is_none_or(|f| f == id.0)
        && q.uri_scheme.as_ref().is_none_or(|s| {
            uri_scheme(&info.remote_uri) == s.as_str() || uri_scheme(&info.local_uri) == s.as_str()
        })
        && q.uri.as_ref().is_none_or(|u| info.remote_uri == u.as_str())
        && q.local_uri
            .as_ref()
            .is_none_or(|u| info.local_uri == u.as_str())
        && q.face_scope.is_none_or(|s| s == scope_code(info.scope))
        && q.face_persistency
            .is_none_or(|p| p == info.persistency.code())
        && q.link_type.is_none_or(|l| l == link_code(info.link_type))
}

/// Which kind of request `/localhost/nfd/<module>/<verb>` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Command,
    Dataset,
    Unknown,
}

fn kind(module: &[u8], verb: &[u8]) -> Kind {
    match (module, verb) {
        (b"channels", b"open" | b"close")
        | (b"rib", b"register" | b"unregister")
        | (b"fib", b"add-nexthop" | b"remove-nexthop")
        | (b"faces", b"create" | b"update" | b"destroy")
        | (b"strategy-choice", b"set" | b"unset")
        | (b"cs", b"config" | b"erase") => Kind::Command,
        (b"status", b"general" | b"counters" | b"chains")
        | (b"faces", b"list" | b"channels" | b"query")
        | (b"fib" | b"rib", b"list")
        | (b"cs", b"info")
        | (b"strategy-choice", b"list") => Kind::Dataset,
        _ => Kind::Unknown,
    }
}

impl Forwarder {
    pub(super) fn is_management(&self, name: &Name) -> bool {
        name.len() >= 2
            && name.component_parts(0) == Some((8, &b"localhost"[..]))
            && name.component_parts(1) == Some((8, &b"nfd"[..]))
    }

    /// Tells the core the wall-clock time (ms since the Unix epoch) at the `now` it was created
    /// with; `status/general` and dataset versions are computed from it, since the core reads
    /// no clock. The driver calls this once, right after [`Forwarder::new`].
    pub fn set_wall_clock(&mut self, start_ms: u64) {
        self.mgmt.wall_clock_at_start_ms = start_ms;
    }

    /// Tells the core the driver's listening channels, by NFD-style LocalUri
    /// (`unix:///run/nfd/nfd.sock`, `tcp4://0.0.0.0:6363`, `udp4://…`, `quic://…`), for the
    /// `faces/channels` dataset: the core sees faces, not the sockets that accept them. The
    /// driver calls this once its listeners are bound.
    pub fn set_channels(&mut self, local_uris: Vec<String>) {
        self.mgmt.listening = local_uris;
    }

    /// Management requests received (commands and dataset Interests).
    #[must_use]
    pub fn mgmt_requests(&self) -> u64 {
        self.mgmt.requests
    }

    /// Management replies sent with StatusCode `code` (200 for commands that succeeded; dataset
    /// segments are not ControlResponses and are not counted here).
    #[must_use]
    pub fn mgmt_replies_with_status(&self, code: u64) -> u64 {
        self.mgmt.replies.get(&code).copied().unwrap_or(0)
    }

    /// Dataset segment Interests that named a snapshot no longer (or never) held.
    #[must_use]
    pub fn mgmt_unanswered(&self) -> u64 {
        self.mgmt.unanswered
    }

    pub(super) fn wall_clock_ms(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.started).as_millis();
        self.mgmt
            .wall_clock_at_start_ms
            .saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }

    /// An Interest under `/localhost/nfd` from a local face; `token` is its PIT token, echoed
    /// on the reply.
    pub(super) fn handle_management(
        &mut self,
        now: Instant,
        face: FaceId,
        interest: &Interest,
        token: Option<&PitToken>,
        out: &mut Vec<Action>,
    ) {
        self.mgmt.requests += 1;
        self.prune_mgmt(now);
        let name = interest.name();
        let (Some(module), Some(verb)) = (name.get(2), name.get(3)) else {
            let r = refuse(status_code::BAD_PARAMETERS, "malformed management name");
            return self.mgmt_reply(face, name, token, &r, out);
        };
        let which = if module.is_generic() && verb.is_generic() {
            kind(module.value(), verb.value())
        } else {
            Kind::Unknown
        };
        match which {
            Kind::Command => self.command(now, face, interest, token, out),
            Kind::Dataset if self.is_restricted(face) => {
                let r = self.unauthorized(face, "a restricted face reads no management dataset");
                self.mgmt_reply(face, name, token, &r, out);
            }
            Kind::Dataset => self.dataset(now, face, interest, token, out),
            Kind::Unknown => {
                let r = refuse(status_code::NOT_IMPLEMENTED, "unknown management request");
                self.mgmt_reply(face, name, token, &r, out);
            }
        }
    }

    fn prune_mgmt(&mut self, now: Instant) {
        self.mgmt
            .pending
            .retain(|_, p| now.saturating_duration_since(p.asked) < PENDING_CREATE_TIMEOUT);
        self.mgmt
            .datasets
            .retain(|d| now.saturating_duration_since(d.produced) < DATASET_CACHE_LIFETIME);
    }

    fn is_restricted(&self, face: FaceId) -> bool {
        self.faces
            .get(&face)
            .is_some_and(|f| f.info.channel.is_some())
    }

    /// Counts a refusal on `face` and makes its 403.
    fn unauthorized(&mut self, face: FaceId, text: &str) -> Refusal {
        self.counters.unauthorized += 1;
        if let Some(f) = self.faces.get_mut(&face) {
            f.counters.drop_unauthorized += 1;
        }
        refuse(status_code::UNAUTHORIZED, text)
    }

    /// Who a face's peer is, for refusal texts.
    fn who(&self, face: FaceId) -> String {
        match self
            .faces
            .get(&face)
            .map(|f| (&f.info.peer, f.info.channel))
        {
            Some((_, Some(c))) => format!("face {face} (restricted channel {c})"),
            Some((Some(p), None)) => format!("uid {} (face {face})", p.uid),
            _ => format!("face {face} (a local peer with no credentials: loopback TCP/UDP)"),
        }
    }

    /// Checks a signed request's signature and timestamp; a failure is counted and becomes
    /// the 403 to send.
    fn check_signature(
        &mut self,
        now: Instant,
        face: FaceId,
        parts: &SignedParts<'_>,
    ) -> Result<SignedBy, Refusal> {
        let wall = self.wall_clock_ms(now);
        self.auth.check_signature(parts, wall).map_err(|d| {
            let text = match d {
                Denied::BadSignature => {
                    self.counters.bad_signatures += 1;
                    "the signature does not verify"
                }
                Denied::Replay => {
                    self.counters.replayed_commands += 1;
                    "the command's timestamp is not after its signer's last one or is too far \
                     from this forwarder's clock (replay)"
                }
                Denied::NotAuthorized => "not authorized",
            };
            if let Some(f) = self.faces.get_mut(&face) {
                f.counters.drop_unauthorized += 1;
            }
            refuse(status_code::UNAUTHORIZED, text)
        })
    }

    /// Requires `privilege` of `face` and `signer`.
    fn require(&mut self, face: FaceId, signer: SignedBy, privilege: &str) -> Result<(), Refusal> {
        let peer = self.faces.get(&face).and_then(|f| f.info.peer.clone());
        if self.is_restricted(face) || !self.auth.allows(peer.as_ref(), signer, privilege) {
            let text = format!(
                "{} is not authorized for {privilege:?} (docs/security.md)",
                self.who(face)
            );
            return Err(self.unauthorized(face, &text));
        }
        Ok(())
    }

    /// Authorizes an Interest for `/localhost/nfwd/<service>/...` from a local face before it
    /// is forwarded: a signed one must verify; privilege `<service>` is required.
    pub(super) fn authorize_service(
        &mut self,
        now: Instant,
        face: FaceId,
        interest: &Interest,
        service: &[u8],
    ) -> Result<(), Refusal> {
        self.mgmt.requests += 1;
        let signer = match (
            interest.signature_info(),
            interest.signature_value(),
            interest.signed_portion(),
        ) {
            (Some(info), Some(value), Some(signed)) => {
                let parts = SignedParts {
                    info,
                    signed,
                    value,
                    time_ms: info.time,
                };
                self.check_signature(now, face, &parts)?
            }
            _ => SignedBy::Unsigned,
        };
        let service = std::str::from_utf8(service).unwrap_or("*");
        self.require(face, signer, service)?;
        self.auth
            .commit(signer, interest.signature_info().and_then(|i| i.time));
        Ok(())
    }

    /// Authorizes a parsed NFD command from `face`: signature, then privilege.
    fn authorize_command(
        &mut self,
        now: Instant,
        face: FaceId,
        cmd: &ControlCommand,
    ) -> Result<(), Refusal> {
        let signed = cmd.signed_portion();
        let parts = SignedParts {
            info: cmd.signature_info(),
            signed,
            value: cmd.signature_value(),
            time_ms: cmd.timestamp_ms(),
        };
        let signer = self.check_signature(now, face, &parts)?;
        let p = cmd.parameters();
        let own_face = Self::named_face(face, p) == face;
        let module = cmd.module();
        let registering = module == "rib" && matches!(cmd.verb(), "register" | "unregister");
        if let Some(channel) = self.faces.get(&face).and_then(|f| f.info.channel) {
            // A restricted face: its own registrations under its channel's prefix, nothing
            // else.
            let prefix = self.channels.get(&channel).map(|c| c.prefix.clone());
            let allowed = registering
                && own_face
                && matches!((&p.name, &prefix), (Some(n), Some(pre)) if pre.is_prefix_of(n));
            if !allowed {
                let text = match prefix {
                    Some(pre) => format!(
                        "{} may only register names under {pre} for itself",
                        self.who(face)
                    ),
                    None => format!("{}: its channel is closed", self.who(face)),
                };
                return Err(self.unauthorized(face, &text));
            }
        } else {
            // What any local application may do for itself, as in NFD: register prefixes
            // (outside the reserved /localhost) and update its own face.
            let self_service = own_face
                && ((registering
                    && p.name
                        .as_ref()
                        .is_some_and(|n| !super::pipeline::is_localhost(n)))
                    || (module == "faces" && cmd.verb() == "update"));
            if !self_service {
                self.require(face, signer, module)?;
            }
        }
        self.auth.commit(signer, cmd.timestamp_ms());
        Ok(())
    }

    /// Sends `response` as the reply Data named `name` to `face`.
    pub(super) fn mgmt_reply(
        &mut self,
        face: FaceId,
        name: &Name,
        token: Option<&PitToken>,
        response: &ControlResponse,
        out: &mut Vec<Action>,
    ) {
        *self.mgmt.replies.entry(response.status_code).or_default() += 1;
        let Ok(wire) = response.to_data(name, &Signer::digest_sha256()) else {
            return;
        };
        if let Ok(data) = Data::decode(wire) {
            self.send_data(face, &data, token, None, FaceId::INTERNAL, out);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Commands

    fn command(
        &mut self,
        now: Instant,
        face: FaceId,
        interest: &Interest,
        token: Option<&PitToken>,
        out: &mut Vec<Action>,
    ) {
        let name = interest.name();
        let cmd = match ControlCommand::parse(interest) {
            Ok(c) => c,
            Err(e) => {
                let r = refuse(
                    status_code::BAD_PARAMETERS,
                    &format!("malformed command: {e}"),
                );
                return self.mgmt_reply(face, name, token, &r, out);
            }
        };
        if let Err(r) = self.authorize_command(now, face, &cmd) {
            return self.mgmt_reply(face, name, token, &r, out);
        }
        let p = cmd.parameters();
        // Actions that must follow the reply (closing the requester's own face).
        let mut after = Vec::new();
        let outcome = match (cmd.module(), cmd.verb()) {
            ("channels", "open") => match self.channels_open(face, name, token, p, out) {
                Ok(()) => return, // answered when the driver reports
                Err(refusal) => Err(refusal),
            },
            ("channels", "close") => self.channels_close(p, out),
            ("rib", "register") => self.rib_register(now, face, p),
            ("rib", "unregister") => self.rib_unregister(face, p),
            ("fib", "add-nexthop") => self.fib_add_next_hop(face, p),
            ("fib", "remove-nexthop") => self.fib_remove_next_hop(face, p),
            ("faces", "create") => match self.faces_create(now, face, name, token, p, out) {
                Some(refusal) => Err(refusal),
                None => return, // answered when the driver reports
            },
            ("faces", "update") => self.faces_update(face, p, &mut after),
            ("faces", "destroy") => self.faces_destroy(p, &mut after),
            ("strategy-choice", "set") => self.strategy_set(p),
            ("strategy-choice", "unset") => self.strategy_unset(p),
            ("cs", "config") => self.cs_config(p),
            ("cs", "erase") => self.cs_erase(p),
            _ => Err(refuse(status_code::NOT_IMPLEMENTED, "unknown command")),
        };
        let response = outcome.map_or_else(|r| *r, ControlResponse::ok);
        self.mgmt_reply(face, name, token, &response, out);
        out.extend(after);
    }

    /// The face a command names: FaceId absent or 0 means the requester.
    fn named_face(requester: FaceId, p: &ControlParameters) -> FaceId {
        match p.face_id {
            None | Some(0) => requester,
            Some(id) => FaceId(id),
        }
    }

    fn existing_face(&self, requester: FaceId, p: &ControlParameters) -> Result<FaceId, Refusal> {
        let id = Self::named_face(requester, p);
        if self.faces.contains_key(&id) {
            Ok(id)
        } else {
            Err(refuse(GONE, "face does not exist"))
        }
    }

    fn rib_register(&mut self, now: Instant, requester: FaceId, p: &ControlParameters) -> Outcome {
        let name = required_name(p)?;
        let face = self.existing_face(requester, p)?;
        let origin = p.origin.unwrap_or(nfd::route_origin::APP);
        let cost = p.cost.unwrap_or(0);
        let flags = p.flags.unwrap_or(nfd::route_flags::CHILD_INHERIT);
        // An expiry beyond what Instant can represent is no expiry.
        let expires = p
            .expiration_period_ms
            .and_then(|ms| now.checked_add(Duration::from_millis(ms)));
        self.add_route_with(
            &name,
            Route {
                face,
                origin,
                cost,
                flags,
                expires,
                // An application registering for itself offers the prefix (a function it
                // hosts); a route it installs towards another face does not.
                hosted: face == requester,
            },
        );
        Ok(ControlParameters {
            name: Some(name),
            face_id: Some(face.0),
            origin: Some(origin),
            cost: Some(cost),
            flags: Some(flags),
            expiration_period_ms: p.expiration_period_ms,
            ..ControlParameters::default()
        })
    }

    fn rib_unregister(&mut self, requester: FaceId, p: &ControlParameters) -> Outcome {
        let name = required_name(p)?;
        // No existence check: unregistering from a face that is gone is a successful no-op.
        let face = Self::named_face(requester, p);
        let origin = p.origin.unwrap_or(nfd::route_origin::APP);
        if let Some(attrs) = self.rib.remove(&name, face, origin) {
            self.set_next_hop(&name, face, attrs);
        }
        Ok(ControlParameters {
            name: Some(name),
            face_id: Some(face.0),
            origin: Some(origin),
            ..ControlParameters::default()
        })
    }

    fn fib_add_next_hop(&mut self, requester: FaceId, p: &ControlParameters) -> Outcome {
        let name = required_name(p)?;
        let face = self.existing_face(requester, p)?;
        let cost = p.cost.unwrap_or(0);
        self.set_next_hop(&name, face, Some((cost, face == requester)));
        Ok(ControlParameters {
            name: Some(name),
            face_id: Some(face.0),
            cost: Some(cost),
            ..ControlParameters::default()
        })
    }

    fn fib_remove_next_hop(&mut self, requester: FaceId, p: &ControlParameters) -> Outcome {
        let name = required_name(p)?;
        let face = Self::named_face(requester, p);
        self.set_next_hop(&name, face, None);
        Ok(ControlParameters {
            name: Some(name),
            face_id: Some(face.0),
            ..ControlParameters::default()
        })
    }

    /// Starts a faces/create: `None` when the driver was asked (the reply follows in
    /// [`Self::mgmt_face_created`]), else the immediate refusal.
    fn faces_create(
        &mut self,
        now: Instant,
        requester: FaceId,
        command: &Name,
        token: Option<&PitToken>,
        p: &ControlParameters,
        out: &mut Vec<Action>,
    ) -> Option<Refusal> {
        type Checked = (String, Persistency, Option<bool>, Option<CongestionRequest>);
        let check = || -> Result<Checked, Refusal> {
            let uri = p
                .uri
                .as_ref()
                .ok_or_else(|| refuse(status_code::BAD_PARAMETERS, "Uri is required"))?;
            let persistency = persistency_param(p)?.unwrap_or(Persistency::Persistent);
            if persistency == Persistency::OnDemand {
                return Err(refuse(
                    status_code::NOT_ACCEPTABLE,
                    "on-demand faces cannot be created",
                ));
            }
            Ok((
                uri.to_string(),
                persistency,
                local_fields_request(p)?,
                CongestionRequest::from_params(p)?,
            ))
        };
        let (uri, persistency, local_fields, congestion) = match check() {
            Ok(v) => v,
            Err(r) => return Some(r),
        };
        if let Some(existing) = self.face_id_by_uri(&uri) {
            return Some(self.existing_face_found(existing, persistency, out));
        }
        if self.mgmt.pending.len() >= MAX_PENDING_CREATES {
            return Some(refuse(
                status_code::UNAVAILABLE,
                "too many face creations in progress",
            ));
        }
        let request = self.mgmt.next_request;
        self.mgmt.next_request += 1;
        self.mgmt.pending.insert(
            request,
            PendingCreate {
                reply: PendingReply {
                    requester,
                    command: command.clone(),
                    token: token.cloned(),
                },
                local_fields,
                congestion,
                persistency,
                asked: now,
            },
        );
        out.push(Action::CreateFace {
            request,
            remote_uri: uri,
            persistency,
            mtu: p.mtu,
        });
        None
    }

    /// A faces/create named a face that exists (its remote URI, or — as the driver found —
    /// its canonical form): as NFD's channels, upgrade its persistency when the transition is
    /// one NFD allows (from on-demand, or to permanent), then answer NFD's 409 with the face in
    /// the body, which `nfdc face create` and `nfwd face create` report as "face-exists".
    /// A peer that connected to us first (an on-demand QUIC or UDP face from its listening
    /// address) is found so, and is kept from then on.
    fn existing_face_found(
        &mut self,
        existing: FaceId,
        wanted: Persistency,
        out: &mut Vec<Action>,
    ) -> Refusal {
        if let Some(state) = self.faces.get_mut(&existing) {
            let current = state.info.persistency;
            if wanted != current
                && (current == Persistency::OnDemand || wanted == Persistency::Permanent)
            {
                state.info.persistency = wanted;
                out.push(Action::SetPersistency {
                    face: existing,
                    persistency: wanted,
                });
                self.record_face_flags(existing);
            }
        }
        self.conflict(existing)
    }

    /// The driver found the face a faces/create asked for among its faces (by the canonical
    /// form of the URI): answers the command as [`Self::existing_face_found`].
    pub(super) fn mgmt_face_exists(
        &mut self,
        request: u64,
        existing: FaceId,
        out: &mut Vec<Action>,
    ) {
        let Some(pending) = self.mgmt.pending.remove(&request) else {
            return;
        };
        let r = if self.faces.contains_key(&existing) {
            self.existing_face_found(existing, pending.persistency, out)
        } else {
            refuse(status_code::INTERNAL_ERROR, "face vanished")
        };
        self.send_pending_reply(&pending.reply, &r, out);
    }

    /// NFD's 409 for a face that already exists: the body describes that face.
    fn conflict(&self, existing: FaceId) -> Refusal {
        let mut r = refuse(status_code::CONFLICT, "Face with remote URI already exists");
        r.body = self
            .faces
            .get(&existing)
            .map(|s| face_parameters(existing, s));
        r
    }

    pub(super) fn mgmt_face_created(
        &mut self,
        now: Instant,
        request: u64,
        result: Result<FaceInfo, String>,
        out: &mut Vec<Action>,
    ) -> Option<FaceId> {
        let pending = self.mgmt.pending.remove(&request);
        let reply = |fwd: &mut Self, r: &ControlResponse, out: &mut Vec<Action>| {
            if let Some(p) = &pending {
                fwd.send_pending_reply(&p.reply, r, out);
            }
        };
        let info = match result {
            Ok(info) => info,
            Err(text) => {
                // The driver's error text decides the code: parameters it cannot accept are
                // 406 as in NFD, anything else (socket errors) is 500.
                let lower = text.to_ascii_lowercase();
                let code = if lower.starts_with("unsupported") || lower.starts_with("invalid") {
                    status_code::NOT_ACCEPTABLE
                } else {
                    status_code::INTERNAL_ERROR
                };
                reply(self, &refuse(code, &text), out);
                return None;
            }
        };
        // The driver canonicalised the URI; it may name a face we already have.
        if let Some(existing) = self.face_id_by_uri(&info.remote_uri) {
            let wanted = pending
                .as_ref()
                .map_or(Persistency::Persistent, |p| p.persistency);
            let r = self.existing_face_found(existing, wanted, out);
            reply(self, &r, out);
            return None;
        }
        let local_fields = pending.as_ref().and_then(|p| p.local_fields);
        if local_fields == Some(true) && info.scope != FaceScope::Local {
            let r = refuse(
                status_code::NOT_ACCEPTABLE,
                "LocalFieldsEnabled needs a local face",
            );
            reply(self, &r, out);
            return None;
        }
        let congestion = pending.as_ref().and_then(|p| p.congestion);
        let id = self.add_face(info, now);
        let params = self.faces.get_mut(&id).map(|s| {
            s.local_fields = local_fields.unwrap_or(false);
            if let Some(c) = congestion {
                s.congestion = c.apply(s.congestion);
                // Executed after the driver has attached the face.
                out.push(Action::SetCongestionMarking {
                    face: id,
                    marking: s.congestion,
                });
            }
            face_parameters(id, s)
        });
        self.record_face_flags(id);
        if let Some(params) = params {
            reply(self, &ControlResponse::ok(params), out);
        }
        Some(id)
    }

    fn send_pending_reply(&mut self, p: &PendingReply, r: &ControlResponse, out: &mut Vec<Action>) {
        self.mgmt_reply(p.requester, &p.command, p.token.as_ref(), r, out);
    }

    // -----------------------------------------------------------------------------------------
    // Restricted channels

    /// `channels/open`: Uri `unix:///path` (inside `faces.channel_dir`; the driver checks), Name
    /// the one prefix the channel's faces may register. Answered when the driver reports.
    fn channels_open(
        &mut self,
        requester: FaceId,
        command: &Name,
        token: Option<&PitToken>,
        p: &ControlParameters,
        out: &mut Vec<Action>,
    ) -> Result<(), Refusal> {
        let prefix = required_name(p)?;
        let uri = p
            .uri
            .as_ref()
            .ok_or_else(|| refuse(status_code::BAD_PARAMETERS, "Uri is required"))?
            .to_string();
        let Some(path) = uri
            .strip_prefix("unix://")
            .filter(|p| p.starts_with('/'))
            .map(std::path::PathBuf::from)
        else {
            return Err(refuse(
                status_code::BAD_PARAMETERS,
                "Uri must be unix:///absolute/path",
            ));
        };
        if prefix.is_empty() || super::pipeline::is_localhost(&prefix) {
            return Err(refuse(
                status_code::BAD_PARAMETERS,
                "a channel's prefix must be a non-empty name outside /localhost",
            ));
        }
        if self.channels.values().any(|c| c.uri == uri) {
            return Err(refuse(
                status_code::CONFLICT,
                "a channel is open at this Uri",
            ));
        }
        if self.channels.len() >= MAX_CHANNELS {
            return Err(refuse(status_code::UNAVAILABLE, "too many channels"));
        }
        let channel = ChannelId(self.next_channel);
        self.next_channel += 1;
        self.channels.insert(
            channel,
            Channel {
                owner: requester,
                uri,
                prefix,
                pending: Some(PendingReply {
                    requester,
                    command: command.clone(),
                    token: token.cloned(),
                }),
            },
        );
        out.push(Action::OpenChannel { channel, path });
        Ok(())
    }

    /// The driver's report on an [`Action::OpenChannel`].
    pub fn channel_opened(
        &mut self,
        _now: Instant,
        channel: ChannelId,
        result: Result<(), String>,
        out: &mut Vec<Action>,
    ) {
        let Some(c) = self.channels.get_mut(&channel) else {
            // Closed while the driver worked on it.
            if result.is_ok() {
                out.push(Action::CloseChannel { channel });
            }
            return;
        };
        let pending = c.pending.take();
        let response = match result {
            Ok(()) => ControlResponse::ok(ControlParameters {
                uri: Some(c.uri.as_str().into()),
                name: Some(c.prefix.clone()),
                ..ControlParameters::default()
            }),
            Err(e) => {
                self.channels.remove(&channel);
                *refuse(status_code::NOT_ACCEPTABLE, &e)
            }
        };
        if let Some(p) = pending {
            self.send_pending_reply(&p, &response, out);
        }
    }

    /// `channels/close`: by Uri. The channel's faces are closed too.
    fn channels_close(&mut self, p: &ControlParameters, out: &mut Vec<Action>) -> Outcome {
        let uri = p
            .uri
            .as_ref()
            .ok_or_else(|| refuse(status_code::BAD_PARAMETERS, "Uri is required"))?
            .to_string();
        let found = self
            .channels
            .iter()
            .find(|(_, c)| c.uri == uri)
            .map(|(id, _)| *id);
        if let Some(id) = found {
            self.close_channel(id, out);
        }
        Ok(ControlParameters {
            uri: Some(uri.as_str().into()),
            ..ControlParameters::default()
        })
    }

    fn close_channel(&mut self, id: ChannelId, out: &mut Vec<Action>) {
        if self.channels.remove(&id).is_none() {
            return;
        }
        out.push(Action::CloseChannel { channel: id });
        for (face, f) in &self.faces {
            if f.info.channel == Some(id) {
                out.push(Action::CloseFace { face: *face });
            }
        }
    }

    /// The channels `owner` opened go with it. The actions go out with the next ones (the
    /// driver is closing a face and collects what the core says after).
    pub(super) fn close_channels_of(&mut self, owner: FaceId) {
        let ids: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, c)| c.owner == owner)
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for id in ids {
            self.close_channel(id, &mut out);
        }
        self.mgmt.deferred.extend(out);
    }

    fn faces_update(
        &mut self,
        requester: FaceId,
        p: &ControlParameters,
        after: &mut Vec<Action>,
    ) -> Outcome {
        let id = Self::named_face(requester, p);
        let Some(state) = self.faces.get_mut(&id) else {
            return Err(refuse(status_code::NOT_FOUND, "face not found"));
        };
        // Validate everything before changing anything.
        let persistency = persistency_param(p)?;
        let local_fields = local_fields_request(p)?;
        let congestion = CongestionRequest::from_params(p)?;
        if local_fields == Some(true) && state.info.scope != FaceScope::Local {
            let mut r = refuse(
                status_code::CONFLICT,
                "LocalFieldsEnabled cannot be enabled on a non-local face",
            );
            r.body = Some(face_parameters(id, state));
            return Err(r);
        }
        if let Some(persistency) = persistency
            && persistency != state.info.persistency
        {
            state.info.persistency = persistency;
            after.push(Action::SetPersistency {
                face: id,
                persistency,
            });
        }
        if let Some(on) = local_fields {
            state.local_fields = on;
        }
        if let Some(c) = congestion {
            let marking = c.apply(state.congestion);
            if marking != state.congestion {
                state.congestion = marking;
                after.push(Action::SetCongestionMarking { face: id, marking });
            }
        }
        let params = ControlParameters {
            face_id: Some(id.0),
            face_persistency: Some(state.info.persistency.code()),
            flags: Some(face_flags(state)),
            base_congestion_marking_interval_ns: Some(state.congestion.base_interval_ns),
            default_congestion_threshold: Some(state.congestion.threshold),
            ..ControlParameters::default()
        };
        self.record_face_flags(id);
        Ok(params)
    }

    fn faces_destroy(&mut self, p: &ControlParameters, after: &mut Vec<Action>) -> Outcome {
        let id = p
            .face_id
            .ok_or_else(|| refuse(status_code::BAD_PARAMETERS, "FaceId is required"))?;
        // As NFD: destroying a face that does not exist succeeds.
        if self.faces.contains_key(&FaceId(id)) {
            after.push(Action::CloseFace { face: FaceId(id) });
        }
        Ok(ControlParameters {
            face_id: Some(id),
            ..ControlParameters::default()
        })
    }

    fn strategy_set(&mut self, p: &ControlParameters) -> Outcome {
        let name = required_name(p)?;
        let wanted = p
            .strategy
            .as_ref()
            .ok_or_else(|| refuse(status_code::BAD_PARAMETERS, "Strategy is required"))?;
        // NFD's answers: 404 "Strategy not registered", 409 "Error instantiating strategy:
        // ..." for a version or parameters the strategy refuses.
        let mut strategy =
            super::strategy::create(wanted).map_err(|e| refuse(e.status_code(), &e.to_string()))?;
        strategy.reseed(self.random.next());
        let instance = strategy.name();
        self.replica.record(|| Change::Strategy {
            prefix: name.clone(),
            instance: Some(instance.clone()),
        });
        self.strategies.set(&name, strategy);
        Ok(ControlParameters {
            name: Some(name),
            strategy: Some(instance),
            ..ControlParameters::default()
        })
    }

    fn strategy_unset(&mut self, p: &ControlParameters) -> Outcome {
        let name = required_name(p)?;
        if name.is_empty() {
            return Err(refuse(
                status_code::BAD_PARAMETERS,
                "the strategy of / cannot be unset",
            ));
        }
        self.strategies.unset(&name);
        self.replica.record(|| Change::Strategy {
            prefix: name.clone(),
            instance: None,
        });
        Ok(ControlParameters {
            name: Some(name),
            ..ControlParameters::default()
        })
    }

    fn cs_flags(&self) -> u64 {
        let mut f = 0;
        if self.cs.admit {
            f |= nfd::cs_flags::ENABLE_ADMIT;
        }
        if self.cs.serve {
            f |= nfd::cs_flags::ENABLE_SERVE;
        }
        f
    }

    fn cs_config(&mut self, p: &ControlParameters) -> Outcome {
        let flags = flags_and_mask(p)?;
        if let Some(capacity) = p.capacity {
            self.cs.set_capacity(
                self.replica
                    .shard
                    .part_of(usize::try_from(capacity).unwrap_or(usize::MAX)),
            );
        }
        if let Some((f, m)) = flags {
            if m & nfd::cs_flags::ENABLE_ADMIT != 0 {
                self.cs.admit = f & nfd::cs_flags::ENABLE_ADMIT != 0;
            }
            if m & nfd::cs_flags::ENABLE_SERVE != 0 {
                self.cs.serve = f & nfd::cs_flags::ENABLE_SERVE != 0;
            }
        }
        let capacity = self.cs_capacity();
        let (admit, serve) = (self.cs.admit, self.cs.serve);
        self.replica.record(|| Change::CsConfig {
            capacity,
            admit,
            serve,
        });
        Ok(ControlParameters {
            capacity: Some(capacity as u64),
            flags: Some(self.cs_flags()),
            ..ControlParameters::default()
        })
    }

    fn cs_erase(&mut self, p: &ControlParameters) -> Outcome {
        let name = p
            .name
            .clone()
            .ok_or_else(|| refuse(status_code::BAD_PARAMETERS, "Name is required"))?;
        if p.count == Some(0) {
            return Err(refuse(
                status_code::BAD_PARAMETERS,
                "Count, if given, must be positive",
            ));
        }
        let wanted = p
            .count
            .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
        let limit = wanted.min(CS_ERASE_LIMIT);
        let erased = self.cs.erase(&name, limit);
        self.replica.record(|| Change::CsErase {
            prefix: name.clone(),
            limit,
        });
        // As NFD: Capacity reports the per-command limit when it cut the erasure short.
        let capped = erased == CS_ERASE_LIMIT && wanted > CS_ERASE_LIMIT;
        Ok(ControlParameters {
            name: Some(name),
            count: Some(erased as u64),
            capacity: capped.then_some(CS_ERASE_LIMIT as u64),
            ..ControlParameters::default()
        })
    }

    // -----------------------------------------------------------------------------------------
    // Datasets

    fn dataset(
        &mut self,
        now: Instant,
        face: FaceId,
        interest: &Interest,
        token: Option<&PitToken>,
        out: &mut Vec<Action>,
    ) {
        let name = interest.name();
        let is_query = name.get(3).is_some_and(|c| c.value() == b"query");
        let filter = if is_query {
            let parsed = name.get(BASE_LEN).and_then(|c| {
                let el = Element::decode_exact(&Bytes::copy_from_slice(c.value())).ok()?;
                <FaceQueryFilter as nfd::DatasetEntry>::decode(&el).ok()
            });
            match parsed {
                Some(f) => Some(f),
                None => {
                    let r = refuse(status_code::BAD_PARAMETERS, "malformed FaceQueryFilter");
                    return self.mgmt_reply(face, name, token, &r, out);
                }
            }
        } else {
            None
        };
        // NFD's dispatcher rule (ndn-cxx `Dispatcher::processStatusDatasetInterest`): a name
        // ending in a version or segment asks for a snapshot already made (its storage
        // answers, or nothing does); any other name under the dataset asks for a new one,
        // whatever follows the dataset name — a signed Interest (python-ndn's pynfdc) ends in
        // a ParametersSha256DigestComponent — and the segments are named under the whole
        // Interest name, so that the Interest (CanBePrefix) matches them.
        let last = name.last();
        let ends_in_segment = last.as_ref().and_then(Component::as_segment);
        let ends_in_version = last.as_ref().is_some_and(|c| c.as_version().is_some());
        if ends_in_segment.is_none() && !ends_in_version {
            return self.produce_dataset(now, face, name, filter.as_ref(), token, out);
        }
        // `<prefix>/v=<version>[/seg=<n>]`; a version alone means segment 0.
        let (version_at, seg) = match ends_in_segment {
            Some(s) => (name.len().saturating_sub(2), s),
            None => (name.len().saturating_sub(1), 0),
        };
        let found = name
            .get(version_at)
            .and_then(|c| c.as_version())
            .and_then(|v| {
                let prefix = name.prefix(version_at);
                let d = self
                    .mgmt
                    .datasets
                    .iter()
                    .find(|d| d.prefix == prefix && d.version == v)?;
                d.segments.get(usize::try_from(seg).ok()?).cloned()
            });
        match found {
            Some(data) => self.send_data(face, &data, token, None, FaceId::INTERNAL, out),
            None => self.mgmt.unanswered += 1,
        }
    }

    fn produce_dataset(
        &mut self,
        now: Instant,
        face: FaceId,
        prefix: &Name,
        filter: Option<&FaceQueryFilter>,
        token: Option<&PitToken>,
        out: &mut Vec<Action>,
    ) {
        let module = prefix.get(2);
        let verb = prefix.get(3);
        let payload = match (
            module.as_ref().map(Component::value),
            verb.as_ref().map(Component::value),
        ) {
            (Some(b"status"), Some(b"general")) => self.forwarder_status(now).to_wire(),
            // nfwd's own: every counter, drops by reason included, as text.
            (Some(b"status"), Some(b"counters")) => self.counters_report(),
            // nfwd's own: the chained exchanges that ended here most recently, as JSON.
            (Some(b"status"), Some(b"chains")) => self.chains_report(),
            (Some(b"faces"), Some(b"list")) => encode_all(&self.face_statuses(None)),
            (Some(b"faces"), Some(b"query")) => encode_all(&self.face_statuses(filter)),
            (Some(b"faces"), Some(b"channels")) => encode_all(&self.channel_statuses()),
            (Some(b"fib"), Some(b"list")) => encode_all(&self.fib_entries()),
            (Some(b"rib"), Some(b"list")) => encode_all(&self.rib_entries(now)),
            (Some(b"cs"), Some(b"info")) => encode_all(&[self.cs_info()]),
            (Some(b"strategy-choice"), Some(b"list")) => encode_all(&self.strategy_choices()),
            // `kind` admits only the datasets above.
            _ => return,
        };
        let version = self
            .mgmt
            .last_version
            .saturating_add(1)
            .max(self.wall_clock_ms(now));
        self.mgmt.last_version = version;
        let Ok(wires) = segment_dataset(prefix, version, &payload, &Signer::digest_sha256()) else {
            return;
        };
        let segments: Vec<Data> = wires
            .into_iter()
            .filter_map(|w| Data::decode(w).ok())
            .collect();
        let Some(first) = segments.first().cloned() else {
            return;
        };
        self.send_data(face, &first, token, None, FaceId::INTERNAL, out);
        // Kept even when it is one segment: a consumer may re-ask for `v=<version>/seg=0`.
        self.mgmt.datasets.retain(|d| d.prefix != *prefix);
        if self.mgmt.datasets.len() >= MAX_CACHED_DATASETS {
            self.mgmt.datasets.pop_front();
        }
        self.mgmt.datasets.push_back(CachedDataset {
            prefix: prefix.clone(),
            version,
            segments,
            produced: now,
        });
    }

    /// `status/counters`: the forwarder's, the tables', the content store's, the driver's and
    /// every face's counters, as a Prometheus text exposition (`crate::metrics`) that people
    /// read through `nfwd status --counters` and machines scrape.
    fn counters_report(&self) -> Bytes {
        let mut e = Exposition::new();
        self.all_counters().visit(&mut |name, help, v| {
            e.add("forwarder", name, help, metrics::Kind::Counter, &[], v);
        });
        let (pit, cs, dead_nonces) = self.all_table_sizes();
        for (name, help, v) in [
            ("pit_entries", "PIT entries.", pit),
            ("fib_entries", "FIB entries.", self.fib.len()),
            ("cs_entries", "Data packets in the content store.", cs),
            (
                "dead_nonces",
                "Entries of the dead nonce list.",
                dead_nonces,
            ),
            ("faces", "Open faces.", self.faces.len()),
        ] {
            e.add("tables", name, help, metrics::Kind::Gauge, &[], v as u64);
        }
        self.all_cs_counters().visit(&mut |name, help, v| {
            e.add("cs", name, help, metrics::Kind::Counter, &[], v);
        });
        for (name, help, h) in [
            (
                "upstream_rtt",
                "Plain Interests sent upstream, to the Data that satisfied them.",
                &self.observed.upstream_rtt,
            ),
            (
                "chain_hop_rtt",
                "Chained Interests sent upstream (a local SF or the next forwarder), to their \
                 Data.",
                &self.observed.chain_hop_rtt,
            ),
        ] {
            e.add_histogram("forwarder", name, help, &[], h);
        }
        for c in &self.driver_counters {
            e.add(
                "driver",
                c.name,
                c.help,
                metrics::Kind::Counter,
                &[],
                c.value,
            );
        }
        for (face, f) in &self.faces {
            let id = face.to_string();
            let labels = [
                ("face", id.as_str()),
                ("remote", f.info.remote_uri.as_str()),
            ];
            self.all_face_counters(*face, &f.counters)
                .visit(&mut |name, help, v| {
                    e.add("face", name, help, metrics::Kind::Counter, &labels, v);
                });
            e.add_histogram(
                "face",
                "rtt",
                "Interests sent on the face, to the Data it returned (for an SF's face, the \
                 function's latency).",
                &labels,
                &f.rtt,
            );
        }
        Bytes::from(e.render())
    }

    /// `status/chains`: the chained exchanges that ended here most recently, newest first,
    /// as a JSON array (`observe::ChainReport`).
    fn chains_report(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(&self.observed.recent_chains()).unwrap_or_default())
    }

    fn forwarder_status(&self, now: Instant) -> ForwarderStatus {
        let c = self.all_counters();
        let (pit, cs, _) = self.all_table_sizes();
        ForwarderStatus {
            nfd_version: env!("CARGO_PKG_VERSION").into(),
            start_timestamp_ms: self.mgmt.wall_clock_at_start_ms,
            current_timestamp_ms: self.wall_clock_ms(now),
            // There is no name tree; the entries it would hold are the FIB's, the PIT's and
            // the strategy choices'.
            n_name_tree_entries: (self.fib.len() + pit + self.strategies.list().len()) as u64,
            n_fib_entries: self.fib.len() as u64,
            n_pit_entries: pit as u64,
            n_measurements_entries: 0,
            n_cs_entries: cs as u64,
            n_in_interests: c.in_interests,
            n_in_data: c.in_data,
            n_in_nacks: c.in_nacks,
            n_out_interests: c.out_interests,
            n_out_data: c.out_data,
            n_out_nacks: c.out_nacks,
            n_satisfied_interests: c.satisfied_interests,
            n_unsatisfied_interests: c.unsatisfied_interests,
        }
    }

    fn face_statuses(&self, filter: Option<&FaceQueryFilter>) -> Vec<FaceStatus> {
        self.faces
            .iter()
            .filter(|(id, s)| filter.is_none_or(|q| filter_matches(q, **id, s)))
            .map(|(id, s)| face_status(*id, s, &self.all_face_counters(*id, &s.counters)))
            .collect()
    }

    fn fib_entries(&self) -> Vec<nfd::FibEntry> {
        let mut v: Vec<nfd::FibEntry> = self
            .fib
            .iter()
            .map(|e| nfd::FibEntry {
                name: e.prefix.clone(),
                next_hops: e
                    .next_hops
                    .iter()
                    .map(|h| NextHopRecord {
                        face_id: h.face.0,
                        cost: h.cost,
                    })
                    .collect(),
            })
            .collect();
        // The FIB is a hash table; NFD lists in name order.
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    fn rib_entries(&self, now: Instant) -> Vec<RibEntry> {
        self.rib
            .iter()
            .map(|(name, routes)| RibEntry {
                name: name.clone(),
                routes: routes
                    .iter()
                    .map(|r| nfd::Route {
                        face_id: r.face.0,
                        origin: r.origin,
                        cost: r.cost,
                        flags: r.flags,
                        expiration_period_ms: r.expires.map(|t| {
                            let left = t.saturating_duration_since(now).as_millis();
                            u64::try_from(left).unwrap_or(u64::MAX)
                        }),
                    })
                    .collect(),
            })
            .collect()
    }

    fn cs_info(&self) -> CsInfo {
        let c = self.all_cs_counters();
        let (_, entries, _) = self.all_table_sizes();
        CsInfo {
            capacity: self.cs_capacity() as u64,
            flags: self.cs_flags(),
            n_entries: entries as u64,
            n_hits: c.hits,
            n_misses: c.misses,
        }
    }

    /// The driver's listeners, then the restricted channels that are open (they accept
    /// faces too), as NFD lists every channel of every factory.
    fn channel_statuses(&self) -> Vec<ChannelStatus> {
        let restricted = self
            .channels
            .values()
            .filter(|c| c.pending.is_none())
            .map(|c| c.uri.clone());
        self.mgmt
            .listening
            .iter()
            .cloned()
            .chain(restricted)
            .map(|uri| ChannelStatus {
                local_uri: uri.into(),
            })
            .collect()
    }

    fn strategy_choices(&self) -> Vec<StrategyChoice> {
        self.strategies
            .list()
            .into_iter()
            .map(|(name, strategy)| StrategyChoice { name, strategy })
            .collect()
    }
}
