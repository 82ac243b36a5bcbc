//! The SF host's management protocol through the forwarder, and its client side.
//!
//! The host registers two prefixes as an ordinary local application: [`PREFIX`]
//! (`/localhost/nfwd/sf`) and [`EXEC_PREFIX`] (`/localhost/nfwd/sf-exec`). `/localhost` names
//! never leave the node, and the forwarder authorizes every Interest under
//! `/localhost/nfwd/<service>` before it reaches the host: it needs privilege `<service>` from
//! the requester (`docs/security.md`), and a refused request is answered by the forwarder with
//! a ControlResponse 403 named like the Interest ([`Error::Refused`] on this side).
//!
//! The request is read from the name's structure, never from a component found anywhere in
//! it ([`parse_request`]):
//! - **Commands** are v0.3 signed Interests (SignatureNonce, SignatureTime) named exactly
//!   `/localhost/nfwd/<sf|sf-exec>/<verb>/<ParametersSha256Digest>`, their ApplicationParameters
//!   carrying the argument — ControlParameters cannot express an SF specification:
//!   - `deploy`: the TOML specification ([`crate::spec::SfSpec`]). A specification with an
//!     `exec` artifact runs an arbitrary program and must come under `sf-exec` (privilege
//!     `sf-exec`); under `sf` it is refused with 403. [`deploy`] picks the prefix.
//!   - `undeploy`: the function name (UTF-8 text), under either prefix.
//!
//!   The answer is a ControlResponse: 200 done, 400 bad request or argument (the StatusText
//!   says what is wrong), 403 exec artifact under `sf`, 404 unknown SF or request, 409 already
//!   deployed, 500 the backend failed.
//! - **Datasets** (JSON, segmented like NFD's: `<prefix>/v=<ms>/seg=<n>`, fetched with
//!   CanBePrefix and MustBeFresh), under `sf` only: `/localhost/nfwd/sf/list` ([`SfInfo`]
//!   array), `/localhost/nfwd/sf/stats` ([`SfStats`] array),
//!   `/localhost/nfwd/sf/logs/<function name URI>/<instance index>` (text), each optionally
//!   followed by a version and a segment.

use bytes::Bytes;
use nfwd_forwarder::client::{Client, FetchOptions};
use nfwd_tlv::nfd::{ControlResponse, status_code};
use nfwd_tlv::types::tt;
use nfwd_tlv::{Interest, InterestBuilder, Name};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::{Artifact, SfSpec};

/// The host's management prefix (privilege `sf`).
pub const PREFIX: &str = "/localhost/nfwd/sf";

/// The prefix of deployments that run arbitrary programs (privilege `sf-exec`).
pub const EXEC_PREFIX: &str = "/localhost/nfwd/sf-exec";

/// Lifetime of command Interests (deploy waits for `min` instances to come up).
pub const COMMAND_LIFETIME_MS: u64 = 30_000;

/// The two services the host offers, each a privilege of the forwarder's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `/localhost/nfwd/sf`: built-in SFs, undeploy, datasets.
    Sf,
    /// `/localhost/nfwd/sf-exec`: deployments of `exec` artifacts.
    SfExec,
}

impl Service {
    /// The prefix of the service.
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Sf => PREFIX,
            Self::SfExec => EXEC_PREFIX,
        }
    }

    /// The privilege (and name component) of the service.
    #[must_use]
    pub fn privilege(self) -> &'static str {
        match self {
            Self::Sf => "sf",
            Self::SfExec => "sf-exec",
        }
    }

    /// The service a deployment of `spec` needs: `sf-exec` for an `exec` artifact. A
    /// package needs only `sf`: what it runs was signed by a publisher the node's operator
    /// configured as a package source (`docs/security.md`), and `sf` only picks which.
    #[must_use]
    pub fn for_spec(spec: &SfSpec) -> Self {
        match spec.artifact {
            // An image is only made by the host from a package; were one ever sent, it would
            // run a program of the sender's choosing.
            Artifact::Exec { .. } | Artifact::Image { .. } => Self::SfExec,
            Artifact::Builtin { .. } | Artifact::Package { .. } => Self::Sf,
        }
    }
}

