//! Publishing, end to end through the `xtask` binary: `annotate` and
//! `inspect` on the real `policy.wasm`, then `push` and `pull` against a real
//! OCI registry, Debian's `docker-registry` (CNCF distribution), which each
//! test starts on a free 127.0.0.1 port with its own storage and stops when
//! done. Without the binary the registry tests skip loudly, except under
//! `CI=true`, where they fail.
//!
//! `policy.wasm` must exist at the repository root (`make policy.wasm`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use xtask::metadata::{Metadata, keys};
use xtask::oci::sha256_digest;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
const REPO: &str = "policies/selector-guard";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("publish-{}-{name}", std::process::id()))
}

fn policy_wasm() -> PathBuf {
    let path = root().join("policy.wasm");
    assert!(
        path.exists(),
        "{} is missing: build it with `make policy.wasm` (make test does) before running these tests",
        path.display()
    );
    path
}

fn xtask(args: &[&str]) -> Output {
    Command::new(XTASK)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {XTASK}: {e}"))
}

fn succeeds(args: &[&str]) -> String {
    let out = xtask(args);
    assert!(
        out.status.success(),
        "xtask {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

fn fails(args: &[&str]) -> String {
    let out = xtask(args);
    assert!(!out.status.success(), "xtask {args:?} should have failed");
    String::from_utf8(out.stderr).expect("utf-8 stderr")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

const USAGE: &str = "# selector-guard\n\nUsage text, on\nseveral lines.\n";

/// `policy.wasm` annotated once per test process, with [`USAGE`] as usage.
fn annotated() -> &'static Path {
    static ANNOTATED: OnceLock<PathBuf> = OnceLock::new();
    ANNOTATED.get_or_init(|| {
        let usage = tmp("usage.md");
        std::fs::write(&usage, USAGE).expect("write usage");
        let out = tmp("annotated.wasm");
        let started = Instant::now();
        succeeds(&[
            "annotate",
            "-m",
            "policy-metadata.yml",
            "-u",
            path(&usage),
            "-o",
            path(&out),
            path(&policy_wasm()),
        ]);
        eprintln!("annotate took {:?}", started.elapsed());
        out
    })
}

fn source_metadata() -> Metadata {
    Metadata::from_yaml_file(&root().join("policy-metadata.yml"))
        .expect("policy-metadata.yml is valid")
}

#[test]
fn annotate_then_inspect_returns_the_metadata_with_protocol_and_usage() {
    let plain = std::fs::read(policy_wasm()).expect("read policy.wasm");
    let annotated_bytes = std::fs::read(annotated()).expect("read annotated");
    eprintln!(
        "policy.wasm {} bytes, annotated {} bytes (+{})",
        plain.len(),
        annotated_bytes.len(),
        annotated_bytes.len() - plain.len()
    );
    assert!(
        annotated_bytes.starts_with(&plain),
        "annotate only appends the metadata section"
    );

    let json: Value =
        serde_json::from_str(&succeeds(&["inspect", "-o", "json", path(annotated())]))
            .expect("inspect -o json prints JSON");
    assert_eq!(json["protocolVersion"], "v1");
    assert_eq!(json["annotations"][keys::USAGE], USAGE);
    assert_eq!(json["executionMode"], "kubewarden-wapc");
    assert_eq!(json["mutating"], true);
    assert_eq!(json["backgroundAudit"], true);

    let mut expected = source_metadata();
    expected.protocol_version = Some(xtask::metadata::ProtocolVersion::V1);
    expected.set_annotation(keys::USAGE, USAGE.to_string());
    let embedded: Metadata = serde_json::from_value(json).expect("inspect output is metadata");
    assert_eq!(embedded, expected);

    let yaml = succeeds(&["inspect", path(annotated())]);
    assert!(yaml.starts_with("protocolVersion: v1\n"), "{yaml}");
}

#[test]
fn annotating_again_replaces_the_metadata() {
    let usage = tmp("usage-2.md");
    std::fs::write(&usage, "second").expect("write usage");
    let again = tmp("annotated-twice.wasm");
    succeeds(&[
        "annotate",
        "-m",
        "policy-metadata.yml",
        "-u",
        path(&usage),
        "-o",
        path(&again),
        path(annotated()),
    ]);
    let json: Value =
        serde_json::from_str(&succeeds(&["inspect", "-o", "json", path(&again)])).expect("JSON");
    assert_eq!(json["annotations"][keys::USAGE], "second");
    let bytes = std::fs::read(&again).expect("read");
    let sections = wasmparser::Parser::new(0)
        .parse_all(&bytes)
        .filter(|p| {
            matches!(p, Ok(wasmparser::Payload::CustomSection(r)) if r.name() == xtask::metadata::METADATA_SECTION)
        })
        .count();
    assert_eq!(sections, 1, "one metadata section, not two");
}

#[test]
fn annotate_names_what_is_wrong_with_the_metadata() {
    let metadata =
        std::fs::read_to_string(root().join("policy-metadata.yml")).expect("read metadata");
    let cases = [
        (
            "io.kubewarden.policy.ociUrl:",
            "x-removed:",
            "missing required annotation `io.kubewarden.policy.ociUrl`",
        ),
        (
            "io.artifacthub.displayName:",
            "x-removed:",
            "missing required annotation `io.artifacthub.displayName`",
        ),
        (
            "operations: [\"CREATE\", \"UPDATE\"]",
            "operations: []",
            "rules[0].operations: must not be empty",
        ),
    ];
    for (from, to, message) in cases {
        assert!(metadata.contains(from), "{from}");
        let bad = tmp("bad-metadata.yml");
        std::fs::write(&bad, metadata.replacen(from, to, 1)).expect("write");
        let stderr = fails(&[
            "annotate",
            "-m",
            path(&bad),
            "-o",
            path(&tmp("never.wasm")),
            path(&policy_wasm()),
        ]);
        assert!(stderr.contains(message), "{to}: {stderr}");
    }
    let stderr = fails(&["inspect", path(&policy_wasm())]);
    assert!(stderr.contains("no Kubewarden metadata found"), "{stderr}");
}

/// A CNCF distribution registry on a free loopback port; killed on drop.
struct Registry {
    child: Child,
    dir: PathBuf,
    addr: String,
}

impl Registry {
    /// Starts a registry. The tests that call this are compiled in only
    /// where `docker-registry` should be (see build.rs), and ignored, with
    /// the reason, elsewhere; here a missing binary fails the test.
    fn start(test: &str) -> Option<Registry> {
        let Some(binary) = find_binary("docker-registry") else {
            panic!(
                "{test}: `docker-registry` is not on PATH (CI=true requires it): install it with `apt-get install -y docker-registry`"
            );
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let dir = tmp(&format!("registry-{port}"));
        std::fs::create_dir_all(&dir).expect("registry dir");
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
                dir.join("storage").display()
            ),
        )
        .expect("registry config");
        let log = std::fs::File::create(dir.join("registry.log")).expect("registry log");
        let child = Command::new(binary)
            .args(["serve", path(&config)])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut registry = Registry { child, dir, addr };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = registry.child.try_wait() {
                panic!("docker-registry exited with {status}:\n{}", registry.log());
            }
            if registry.get("/v2/", "").map(|r| r.status) == Some(200) {
                return Some(registry);
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry not ready:\n{}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    fn uri(&self, reference: &str) -> String {
        format!("registry://{}/{reference}", self.addr)
    }

    /// A sources file listing this registry as insecure (or not).
    fn sources(&self, insecure: bool) -> PathBuf {
        let file = self.dir.join(if insecure {
            "insecure.yml"
        } else {
            "secure.yml"
        });
        let list = if insecure {
            format!("[\"{}\"]", self.addr)
        } else {
            "[]".into()
        };
        std::fs::write(&file, format!("insecure_sources: {list}\n")).expect("sources file");
        file
    }

    /// A plain HTTP/1.0 GET, independent of the code under test.
    fn get(&self, path: &str, accept: &str) -> Option<Response> {
        let mut stream = TcpStream::connect(&self.addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: {accept}\r\n\r\n",
            self.addr
        )
        .ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).ok()?;
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Some(Response {
            status,
            headers,
            body: raw[split + 4..].to_vec(),
        })
    }

    fn manifest(&self, reference: &str) -> Response {
        self.get(
            &format!("/v2/{REPO}/manifests/{reference}"),
            "application/vnd.oci.image.manifest.v1+json",
        )
        .expect("the registry answers")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[test]
#[cfg_attr(
    not(has_docker_registry),
    ignore = "needs Debian's docker-registry on PATH (apt-get install -y docker-registry; .ci/run installs it)"
)]
fn push_then_pull_gives_back_the_same_module_under_kwctls_manifest() {
    let Some(registry) =
        Registry::start("push_then_pull_gives_back_the_same_module_under_kwctls_manifest")
    else {
        return;
    };
    let module = std::fs::read(annotated()).expect("read annotated");
    let sources = registry.sources(true);
    let uri = registry.uri(&format!("{REPO}:v0.1.0"));

    let started = Instant::now();
    let stdout = succeeds(&[
        "push",
        "--sources-path",
        path(&sources),
        path(annotated()),
        &uri,
    ]);
    eprintln!(
        "push of {} bytes took {:?}",
        module.len(),
        started.elapsed()
    );
    let immutable = stdout.trim();
    let digest = immutable
        .strip_prefix(&format!("{}/{REPO}@", registry.addr))
        .unwrap_or_else(|| panic!("push printed {immutable:?}, not an immutable reference"));
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );

    // The raw manifest, read with a plain GET.
    let raw = registry.manifest("v0.1.0");
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    assert_eq!(
        sha256_digest(&raw.body),
        digest,
        "the printed digest is the manifest's"
    );
    assert_eq!(raw.header("docker-content-digest"), Some(digest));
    let manifest: Value = serde_json::from_slice(&raw.body).expect("manifest JSON");
    assert_eq!(manifest["schemaVersion"], 2);
    // Like kwctl (oci-client's `OciImageManifest::build`), the media type is
    // the Content-Type the manifest is pushed and served with, not a field.
    assert_eq!(
        raw.header("content-type"),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    assert_eq!(manifest.get("mediaType"), None);
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v1+json"
    );
    assert_eq!(manifest["config"]["size"], 2);
    assert_eq!(manifest["config"]["digest"], sha256_digest(b"{}"));
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.wasm.content.layer.v1+wasm"
    );
    assert_eq!(layers[0]["size"], module.len());
    assert_eq!(layers[0]["digest"], sha256_digest(&module));
    let config = registry
        .get(&format!("/v2/{REPO}/blobs/{}", sha256_digest(b"{}")), "*/*")
        .expect("config blob");
    assert_eq!(config.body, b"{}");

    // Annotations: every single-line metadata annotation, no multi-line one, plus the OCI source.
    let annotations = manifest["annotations"].as_object().expect("annotations");
    let metadata = source_metadata();
    for (key, value) in metadata.annotations.iter().flatten() {
        assert_eq!(
            annotations.get(key).and_then(Value::as_str),
            Some(value.as_str()),
            "{key}"
        );
    }
    assert!(
        !annotations.contains_key(keys::USAGE),
        "multi-line usage must not be a manifest annotation"
    );
    assert_eq!(
        annotations
            .get(keys::OCI_IMAGE_SOURCE)
            .and_then(Value::as_str),
        metadata.annotation(keys::SOURCE)
    );
    assert_eq!(
        annotations.len(),
        metadata.annotations.iter().flatten().count() + 1
    );

    // Pull by tag and by digest: same bytes, same digests.
    for reference in [uri.clone(), format!("registry://{immutable}")] {
        let out = tmp(&format!("pulled-{}.wasm", registry.addr.replace(':', "-")));
        let started = Instant::now();
        succeeds(&[
            "pull",
            "--sources-path",
            path(&sources),
            "-o",
            path(&out),
            &reference,
        ]);
        eprintln!("pull took {:?}", started.elapsed());
        let pulled = std::fs::read(&out).expect("read pulled");
        assert!(
            pulled == module,
            "{reference}: pulled bytes differ from the pushed module"
        );
        assert_eq!(sha256_digest(&pulled), sha256_digest(&module));
    }
}

