//! Checks a Docker package's archive (`docker save` of one image) before the engine loads
//! it. The manifest's signature and digests already tie the archive to its publisher; what
//! is checked here is what loading would do to *this* node beyond adding that one image:
//!
//! - **no tags**: `docker load` applies the tags an archive carries (`RepoTags` in
//!   `manifest.json`, the legacy `repositories` file, OCI `index.json` name annotations), so a
//!   tagged archive could move a name another SF's image (or any local image) goes by. A
//!   package is saved by image ID, untagged, and an archive with any tag is refused;
//! - **the image the manifest names**: exactly one image, whose config's SHA-256 is the
//!   manifest's `image` ID, so the ID the SF runs is the one that was signed;
//! - **no volumes**: a `VOLUME` in the image would give every container a writable,
//!   unbounded anonymous volume beside its read-only root filesystem;
//! - **no `nfwd.` labels**: the Docker backend finds its own images (whose owner, which
//!   binary) by those labels, so a package image carrying them would pass for another
//!   host's image;
//! - a Linux image.
//!
//! Every file read from the archive is bounded; entries are not extracted.

use std::collections::HashSet;
use std::io::{Read, Seek};
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Largest `manifest.json`, `repositories`, `index.json` or image config read.
const MAX_METADATA_BYTES: u64 = 4 * 1024 * 1024;

/// What a checked archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedArchive {
    /// The image ID, `sha256:<hex>`.
    pub id: String,
    /// Its layers.
    pub layers: usize,
    /// Its CPU architecture (the config's `architecture`).
    pub architecture: String,
}

#[derive(Deserialize)]
struct ArchiveImage {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct ImageConfig {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    config: Option<ContainerConfig>,
}

#[derive(Deserialize)]
struct ContainerConfig {
    #[serde(rename = "Volumes", default)]
    volumes: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(rename = "Labels", default)]
    labels: Option<serde_json::Map<String, serde_json::Value>>,
}

fn refused(why: impl std::fmt::Display) -> Error {
    Error::Spec(format!(
        "Docker package archive: {why}; refusing to load it"
    ))
}

fn read_bounded(entry: &mut dyn Read, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    entry
        .take(MAX_METADATA_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| refused(format!("reading {what}: {e}")))?;
    if out.len() as u64 > MAX_METADATA_BYTES {
        return Err(refused(format!(
            "{what} is larger than {MAX_METADATA_BYTES} bytes"
        )));
    }
    Ok(out)
}