/// A command verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Deploy a specification.
    Deploy,
    /// Undeploy by function name.
    Undeploy,
    /// Pull a package into the cache without deploying it (ApplicationParameters: the
    /// package name): what `nfwd sf provision` sends to many nodes at once.
    Pull,
}

/// A dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dataset {
    /// `list`.
    List,
    /// `stats`.
    Stats,
    /// `progress`: what the deploys in progress are doing.
    Progress,
    /// `packages`: the package cache (sources, installed packages, pulls, counters);
    /// JSON `null` when the host has no package sources.
    Packages,
    /// `logs/<function>/<index>`.
    Logs {
        /// The function name, as written in the request.
        function: String,
        /// The instance index.
        index: u32,
    },
}

/// A request to the host, as its name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A command (the Interest must still be checked for a signature).
    Command(Service, Verb),
    /// A dataset: `prefix` is its name without version and segment; `rest` is true when the
    /// Interest names a version (and segment) of a publication.
    Dataset {
        /// What.
        dataset: Dataset,
        /// The dataset's name without version or segment.
        prefix: Name,
        /// The Interest goes on with a version and a segment.
        rest: bool,
    },
}

/// Why a name is not a request: the ControlResponse status and text to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    /// 400 (malformed) or 404 (no such request).
    pub code: u64,
    /// What is wrong.
    pub text: String,
}

fn bad(code: u64, text: impl Into<String>) -> BadRequest {
    BadRequest {
        code,
        text: text.into(),
    }
}

const SHAPES: &str = "commands are signed Interests named /localhost/nfwd/<sf|sf-exec>/<deploy|\
                      undeploy|pull>/<ParametersSha256Digest>; datasets are /localhost/nfwd/sf/list, \
                      /localhost/nfwd/sf/stats, /localhost/nfwd/sf/progress and \
                      /localhost/nfwd/sf/logs/<function>/<index>";

