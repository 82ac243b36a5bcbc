//! What an operator deploys: an SF specification (TOML), with every default stated.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One service function to deploy on this node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SfSpec {
    /// The function name, a routable NDN name, e.g. `/sf/upper`.
    pub name: String,
    /// Version of the function (free text, reported by `nfwd sf list`). Default "0".
    #[serde(default = "default_version")]
    pub version: String,
    /// Media type of the input content, e.g. `application/json`. Default `*/*` (any).
    #[serde(default = "default_media")]
    pub input_type: String,
    /// Media type of the output content. Default `application/octet-stream`.
    #[serde(default = "default_output")]
    pub output_type: String,
    /// What runs.
    pub artifact: Artifact,
    /// How it runs. Default `auto`: the host's configured backend (`nfwd start --sf-backend`,
    /// default processes).
    #[serde(default)]
    pub backend: BackendKind,
    /// Resource limits of each instance.
    #[serde(default)]
    pub limits: Limits,
    /// How many instances, and when they start and stop.
    #[serde(default)]
    pub instances: InstancePolicy,
    /// Requests one instance computes at once. Default 4.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Longest a computation may take before the consumer gets an error Data, in ms.
    /// Default 30000.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

/// What an SF instance runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Artifact {
    /// A built-in function of the `nfwd` binary (`nfwd sf functions` lists them), run as
    /// `nfwd sf run --builtin NAME --function F`.
    Builtin {
        /// Built-in name, e.g. `upper`.
        function: String,
    },
    /// Any executable that reads its input on stdin and writes its output on stdout, wrapped
    /// by `nfwd sf exec --function F -- ARGV...` (the language-neutral route).
    Exec {
        /// The command and its arguments.
        argv: Vec<String>,
    },
    /// A signed SF package fetched over NDN by the SF host when it lacks it
    /// (`docs/sf-host.md`, "Pulling packages"): `<prefix>/sf-package/<function>[/v=<version>]`,
    /// under one of the host's configured package sources. The package's own spec gives the
    /// program and its media types and version; this spec gives how it runs (backend, limits,
    /// instances, concurrency, timeout) and the function name it is deployed as.
    Package {
        /// The package name; without a version, the latest the publisher offers.
        name: String,
        /// When the host pulls it. Default `deploy`: the deploy answers once the package is
        /// installed (a bad package is refused to the deployer).
        #[serde(default, skip_serializing_if = "PullWhen::is_deploy")]
        pull: PullWhen,
    },
    /// An image from a verified Docker package (`docs/sf-host.md`, "Docker packages"),
    /// loaded into the engine by the Docker backend when it prepares the SF. Only the SF
    /// host makes one, from a package's manifest: a specification cannot name an archive
    /// on the node (it is never deserialized).
    #[serde(skip_deserializing)]
    Image {
        /// The `docker save` archive, in the host's package cache.
        archive: String,
        /// The image ID the archive holds (`sha256:<64 hex digits>`), checked before the
        /// engine loads it.
        id: String,
        /// The program and its arguments inside the image (argv[0] an absolute path).
        argv: Vec<String>,
    },
}

/// When an SF host pulls a package it lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullWhen {
    /// At deployment: the deploy fails if the package cannot be pulled or verified.
    #[default]
    Deploy,
    /// At the first request (an on-demand SF's cold start, `instances.min = 0`, process
    /// backend): deploying costs nothing; the first consumer waits for the pull, and gets an
    /// `unavailable` error Data if it fails.
    OnDemand,
}

impl PullWhen {
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
    fn is_deploy(&self) -> bool {
        *self == Self::Deploy
    }
}

/// Where instances run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// The host's configured backend (`HostOptions::backend`): never a guess, never a
    /// fallback.
    #[default]
    Auto,
    /// Containers on the local Docker engine.
    Docker,
    /// Local processes.
    Process,
}

/// Resource limits of one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// CPU share in cores (Docker `NanoCpus`; processes: a CPU-time limit is not a share, so
    /// the process backend applies `nice` only). Default 1.0.
    pub cpus: f64,
    /// Memory limit in MiB (Docker memory limit; processes: address-space limit). Default 256.
    pub memory_mib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpus: 1.0,
            memory_mib: 256,
        }
    }
}

/// Instance counts and lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstancePolicy {
    /// Instances kept running at all times (pre-deployment, "warm"). 0 = start on demand when
    /// the first Interest for the function arrives. Default 0.
    pub min: usize,
    /// Most instances at once; load is spread between them. Default 1.
    pub max: usize,
    /// Stop an instance idle this long (seconds; never below `min`). Default 300.
    pub idle_stop_s: u64,
}

impl Default for InstancePolicy {
    fn default() -> Self {
        Self {
            min: 0,
            max: 1,
            idle_stop_s: 300,
        }
    }
}

fn default_version() -> String {
    "0".into()
}

fn default_media() -> String {
    "*/*".into()
}

fn default_output() -> String {
    "application/octet-stream".into()
}

fn default_concurrency() -> usize {
    4
}

fn default_timeout() -> u64 {
    30_000
}

