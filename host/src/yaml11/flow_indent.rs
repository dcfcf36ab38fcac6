//! Flow collections, and quoted scalars, whose lines are less indented
//! than YAML 1.2 wants.
//!
//! go-yaml v2 has no rule for indentation inside a flow collection: kubectl
//! reads
//!
//! ```yaml
//!     args: [
//!       "--v=2",
//!     ]
//! ```
//!
//! (the `]` under the `a` of `args`) as it reads the same on one line.
//! `saphyr-parser` follows YAML 1.2, where every line of a flow collection
//! in a block must be indented more than the block (`invalid indentation`).
//! Inside a flow collection the spaces that start a line are never content
//! (line folding drops them, in plain and quoted scalars alike), so the
//! reader gives `saphyr-parser` the text with such lines moved right, to
//! one column past the collection's opening bracket, and maps every
//! position back to the text as written ([`Padding::original`]).
//!
//! Which lines to move is learnt from `saphyr-parser` itself: its refusal
//! inside a flow collection names the collection, [`flow_end`] finds where
//! the collection closes, and the reader reads again with that
//! collection's lines moved. The collection must then close exactly there
//! (so only its own lines moved), or the reader keeps the first refusal.

/// Spaces added at the start of lines of a text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Padding {
    /// (0-based line, spaces added to it, spaces added to lines before
    /// it), by line.
    lines: Vec<(usize, usize, usize)>,
}

impl Padding {
    /// No spaces added.
    pub(super) const NONE: Padding = Padding { lines: Vec::new() };

    pub(super) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Spaces added to 0-based `line`.
    fn added(&self, line: usize) -> usize {
        self.lines
            .binary_search_by_key(&line, |&(l, _, _)| l)
            .ok()
            .and_then(|at| self.lines.get(at))
            .map_or(0, |&(_, added, _)| added)
    }

    /// Adds spaces at the start of lines: `more` is (0-based line,
    /// spaces), by line.
    fn add(&mut self, more: &[(usize, usize)]) {
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.lines.len() + more.len());
        let (mut old, mut new) = (self.lines.iter().peekable(), more.iter().peekable());
        loop {
            let next = match (old.peek(), new.peek()) {
                (Some(&&(l, a, _)), Some(&&(m, b))) if l == m => {
                    old.next();
                    new.next();
                    (l, a + b)
                }
                (Some(&&(l, a, _)), Some(&&(m, _))) if l < m => {
                    old.next();
                    (l, a)
                }
                (Some(&&(l, a, _)), None) => {
                    old.next();
                    (l, a)
                }
                (_, Some(&&(m, b))) => {
                    new.next();
                    (m, b)
                }
                (None, None) => break,
            };
            merged.push(next);
        }
        let mut before = 0;
        self.lines = merged
            .into_iter()
            .map(|(l, a)| {
                let entry = (l, a, before);
                before += a;
                entry
            })
            .collect();
    }

    /// `text` with the spaces added.
    pub(super) fn apply(&self, text: &str) -> String {
        let mut out =
            String::with_capacity(text.len() + self.lines.last().map_or(0, |l| l.1 + l.2));
        for (line, content) in text.split_inclusive('\n').enumerate() {
            out.extend(std::iter::repeat_n(' ', self.added(line)));
            out.push_str(content);
        }
        out
    }

    /// A position in the padded text (character offset, 1-based line,
    /// 0-based column) as the character offset and column of the text as
    /// written. A position inside the added spaces is the line's start.
    pub(super) fn original(&self, index: usize, line: usize, column: usize) -> (usize, usize) {
        let line = line.saturating_sub(1);
        let at = self.lines.partition_point(|&(l, _, _)| l < line);
        // Spaces added to the lines before `line`.
        let before = match self.lines.get(at) {
            Some(&(_, _, before)) => before,
            None => self
                .lines
                .last()
                .map_or(0, |&(_, added, before)| added + before),
        };
        let here = self.added(line).min(column);
        (
            index.saturating_sub(before + here),
            column.saturating_sub(here),
        )
    }

    /// Moves `lines` of `padded` (this padding applied to the text;
    /// 1-based, as markers count lines) right, so that each starts at
    /// `column` (0-based) at least: its first character other than a space,
    /// a tab too (saphyr takes a tab left of the indentation for
    /// indentation). Blank lines stay.
    pub(super) fn move_lines(
        &mut self,
        padded: &str,
        lines: std::ops::RangeInclusive<usize>,
        column: usize,
    ) {
        let more: Vec<(usize, usize)> = padded
            .split('\n')
            .enumerate()
            .filter(|(line, _)| lines.contains(&(line + 1)))
            .filter_map(|(line, text)| {
                // Only spaces (one byte each) come before it.
                let first = text.find(|c| !matches!(c, ' ' | '\r'))?;
                (first < column).then(|| (line, column - first))
            })
            .collect();
        self.add(&more);
    }
}

