//! OCI registry access for policies, the way kwctl does it (policy-fetcher's
//! `Registry`): one manifest with a `{}` wasm config and one wasm layer,
//! HTTPS first, and plain HTTP only for registries the sources file lists as
//! insecure. Credentials come from the docker config (`$DOCKER_CONFIG` or
//! `~/.docker/config.json`, including credential helpers) when present.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use oci_client::client::{
    Certificate, CertificateEncoding, ClientConfig, ClientProtocol, Config, ImageLayer,
};
use oci_client::manifest::{OciImageManifest, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::metadata::{Metadata, keys};

pub use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;

/// The scheme of policy references, as kwctl and policy-server spell it.
pub const SCHEME: &str = "registry://";

/// kwctl's sources file (`--sources-path`, or `~/.config/kubewarden/sources.yaml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// `HOST[:PORT]` entries that may be reached without TLS verification,
    /// and then over plain HTTP.
    #[serde(default)]
    pub insecure_sources: BTreeSet<String>,
    /// Extra CA certificates per `HOST[:PORT]`.
    #[serde(default)]
    pub source_authorities: BTreeMap<String, Vec<SourceAuthority>>,
}

/// One CA certificate, PEM or DER, inline or in a file.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum SourceAuthority {
    Path { path: PathBuf },
    Data { data: String },
}

impl Sources {
    /// Reads `path`, or kwctl's default location when `path` is `None` and the
    /// file exists there; otherwise no insecure sources and no extra CAs.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Sources> {
        let path = match path {
            Some(path) => path.to_path_buf(),
            None => match default_sources_path() {
                Some(path) if path.exists() => path,
                _ => return Ok(Sources::default()),
            },
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read sources file {}", path.display()))?;
        serde_yaml_ng::from_str(&text)
            .with_context(|| format!("invalid sources file {}", path.display()))
    }

    pub fn is_insecure(&self, host_and_port: &str) -> bool {
        self.insecure_sources.contains(host_and_port)
    }

    fn certificates(&self, host_and_port: &str) -> anyhow::Result<Vec<Certificate>> {
        let Some(authorities) = self.source_authorities.get(host_and_port) else {
            return Ok(Vec::new());
        };
        authorities
            .iter()
            .map(|authority| {
                let data = match authority {
                    SourceAuthority::Data { data } => data.as_bytes().to_vec(),
                    SourceAuthority::Path { path } => std::fs::read(path).with_context(|| {
                        format!("cannot read CA certificate {}", path.display())
                    })?,
                };
                let encoding = if data.starts_with(b"-----BEGIN") {
                    CertificateEncoding::Pem
                } else {
                    CertificateEncoding::Der
                };
                Ok(Certificate { encoding, data })
            })
            .collect()
    }
}

fn default_sources_path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("kubewarden").join("sources.yaml"))
}

/// A parsed `registry://HOST[:PORT]/REPO[:TAG][@DIGEST]` reference. A bare
/// `HOST/REPO:TAG` is accepted too, as kwctl does; other schemes are refused.
#[derive(Debug, Clone)]
pub struct PolicyRef {
    pub reference: Reference,
}

impl PolicyRef {
    pub fn parse(uri: &str) -> anyhow::Result<PolicyRef> {
        let bare = match uri.split_once("://") {
            None => uri,
            Some(("registry", rest)) => rest,
            Some((scheme, _)) => {
                bail!(
                    "malformed reference {uri:?}: scheme `{scheme}://` is not supported, use {SCHEME}HOST[:PORT]/REPO:TAG"
                )
            }
        };
        let reference: Reference = bare
            .parse()
            .map_err(|e| anyhow!("malformed reference {uri:?}: {e}"))?;
        if reference.repository().is_empty() {
            bail!("malformed reference {uri:?}: no repository");
        }
        Ok(PolicyRef { reference })
    }

    /// `HOST[:PORT]`, the key of `insecure_sources` and of the docker config.
    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// `HOST[:PORT]/REPO@DIGEST`, what kwctl prints after a push.
    pub fn immutable(&self, digest: &str) -> String {
        format!(
            "{}/{}@{digest}",
            self.reference.registry(),
            self.reference.repository()
        )
    }
}

/// What a push produced.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `HOST[:PORT]/REPO@sha256:...`
    pub immutable_ref: String,
    /// `sha256:...` of the manifest.
    pub manifest_digest: String,
    /// `sha256:...` of the module, the layer.
    pub layer_digest: String,
}

/// What a pull produced.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub module: Vec<u8>,
    pub manifest_digest: String,
    pub layer_digest: String,
}

