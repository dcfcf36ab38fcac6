//! Findings and how they are printed: `FILE:LINE:COL: error|warning:
//! MESSAGE` (the form compilers print and editors follow), one JSON object
//! per line, or GitHub Actions workflow commands.

use serde::Serialize;
use std::fmt::Write as _;

/// The pseudo-rule of a file that cannot be read (or whose YAML kubectl
/// cannot parse), or an object the policy failed on.
pub const UNUSABLE_INPUT: &str = "unusableInput";
/// The pseudo-rule of an object given twice among the inputs.
pub const DUPLICATE_OBJECT: &str = "duplicateObject";
/// The pseudo-rule of a `selector-guard.dev/ignore` annotation that
/// cannot be honoured (no `ignore-reason` beside it, an unknown rule ID).
pub const IGNORE_ANNOTATION: &str = "ignoreAnnotation";

/// The findings no rule of the policy makes, with what each means: every
/// output format declares them beside the policy's rules.
pub const PSEUDO_RULES: &[(&str, &str)] = &[
    (
        UNUSABLE_INPUT,
        "A file that cannot be read, whose YAML kubectl cannot parse, or an object the policy failed on",
    ),
    (
        DUPLICATE_OBJECT,
        "An object given twice among the inputs: kubectl applies both, and the later one wins",
    ),
    (
        IGNORE_ANNOTATION,
        "A selector-guard.dev/ignore annotation without a selector-guard.dev/ignore-reason beside it, or naming an unknown rule",
    ),
];

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// kubectl would send something the policy rejects or rewrites.
    Error,
    /// The policy accepts, with a warning.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding at a place in a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The file, as given (`-` for stdin, a helm template's path).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// The ID of the rule that made it (its settings key).
    pub rule: String,
    /// `Kind namespace/name`.
    pub object: String,
    /// The field it is about (`spec.replicas`, `spec.selector[active]`);
    /// empty for the object as a whole.
    pub path: String,
    /// What is wrong, and the fix, ending with `[rule]`.
    pub message: String,
    /// Why it is suppressed (the `selector-guard.dev/ignore-reason`
    /// annotation), for a finding an annotation suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

/// How findings are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `FILE:LINE:COL: error: MESSAGE`.
    Text,
    /// One JSON object per line: file, line, column, severity, rule, object, path, message.
    Json,
    /// GitHub Actions annotations (`::error file=F,line=L,col=C::MESSAGE`).
    Github,
    /// One SARIF 2.1.0 log (GitHub code scanning, editors), with the rules
    /// and the fixes `fix` would make.
    Sarif,
    /// One JUnit XML report: a test suite per file, a test case per object.
    Junit,
}

impl Finding {
    /// The finding as one line (no newline) in `format`.
    pub fn render(&self, format: Format) -> String {
        let message = match &self.suppressed {
            None => self.message.clone(),
            Some(reason) => format!("{} (suppressed: {reason})", self.message),
        };
        match format {
            // SARIF and JUnit are whole documents; a finding's line there is
            // the text one.
            Format::Text | Format::Sarif | Format::Junit => format!(
                "{}:{}:{}: {}: {}",
                self.file,
                self.line,
                self.column,
                self.severity.as_str(),
                message.replace(['\r', '\n'], " ")
            ),
            Format::Json => serde_json::to_string(self).unwrap_or_default(),
            Format::Github => {
                let mut out = String::new();
                let _ = write!(
                    out,
                    "::{} file={},line={},col={},title={}::{}",
                    self.severity.as_str(),
                    github_property(&self.file),
                    self.line,
                    self.column,
                    github_property(&format!("selector-guard {}: {}", self.rule, self.object)),
                    github_data(&message)
                );
                out
            }
        }
    }
}

/// A workflow command's message: `%`, `\r` and `\n` escaped.
pub fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as [`github_data`], plus `:` and `,`.
pub fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(message: &str) -> Finding {
        Finding {
            file: "a,b:c.yaml".into(),
            line: 3,
            column: 5,
            severity: Severity::Error,
            rule: "serviceSelectorValues".into(),
            object: "Service default/rng".into(),
            path: "spec.selector[active]".into(),
            message: message.into(),
            suppressed: None,
        }
    }

    #[test]
    fn formats() {
        let f = finding("50% off\nnow: yes, really");
        assert_eq!(
            f.render(Format::Text),
            "a,b:c.yaml:3:5: error: 50% off now: yes, really"
        );
        assert_eq!(
            f.render(Format::Github),
            "::error file=a%2Cb%3Ac.yaml,line=3,col=5,title=selector-guard serviceSelectorValues%3A Service default/rng::50%25 off%0Anow: yes, really"
        );
        assert_eq!(
            f.render(Format::Json),
            r#"{"file":"a,b:c.yaml","line":3,"column":5,"severity":"error","rule":"serviceSelectorValues","object":"Service default/rng","path":"spec.selector[active]","message":"50% off\nnow: yes, really"}"#
        );
    }
}