/// Reads a request from `name` by its structure (module documentation). Anything else is a
/// [`BadRequest`] with the text to answer.
pub fn parse_request(name: &Name) -> Result<Request, BadRequest> {
    let generic = |i: usize| match name.component_parts(i) {
        Some((t, v)) if u32::from(t) == tt::GENERIC_NAME_COMPONENT => Some(v),
        _ => None,
    };
    if generic(0) != Some(b"localhost") || generic(1) != Some(b"nfwd") {
        return Err(bad(
            status_code::NOT_FOUND,
            format!("not an SF host name; {SHAPES}"),
        ));
    }
    let service = match generic(2) {
        Some(b"sf") => Service::Sf,
        Some(b"sf-exec") => Service::SfExec,
        _ => {
            return Err(bad(
                status_code::NOT_FOUND,
                format!("unknown service; {SHAPES}"),
            ));
        }
    };
    let Some(word) = generic(3) else {
        return Err(bad(
            status_code::BAD_PARAMETERS,
            format!("no request after {}; {SHAPES}", service.prefix()),
        ));
    };
    let verb = match word {
        b"deploy" => Some(Verb::Deploy),
        b"undeploy" => Some(Verb::Undeploy),
        b"pull" => Some(Verb::Pull),
        _ => None,
    };
    if let Some(verb) = verb {
        let digest_last = name.len() == 5
            && name.last_type().map(u32::from) == Some(tt::PARAMETERS_SHA256_DIGEST_COMPONENT);
        if !digest_last {
            return Err(bad(
                status_code::BAD_PARAMETERS,
                format!(
                    "a command is a signed Interest named {}/<verb>/<ParametersSha256Digest>",
                    service.prefix()
                ),
            ));
        }
        return Ok(Request::Command(service, verb));
    }
    let word = String::from_utf8_lossy(word).into_owned();
    if service == Service::SfExec {
        return Err(bad(
            status_code::NOT_FOUND,
            format!("{EXEC_PREFIX} has no {word:?}: it takes deploy and undeploy only; {SHAPES}"),
        ));
    }
    let (dataset, base) = match word.as_str() {
        "list" => (Dataset::List, 4),
        "stats" => (Dataset::Stats, 4),
        "progress" => (Dataset::Progress, 4),
        "packages" => (Dataset::Packages, 4),
        "logs" => {
            let (Some(f), Some(i)) = (generic(4), generic(5)) else {
                return Err(bad(
                    status_code::BAD_PARAMETERS,
                    "logs: want /localhost/nfwd/sf/logs/<function name>/<instance index>",
                ));
            };
            let index = std::str::from_utf8(i)
                .ok()
                .and_then(|i| i.parse::<u32>().ok())
                .ok_or_else(|| bad(status_code::BAD_PARAMETERS, "logs: bad instance index"))?;
            let function = String::from_utf8_lossy(f).into_owned();
            (Dataset::Logs { function, index }, 6)
        }
        _ => {
            return Err(bad(
                status_code::NOT_FOUND,
                format!("unknown SF host request {word:?}; {SHAPES}"),
            ));
        }
    };
    // What may follow: a version, then a segment of it.
    let tail: Vec<u16> = (base..name.len())
        .filter_map(|i| name.component_parts(i).map(|(t, _)| t))
        .collect();
    let version = |t: &u16| u32::from(*t) == tt::VERSION_NAME_COMPONENT;
    let segment = |t: &u16| u32::from(*t) == tt::SEGMENT_NAME_COMPONENT;
    let ok = match tail.as_slice() {
        [] => true,
        [v] => version(v),
        [v, s] => version(v) && segment(s),
        _ => false,
    };
    if !ok {
        return Err(bad(
            status_code::BAD_PARAMETERS,
            format!("{word}: only a version and a segment may follow the dataset's name"),
        ));
    }
    Ok(Request::Dataset {
        dataset,
        prefix: name.prefix(base),
        rest: !tail.is_empty(),
    })
}

/// One instance, as `list` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// Its number among the SF's instances.
    pub index: u32,
    /// Backend id (process id, container id).
    pub id: String,
    /// The forwarder face it serves on, once registered.
    pub face: Option<u64>,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// Interests the forwarder sent to it (its face's out-Interests).
    pub requests: u64,
}

/// One deployed SF, as `list` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SfInfo {
    /// Function name.
    pub name: String,
    /// Version from the specification.
    pub version: String,
    /// `process` or `docker`.
    pub backend: String,
    /// `min`, `max`, `idle_stop_s` of the specification.
    pub min: usize,
    /// Most instances.
    pub max: usize,
    /// Idle period before an instance stops.
    pub idle_stop_s: u64,
    /// `running` (instances up), `idle` (none; the next Interest starts one), `starting` (an
    /// instance is being started or stopped; `instances` then empty), `restarting` (waiting
    /// for a crashed instance's backoff).
    pub state: String,
    /// Running instances.
    pub instances: Vec<InstanceInfo>,
    /// The package (with its version) the SF was deployed from, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// Counters of one SF since it was deployed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SfStats {
    /// Function name.
    pub name: String,
    /// Instances running now.
    pub instances: usize,
    /// Instances started (warm, cold, scale-out and restarts).
    pub starts: u64,
    /// Cold starts (started for a held Interest).
    pub cold_starts: u64,
    /// Last cold start, from Interest arrival to the instance's registration, ms.
    pub last_cold_start_ms: Option<u64>,
    /// Last cold start, from Interest arrival to the result Data, ms.
    pub last_cold_start_to_result_ms: Option<u64>,
    /// Instances that exited on their own.
    pub crashes: u64,
    /// Instances restarted after a crash.
    pub restarts: u64,
    /// Instances stopped for idleness.
    pub idle_stops: u64,
    /// Instances started because the others were busy.
    pub scale_outs: u64,
    /// Interests sent to the instances (their faces' out-Interests).
    pub requests: u64,
    /// Data the instances answered with (their faces' in-Data; error Data included).
    pub answers: u64,
    /// Nacks the instances answered with.
    pub nacks: u64,
    /// Interests held by the placeholder during cold starts.
    pub held: u64,
    /// Held Interests that could not be answered (start failed or no result).
    pub held_failed: u64,
    /// Error Data the running instances produced (sum of their runtimes' `errors`).
    pub errors: u64,
    /// Median computation latency, ms: the running instances' medians weighted by their
    /// computations (`None` before any).
    pub latency_p50_ms: Option<f64>,
    /// Worst 99th percentile among the running instances, ms.
    pub latency_p99_ms: Option<f64>,
    /// Each running instance's own counters, as its `F/32=instance/<id>/32=stats` dataset
    /// reports them (instances that did not answer within 500 ms are missing).
    pub runtime: Vec<serde_json::Value>,
}

