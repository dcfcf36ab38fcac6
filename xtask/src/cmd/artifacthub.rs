//! `cargo xtask artifacthub [-m policy-metadata.yml] [-q questions-ui.yml] [-o artifacthub-pkg.yml]`:
//! derives `artifacthub-pkg.yml` from the metadata the way
//! `kwctl scaffold artifacthub` does (policy-evaluator's `ArtifactHubPkg`):
//! same header, keys, key order, values and annotations.
//!
//! `createdAt` is the one field kwctl takes from the clock. Here it is
//! `SOURCE_DATE_EPOCH`, else the time of the last commit touching the inputs,
//! so regenerating is reproducible. `--check` compares a committed file with
//! what its inputs produce (at the committed `createdAt`); `--check-version`
//! checks that Cargo.toml, the metadata and the package agree on the version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::metadata::{Metadata, keys};

/// kwctl's header, byte for byte (including the trailing space).
const HEADER: &str = "# Kubewarden Artifacthub Package config
#
# Use this config to submit the policy to https://artifacthub.io.
#
# This config can be saved to its default location with:
#   kwctl scaffold artifacthub > artifacthub-pkg.yml ";

const CONTROLLER_CHART: &str =
    "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller";

#[derive(clap::Args)]
pub struct Args {
    /// The metadata file.
    #[arg(
        short = 'm',
        long = "metadata-path",
        default_value = "policy-metadata.yml"
    )]
    pub metadata: PathBuf,
    /// The Rancher UI questions; defaults to questions-ui.yml when it exists.
    #[arg(short = 'q', long = "questions-path")]
    pub questions: Option<PathBuf>,
    /// Write here instead of stdout (with --check/--check-version: the file to check).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Fail when the package file differs from what the inputs produce.
    #[arg(long, conflicts_with = "check_version")]
    pub check: bool,
    /// Fail when Cargo.toml, the metadata and the package file disagree on the version.
    #[arg(long)]
    pub check_version: bool,
    /// The Cargo.toml whose [package] version --check-version compares.
    #[arg(long, default_value = "Cargo.toml")]
    pub cargo_toml: PathBuf,
}

pub fn main(args: Args) -> anyhow::Result<()> {
    let questions_path = args.questions.clone().or_else(|| {
        let default = PathBuf::from("questions-ui.yml");
        default.exists().then_some(default)
    });
    let package_path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("artifacthub-pkg.yml"));
    if args.check_version {
        return check_versions(&args.cargo_toml, &args.metadata, &package_path);
    }
    let metadata = Metadata::from_yaml_file(&args.metadata)?;
    let questions = questions_path
        .as_deref()
        .map(|path| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        })
        .transpose()?;
    if args.check {
        return check(&package_path, &metadata, questions.as_deref());
    }
    let mut inputs = vec![args.metadata.clone()];
    inputs.extend(questions_path);
    let text = render(&metadata, questions.as_deref(), created_at(&inputs)?)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// The package file for `metadata`, as kwctl writes it.
pub fn render(
    metadata: &Metadata,
    questions: Option<&str>,
    created_at: DateTime<Utc>,
) -> anyhow::Result<String> {
    let package = Package::from_metadata(metadata, questions, created_at)?;
    Ok(format!("{HEADER}\n{}", serde_yaml_ng::to_string(&package)?))
}

/// Fails when `path` differs from what the inputs produce at its own `createdAt`.
pub fn check(path: &Path, metadata: &Metadata, questions: Option<&str>) -> anyhow::Result<()> {
    let committed =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let created_at =
        committed_created_at(&committed).with_context(|| format!("{}", path.display()))?;
    let expected = render(metadata, questions, created_at)?;
    if committed != expected {
        let line = committed
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(expected.lines().count()));
        bail!(
            "{} is stale (first difference at line {}): regenerate it with `cargo xtask artifacthub -o {}`",
            path.display(),
            line + 1,
            path.display()
        );
    }
    Ok(())
}

/// The `createdAt` of a package file.
pub fn committed_created_at(package: &str) -> anyhow::Result<DateTime<Utc>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct CreatedAt {
        created_at: String,
    }
    let parsed: CreatedAt = serde_yaml_ng::from_str(package).context("no createdAt")?;
    Ok(DateTime::parse_from_rfc3339(&parsed.created_at)
        .with_context(|| format!("createdAt {:?} is not RFC 3339", parsed.created_at))?
        .with_timezone(&Utc))
}