/// The 1-based line and 0-based column of character `index` of `text`.
pub(super) fn line_and_column(text: &str, index: usize) -> (usize, usize) {
    let (mut line, mut column) = (1, 0);
    for c in text.chars().take(index) {
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// The spaces that start 1-based `line` of `text`.
pub(super) fn indentation(text: &str, line: usize) -> usize {
    text.split('\n')
        .nth(line.saturating_sub(1))
        .map_or(0, |text| text.chars().take_while(|c| *c == ' ').count())
}

/// Whether 1-based `line` of `text` holds only blanks.
pub(super) fn is_blank(text: &str, line: usize) -> bool {
    text.split('\n')
        .nth(line.saturating_sub(1))
        .is_none_or(|text| text.trim().is_empty())
}

/// Where the flow collection whose `[` or `{` is character `open` of
/// `text` closes (the character offset of its `]` or `}`), by go-yaml v2's
/// tokens: quoted scalars, comments, and plain scalars (which `,?[]{}`
/// end, as does `:` before a blank). `None` if it does not close.
pub(super) fn flow_end(text: &str, open: usize) -> Option<usize> {
    #[derive(PartialEq)]
    enum At {
        /// Where a token may start.
        Token,
        /// In a plain scalar, or an anchor, tag or alias (`property`).
        Plain { property: bool },
        /// After a token, a quoted scalar or a collection.
        After,
    }
    let chars: Vec<char> = text.chars().skip(open).collect();
    let mut depth = 0usize;
    let mut at = At::Token;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let next = chars.get(i + 1).copied();
        let blank_before = i == 0 || matches!(chars.get(i - 1), Some(' ' | '\t' | '\n' | '\r'));
        match c {
            '[' | '{' => {
                depth += 1;
                at = At::Token;
            }
            ']' | '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(open + i);
                }
                at = At::After;
            }
            ',' | '?' => at = At::Token,
            ':' if matches!(at, At::Plain { property: false })
                && !matches!(next, None | Some(' ' | '\t' | '\n' | '\r')) => {}
            ':' => at = At::Token,
            '#' if blank_before => {
                while !matches!(chars.get(i), None | Some('\n')) {
                    i += 1;
                }
                continue;
            }
            ' ' | '\t' | '\n' | '\r' => {
                if at == (At::Plain { property: true }) {
                    at = At::Token;
                }
            }
            '"' | '\'' if at == At::Token => {
                i += 1;
                loop {
                    match chars.get(i)? {
                        '\\' if c == '"' => i += 1,
                        '\'' if c == '\'' && chars.get(i + 1) == Some(&'\'') => i += 1,
                        q if *q == c => break,
                        _ => {}
                    }
                    i += 1;
                }
                at = At::After;
            }
            '&' | '!' | '*' if at == At::Token => at = At::Plain { property: true },
            _ => {
                if at != (At::Plain { property: true }) {
                    at = At::Plain { property: false };
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn flow_end_follows_tokens() {
        let cases = [
            ("[a, b]", Some(5)),
            ("[a, [b, c], {d: e}] x", Some(18)),
            ("[\"]\", ']''', a]", Some(14)),
            ("[a]b, c]", Some(2)),
            ("[a # ]\n, b]", Some(10)),
            ("[a#], b]", Some(3)),
            ("[&x ']', *x]", Some(11)),
            ("[a \"]\"]", Some(4)),
            ("{a:b, c: d}", Some(10)),
            ("[a?]], b]", Some(3)),
            ("[a, b", None),
            ("[a]]", Some(2)),
        ];
        for (text, end) in cases {
            assert_eq!(flow_end(text, 0), end, "{text}");
        }
    }

    #[test]
    fn padding_maps_positions_back() {
        let text = "a: [\nb,\n  c\n]\n";
        let mut padding = Padding::default();
        padding.move_lines(text, 2..=4, 4);
        let padded = padding.apply(text);
        assert_eq!(padded, "a: [\n    b,\n    c\n    ]\n");
        // `c`: line 3, column 4 padded; column 2 as written.
        let c = padded.find('c').unwrap();
        assert_eq!(padding.original(c, 3, 4), (text.find('c').unwrap(), 2));
        let close = padded.find(']').unwrap();
        assert_eq!(padding.original(close, 4, 4), (text.find(']').unwrap(), 0));
        // Inside the added spaces: the line's start.
        assert_eq!(padding.original(6, 2, 1), (5, 0));
        // Before and after the moved lines.
        assert_eq!(padding.original(3, 1, 3), (3, 3));
        assert_eq!(padding.original(padded.len(), 5, 0), (text.len(), 0));
    }
}