/// The name of a dataset or command: `/localhost/nfwd/sf/<verb>`.
#[must_use]
pub fn name_of(verb: &str) -> Name {
    name_in(Service::Sf, verb)
}

/// `/localhost/nfwd/<service>/<verb>`.
#[must_use]
pub fn name_in(service: Service, verb: &str) -> Name {
    service
        .prefix()
        .parse::<Name>()
        .unwrap_or_default()
        .append_generic(verb.as_bytes())
}

/// A v0.3 signed command Interest `/localhost/nfwd/<service>/<verb>/<digest>` with `params` as
/// ApplicationParameters, signed by `client`'s command signer.
pub fn command_interest(
    client: &Client,
    service: Service,
    verb: &str,
    params: Bytes,
) -> Result<Interest> {
    Ok(client.sign_command(
        InterestBuilder::new(name_in(service, verb))
            .lifetime_ms(COMMAND_LIFETIME_MS)
            .app_parameters(params),
    )?)
}

/// Sends a command under [`PREFIX`] and returns the ControlResponse, whatever its status
/// (the host's, or the forwarder's 403 if the requester lacks the privilege).
pub async fn command(client: &Client, verb: &str, params: Bytes) -> Result<ControlResponse> {
    command_on(client, Service::Sf, verb, params).await
}

/// Sends a command under `service`'s prefix (see [`command`]).
pub async fn command_on(
    client: &Client,
    service: Service,
    verb: &str,
    params: Bytes,
) -> Result<ControlResponse> {
    let data = client
        .express(command_interest(client, service, verb, params)?)
        .await?;
    Ok(ControlResponse::from_wire(data.content())?)
}

/// Deploys the TOML specification `toml` under the prefix it needs: [`EXEC_PREFIX`] for an
/// `exec` artifact, else [`PREFIX`]. A text that does not parse goes to [`PREFIX`], whose
/// host answers 400 saying why.
pub async fn deploy(client: &Client, toml: &str) -> Result<ControlResponse> {
    let service = SfSpec::from_toml(toml).map_or(Service::Sf, |s| Service::for_spec(&s));
    command_on(client, service, "deploy", Bytes::from(toml.to_owned())).await
}

/// Fetches a dataset (`list`, `stats`, `logs/...`) and returns its content. The host always
/// answers with a versioned, segmented publication; a single Data named like the request
/// carrying a ControlResponse is the forwarder's refusal, returned as [`Error::Refused`].
pub async fn dataset(client: &Client, name: &Name) -> Result<Bytes> {
    let opts = FetchOptions {
        must_be_fresh: true,
        max_retries: 1,
        ..FetchOptions::default()
    };
    match client.fetch_dataset(name, &opts).await {
        Err(nfwd_forwarder::Error::Management { code, text }) => Err(Error::Refused {
            what: dataset_word(name),
            code,
            text,
        }),
        other => Ok(other?),
    }
}