/// The manifest annotations kwctl derives from the metadata annotations:
/// single-line ones only (OCI annotations are single-line), plus
/// `org.opencontainers.image.source` from `io.kubewarden.policy.source`
/// unless already set.
pub fn manifest_annotations(metadata: &Metadata) -> BTreeMap<String, String> {
    let mut annotations: BTreeMap<String, String> = metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(_, value)| value.lines().count() <= 1)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if let Some(source) = annotations.get(keys::SOURCE).cloned() {
        annotations
            .entry(keys::OCI_IMAGE_SOURCE.to_string())
            .or_insert(source);
    }
    annotations
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Pushes an annotated module. Refuses a module without embedded metadata,
/// like kwctl without `--force`, and one without the `protocolVersion`
/// policy-server needs.
pub fn push(module: &[u8], destination: &str, sources: &Sources) -> anyhow::Result<Pushed> {
    let metadata = Metadata::from_module(module)?.ok_or_else(|| {
        anyhow!("cannot push a policy that is not annotated: run `cargo xtask annotate` first")
    })?;
    metadata
        .validate_protocol()
        .context("cannot push a policy that policy-server would refuse")?;
    let target = PolicyRef::parse(destination)?;
    let layers = vec![ImageLayer::new(
        module.to_vec(),
        WASM_LAYER_MEDIA_TYPE.to_string(),
        None,
    )];
    let config = Config::new(b"{}".to_vec(), WASM_CONFIG_MEDIA_TYPE.to_string(), None);
    let manifest = OciImageManifest::build(&layers, &config, Some(manifest_annotations(&metadata)));
    let layer_digest = sha256_digest(module);
    let auth = registry_auth(target.registry());

    let manifest_url = with_fallback(&target, sources, "push", |client| {
        let (layers, config, manifest, auth, reference) = (
            layers.clone(),
            config.clone(),
            manifest.clone(),
            auth.clone(),
            target.reference.clone(),
        );
        async move {
            client
                .push(&reference, &layers, config, &auth, Some(manifest))
                .await
                .map(|response| response.manifest_url)
        }
    })?;
    let manifest_digest = digest_of_manifest_url(&manifest_url)?;
    Ok(Pushed {
        immutable_ref: target.immutable(&manifest_digest),
        manifest_digest,
        layer_digest,
    })
}

/// Pulls a policy and checks it: one wasm layer whose bytes hash to the
/// layer digest, the wasm magic, and, when the reference names a digest,
/// that the manifest has that digest.
pub fn pull(source: &str, sources: &Sources) -> anyhow::Result<Pulled> {
    let target = PolicyRef::parse(source)?;
    let auth = registry_auth(target.registry());
    let image = with_fallback(&target, sources, "pull", |client| {
        let (auth, reference) = (auth.clone(), target.reference.clone());
        async move {
            client
                .pull(&reference, &auth, vec![WASM_LAYER_MEDIA_TYPE])
                .await
        }
    })?;
    let manifest = image
        .manifest
        .ok_or_else(|| anyhow!("{source}: the registry returned no manifest"))?;
    let manifest_digest = image
        .digest
        .ok_or_else(|| anyhow!("{source}: the registry returned no manifest digest"))?;
    if let Some(wanted) = target.reference.digest()
        && wanted != manifest_digest
    {
        bail!("{source}: manifest digest is {manifest_digest}, not {wanted}");
    }
    let [descriptor] = manifest.layers.as_slice() else {
        bail!(
            "{source}: expected one layer, found {}",
            manifest.layers.len()
        );
    };
    let [layer] = image.layers.as_slice() else {
        bail!(
            "{source}: expected one layer, received {}",
            image.layers.len()
        );
    };
    let layer_digest = sha256_digest(&layer.data);
    if layer_digest != descriptor.digest {
        bail!(
            "{source}: layer digest mismatch: manifest says {}, content is {layer_digest}",
            descriptor.digest
        );
    }
    if !layer.data.starts_with(b"\0asm") {
        bail!("{source}: the layer is not a wasm module");
    }
    Ok(Pulled {
        module: layer.data.to_vec(),
        manifest_digest,
        layer_digest,
    })
}

/// Runs `op` over HTTPS (system roots plus the source's CA certificates);
/// when that fails and the registry is insecure, retries over HTTPS without
/// verification, then over plain HTTP: policy-fetcher's order.
fn with_fallback<T, F, Fut>(
    target: &PolicyRef,
    sources: &Sources,
    what: &str,
    op: F,
) -> anyhow::Result<T>
where
    F: Fn(Client) -> Fut,
    Fut: Future<Output = Result<T, oci_client::errors::OciDistributionError>>,
{
    install_crypto_provider();
    let registry = target.registry();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let https = client(
        ClientProtocol::Https,
        sources.certificates(registry)?,
        false,
    );
    let first = match runtime.block_on(op(https)) {
        Ok(value) => return Ok(value),
        Err(err) => err,
    };
    if !sources.is_insecure(registry) {
        return Err(anyhow::Error::new(first).context(format!(
            "{what} {registry} over HTTPS failed; plain HTTP is used only for registries listed in `insecure_sources` of the sources file (--sources-path)"
        )));
    }
    if let Ok(value) = runtime.block_on(op(client(ClientProtocol::Https, Vec::new(), true))) {
        return Ok(value);
    }
    runtime
        .block_on(op(client(ClientProtocol::Http, Vec::new(), false)))
        .map_err(|err| {
            anyhow::Error::new(err).context(format!("{what} {registry} over HTTP failed"))
        })
}