/// The entries of the archive `open` gives, each visited by `visit(path, entry)`; a path
/// seen twice is refused (the engine would take one of them, which is not the one checked).
fn each_entry<R: Read + Seek>(
    open: &impl Fn() -> std::io::Result<R>,
    mut visit: impl FnMut(&str, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let mut archive = tar::Archive::new(open()?);
    let mut seen = HashSet::new();
    let entries = archive
        .entries_with_seek()
        .map_err(|e| refused(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| refused(format!("a broken tar entry: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| refused(format!("an entry's path: {e}")))?
            .into_owned();
        // The engine extracts the archive before reading it, so `x/../manifest.json` is
        // manifest.json there: only plain components, or the file checked would not be the
        // file loaded.
        if path.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        }) {
            return Err(refused(format!(
                "the path {:?} is not plain",
                path.display()
            )));
        }
        let name = path
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        if !seen.insert(name.clone()) {
            return Err(refused(format!("{name:?} appears twice")));
        }
        visit(&name, &mut entry)?;
    }
    Ok(())
}

/// [`check_archive`] on an archive in memory (a publisher's, before it is published).
pub fn check_archive_bytes(archive: &[u8], expected_id: &str) -> Result<CheckedArchive> {
    check(&|| Ok(std::io::Cursor::new(archive)), expected_id)
}

/// Checks the archive at `path` holds exactly the untagged image `expected_id`, without
/// volumes, for Linux (see the module's documentation).
pub fn check_archive(path: &Path, expected_id: &str) -> Result<CheckedArchive> {
    check(&|| std::fs::File::open(path), expected_id)
}

fn check<R: Read + Seek>(
    open: &impl Fn() -> std::io::Result<R>,
    expected_id: &str,
) -> Result<CheckedArchive> {
    let Some(expected) = super::parse_image_id(expected_id) else {
        return Err(refused(format!("{expected_id:?} is not an image ID")));
    };
    // First pass: the metadata files (manifest.json comes last in `docker save` output).
    let mut images: Option<Vec<ArchiveImage>> = None;
    each_entry(open, |name, entry| {
        match name {
            "manifest.json" => {
                let bytes = read_bounded(entry, name)?;
                images = Some(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| refused(format!("manifest.json: {e}")))?,
                );
            }
            "repositories" => {
                let bytes = read_bounded(entry, name)?;
                let repos: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(&bytes)
                        .map_err(|e| refused(format!("repositories: {e}")))?;
                if !repos.is_empty() {
                    return Err(refused(format!(
                        "it tags {} repositories (a package image is saved untagged, by ID)",
                        repos.len()
                    )));
                }
            }
            "index.json" => {
                let bytes = read_bounded(entry, name)?;
                let index: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|e| refused(format!("index.json: {e}")))?;
                let named = index["manifests"].as_array().is_some_and(|ms| {
                    ms.iter().any(|m| {
                        m["annotations"].as_object().is_some_and(|a| {
                            a.keys()
                                .any(|k| k.ends_with("ref.name") || k.ends_with("image.name"))
                        })
                    })
                });
                if named {
                    return Err(refused(
                        "index.json names an image (a package image is saved untagged)",
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    let images = images.ok_or_else(|| refused("no manifest.json"))?;
    let [image] = images.as_slice() else {
        return Err(refused(format!(
            "{} images where a package holds one",
            images.len()
        )));
    };
    if let Some(tags) = image.repo_tags.as_ref().filter(|t| !t.is_empty()) {
        return Err(refused(format!(
            "it tags the image {:?} (a package image is saved untagged, by ID)",
            tags.iter().take(3).collect::<Vec<_>>()
        )));
    }
    // Second pass: the image's config, hashed and read.
    let mut config: Option<Vec<u8>> = None;
    each_entry(open, |name, entry| {
        if name == image.config.trim_start_matches("./") {
            config = Some(read_bounded(entry, name)?);
        }
        Ok(())
    })?;
    let config = config.ok_or_else(|| refused(format!("no config {:?}", image.config)))?;
    let digest = nfwd_tlv::signature::sha256(&[&config]);
    if digest != expected {
        return Err(refused(format!(
            "its image is sha256:{}, not the manifest's {expected_id}",
            hex::encode(digest)
        )));
    }
    let parsed: ImageConfig =
        serde_json::from_slice(&config).map_err(|e| refused(format!("the image config: {e}")))?;
    if parsed.os != "linux" {
        return Err(refused(format!(
            "the image is for {:?}, not linux",
            parsed.os
        )));
    }
    let container = parsed.config.unwrap_or(ContainerConfig {
        volumes: None,
        labels: None,
    });
    if let Some(label) = container
        .labels
        .iter()
        .flat_map(|l| l.keys())
        .find(|k| k.starts_with("nfwd."))
    {
        return Err(refused(format!(
            "the image carries the label {label:?}, which only this node's own images carry"
        )));
    }
    if let Some(volumes) = container.volumes.filter(|v| !v.is_empty()) {
        return Err(refused(format!(
            "the image declares volumes {:?}, which containers of an SF may not have",
            volumes.keys().take(3).collect::<Vec<_>>()
        )));
    }
    Ok(CheckedArchive {
        id: expected_id.to_owned(),
        layers: image.layers.len(),
        architecture: parsed.architecture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `docker save`-shaped archive: `files` in order, then manifest.json.
    fn archive(files: &[(&str, &[u8])], manifest: &str) -> tempfile::NamedTempFile {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files
            .iter()
            .copied()
            .chain([("manifest.json", manifest.as_bytes())])
        {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        }
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b.into_inner().unwrap()).unwrap();
        f
    }

    fn id_of(config: &[u8]) -> String {
        format!(
            "sha256:{}",
            hex::encode(nfwd_tlv::signature::sha256(&[config]))
        )
    }

    const CONFIG: &[u8] = br#"{"architecture":"amd64","os":"linux","config":{"Env":["A=1"]}}"#;

    fn manifest(tags: &str) -> String {
        format!(
            r#"[{{"Config":"{}.json","RepoTags":{tags},"Layers":["l1/layer.tar"]}}]"#,
            &id_of(CONFIG)[7..]
        )
    }

    fn config_name() -> String {
        format!("{}.json", &id_of(CONFIG)[7..])
    }

    #[test]
    fn an_untagged_archive_of_the_named_image_passes() {
        let name = config_name();
        let a = archive(
            &[(&name, CONFIG), ("l1/layer.tar", b"layer")],
            &manifest("null"),
        );
        let checked = check_archive(a.path(), &id_of(CONFIG)).unwrap();
        assert_eq!(checked.layers, 1);
        assert_eq!(checked.architecture, "amd64");
    }

    #[test]
    fn tags_another_image_duplicates_and_volumes_are_refused() {
        let name = config_name();
        let id = id_of(CONFIG);
        let err = |a: &tempfile::NamedTempFile, id: &str| {
            check_archive(a.path(), id).unwrap_err().to_string()
        };
        // A tag in manifest.json.
        let a = archive(&[(&name, CONFIG)], &manifest(r#"["nfwd-sf-wc:1"]"#));
        assert!(err(&a, &id).contains("tags the image"), "{}", err(&a, &id));
        // A tag in the legacy repositories file.
        let a = archive(
            &[(&name, CONFIG), ("repositories", br#"{"x":{"1":"ab"}}"#)],
            &manifest("null"),
        );
        assert!(err(&a, &id).contains("repositories"));
        // An OCI index naming the image.
        let a = archive(
            &[
                (&name, CONFIG),
                (
                    "index.json",
                    br#"{"manifests":[{"annotations":{"io.containerd.image.name":"x:1"}}]}"#,
                ),
            ],
            &manifest("null"),
        );
        assert!(err(&a, &id).contains("index.json names"));
        // The manifest of the package names another image.
        let other = id_of(b"another config");
        let a = archive(&[(&name, CONFIG)], &manifest("null"));
        assert!(err(&a, &other).contains("not the manifest's"));
        // The config twice: the engine might read the other copy.
        let a = archive(&[(&name, CONFIG), (&name, CONFIG)], &manifest("null"));
        assert!(err(&a, &id).contains("appears twice"));
        // Volumes.
        let with_volume: &[u8] = br#"{"os":"linux","config":{"Volumes":{"/data":{}}}}"#;
        let vname = format!("{}.json", &id_of(with_volume)[7..]);
        let vmanifest = format!(r#"[{{"Config":"{vname}","RepoTags":null,"Layers":[]}}]"#);
        let a = archive(&[(&vname, with_volume)], &vmanifest);
        assert!(err(&a, &id_of(with_volume)).contains("declares volumes"));
        // An nfwd label: it would pass for one of this node's images.
        let labelled: &[u8] = br#"{"os":"linux","config":{"Labels":{"nfwd.owner":"h1"}}}"#;
        let lname = format!("{}.json", &id_of(labelled)[7..]);
        let lmanifest = format!(r#"[{{"Config":"{lname}","RepoTags":null,"Layers":[]}}]"#);
        let a = archive(&[(&lname, labelled)], &lmanifest);
        assert!(err(&a, &id_of(labelled)).contains("nfwd.owner"));
        // Two images, none, not a tar, an oversized manifest.
        let two = format!(
            "[{0},{0}]",
            &manifest("null")[1..manifest("null").len() - 1]
        );
        let a = archive(&[(&name, CONFIG)], &two);
        assert!(err(&a, &id).contains("2 images"));
        let a = archive(&[(&name, CONFIG)], "[]");
        assert!(err(&a, &id).contains("0 images"));
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"not a tar at all, just some text").unwrap();
        assert!(check_archive(f.path(), &id).is_err());
        let huge = vec![b' '; (MAX_METADATA_BYTES + 10) as usize];
        let a = archive(&[(&name, CONFIG)], std::str::from_utf8(&huge).unwrap());
        assert!(err(&a, &id).contains("larger than"));
        // Not an ID at all.
        assert!(err(&a, "latest").contains("not an image ID"));
    }

    #[test]
    fn a_path_that_is_not_plain_is_refused() {
        // A second manifest.json under another spelling: the engine would read this one.
        // The tar crate will not write `..` itself: the name goes into the header raw.
        let mut b = tar::Builder::new(Vec::new());
        let bad: &[u8] = br#"[{"Config":"x","RepoTags":["a:1"]}]"#;
        let mut h = tar::Header::new_gnu();
        let raw = b"l1/../manifest.json";
        h.as_gnu_mut().unwrap().name[..raw.len()].copy_from_slice(raw);
        h.set_size(bad.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, bad).unwrap();
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b.into_inner().unwrap()).unwrap();
        let e = check_archive(f.path(), &id_of(CONFIG))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not plain"), "{e}");
    }
}
