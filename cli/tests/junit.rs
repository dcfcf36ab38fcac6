//! `selector-guard check --format junit` as a process: the report read
//! back with quick-xml, its counts against the text format's findings,
//! and XML's special characters through a round trip.

// Tests: a panic is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use std::collections::BTreeMap;
use std::path::Path;
mod common;
use common::workspace;

fn selector_guard(dir: &Path, args: &[&str]) -> std::process::Output {
    common::selector_guard(dir, args, None)
}

/// An element as read back: its attributes, text and children.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: BTreeMap<String, String>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn attribute(&self, name: &str) -> &str {
        self.attributes
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("<{}> has no {name}", self.name))
    }

    fn count(&self, name: &str) -> usize {
        self.attribute(name).parse().unwrap()
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn element(start: &BytesStart) -> Element {
    Element {
        name: start.name().as_ref().to_owned(),
        attributes: start
            .attributes()
            .map(|a| {
                let a = a.expect("a well-formed attribute");
                (
                    a.key.as_ref().to_owned(),
                    a.normalized_value(XmlVersion::Explicit1_0)
                        .expect("escaped")
                        .into_owned(),
                )
            })
            .collect(),
        ..Element::default()
    }
}

/// The document's root element, read with quick-xml (entities resolved).
fn parse(xml: &str) -> Element {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut declared = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Decl(decl) => {
                assert_eq!(&*decl.version().unwrap(), "1.0");
                declared = true;
            }
            Event::Start(start) => stack.push(element(&start)),
            Event::Empty(start) => stack.last_mut().unwrap().children.push(element(&start)),
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Text(text) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&text.xml10_content()),
            Event::GeneralRef(reference) => {
                let text = quick_xml::escape::unescape(&format!("&{};", &*reference))
                    .expect("a known entity")
                    .into_owned();
                stack.last_mut().unwrap().text.push_str(&text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(declared, "an XML declaration");
    let mut document = stack.pop().unwrap();
    assert!(stack.is_empty(), "every element closed");
    assert_eq!(document.children.len(), 1, "one root element");
    document.children.pop().unwrap()
}

/// `FILE:LINE:COL: MESSAGE` of the text format's lines of `severity`.
fn text_findings(lines: &str, severity: &str) -> Vec<String> {
    let marker = format!(": {severity}: ");
    lines
        .lines()
        .filter_map(|line| {
            let (place, message) = line.split_once(&marker)?;
            Some(format!("{place}: {message}"))
        })
        .collect()
}

/// The report's counts add up, and it holds the text format's findings:
/// each error a failure, each warning a line of its test case's output.
fn check_report(report: &Element, text: &str) {
    assert_eq!(report.name, "testsuites");
    let suites: Vec<&Element> = report.children("testsuite").collect();
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    let mut failed = Vec::new();
    let mut warned = Vec::new();
    for suite in &suites {
        let cases: Vec<&Element> = suite.children("testcase").collect();
        assert_eq!(suite.count("tests"), cases.len());
        assert_eq!(
            suite.count("failures"),
            cases
                .iter()
                .filter(|c| c.children("failure").count() > 0)
                .count()
        );
        assert_eq!(
            suite.count("errors"),
            cases
                .iter()
                .filter(|c| c.children("error").count() > 0)
                .count()
        );
        tests += suite.count("tests");
        failures += suite.count("failures");
        errors += suite.count("errors");
        for case in cases {
            assert_eq!(case.attribute("classname"), suite.attribute("name"));
            for failure in case.children("failure") {
                // The text: FILE:LINE:COL: MESSAGE, with the message as
                // the attribute.
                assert!(
                    failure.text.ends_with(failure.attribute("message")),
                    "{failure:?}"
                );
                assert!(failure.text.starts_with(suite.attribute("name")));
                assert!(!failure.attribute("type").is_empty());
                failed.push(failure.text.replace(['\r', '\n'], " "));
            }
            for out in case.children("system-out") {
                for line in out.text.lines() {
                    let (place, message) = line.split_once(": warning: ").expect(line);
                    warned.push(format!("{place}: {message}"));
                }
            }
        }
    }
    assert_eq!(report.count("tests"), tests);
    assert_eq!(report.count("failures"), failures);
    assert_eq!(report.count("errors"), errors);
    assert_eq!(failed, text_findings(text, "error"));
    assert_eq!(warned, text_findings(text, "warning"));
}

/// The case table's manifests: a suite per file, a case per object, the
/// text format's errors as failures and its warnings as output.
#[test]
fn manifests_report_the_text_findings() {
    let root = workspace();
    let output = selector_guard(
        &root,
        &["check", "--format", "junit", "test_data/manifests/"],
    );
    assert_eq!(output.status.code(), Some(1));
    let report = parse(&String::from_utf8(output.stdout).unwrap());
    let text = selector_guard(&root, &["check", "test_data/manifests/"]);
    check_report(&report, &String::from_utf8(text.stdout).unwrap());
    assert!(report.count("failures") > 0);

    // One case per object, as the closing line counts them.
    let stderr = String::from_utf8(text.stderr).unwrap();
    let objects: usize = stderr
        .split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect(&stderr)
        .parse()
        .unwrap();
    assert_eq!(report.count("tests"), objects);
    let names: Vec<&str> = report
        .children("testsuite")
        .flat_map(|s| s.children("testcase"))
        .map(|c| c.attribute("name"))
        .collect();
    assert!(names.contains(&"Service default/rng"), "{names:?}");
}

/// `<`, `>`, `&`, quotes and line breaks in file names, keys and reasons
/// come back as they were; an unusable file is a case with an error.
#[test]
fn special_characters_survive() {
    let dir = std::env::temp_dir().join(format!("selector-guard-junit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let name = "a&b <c> \"d\" 'e'.yaml";
    std::fs::write(
        dir.join(name),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    \"x<y>&z\\\"'\": yes\n  ports:\n  - port: 80\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad & <broken>.yaml"), "a: [unclosed\n").unwrap();
    let output = selector_guard(&dir, &["check", "--format", "junit", "."]);
    assert_eq!(output.status.code(), Some(2));
    let xml = String::from_utf8(output.stdout).unwrap();
    let report = parse(&xml);
    let text = selector_guard(&dir, &["check", "."]);
    check_report(&report, &String::from_utf8(text.stdout).unwrap());

    let suite = |file: &str| {
        report
            .children("testsuite")
            .find(|s| s.attribute("name") == file)
            .unwrap_or_else(|| panic!("no suite {file}: {xml}"))
    };
    let service = suite(&format!("./{name}"));
    let case = service.children("testcase").next().unwrap();
    assert_eq!(case.attribute("name"), "Service default/web");
    let failures: Vec<&Element> = case.children("failure").collect();
    assert!(
        failures
            .iter()
            .any(|f| f.attribute("type") == "serviceSelectorValues"
                && f.attribute("message").contains(r#"x<y>&z\"'"#)
                && f.text.contains(r#"x<y>&z\"'"#)),
        "{failures:?}"
    );

    let broken = suite("./bad & <broken>.yaml");
    assert_eq!(
        (
            broken.count("tests"),
            broken.count("failures"),
            broken.count("errors")
        ),
        (1, 0, 1)
    );
    let case = broken.children("testcase").next().unwrap();
    assert_eq!(case.attribute("name"), "./bad & <broken>.yaml");
    let error = case.children("error").next().expect("an <error>");
    assert_eq!(error.attribute("type"), "unusableInput");
    assert!(
        error.text.starts_with("./bad & <broken>.yaml: "),
        "{error:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `--show-suppressed`, a suppressed error is a line of its case's
/// output, marked with its reason, not a failure.
#[test]
fn suppressed_errors_are_output() {
    let dir = std::env::temp_dir().join(format!(
        "selector-guard-junit-suppressed-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("service.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    selector-guard.dev/ignore: serviceSelectorValues\n    selector-guard.dev/ignore-reason: \"the <legacy> & 'odd' selector\"\nspec:\n  selector:\n    active: yes\n  ports:\n  - port: 80\n",
    )
    .unwrap();
    let output = selector_guard(
        &dir,
        &[
            "check",
            "--settings-json",
            r#"{"serviceTargets":"off"}"#,
            "--format",
            "junit",
            "--show-suppressed",
            "service.yaml",
        ],
    );
    assert_eq!(output.status.code(), Some(0));
    let report = parse(&String::from_utf8(output.stdout).unwrap());
    assert_eq!((report.count("tests"), report.count("failures")), (1, 0));
    let case = report
        .children("testsuite")
        .flat_map(|s| s.children("testcase"))
        .next()
        .unwrap();
    assert_eq!(case.children("failure").count(), 0);
    let out = case.children("system-out").next().expect("<system-out>");
    assert!(
        out.text.starts_with("service.yaml:10:13: error: ")
            && out
                .text
                .ends_with("(suppressed: the <legacy> & 'odd' selector)"),
        "{out:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
