//! Who may do what (`docs/security.md`): the management privileges of a request, decided from
//! the face it came on (peer credentials, restricted channels) and the signature it carries.
//!
//! A [`Policy`] is a list of [`Rule`]s, NFD's `authorizations` extended with local users: a
//! request needing privilege `p` is allowed if some rule grants `p` and matches both *who* (the
//! face's [`PeerCredentials`], when the rule names users) and *what signed it* (a configured
//! key, when the rule names one). Signatures are always checked as far as they can be:
//! DigestSha256 is recomputed, a KeyLocator naming a configured key must verify with it; a key
//! configured nowhere is taken on trust, as NFD's `certfile any`, but satisfies only rules that
//! name no key. Commands signed by a configured key must carry increasing timestamps (replay).
//!
//! The policy is built outside the core (user names and key files need I/O:
//! `crate::security`); the core only evaluates it.

use nfwd_tlv::{KeyLocator, Name, SignatureInfo, VerifyKey};

use super::face::PeerCredentials;

/// A signed command's timestamp may differ from the wall clock by at most this much, and a
/// configured key's first command must fall within it (ndn-cxx's command Interest grace).
pub const TIMESTAMP_GRACE_MS: u64 = 120_000;

/// The privileges known by name (`"*"` is all of them and those of services added later); a set
/// is a bit mask over this list.
pub const PRIVILEGE_NAMES: [&str; 8] = [
    "faces",
    "fib",
    "rib",
    "strategy-choice",
    "cs",
    "channels",
    "sf",
    "sf-exec",
];

/// A set of privileges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Privileges {
    bits: u16,
    all: bool,
}

impl Privileges {
    /// Every privilege, those of services not known yet included.
    pub const ALL: Self = Self {
        bits: u16::MAX,
        all: true,
    };

    /// The set named by `names` ([`PRIVILEGE_NAMES`]; `"*"` is all).
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        let mut set = Self::default();
        for n in names {
            let n = n.as_ref();
            if n == "*" {
                return Ok(Self::ALL);
            }
            let i = PRIVILEGE_NAMES
                .iter()
                .position(|k| *k == n)
                .ok_or_else(|| format!("unknown privilege {n:?}"))?;
            set.bits |= 1 << i;
        }
        Ok(set)
    }

    /// Every privilege but `name`.
    #[must_use]
    pub fn all_but(name: &str) -> Self {
        let mut set = Self {
            bits: u16::MAX,
            all: false,
        };
        if let Some(i) = PRIVILEGE_NAMES.iter().position(|k| *k == name) {
            set.bits &= !(1 << i);
        }
        set
    }

    /// True if the set grants `privilege`.
    #[must_use]
    pub fn allows(self, privilege: &str) -> bool {
        if self.all {
            return true;
        }
        PRIVILEGE_NAMES
            .iter()
            .position(|k| *k == privilege)
            .is_some_and(|i| self.bits & (1 << i) != 0)
    }
}

/// Which local peers a rule speaks of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Users {
    /// No condition on the peer (the rule must name a key).
    Any,
    /// Any local face, anonymous loopback ones included (`"*"`).
    AnyLocal,
    /// Peers with one of these user ids, or in one of these groups.
    Listed {
        /// User ids.
        uids: Vec<u32>,
        /// Group ids (primary or supplementary).
        gids: Vec<u32>,
    },
}

impl Users {
    fn matches(&self, peer: Option<&PeerCredentials>) -> bool {
        match self {
            Self::Any | Self::AnyLocal => true,
            Self::Listed { uids, gids } => {
                peer.is_some_and(|p| uids.contains(&p.uid) || gids.iter().any(|&g| p.in_group(g)))
            }
        }
    }
}

/// One authorization rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Who.
    pub users: Users,
    /// The configured key that must have signed the request (index into
    /// [`Policy::keys`]), if any.
    pub key: Option<usize>,
    /// What.
    pub privileges: Privileges,
}

/// A key the policy trusts: the name it is known by (`/<identity>/KEY/<key id>`; a KeyLocator
/// naming it or any certificate of it matches) and its public part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// Key name.
    pub name: Name,
    /// Public key.
    pub key: VerifyKey,
}

/// The rules and the keys they name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Rules, tried in order.
    pub rules: Vec<Rule>,
    /// Configured keys.
    pub keys: Vec<TrustedKey>,
}