/// `SOURCE_DATE_EPOCH`, else the last commit touching `inputs`, else the last commit.
pub fn created_at(inputs: &[PathBuf]) -> anyhow::Result<DateTime<Utc>> {
    let seconds = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value
            .trim()
            .parse::<i64>()
            .with_context(|| format!("SOURCE_DATE_EPOCH={value:?} is not a number of seconds"))?,
        Err(_) => last_commit_time(inputs)
            .or_else(|| last_commit_time(&[]))
            .ok_or_else(|| anyhow!("no commit to date the package from: set SOURCE_DATE_EPOCH"))?,
    };
    DateTime::from_timestamp(seconds, 0)
        .ok_or_else(|| anyhow!("{seconds} is out of range as a date"))
}

fn last_commit_time(paths: &[PathBuf]) -> Option<i64> {
    let mut git = Command::new("git");
    git.args(["log", "-1", "--format=%ct", "--"]).args(paths);
    let output = git.output().ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// Checks that Cargo.toml's `[package].version`, the metadata's
/// `io.kubewarden.policy.version` and the package file's `version` are equal.
pub fn check_versions(cargo_toml: &Path, metadata: &Path, package: &Path) -> anyhow::Result<()> {
    #[derive(Deserialize)]
    struct Manifest {
        package: CargoPackage,
    }
    #[derive(Deserialize)]
    struct CargoPackage {
        version: String,
    }
    #[derive(Deserialize)]
    struct PackageVersion {
        version: String,
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let cargo: Manifest =
        toml::from_str(&read(cargo_toml)?).with_context(|| format!("{}", cargo_toml.display()))?;
    let policy = Metadata::from_yaml_file(metadata)?.version()?.to_string();
    let pkg: PackageVersion = serde_yaml_ng::from_str(&read(package)?)
        .with_context(|| format!("{}", package.display()))?;
    let versions = [
        (cargo_toml.display().to_string(), cargo.package.version),
        (format!("{} {}", metadata.display(), keys::VERSION), policy),
        (package.display().to_string(), pkg.version),
    ];
    if versions.iter().any(|(_, v)| *v != versions[0].1) {
        let list: Vec<String> = versions
            .iter()
            .map(|(where_, v)| format!("{where_}: {v}"))
            .collect();
        bail!("versions disagree: {}", list.join(", "));
    }
    eprintln!("version {} everywhere", versions[0].1);
    Ok(())
}

/// policy-evaluator's `ArtifactHubPkg`; field order is the output order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    version: semver::Version,
    name: String,
    display_name: String,
    created_at: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<String>,
    #[serde(rename = "homeURL", skip_serializing_if = "Option::is_none")]
    home_url: Option<url::Url>,
    containers_images: Vec<ContainerImage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keywords: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<Vec<Link>>,
    install: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    maintainers: Option<Vec<Maintainer>>,
    provider: Named,
    recommendations: Vec<Recommendation>,
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ContainerImage {
    name: &'static str,
    image: String,
}

#[derive(Serialize)]
struct Link {
    name: &'static str,
    url: url::Url,
}

#[derive(Serialize, Debug, PartialEq, Eq)]
struct Maintainer {
    name: String,
    email: String,
}

#[derive(Serialize)]
struct Named {
    name: &'static str,
}

#[derive(Serialize)]
struct Recommendation {
    url: &'static str,
}

/// Why a package cannot be derived; named like policy-evaluator's `ArtifactHubError`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArtifactHubError {
    #[error("missing annotation `{0}`")]
    MissingAnnotation(&'static str),
    #[error("annotation `{annotation}` is not a valid URL: {error}")]
    MalformedUrl {
        annotation: &'static str,
        error: String,
    },
    #[error("annotation `{0}` is not a well-formed comma-separated list")]
    MalformedCsv(&'static str),
    #[error("annotation `{annotation}`: {error}")]
    MalformedEmail {
        annotation: &'static str,
        error: String,
    },
    #[error("the questions file is empty")]
    EmptyQuestionsUi,
}

impl Package {
    fn from_metadata(
        metadata: &Metadata,
        questions: Option<&str>,
        created_at: DateTime<Utc>,
    ) -> anyhow::Result<Package> {
        if questions.is_some_and(str::is_empty) {
            return Err(ArtifactHubError::EmptyQuestionsUi.into());
        }
        let required = |key: &'static str| {
            metadata
                .annotation(key)
                .map(str::to_string)
                .ok_or(ArtifactHubError::MissingAnnotation(key))
        };
        let version = metadata.version()?;
        let oci_url = required(keys::OCI_URL)?;
        let image: oci_client::Reference =
            format!("{oci_url}:v{version}")
                .parse()
                .map_err(|e: oci_client::ParseError| ArtifactHubError::MalformedUrl {
                    annotation: keys::OCI_URL,
                    error: e.to_string(),
                })?;
        let image = image.to_string();
        Ok(Package {
            name: required(keys::TITLE)?,
            display_name: required(keys::DISPLAY_NAME)?,
            created_at: created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            description: required(keys::DESCRIPTION)?,
            license: metadata.annotation(keys::LICENSE).map(str::to_string),
            home_url: metadata
                .annotation(keys::URL)
                .map(|url| parse_url(keys::URL, url))
                .transpose()?,
            keywords: metadata
                .annotation(keys::KEYWORDS)
                .map(parse_keywords)
                .transpose()?,
            links: metadata
                .annotation(keys::SOURCE)
                .map(|source| links(source, &version))
                .transpose()?,
            install: install_text(&image),
            containers_images: vec![ContainerImage {
                name: "policy",
                image,
            }],
            maintainers: metadata
                .annotation(keys::AUTHOR)
                .map(parse_maintainers)
                .transpose()?,
            provider: Named { name: "kubewarden" },
            recommendations: vec![Recommendation {
                url: CONTROLLER_CHART,
            }],
            annotations: annotations(metadata, questions)?,
            version,
        })
    }
}

/// The `install` text `kwctl scaffold artifacthub` writes (kwctl 1.36,
/// policy-evaluator's `src/policy_artifacthub.rs`): the link points at the
/// docs' install page, not at kwctl's repository as in older catalog files.
fn install_text(image: &str) -> String {
    format!(
        "The policy can be obtained using [kwctl](https://docs.kubewarden.io/howtos/install-kwctl):\n\
         ```console\n\
         kwctl pull {image}\n\
         ```\n\
         Then, generate the policy manifest and tune it to your liking. For example:\n\
         ```console\n\
         kwctl scaffold manifest -t ClusterAdmissionPolicy registry://{image}\n\
         ```\n"
    )
}

fn parse_url(annotation: &'static str, value: &str) -> Result<url::Url, ArtifactHubError> {
    url::Url::parse(value).map_err(|e| ArtifactHubError::MalformedUrl {
        annotation,
        error: e.to_string(),
    })
}

/// The policy's release asset (GitHub sources only) and its source.
fn links(source: &str, version: &semver::Version) -> Result<Vec<Link>, ArtifactHubError> {
    let source = parse_url(keys::SOURCE, source)?;
    let mut links = Vec::new();
    if source.host_str() == Some("github.com") {
        let asset = format!(
            "{}/releases/download/v{version}/policy.wasm",
            source.as_str()
        );
        links.push(Link {
            name: "policy",
            url: parse_url(keys::SOURCE, &asset)?,
        });
    }
    links.push(Link {
        name: "source",
        url: source,
    });
    Ok(links)
}

/// `a, b ,c` → `[a, b, c]`; an empty item is an error, as in kwctl.
fn parse_keywords(csv: &str) -> Result<Vec<String>, ArtifactHubError> {
    let keywords: Vec<String> = csv
        .split(',')
        .map(|k| k.trim_matches(' ').to_string())
        .collect();
    if keywords.iter().any(String::is_empty) {
        return Err(ArtifactHubError::MalformedCsv(keys::KEYWORDS));
    }
    Ok(keywords)
}

/// `Name <email>, Other <email2>` → maintainers. kwctl parses this as an
/// RFC 5322 address list; this covers the forms its tests use: `Name <email>`,
/// `"Quoted, Name" <email>`, a bare `email`, and empty items between commas
/// (skipped). An item without a valid address is an error.
fn parse_maintainers(value: &str) -> Result<Vec<Maintainer>, ArtifactHubError> {
    let malformed = |error: String| ArtifactHubError::MalformedEmail {
        annotation: keys::AUTHOR,
        error,
    };
    let mut items = Vec::new();
    let (mut current, mut quoted, mut angle) = (String::new(), false, false);
    for c in value.chars() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    let mut maintainers = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        let (name, email) = match (item.find('<'), item.ends_with('>')) {
            (Some(open), true) => (
                item[..open].trim().trim_matches('"').trim(),
                &item[open + 1..item.len() - 1],
            ),
            (None, false) => ("", item),
            _ => return Err(malformed(format!("{item:?} is not `Name <email>`"))),
        };
        if !is_email(email) {
            return Err(malformed(format!("{email:?} is not an email address")));
        }
        maintainers.push(Maintainer {
            name: name.to_string(),
            email: email.to_string(),
        });
    }
    if maintainers.is_empty() {
        return Err(ArtifactHubError::MalformedCsv(keys::AUTHOR));
    }
    Ok(maintainers)
}

/// `local@domain`, both non-empty, no whitespace or angle brackets, a dotted domain.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let clean = |part: &str| {
        !part.is_empty()
            && !part
                .chars()
                .any(|c| c.is_whitespace() || "<>()[],;:\"@".contains(c))
    };
    clean(local) && clean(domain) && domain.split('.').all(|label| !label.is_empty())
}