impl SfSpec {
    /// Parses and checks a TOML specification.
    pub fn from_toml(text: &str) -> Result<Self> {
        let spec: Self = toml::from_str(text).map_err(|e| Error::Spec(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks values that types cannot.
    pub fn validate(&self) -> Result<()> {
        let name: nfwd_tlv::Name = self
            .name
            .parse()
            .map_err(|e| Error::Spec(format!("name {:?}: {e}", self.name)))?;
        if name.is_empty() {
            return Err(Error::Spec("name must not be /".into()));
        }
        if self.instances.max == 0 || self.instances.min > self.instances.max {
            return Err(Error::Spec(
                "instances: need 0 <= min <= max and max >= 1".into(),
            ));
        }
        if self.concurrency == 0 {
            return Err(Error::Spec("concurrency must be at least 1".into()));
        }
        // NaN and non-positive CPU shares are both refused.
        if self.limits.cpus.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
            || self.limits.memory_mib == 0
        {
            return Err(Error::Spec("limits: cpus > 0 and memory_mib > 0".into()));
        }
        match &self.artifact {
            Artifact::Exec { argv } if argv.is_empty() => {
                return Err(Error::Spec("artifact exec: argv is empty".into()));
            }
            // The built-ins are those of this binary, so an unknown name is known to be wrong
            // here already: refused before anything starts, not at every start.
            Artifact::Package { name, pull } => {
                if *pull == PullWhen::OnDemand && self.instances.min > 0 {
                    return Err(Error::Spec(format!(
                        "{}: [artifact] pull = \"on-demand\" needs instances.min = 0 (warm \
                         instances need the package at deployment)",
                        self.name
                    )));
                }
                let parsed: nfwd_tlv::Name = name
                    .parse()
                    .map_err(|e| Error::Spec(format!("[artifact] name {name:?}: {e}")))?;
                crate::package::PackageName::parse(
                    &parsed,
                    &crate::package::PackageLimits::default(),
                )
                .map_err(|e| Error::Spec(format!("{}: [artifact] name: {e}", self.name)))?;
            }
            Artifact::Builtin { function } if !crate::functions::is_builtin(function) => {
                return Err(Error::Spec(format!(
                    "{}: [artifact] function: {}",
                    self.name,
                    crate::functions::unknown_builtin(function)
                )));
            }
            Artifact::Image { id, argv, .. } => {
                if crate::package::parse_image_id(id).is_none() {
                    return Err(Error::Spec(format!(
                        "{}: image {id:?} is not sha256:<64 hex digits>",
                        self.name
                    )));
                }
                if !argv.first().is_some_and(|p| p.starts_with('/')) {
                    return Err(Error::Spec(format!(
                        "{}: a Docker package's program must be an absolute path inside its \
                         image",
                        self.name
                    )));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks that this node can run the artifact as a local process: an exec program exists
    /// and is executable, found as the instance will look it up (a bare name in `PATH`).
    /// Returns the program's path (`None` for a built-in). The SF host calls it at deployment,
    /// before anything starts; the error names the SF, the path tried and the fix.
    pub fn check_program(&self) -> Result<Option<std::path::PathBuf>> {
        if let Artifact::Image { .. } = &self.artifact {
            return Err(Error::Spec(format!(
                "{}: its package is a Docker image, which runs on the Docker backend only; \
                 deploy it with backend = \"docker\" on a host with a Docker engine",
                self.name
            )));
        }
        let Artifact::Exec { argv } = &self.artifact else {
            return Ok(None);
        };
        let program = argv
            .first()
            .ok_or_else(|| Error::Spec("artifact exec: argv is empty".into()))?;
        crate::functions::resolve_program(program)
            .map(Some)
            .map_err(|e| {
                let why = match e {
                    Error::Spec(m) => m,
                    e => e.to_string(),
                };
                // A path names where the program must be; a bare name may be anywhere.
                let fix = if program.contains('/') {
                    "install it there or correct argv[0]"
                } else {
                    "install it or give its absolute path"
                };
                Error::Spec(format!("{}: [artifact] argv[0]: {why}; {fix}", self.name))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_spec_takes_the_defaults() {
        let s = SfSpec::from_toml(
            "name = \"/sf/upper\"\n[artifact]\nkind = \"builtin\"\nfunction = \"upper\"\n",
        )
        .unwrap();
        assert_eq!(s.instances, InstancePolicy::default());
        assert_eq!(s.backend, BackendKind::Auto);
        assert_eq!(s.concurrency, 4);
    }

    #[test]
    fn bad_specs_are_explained() {
        for (text, needle) in [
            (
                "name = \"/\"\n[artifact]\nkind = \"builtin\"\nfunction = \"x\"\n",
                "name",
            ),
            (
                "name = \"/a\"\n[artifact]\nkind = \"exec\"\nargv = []\n",
                "argv",
            ),
            (
                "name = \"/a\"\n[artifact]\nkind = \"builtin\"\nfunction = \"x\"\n[instances]\nmax = 0\n",
                "instances",
            ),
            (
                "name = \"/a\"\nbogus = 1\n[artifact]\nkind = \"builtin\"\nfunction = \"x\"\n",
                "bogus",
            ),
        ] {
            let e = SfSpec::from_toml(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn unknown_builtins_and_missing_programs_are_named() {
        let e = SfSpec::from_toml(
            "name = \"/sf/u\"\n[artifact]\nkind = \"builtin\"\nfunction = \"uppper\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/sf/u") && e.contains("\"uppper\"") && e.contains("did you mean \"upper\""),
            "{e}"
        );
        let spec = |argv: &str| {
            SfSpec::from_toml(&format!(
                "name = \"/sf/x\"\n[artifact]\nkind = \"exec\"\nargv = [{argv}]\n"
            ))
            .unwrap()
        };
        let e = spec("\"/no/such/prog\"")
            .check_program()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/sf/x") && e.contains("/no/such/prog does not exist"),
            "{e}"
        );
        let e = spec("\"no-such-prog-xyz\"")
            .check_program()
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not in PATH"), "{e}");
        assert!(
            spec("\"sh\", \"-c\", \"cat\"")
                .check_program()
                .unwrap()
                .is_some()
        );
        // A file without an execute bit is refused, with its mode.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prog");
        std::fs::write(&file, "#!/bin/sh\ncat\n").unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let e = spec(&format!("{:?}", file.display().to_string()))
            .check_program()
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not executable (mode 0644"), "{e}");
    }
}