impl Default for Policy {
    /// Root only, with every privilege. The daemon replaces it with the configured policy
    /// (which adds its own user) at start.
    fn default() -> Self {
        Self::local_defaults(0, None)
    }
}

impl Policy {
    /// The default policy: root and `daemon_uid` get every privilege; `manage_gid`'s members
    /// every privilege but `sf-exec` (running arbitrary programs stays with the owner).
    #[must_use]
    pub fn local_defaults(daemon_uid: u32, manage_gid: Option<u32>) -> Self {
        let mut uids = vec![0];
        if daemon_uid != 0 {
            uids.push(daemon_uid);
        }
        let mut rules = vec![Rule {
            users: Users::Listed {
                uids,
                gids: Vec::new(),
            },
            key: None,
            privileges: Privileges::ALL,
        }];
        if let Some(gid) = manage_gid {
            rules.push(Rule {
                users: Users::Listed {
                    uids: Vec::new(),
                    gids: vec![gid],
                },
                key: None,
                privileges: Privileges::all_but("sf-exec"),
            });
        }
        Self {
            rules,
            keys: Vec::new(),
        }
    }

    /// The configured key a KeyLocator names, if any.
    fn key_for(&self, locator: Option<&KeyLocator>) -> Option<usize> {
        let Some(KeyLocator::Name(name)) = locator else {
            return None;
        };
        self.keys.iter().position(|k| k.name.is_prefix_of(name))
    }
}

/// Who signed a request, after checking what could be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// Not signed (dataset requests).
    Unsigned,
    /// DigestSha256, recomputed and correct.
    Digest,
    /// A configured key (index into [`Policy::keys`]); the signature verified.
    Key(usize),
    /// A key the policy does not know (or a type it cannot check): taken on trust.
    Unknown,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The signature does not verify.
    BadSignature,
    /// The timestamp is not after the signer's previous one, or far from the clock.
    Replay,
    /// No rule grants the privilege to this peer and signer.
    NotAuthorized,
}

/// What a signed request carries, as the checker needs it.
#[derive(Debug)]
pub struct SignedParts<'a> {
    /// SignatureInfo.
    pub info: &'a SignatureInfo,
    /// The signed portion, in order.
    pub signed: Vec<&'a [u8]>,
    /// SignatureValue's TLV-VALUE.
    pub value: &'a [u8],
    /// Timestamp (v0.2 component, v0.3 SignatureTime), ms since the Unix epoch.
    pub time_ms: Option<u64>,
}

/// The policy plus what it remembers between requests (last timestamps per configured key).
#[derive(Debug, Clone)]
pub struct Authorizer {
    policy: Policy,
    last_time: Vec<Option<u64>>,
}

impl Default for Authorizer {
    fn default() -> Self {
        Self::new(Policy::default())
    }
}

