//! `.selector-guard.yaml`: found from each input's folder upward (up to the
//! folder holding `.git`), its `settings`, `exclude`, `namespace` and
//! `failOn` under the flags, `--config` and `--no-config`, and the exit 2
//! of a broken one. Each test works in a fresh folder under the temp
//! directory, with a `.git` at its top.

// Tests: a panic is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;
use std::process::Output;

mod common;

/// A DaemonSet with `replicas` (a `specFields` error) and a label kubectl
/// reads as a boolean (a `labelMapValues` error, which `fix` quotes).
const DAEMONSET: &str = "\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: NAME
  labels:
    active: yes
spec:
  replicas: 2
  selector:
    matchLabels:
      app: NAME
  template:
    metadata:
      labels:
        app: NAME
    spec:
      containers:
        - name: agent
          image: agent:1
";

fn daemonset(name: &str) -> String {
    DAEMONSET.replace("NAME", name)
}

/// A folder under the temp directory, removed when dropped.
struct Tree {
    root: PathBuf,
}

impl Tree {
    /// `outer/repo/` with a `.git` folder: the repository is `root()`.
    fn new(name: &str) -> Tree {
        let outer = std::env::temp_dir().join(format!(
            "selector-guard-config-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&outer);
        std::fs::create_dir_all(outer.join("repo/.git")).expect("mkdir");
        Tree { root: outer }
    }

    /// The repository's root.
    fn repo(&self) -> PathBuf {
        self.root.join("repo")
    }

    /// Writes `text` at `path`, relative to the repository's root
    /// (`../x` is above it).
    fn write(&self, path: &str, text: &str) {
        let path = self.repo().join(path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(path, text).expect("written");
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.repo().join(path)).expect("read")
    }

    /// `selector-guard ARGS` in `dir` (relative to the repository's root).
    fn run(&self, dir: &str, args: &[&str]) -> Run {
        self.run_with_stdin(dir, args, None)
    }

    fn run_with_stdin(&self, dir: &str, args: &[&str], stdin: Option<&str>) -> Run {
        Run(common::selector_guard(&self.repo().join(dir), args, stdin))
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

struct Run(Output);

impl Run {
    fn code(&self) -> Option<i32> {
        self.0.status.code()
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// `(file, severity, rule)` of each finding printed, in order.
    fn findings(&self) -> Vec<(String, String, String)> {
        self.stdout()
            .lines()
            .map(|line| {
                let file = line.split(':').next().unwrap_or("").to_owned();
                let severity = if line.contains(": error: ") {
                    "error"
                } else {
                    "warning"
                };
                let rule = line
                    .rsplit_once(" [")
                    .map(|(_, rule)| rule.trim_end_matches(']'))
                    .unwrap_or("")
                    .to_owned();
                (file, severity.to_owned(), rule)
            })
            .collect()
    }
    /// Whether a finding of `rule` with `severity` is printed.
    fn has(&self, severity: &str, rule: &str) -> bool {
        self.findings()
            .iter()
            .any(|(_, s, r)| s == severity && r == rule)
    }
    /// Whether any finding of `rule` is printed.
    fn mentions(&self, rule: &str) -> bool {
        self.findings().iter().any(|(_, _, r)| r == rule)
    }
    fn explain(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}stderr:\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

#[test]
fn a_config_in_a_parent_folder_changes_the_settings() {
    let tree = Tree::new("parent");
    tree.write("apps/agent/ds.yaml", &daemonset("agent"));

    let without = tree.run("apps", &["check", "agent"]);
    assert_eq!(without.code(), Some(1), "{}", without.explain());
    assert!(without.has("error", "specFields"), "{}", without.explain());

    // `off` is the string `off` (read as --settings-path reads settings).
    tree.write(
        ".selector-guard.yaml",
        "settings:\n  specFields: warn\n  labelMapValues: off\n",
    );
    let with = tree.run("apps", &["check", "agent"]);
    assert_eq!(with.code(), Some(0), "{}", with.explain());
    assert!(with.has("warning", "specFields"), "{}", with.explain());
    assert!(!with.mentions("labelMapValues"), "{}", with.explain());
    assert!(without.mentions("labelMapValues"), "{}", without.explain());

    // A file named on the command line and stdin look for it too.
    let named = tree.run("apps/agent", &["check", "ds.yaml"]);
    assert_eq!(
        named.findings(),
        with.findings()
            .iter()
            .map(|(_, s, r)| ("ds.yaml".to_owned(), s.clone(), r.clone()))
            .collect::<Vec<_>>()
    );
    let piped = tree.run_with_stdin("apps", &["check", "-"], Some(&daemonset("agent")));
    assert_eq!(piped.code(), Some(0), "{}", piped.explain());
    assert!(piped.has("warning", "specFields"), "{}", piped.explain());

    // `.selector-guard.yml` is read as well.
    std::fs::rename(
        tree.repo().join(".selector-guard.yaml"),
        tree.repo().join(".selector-guard.yml"),
    )
    .expect("renamed");
    let yml = tree.run("apps", &["check", "agent"]);
    assert!(yml.has("warning", "specFields"), "{}", yml.explain());
    // Both in one folder: which one is meant is unclear.
    tree.write(".selector-guard.yaml", "settings:\n  specFields: off\n");
    let both = tree.run("apps", &["check", "agent"]);
    assert_eq!(both.code(), Some(2), "{}", both.explain());
    assert!(both.stderr().contains("keep one"), "{}", both.explain());
}

#[test]
fn lookup_stops_at_the_repository_root() {
    let tree = Tree::new("root");
    tree.write("ds.yaml", &daemonset("agent"));
    // Above the folder holding `.git`: not this repository's.
    tree.write("../.selector-guard.yaml", "settings:\n  specFields: off\n");
    let out = tree.run("", &["check", "ds.yaml"]);
    assert_eq!(out.code(), Some(1), "{}", out.explain());
    assert!(out.has("error", "specFields"), "{}", out.explain());

    // A worktree's `.git` is a file: it stops the lookup as well.
    std::fs::remove_dir_all(tree.repo().join(".git")).expect("removed");
    tree.write(".git", "gitdir: /elsewhere\n");
    let out = tree.run("", &["check", "ds.yaml"]);
    assert!(out.has("error", "specFields"), "{}", out.explain());

    // Without a `.git`, the lookup goes on up.
    std::fs::remove_file(tree.repo().join(".git")).expect("removed");
    let out = tree.run("", &["check", "ds.yaml"]);
    assert!(!out.mentions("specFields"), "{}", out.explain());
    assert!(out.has("error", "labelMapValues"), "{}", out.explain());

    // The nearest file wins; files do not merge.
    std::fs::create_dir_all(tree.repo().join(".git")).expect("mkdir");
    tree.write("../.selector-guard.yaml", "");
    tree.write(".selector-guard.yaml", "settings:\n  labelMapValues: off\n");
    tree.write(
        "sub/.selector-guard.yaml",
        "settings:\n  specFields: warn\n",
    );
    tree.write("sub/ds.yaml", &daemonset("nested"));
    let out = tree.run("", &["check", "sub/ds.yaml"]);
    assert!(out.has("warning", "specFields"), "{}", out.explain());
    assert!(out.has("error", "labelMapValues"), "{}", out.explain());
}

#[test]
fn exclude_skips_walked_and_named_files() {
    let tree = Tree::new("exclude");
    tree.write("k8s/app/ds.yaml", &daemonset("app"));
    tree.write("k8s/vendor/ds.yaml", &daemonset("vendored"));
    tree.write("k8s/app/ds.generated.yaml", &daemonset("generated"));
    tree.write(
        ".selector-guard.yaml",
        "exclude:\n  - k8s/vendor\n  - '*.generated.yaml'\n",
    );
    let files = |run: &Run| -> Vec<String> {
        let mut files: Vec<String> = run.findings().into_iter().map(|(f, _, _)| f).collect();
        files.dedup();
        files
    };

    let walked = tree.run("", &["check", "k8s"]);
    assert_eq!(walked.code(), Some(1), "{}", walked.explain());
    assert_eq!(files(&walked), ["k8s/app/ds.yaml"], "{}", walked.explain());
    assert!(
        walked.stderr().contains("from 1 file; excluded 2 files"),
        "{}",
        walked.explain()
    );

    // Named on the command line, from another folder: still excluded
    // (patterns are relative to the config file's folder).
    let named = tree.run(
        "k8s/app",
        &["check", "../vendor/ds.yaml", "ds.generated.yaml", "ds.yaml"],
    );
    assert_eq!(files(&named), ["ds.yaml"], "{}", named.explain());

    // `fix` neither reads nor writes an excluded file.
    let out = tree.run("", &["fix", "k8s"]);
    assert_eq!(out.code(), Some(1), "{}", out.explain());
    assert!(tree.read("k8s/app/ds.yaml").contains("active: \"yes\""));
    assert!(tree.read("k8s/vendor/ds.yaml").contains("active: yes"));
    assert!(
        tree.read("k8s/app/ds.generated.yaml")
            .contains("active: yes")
    );
    let out = tree.run("", &["fix", "--check", "k8s/vendor"]);
    assert_eq!(out.code(), Some(0), "{}", out.explain());
    assert_eq!(out.stdout(), "");
}

#[test]
fn a_run_whose_every_input_is_excluded_exits_0() {
    let tree = Tree::new("all-excluded");
    tree.write("vendor/a.yaml", &daemonset("a"));
    tree.write("vendor/b/b.yaml", &daemonset("b"));
    tree.write(".selector-guard.yaml", "exclude: [vendor/]\n");
    for args in [
        &["check", "vendor"][..],
        &["check", "vendor/a.yaml", "vendor/b"],
        &["check", "--format", "json", "vendor"],
    ] {
        let out = tree.run("", args);
        assert_eq!(out.code(), Some(0), "{args:?}: {}", out.explain());
        assert_eq!(out.stdout(), "", "{args:?}");
        assert!(
            out.stderr()
                .contains("0 errors, 0 warnings in 0 objects from 0 files; excluded"),
            "{}",
            out.explain()
        );
    }
}

#[test]
fn namespace_and_fail_on_come_from_the_file_and_the_flags_win() {
    let tree = Tree::new("namespace");
    tree.write("ds.yaml", &daemonset("agent"));
    tree.write(
        ".selector-guard.yaml",
        "settings:\n  specFields: warn\n  labelMapValues: off\nnamespace: shop\nfailOn: warning\n",
    );
    let out = tree.run("", &["check", "ds.yaml"]);
    assert_eq!(out.code(), Some(1), "{}", out.explain());
    assert!(
        out.stdout().contains("DaemonSet shop/agent"),
        "{}",
        out.explain()
    );

    let out = tree.run("", &["check", "--fail-on", "error", "-n", "ops", "ds.yaml"]);
    assert_eq!(out.code(), Some(0), "{}", out.explain());
    assert!(
        out.stdout().contains("DaemonSet ops/agent"),
        "{}",
        out.explain()
    );
}

#[test]
fn settings_flags_override_the_file_key_by_key() {
    let tree = Tree::new("settings");
    tree.write("ds.yaml", &daemonset("agent"));
    tree.write(
        ".selector-guard.yaml",
        "settings:\n  specFields: off\n  labelMapValues: off\n",
    );
    // A key the flag does not give comes from the file.
    let out = tree.run(
        "",
        &[
            "check",
            "--settings-json",
            r#"{"labelMapValues":"warn"}"#,
            "ds.yaml",
        ],
    );
    assert!(!out.mentions("specFields"), "{}", out.explain());
    assert!(out.has("warning", "labelMapValues"), "{}", out.explain());
    // The flag's key wins, under either of specFields' names.
    for flag in [r#"{"specFields":"warn"}"#, r#"{"daemonSetFields":"warn"}"#] {
        let out = tree.run("", &["check", "--settings-json", flag, "ds.yaml"]);
        assert_eq!(out.code(), Some(0), "{flag}: {}", out.explain());
        assert!(
            out.has("warning", "specFields"),
            "{flag}: {}",
            out.explain()
        );
        assert!(!out.mentions("labelMapValues"), "{}", out.explain());
    }
    tree.write("settings.yaml", "specFields: warn\n");
    let out = tree.run(
        "",
        &["check", "--settings-path", "settings.yaml", "ds.yaml"],
    );
    assert!(out.has("warning", "specFields"), "{}", out.explain());
    assert!(!out.mentions("labelMapValues"), "{}", out.explain());
}

#[test]
fn broken_config_files_exit_2_naming_the_key() {
    let tree = Tree::new("broken");
    tree.write("ds.yaml", &daemonset("agent"));
    for (text, wanted) in [
        (
            "exlude: [a]\n",
            ".selector-guard.yaml: unknown key \"exlude\" (expected one of settings, exclude, namespace, failOn)",
        ),
        (
            "settings:\n  specFeilds: warn\n",
            ".selector-guard.yaml: settings: unknown field `specFeilds`",
        ),
        (
            "settings:\n  specFields: maybe\n",
            ".selector-guard.yaml: settings: specFields: unknown variant `maybe`",
        ),
        (
            "settings: [specFields]\n",
            ".selector-guard.yaml: settings: expected a map of setting names to values, got a list",
        ),
        (
            "failOn: all\n",
            ".selector-guard.yaml: failOn: expected \"error\" or \"warning\", got \"all\"",
        ),
        (
            "exclude: [a, b, \"[\"]\n",
            ".selector-guard.yaml: exclude[2]: invalid glob \"[\": ",
        ),
        (
            "exclude: vendor\n",
            ".selector-guard.yaml: exclude: expected a list of glob patterns, got \"vendor\"",
        ),
        (
            "namespace: [a]\n",
            ".selector-guard.yaml: namespace: expected a namespace name, got a list",
        ),
        (
            "- settings\n",
            ".selector-guard.yaml: expected a map with the keys settings, exclude, namespace, failOn, got a list",
        ),
        ("settings: [1\n", ".selector-guard.yaml: invalid YAML"),
    ] {
        tree.write(".selector-guard.yaml", text);
        for command in ["check", "fix"] {
            let out = tree.run("", &[command, "ds.yaml"]);
            assert_eq!(out.code(), Some(2), "{text}: {}", out.explain());
            assert!(
                out.stderr()
                    .starts_with(&format!("selector-guard: {wanted}")),
                "{text}: {}",
                out.explain()
            );
            assert_eq!(out.stdout(), "", "{text}");
        }
        // Nothing was written.
        assert!(tree.read("ds.yaml").contains("active: yes"));
    }
    // Named from a folder below it.
    tree.write(".selector-guard.yaml", "failOn: all\n");
    tree.write("sub/ds.yaml", &daemonset("sub"));
    let out = tree.run("sub", &["check", "ds.yaml"]);
    assert!(
        out.stderr()
            .starts_with("selector-guard: ../.selector-guard.yaml: failOn: "),
        "{}",
        out.explain()
    );
    // An error in the flags' settings is still the flags'.
    tree.write(".selector-guard.yaml", "settings:\n  specFields: warn\n");
    let out = tree.run(
        "",
        &["check", "--settings-json", r#"{"nope":1}"#, "ds.yaml"],
    );
    assert_eq!(out.code(), Some(2), "{}", out.explain());
    assert!(
        out.stderr().contains("Provided settings are not valid"),
        "{}",
        out.explain()
    );
}

#[test]
fn config_and_no_config_flags() {
    let tree = Tree::new("flags");
    tree.write("k8s/ds.yaml", &daemonset("agent"));
    tree.write("k8s/vendor/ds.yaml", &daemonset("vendored"));
    tree.write(".selector-guard.yaml", "settings:\n  specFields: off\n");
    tree.write(
        "ci/strict.yaml",
        "settings:\n  specFields: warn\nexclude: ['../k8s/vendor', 'nothing']\nfailOn: warning\n",
    );

    let out = tree.run("", &["check", "--no-config", "k8s/ds.yaml"]);
    assert_eq!(out.code(), Some(1), "{}", out.explain());
    assert!(out.has("error", "specFields"), "{}", out.explain());

    // `--config`: that file for every input; its patterns are relative to
    // its folder, so a file outside it is never excluded.
    let out = tree.run("", &["check", "--config", "ci/strict.yaml", "k8s"]);
    assert_eq!(out.code(), Some(1), "{}", out.explain());
    assert!(out.has("warning", "specFields"), "{}", out.explain());
    assert_eq!(
        out.findings()
            .iter()
            .filter(|(file, _, rule)| file.contains("vendor") && rule == "specFields")
            .count(),
        1,
        "{}",
        out.explain()
    );

    let out = tree.run("", &["check", "--config", "missing.yaml", "k8s"]);
    assert_eq!(out.code(), Some(2), "{}", out.explain());
    assert!(
        out.stderr()
            .starts_with("selector-guard: missing.yaml: cannot read it"),
        "{}",
        out.explain()
    );

    let out = tree.run(
        "",
        &["check", "--config", "ci/strict.yaml", "--no-config", "k8s"],
    );
    assert_eq!(out.code(), Some(2), "{}", out.explain());
}

#[test]
fn inputs_with_different_config_files_are_separate_runs() {
    let tree = Tree::new("groups");
    tree.write("a/ds.yaml", &daemonset("a"));
    tree.write(
        "a/.selector-guard.yaml",
        "settings:\n  specFields: warn\nnamespace: team-a\n",
    );
    tree.write("b/ds.yaml", &daemonset("b"));
    tree.write("c/ds.yaml", &daemonset("c"));
    tree.write(
        "c/.selector-guard.yaml",
        "settings:\n  specFields: warn\nnamespace: team-a\n",
    );
    let out = tree.run("", &["check", "a", "b", "c/ds.yaml"]);
    assert_eq!(out.code(), Some(1), "{}", out.explain());
    let spec_fields: Vec<(String, String)> = out
        .findings()
        .into_iter()
        .filter(|(_, _, rule)| rule == "specFields")
        .map(|(file, severity, _)| (file, severity))
        .collect();
    assert_eq!(
        spec_fields,
        [
            ("a/ds.yaml".to_owned(), "warning".to_owned()),
            ("b/ds.yaml".to_owned(), "error".to_owned()),
            ("c/ds.yaml".to_owned(), "warning".to_owned()),
        ],
        "{}",
        out.explain()
    );
    assert!(
        out.stdout().contains("DaemonSet team-a/a"),
        "{}",
        out.explain()
    );
    assert!(
        out.stdout().contains("DaemonSet default/b"),
        "{}",
        out.explain()
    );
    assert!(
        out.stderr().contains("in 3 objects from 3 files"),
        "{}",
        out.explain()
    );
}