/// The word naming a dataset (`list`, `stats`, `logs`) for messages.
fn dataset_word(name: &Name) -> String {
    name.get(3)
        .map(|c| String::from_utf8_lossy(c.value()).into_owned())
        .unwrap_or_default()
}

/// `content` as a refusal: a ControlResponse with a status other than 200.
fn refusal(what: String, content: &Bytes) -> Option<Error> {
    let resp = ControlResponse::from_wire(content).ok()?;
    (resp.status_code != status_code::OK).then(|| Error::Refused {
        what,
        code: resp.status_code,
        text: resp.status_text.to_string(),
    })
}

/// Parses a JSON dataset, or explains the ControlResponse that came instead.
fn parse_json<T: serde::de::DeserializeOwned>(what: &str, content: &Bytes) -> Result<T> {
    serde_json::from_slice(content).map_err(|e| {
        refusal(what.to_owned(), content)
            .unwrap_or_else(|| Error::Spec(format!("{what} dataset: {e}")))
    })
}

/// `list` through the forwarder.
pub async fn list(client: &Client) -> Result<Vec<SfInfo>> {
    parse_json("list", &dataset(client, &name_of("list")).await?)
}

/// Parses the JSON of the `list` dataset (as `nfwd sf list --json` prints it).
pub fn parse_list(json: &str) -> Result<Vec<SfInfo>> {
    serde_json::from_str(json).map_err(|e| Error::Spec(format!("list dataset: {e}")))
}

/// Parses the JSON of the `stats` dataset (as `nfwd sf stats --json` prints it).
pub fn parse_stats(json: &str) -> Result<Vec<SfStats>> {
    serde_json::from_str(json).map_err(|e| Error::Spec(format!("stats dataset: {e}")))
}

/// `progress` through the forwarder: what the deploys in progress are doing, by SF name.
pub async fn progress(
    client: &Client,
) -> Result<std::collections::BTreeMap<String, crate::progress::Phase>> {
    parse_json("progress", &dataset(client, &name_of("progress")).await?)
}

/// `packages` through the forwarder: `None` when the host has no package sources.
pub async fn packages(client: &Client) -> Result<Option<crate::package::cache::CacheStatus>> {
    parse_json("packages", &dataset(client, &name_of("packages")).await?)
}

/// `stats` through the forwarder.
pub async fn stats(client: &Client) -> Result<Vec<SfStats>> {
    parse_json("stats", &dataset(client, &name_of("stats")).await?)
}

/// `value` as indented JSON (for command-line output).
#[must_use]
pub fn to_json_pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The logs dataset name of instance `index` of SF `name`.
pub fn logs_name(sf: &str, index: u32) -> Result<Name> {
    let f: Name = sf
        .parse()
        .map_err(|e| Error::Spec(format!("name {sf:?}: {e}")))?;
    Ok(name_of("logs")
        .append_generic(f.to_string().as_bytes())
        .append_generic(index.to_string().as_bytes()))
}

