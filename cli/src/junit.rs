//! `check --format junit`: the findings as one JUnit XML report, for CI
//! systems that show test results (GitLab's `artifacts:reports:junit`,
//! Jenkins, Azure Pipelines).
//!
//! - `<testsuites>` holds a `<testsuite>` per file that findings name (in
//!   input order), and each a `<testcase>` per object: its name is the
//!   object's `Kind namespace/name`, its classname the file.
//! - Each error is a `<failure message="MESSAGE" type="RULE">` whose text
//!   is `FILE:LINE:COL: MESSAGE`; warnings (and, with `--show-suppressed`,
//!   suppressed findings, marked with their reason) are lines of the test
//!   case's `<system-out>`, as the text format prints them.
//! - A file that cannot be read is a test case of its own (named after the
//!   file) with an `<error type="unusableInput">`; so is an object the
//!   policy failed on.
//! - `tests` counts test cases, `failures` the test cases with a failure,
//!   `errors` those with an error (as in Ant's format, where a test case
//!   fails once; here it holds one `<failure>` per error).
//!
//! quick-xml writes the document and escapes every text and attribute.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::check::{Collected, Item};
use crate::findings::{Finding, Format, Severity, UNUSABLE_INPUT};

/// One `<testcase>`, and what its suite counts.
struct Case<'a> {
    item: &'a Item,
    /// The errors shown.
    failures: Vec<&'a Finding>,
    /// The `<system-out>` lines: warnings, and suppressed findings when shown.
    out: Vec<String>,
}

impl Case<'_> {
    fn name(&self) -> &str {
        self.item.object.as_deref().unwrap_or(&self.item.file)
    }
}

/// The test cases of one file, in input order.
struct Suite<'a> {
    file: &'a str,
    cases: Vec<Case<'a>>,
}

impl Suite<'_> {
    /// `tests`, `failures`, `errors`.
    fn counts(&self) -> (usize, usize, usize) {
        let errors = self
            .cases
            .iter()
            .filter(|c| c.item.failure.is_some())
            .count();
        let failures = self
            .cases
            .iter()
            .filter(|c| c.item.failure.is_none() && !c.failures.is_empty())
            .count();
        (self.cases.len(), failures, errors)
    }
}

/// The suites of `collected`: items grouped by the file they name, in the
/// order files first appear.
fn suites(collected: &Collected, show_suppressed: bool) -> Vec<Suite<'_>> {
    let mut suites: Vec<Suite> = Vec::new();
    for item in &collected.items {
        let mut shown: Vec<&Finding> = item.findings.iter().collect();
        if show_suppressed {
            shown.extend(&item.suppressed);
            shown.sort_by_key(|f| (f.line, f.column));
        }
        let mut case = Case {
            item,
            failures: Vec::new(),
            out: Vec::new(),
        };
        for finding in shown {
            if finding.severity == Severity::Error && finding.suppressed.is_none() {
                case.failures.push(finding);
            } else {
                case.out.push(finding.render(Format::Text));
            }
        }
        match suites.iter_mut().find(|s| s.file == item.file) {
            Some(suite) => suite.cases.push(case),
            None => suites.push(Suite {
                file: &item.file,
                cases: vec![case],
            }),
        }
    }
    suites
}

/// Text XML 1.0 can hold: the control characters it forbids (all but tab,
/// line feed and carriage return) become U+FFFD. Escaping is quick-xml's.
fn xml_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c.is_control() && u32::from(c) < 0x20 => '\u{FFFD}',
            '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// An attribute value on one line: a parser would read a line break in an
/// attribute as a space anyway.
fn xml_attribute(text: &str) -> String {
    xml_text(&text.replace("\r\n", " ").replace(['\r', '\n'], " "))
}

/// Writes `collected` as one JUnit XML document to `out`.
pub fn write(
    collected: &Collected,
    show_suppressed: bool,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let suites = suites(collected, show_suppressed);
    let total = suites.iter().fold((0, 0, 0), |(t, f, e), suite| {
        let (tests, failures, errors) = suite.counts();
        (t + tests, f + failures, e + errors)
    });
    let mut writer = Writer::new_with_indent(&mut *out, b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer
        .create_element("testsuites")
        .with_attributes([
            ("name", "selector-guard"),
            ("tests", total.0.to_string().as_str()),
            ("failures", total.1.to_string().as_str()),
            ("errors", total.2.to_string().as_str()),
        ])
        .write_inner_content(|writer| {
            for suite in &suites {
                write_suite(writer, suite)?;
            }
            Ok(())
        })?;
    writeln!(out)
}

fn write_suite<W: io::Write>(writer: &mut Writer<W>, suite: &Suite) -> io::Result<()> {
    let (tests, failures, errors) = suite.counts();
    let file = xml_attribute(suite.file);
    writer
        .create_element("testsuite")
        .with_attributes([
            ("name", file.as_str()),
            ("tests", tests.to_string().as_str()),
            ("failures", failures.to_string().as_str()),
            ("errors", errors.to_string().as_str()),
        ])
        .write_inner_content(|writer| {
            for case in &suite.cases {
                write_case(writer, &file, case)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn write_case<W: io::Write>(writer: &mut Writer<W>, file: &str, case: &Case) -> io::Result<()> {
    let name = xml_attribute(case.name());
    let element = writer
        .create_element("testcase")
        .with_attributes([("name", name.as_str()), ("classname", file)]);
    if case.failures.is_empty() && case.out.is_empty() && case.item.failure.is_none() {
        element.write_empty()?;
        return Ok(());
    }
    element.write_inner_content(|writer| {
        if let Some(why) = &case.item.failure {
            let text = match case.item.object {
                None => format!("{}: {why}", case.item.file),
                Some(_) => format!(
                    "{}:{}:{}: {why}",
                    case.item.file, case.item.line, case.item.column
                ),
            };
            writer
                .create_element("error")
                .with_attributes([
                    ("message", xml_attribute(why).as_str()),
                    ("type", UNUSABLE_INPUT),
                ])
                .write_text_content(BytesText::new(&xml_text(&text)))?;
        }
        for finding in &case.failures {
            let text = format!(
                "{}:{}:{}: {}",
                finding.file, finding.line, finding.column, finding.message
            );
            writer
                .create_element("failure")
                .with_attributes([
                    ("message", xml_attribute(&finding.message).as_str()),
                    ("type", xml_attribute(&finding.rule).as_str()),
                ])
                .write_text_content(BytesText::new(&xml_text(&text)))?;
        }
        if !case.out.is_empty() {
            writer
                .create_element("system-out")
                .write_text_content(BytesText::new(&xml_text(&case.out.join("\n"))))?;
        }
        Ok(())
    })?;
    Ok(())
}