/// The `kubewarden/*` annotations Artifact Hub and the Rancher UI read.
fn annotations(
    metadata: &Metadata,
    questions: Option<&str>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    out.insert("kubewarden/mutation".into(), metadata.mutating.to_string());
    if !metadata.context_aware_resources.is_empty() {
        out.insert(
            "kubewarden/contextAwareResources".into(),
            serde_yaml_ng::to_string(&metadata.context_aware_resources)?,
        );
    }
    out.insert(
        "kubewarden/rules".into(),
        serde_yaml_ng::to_string(&metadata.rules)?,
    );
    if let Some(questions) = questions {
        out.insert("kubewarden/questions-ui".into(), questions.to_string());
    }
    if let Some(hidden) = metadata.annotation(keys::HIDDEN_UI) {
        out.insert("kubewarden/hidden-ui".into(), hidden.to_string());
    }
    if let Some(resources) = metadata.annotation(keys::RESOURCES) {
        out.insert("kubewarden/resources".into(), resources.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_text_is_kwctl_1_36s() {
        let image = "ghcr.io/org/policies/p:v1.2.3";
        assert_eq!(
            install_text(image),
            "The policy can be obtained using [kwctl](https://docs.kubewarden.io/howtos/install-kwctl):\n\
             ```console\n\
             kwctl pull ghcr.io/org/policies/p:v1.2.3\n\
             ```\n\
             Then, generate the policy manifest and tune it to your liking. For example:\n\
             ```console\n\
             kwctl scaffold manifest -t ClusterAdmissionPolicy registry://ghcr.io/org/policies/p:v1.2.3\n\
             ```\n"
        );
    }

    #[test]
    fn keywords_parse_like_kwctl() {
        assert_eq!(
            parse_keywords(" foo,bar, faz fiz, baz").expect("valid"),
            ["foo", "bar", "faz fiz", "baz"]
        );
        assert!(parse_keywords("").is_err());
        assert!(parse_keywords("foo,,bar").is_err());
    }

    #[test]
    fn maintainers_parse_like_kwctl() {
        let m = |name: &str, email: &str| Maintainer {
            name: name.into(),
            email: email.into(),
        };
        assert_eq!(
            parse_maintainers("Tux Tuxedo <tux@example.com>, Pidgin <pidgin@example.com>")
                .expect("valid"),
            [
                m("Tux Tuxedo", "tux@example.com"),
                m("Pidgin", "pidgin@example.com")
            ]
        );
        assert_eq!(
            parse_maintainers("Foo <foo@example.com>,,Bar <bar@example.com>").expect("valid"),
            [m("Foo", "foo@example.com"), m("Bar", "bar@example.com")]
        );
        assert_eq!(
            parse_maintainers("\"Doe, Jane\" <jane@example.com>").expect("valid"),
            [m("Doe, Jane", "jane@example.com")]
        );
        for bad in [
            "",
            "Foo missing@chevrons.com, Bar <bar@example.com>",
            "Bar <#$%#$%>",
        ] {
            assert!(parse_maintainers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn links_add_the_release_asset_for_github_sources_only() {
        let v = semver::Version::new(0, 2, 1);
        let urls = |source| -> Vec<String> {
            links(source, &v)
                .expect("valid")
                .iter()
                .map(|l| format!("{}={}", l.name, l.url))
                .collect()
        };
        assert_eq!(
            urls("https://github.com/repo"),
            [
                "policy=https://github.com/repo/releases/download/v0.2.1/policy.wasm",
                "source=https://github.com/repo"
            ]
        );
        assert_eq!(
            urls("https://notgithub.com/repo"),
            ["source=https://notgithub.com/repo"]
        );
        assert!(links("@&*foo", &v).is_err());
    }

    #[test]
    fn created_at_is_rfc3339_like_kwctl() {
        let t = DateTime::from_timestamp(0, 0).expect("epoch");
        assert_eq!(
            t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            committed_created_at("createdAt: 2025-06-12T12:18:10.18473343Z\n").expect("parses"),
            DateTime::parse_from_rfc3339("2025-06-12T12:18:10.18473343Z").expect("valid")
        );
    }
}