#[test]
#[cfg_attr(
    not(has_docker_registry),
    ignore = "needs Debian's docker-registry on PATH (apt-get install -y docker-registry; .ci/run installs it)"
)]
fn push_refuses_unannotated_modules_insecure_registries_and_bad_references() {
    let Some(registry) =
        Registry::start("push_refuses_unannotated_modules_insecure_registries_and_bad_references")
    else {
        return;
    };
    let insecure = registry.sources(true);
    let uri = registry.uri(&format!("{REPO}:v0.1.0"));

    let stderr = fails(&[
        "push",
        "--sources-path",
        path(&insecure),
        path(&policy_wasm()),
        &uri,
    ]);
    assert!(stderr.contains("not annotated"), "{stderr}");

    let secure = registry.sources(false);
    let stderr = fails(&[
        "push",
        "--sources-path",
        path(&secure),
        path(annotated()),
        &uri,
    ]);
    assert!(stderr.contains("insecure_sources"), "{stderr}");

    for bad in [
        format!("registry://{}/Policies/UPPER:v1", registry.addr),
        format!("registry://{}/{REPO}:bad tag", registry.addr),
        format!("https://{}/{REPO}:v0.1.0", registry.addr),
        format!("registry://{}/{REPO}@sha256:abc", registry.addr),
    ] {
        let stderr = fails(&[
            "push",
            "--sources-path",
            path(&insecure),
            path(annotated()),
            &bad,
        ]);
        assert!(stderr.contains("malformed reference"), "{bad}: {stderr}");
    }

    assert_eq!(
        registry.manifest("v0.1.0").status,
        404,
        "nothing was pushed"
    );
}