/// `logs` through the forwarder.
pub async fn logs(client: &Client, sf: &str, index: u32) -> Result<String> {
    let content = dataset(client, &logs_name(sf, index)?).await?;
    Ok(String::from_utf8_lossy(&content).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str) -> Result<Request, BadRequest> {
        parse_request(&uri.parse().unwrap())
    }

    const DIGEST: &str =
        "params-sha256=0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn commands_are_read_from_the_structure() {
        assert_eq!(
            parse(&format!("/localhost/nfwd/sf/deploy/{DIGEST}")),
            Ok(Request::Command(Service::Sf, Verb::Deploy))
        );
        assert_eq!(
            parse(&format!("/localhost/nfwd/sf-exec/deploy/{DIGEST}")),
            Ok(Request::Command(Service::SfExec, Verb::Deploy))
        );
        assert_eq!(
            parse(&format!("/localhost/nfwd/sf/undeploy/{DIGEST}")),
            Ok(Request::Command(Service::Sf, Verb::Undeploy))
        );
        assert_eq!(
            parse(&format!("/localhost/nfwd/sf/pull/{DIGEST}")),
            Ok(Request::Command(Service::Sf, Verb::Pull))
        );
        assert_eq!(
            parse("/localhost/nfwd/sf/packages").map(|r| match r {
                Request::Dataset { dataset, .. } => Some(dataset),
                Request::Command(..) => None,
            }),
            Ok(Some(Dataset::Packages))
        );
        // Not where the verb is, unsigned-shaped, or with more after it.
        for bad in [
            "/localhost/nfwd/sf/deploy".to_string(),
            format!("/localhost/nfwd/sf/deploy/x/{DIGEST}"),
            format!("/localhost/nfwd/sf/x/deploy/{DIGEST}"),
            format!("/a/b/c/deploy/{DIGEST}"),
            "/localhost/nfwd/sf-exec/list".to_string(),
            format!("/localhost/nfwd/sfx/deploy/{DIGEST}"),
            "/localhost/nfwd/sf".to_string(),
        ] {
            let r = parse(&bad);
            assert!(
                !matches!(r, Ok(Request::Command(..))),
                "{bad} read as {r:?}"
            );
            if let Err(e) = r {
                assert!(e.code == 400 || e.code == 404, "{bad}: {e:?}");
                assert!(!e.text.is_empty());
            }
        }
    }

    #[test]
    fn datasets_take_an_optional_version_and_segment() {
        let list = parse("/localhost/nfwd/sf/list").unwrap();
        assert!(matches!(
            list,
            Request::Dataset {
                dataset: Dataset::List,
                rest: false,
                ..
            }
        ));
        assert!(matches!(
            parse("/localhost/nfwd/sf/stats/v=5/seg=1").unwrap(),
            Request::Dataset {
                dataset: Dataset::Stats,
                rest: true,
                ..
            }
        ));
        match parse("/localhost/nfwd/sf/logs/%2Fsf%2Fup/3/v=7").unwrap() {
            Request::Dataset {
                dataset: Dataset::Logs { function, index },
                prefix,
                ..
            } => {
                assert_eq!((function.as_str(), index), ("/sf/up", 3));
                assert_eq!(prefix.len(), 6);
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            "/localhost/nfwd/sf/list/extra",
            "/localhost/nfwd/sf/list/seg=1",
            "/localhost/nfwd/sf/logs/%2Fsf%2Fup",
            "/localhost/nfwd/sf/logs/%2Fsf%2Fup/x",
            "/localhost/nfwd/sf/deployx",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exec_specs_go_to_sf_exec() {
        let exec =
            SfSpec::from_toml("name = \"/sf/x\"\n[artifact]\nkind = \"exec\"\nargv = [\"cat\"]\n")
                .unwrap();
        let builtin = SfSpec::from_toml(
            "name = \"/sf/x\"\n[artifact]\nkind = \"builtin\"\nfunction = \"upper\"\n",
        )
        .unwrap();
        assert_eq!(Service::for_spec(&exec), Service::SfExec);
        assert_eq!(Service::for_spec(&builtin), Service::Sf);
    }

    #[test]
    fn a_control_response_is_a_refusal() {
        let resp = ControlResponse::new(403, "uid 1001 is not authorized for \"sf\"".to_owned());
        let wire = resp
            .to_data(&name_of("list"), &nfwd_tlv::Signer::digest_sha256())
            .unwrap();
        let data = nfwd_tlv::Data::decode(wire).unwrap();
        let e = parse_json::<Vec<SfInfo>>("list", data.content()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "list refused (403): uid 1001 is not authorized for \"sf\""
        );
        assert!(
            parse_json::<Vec<SfInfo>>("list", &Bytes::from_static(b"[]"))
                .unwrap()
                .is_empty()
        );
    }
}