impl Authorizer {
    /// An authorizer for `policy`.
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        let last_time = vec![None; policy.keys.len()];
        Self { policy, last_time }
    }

    /// The policy.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Checks a signature and its timestamp against the wall clock `now_ms`; on success says
    /// who signed. The signer's timestamp is remembered only once the request is authorized
    /// ([`Self::commit`]), so a refused request cannot move it.
    pub fn check_signature(&self, parts: &SignedParts<'_>, now_ms: u64) -> Result<Signer, Denied> {
        let t = parts.info.signature_type;
        let signer = if t == nfwd_tlv::types::signature_type::DIGEST_SHA256 {
            VerifyKey::DigestSha256
                .verify(t, &parts.signed, parts.value)
                .map_err(|_| Denied::BadSignature)?;
            Signer::Digest
        } else if let Some(i) = self.policy.key_for(parts.info.key_locator.as_ref()) {
            self.policy.keys[i]
                .key
                .verify(t, &parts.signed, parts.value)
                .map_err(|_| Denied::BadSignature)?;
            Signer::Key(i)
        } else {
            Signer::Unknown
        };
        if parts
            .time_ms
            .is_some_and(|ts| ts.abs_diff(now_ms) > TIMESTAMP_GRACE_MS)
        {
            return Err(Denied::Replay);
        }
        if let Signer::Key(i) = signer {
            match (parts.time_ms, self.last_time[i]) {
                (None, _) => return Err(Denied::Replay),
                (Some(ts), Some(last)) if ts <= last => return Err(Denied::Replay),
                _ => {}
            }
        }
        Ok(signer)
    }

    /// True if a rule grants `privilege` to `peer` (the face's credentials; `None` for an
    /// anonymous local face) and `signer`.
    #[must_use]
    pub fn allows(&self, peer: Option<&PeerCredentials>, signer: Signer, privilege: &str) -> bool {
        self.policy.rules.iter().any(|r| {
            r.privileges.allows(privilege)
                && r.users.matches(peer)
                && match r.key {
                    None => true,
                    Some(k) => signer == Signer::Key(k),
                }
        })
    }

    /// Records an authorized request's timestamp for its signer.
    pub fn commit(&mut self, signer: Signer, time_ms: Option<u64>) {
        if let (Signer::Key(i), Some(ts)) = (signer, time_ms)
            && let Some(last) = self.last_time.get_mut(i)
        {
            *last = Some(last.map_or(ts, |l| l.max(ts)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nfwd_tlv::Signer as TlvSigner;

    fn root() -> PeerCredentials {
        PeerCredentials {
            uid: 0,
            gid: 0,
            groups: vec![],
            pid: None,
        }
    }

    fn user(uid: u32, groups: Vec<u32>) -> PeerCredentials {
        PeerCredentials {
            uid,
            gid: uid,
            groups,
            pid: None,
        }
    }

    #[test]
    fn defaults_let_root_and_the_group_manage_and_nobody_else() {
        let a = Authorizer::new(Policy::local_defaults(1000, Some(50)));
        assert!(a.allows(Some(&root()), Signer::Digest, "faces"));
        assert!(a.allows(Some(&user(1000, vec![])), Signer::Digest, "sf-exec"));
        assert!(a.allows(Some(&user(1001, vec![50])), Signer::Digest, "sf"));
        assert!(!a.allows(Some(&user(1001, vec![50])), Signer::Digest, "sf-exec"));
        assert!(!a.allows(Some(&user(1002, vec![7])), Signer::Digest, "rib"));
        assert!(!a.allows(None, Signer::Unknown, "faces"), "anonymous");
    }

    #[test]
    fn a_key_rule_needs_that_key_and_its_timestamps_increase() {
        let key_name: Name = "/op/KEY/k1".parse().unwrap();
        let (signer, _) = TlvSigner::generate_ed25519(key_name.clone()).unwrap();
        let (other, _) = TlvSigner::generate_ed25519(key_name.clone()).unwrap();
        let policy = Policy {
            rules: vec![Rule {
                users: Users::Any,
                key: Some(0),
                privileges: Privileges::from_names(&["cs"]).unwrap(),
            }],
            keys: vec![TrustedKey {
                name: key_name,
                key: signer.verify_key().unwrap(),
            }],
        };
        let mut a = Authorizer::new(policy);
        let now = 1_700_000_000_000;
        let msg: &[u8] = b"command";
        let check = |a: &Authorizer, s: &TlvSigner, t: u64| {
            let value = s.sign(&[msg]).unwrap();
            let mut info = s.signature_info();
            info.time = Some(t);
            a.check_signature(
                &SignedParts {
                    info: &info,
                    signed: vec![msg],
                    value: &value,
                    time_ms: Some(t),
                },
                now,
            )
        };
        let who = check(&a, &signer, now).unwrap();
        assert_eq!(who, Signer::Key(0));
        assert!(a.allows(None, who, "cs"));
        assert!(!a.allows(None, who, "faces"));
        assert!(
            !a.allows(Some(&root()), Signer::Digest, "cs"),
            "not the key"
        );
        a.commit(who, Some(now));
        assert_eq!(check(&a, &signer, now), Err(Denied::Replay));
        assert_eq!(check(&a, &signer, now + 1), Ok(Signer::Key(0)));
        assert_eq!(check(&a, &other, now + 2), Err(Denied::BadSignature));
        let far = Authorizer::new(a.policy().clone());
        assert_eq!(check(&far, &signer, now - 3_600_000), Err(Denied::Replay));
    }

    #[test]
    fn privilege_sets() {
        let p = Privileges::from_names(&["faces", "sf"]).unwrap();
        assert!(p.allows("faces") && p.allows("sf") && !p.allows("sf-exec"));
        assert!(!p.allows("future-service"));
        assert!(Privileges::ALL.allows("future-service"));
        assert!(!Privileges::all_but("sf-exec").allows("sf-exec"));
        assert!(Privileges::from_names(&["bogus"]).is_err());
    }
}