fn client(protocol: ClientProtocol, certificates: Vec<Certificate>, no_verify: bool) -> Client {
    Client::new(ClientConfig {
        protocol,
        extra_root_certificates: certificates,
        accept_invalid_certificates: no_verify,
        connect_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    })
}

/// reqwest is built without a default rustls provider; pick ring once.
fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Credentials for `registry` from the docker config, anonymous otherwise.
fn registry_auth(registry: &str) -> RegistryAuth {
    match docker_credential::get_credential(registry) {
        Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
            RegistryAuth::Basic(user, password)
        }
        Ok(docker_credential::DockerCredential::IdentityToken(_)) => {
            eprintln!(
                "warning: identity-token credentials for {registry} are not supported; pushing anonymously"
            );
            RegistryAuth::Anonymous
        }
        Err(_) => RegistryAuth::Anonymous,
    }
}

/// The digest at the end of the manifest URL a push returns
/// (`.../v2/REPO/manifests/sha256:HEX`), checked as kwctl checks it.
fn digest_of_manifest_url(url: &str) -> anyhow::Result<String> {
    let digest = url
        .rsplit_once('/')
        .map(|(_, digest)| digest)
        .ok_or_else(|| anyhow!("cannot find the manifest digest in {url:?}"))?;
    let valid = match digest.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64,
        Some(("sha512", hex)) => hex.len() == 128,
        _ => false,
    } && digest
        .split_once(':')
        .is_some_and(|(_, hex)| hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !valid {
        bail!("the registry returned an invalid manifest digest in {url:?}");
    }
    Ok(digest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_like_kwctl() {
        let r = PolicyRef::parse("registry://127.0.0.1:5000/policies/selector-guard:v0.1.0")
            .expect("valid");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.reference.repository(), "policies/selector-guard");
        assert_eq!(r.reference.tag(), Some("v0.1.0"));
        assert_eq!(
            r.immutable("sha256:00"),
            "127.0.0.1:5000/policies/selector-guard@sha256:00"
        );
        let bare = PolicyRef::parse("ghcr.io/o/p:v1").expect("bare");
        assert_eq!(bare.registry(), "ghcr.io");
        for bad in [
            "https://ghcr.io/o/p:v1",
            "registry://",
            "registry://Host/UPPER:v1",
            "registry://host/repo:bad tag",
            "registry://host/repo@sha256:short",
        ] {
            let err = PolicyRef::parse(bad).expect_err(bad);
            assert!(
                format!("{err:#}").contains("malformed reference"),
                "{bad}: {err:#}"
            );
        }
    }

    #[test]
    fn manifest_annotations_drop_multiline_values_and_add_the_oci_source() {
        let mut m = Metadata::from_yaml_str(
            "mutating: true\nannotations:\n  io.kubewarden.policy.title: t\n  io.kubewarden.policy.version: 0.1.0\n  io.kubewarden.policy.description: d\n  io.kubewarden.policy.ociUrl: o\n  io.artifacthub.displayName: T\n  io.kubewarden.policy.source: https://github.com/o/p\n",
        )
        .expect("valid");
        m.set_annotation(keys::USAGE, "line 1\nline 2\n".into());
        let a = manifest_annotations(&m);
        assert!(!a.contains_key(keys::USAGE));
        assert_eq!(
            a.get(keys::OCI_IMAGE_SOURCE).map(String::as_str),
            Some("https://github.com/o/p")
        );
        assert_eq!(a.get(keys::TITLE).map(String::as_str), Some("t"));
    }

    #[test]
    fn sources_files_in_kwctl_format_parse() {
        let s: Sources = serde_yaml_ng::from_str(
            "insecure_sources: [\"127.0.0.1:5000\"]\nsource_authorities:\n  \"r.example.com:5500\":\n  - type: Data\n    data: \"-----BEGIN CERTIFICATE-----\"\n",
        )
        .expect("parses");
        assert!(s.is_insecure("127.0.0.1:5000"));
        assert!(!s.is_insecure("127.0.0.1"));
        assert_eq!(
            s.certificates("r.example.com:5500").expect("inline").len(),
            1
        );
        assert!(serde_yaml_ng::from_str::<Sources>("insecure: []").is_err());
    }

    #[test]
    fn manifest_digests_are_checked() {
        let hex = "a".repeat(64);
        assert_eq!(
            digest_of_manifest_url(&format!("http://h/v2/r/manifests/sha256:{hex}"))
                .expect("valid"),
            format!("sha256:{hex}")
        );
        assert!(digest_of_manifest_url("http://h/v2/r/manifests/sha256:abc").is_err());
        assert!(digest_of_manifest_url(&format!("http://h/v2/r/manifests/md5:{hex}")).is_err());
    }
}