#[test]
#[cfg_attr(
    not(has_docker_registry),
    ignore = "needs Debian's docker-registry on PATH (apt-get install -y docker-registry; .ci/run installs it)"
)]
fn pull_refuses_a_layer_that_does_not_match_its_digest() {
    let Some(registry) = Registry::start("pull_refuses_a_layer_that_does_not_match_its_digest")
    else {
        return;
    };
    let sources = registry.sources(true);
    let uri = registry.uri(&format!("{REPO}:tampered"));
    succeeds(&[
        "push",
        "--sources-path",
        path(&sources),
        path(annotated()),
        &uri,
    ]);

    // Corrupt the stored blob in place: same size, different bytes.
    let module = std::fs::read(annotated()).expect("read annotated");
    let hex = &sha256_digest(&module)["sha256:".len()..];
    let blob = registry.dir.join(format!(
        "storage/docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    let mut bytes = std::fs::read(&blob).unwrap_or_else(|e| panic!("{}: {e}", blob.display()));
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes).expect("tamper");

    let out = tmp("tampered.wasm");
    let stderr = fails(&[
        "pull",
        "--sources-path",
        path(&sources),
        "-o",
        path(&out),
        &uri,
    ]);
    assert!(stderr.to_lowercase().contains("digest"), "{stderr}");
    assert!(
        !out.exists(),
        "nothing is written when the digest does not match"
    );
}
