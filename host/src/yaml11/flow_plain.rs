//! Where a plain scalar ends inside a flow collection, as go-yaml v2 ends
//! it.
//!
//! go-yaml v2's scanner (`yaml_parser_scan_plain_scalar` in its
//! `scannerc.go`, from libyaml 0.1) ends a plain scalar in a flow
//! collection at one of `,?[]{}`, and at a `:` only when a blank or a line
//! break follows it, as in block context. YAML 1.2, which `saphyr-parser`
//! follows, also ends it at a `:` before `,[]{}`, and not at `?`. So kubectl
//! reads `{app:}` as the key `app:`, `[app:]` as the item `app:`, and
//! `{a: b:}` as the value `b:`, where a YAML 1.2 reader finds the key `app`
//! (or refuses `{a: b:}`); and kubectl refuses `{url: /x?y}`, which a YAML
//! 1.2 reader reads.
//!
//! [`GoFlowInput`] is `saphyr-parser`'s own string input with go-yaml's
//! rule for where a plain scalar may go on in a flow collection, its `-`
//! before a flow indicator ([`DASH`]), and its blanks and comments after a
//! token ([`GoFlowInput::skip_ws_to_eol`]); every other question is the
//! string input's.
//!
//! A `?` that starts a token in a flow collection is a key indicator for
//! go-yaml, never the start of a scalar. Inside a scalar, it ends the
//! scalar; the scanner then asks again at the same `?`, for the next token,
//! and this time the `?` is let in, so that two scalars stand side by side
//! and the parser refuses them with go-yaml's own words (`did not find
//! expected ',' or '}'`). Where a `?` starts the first token asked about,
//! `saphyr-parser` refuses the empty scalar before it ("unexpected end of
//! plain scalar"); the reader words that refusal (see `yaml11.rs`).

use saphyr_parser::input::{SkipTabs, is_flow};
use saphyr_parser::{Input, StrInput};
use std::cell::Cell;

/// What a `-` right before one of `,[]{}` is shown to `saphyr-parser` as.
/// go-yaml v2 reads `[-]`, `{a: -, b: c}` and `[a -]` as the text `-`;
/// `saphyr-parser` refuses a plain scalar that starts with such a `-`
/// (YAML 1.2's `ns-plain-first`). Shown this noncharacter instead, which
/// YAML allows in a plain scalar and is then nothing but text, it reads
/// what go-yaml reads; the reader gives every event's text its `-` back.
/// Only for a text without the noncharacter (see [`GoFlowInput::new`]).
pub(super) const DASH: char = '\u{FDD0}';

/// `saphyr-parser`'s string input, with go-yaml v2's end of a plain scalar
/// in a flow collection (when `go_yaml`).
pub(super) struct GoFlowInput<'a> {
    inner: StrInput<'a>,
    go_yaml: bool,
    /// `-` before a flow indicator is shown as [`DASH`].
    dash: bool,
    /// The last character skipped on its own was a `-`.
    after_dash: bool,
    /// The last question in a flow collection was refused at a `?`: the
    /// next one, if nothing was consumed in between (so at the same `?`),
    /// lets it in.
    refused_question: Cell<bool>,
}

impl<'a> GoFlowInput<'a> {
    /// The input for `text`; with `go_yaml`, go-yaml v2's rules; with
    /// `dash` ([`GoFlowInput::shows_dash`]), a `-` before a flow indicator
    /// is shown as [`DASH`].
    pub(super) fn new(text: &'a str, go_yaml: bool, dash: bool) -> GoFlowInput<'a> {
        GoFlowInput {
            inner: StrInput::new(text),
            go_yaml,
            dash,
            after_dash: false,
            refused_question: Cell::new(false),
        }
    }
}

impl GoFlowInput<'_> {
    /// Whether a `-` before a flow indicator can be shown as [`DASH`] for
    /// `text`: it has none of its own (the reader then turns every [`DASH`]
    /// of an event back).
    pub(super) fn shows_dash(text: &str, go_yaml: bool) -> bool {
        go_yaml && !text.contains(DASH)
    }

    /// Characters were consumed: the state kept about the last ones ends.
    #[inline]
    fn consumed(&mut self) {
        self.refused_question.set(false);
        self.after_dash = false;
    }
}

impl Input for GoFlowInput<'_> {
    #[inline]
    fn next_can_be_plain_scalar(&self, in_flow: bool) -> bool {
        if !self.go_yaml || !in_flow {
            return self.inner.next_can_be_plain_scalar(in_flow);
        }
        match self.inner.peek() {
            ':' => !saphyr_parser::input::is_blank_or_breakz(self.inner.peek_nth(1)),
            ',' | '[' | ']' | '{' | '}' | '\u{FEFF}' => false,
            '?' => self.refused_question.replace(!self.refused_question.get()),
            _ => {
                self.refused_question.set(false);
                true
            }
        }
    }

    #[inline]
    fn lookahead(&mut self, count: usize) {
        self.inner.lookahead(count);
    }
    #[inline]
    fn buflen(&self) -> usize {
        self.inner.buflen()
    }
    #[inline]
    fn bufmaxlen(&self) -> usize {
        self.inner.bufmaxlen()
    }
    #[inline]
    fn buf_is_empty(&self) -> bool {
        self.inner.buf_is_empty()
    }
    #[inline]
    fn raw_read_ch(&mut self) -> char {
        self.consumed();
        self.inner.raw_read_ch()
    }
    #[inline]
    fn raw_read_non_breakz_ch(&mut self) -> Option<char> {
        self.consumed();
        self.inner.raw_read_non_breakz_ch()
    }
    #[inline]
    fn skip(&mut self) {
        self.refused_question.set(false);
        self.after_dash = self.inner.peek() == '-';
        self.inner.skip();
    }
    #[inline]
    fn skip_n(&mut self, count: usize) {
        self.consumed();
        self.inner.skip_n(count);
    }
    #[inline]
    fn peek(&self) -> char {
        match self.inner.peek() {
            '-' if self.dash && is_flow(self.inner.peek_nth(1)) => DASH,
            c => c,
        }
    }
    #[inline]
    fn peek_nth(&self, n: usize) -> char {
        if n == 0 {
            self.peek()
        } else {
            self.inner.peek_nth(n)
        }
    }
    #[inline]
    fn peek_opt(&self) -> Option<char> {
        self.inner.peek_opt().map(|_| self.peek())
    }
    #[inline]
    fn look_ch(&mut self) -> char {
        self.inner.lookahead(2);
        self.peek()
    }
    #[inline]
    fn next_char_is(&self, c: char) -> bool {
        self.peek() == c
    }
    #[inline]
    fn nth_char_is(&self, n: usize, c: char) -> bool {
        self.peek_nth(n) == c
    }
    #[inline]
    fn next_2_are(&self, c1: char, c2: char) -> bool {
        self.inner.next_2_are(c1, c2)
    }
    #[inline]
    fn next_3_are(&self, c1: char, c2: char, c3: char) -> bool {
        self.inner.next_3_are(c1, c2, c3)
    }
    #[inline]
    fn next_is_document_indicator(&self) -> bool {
        self.inner.next_is_document_indicator()
    }
    #[inline]
    fn next_is_document_start(&self) -> bool {
        self.inner.next_is_document_start()
    }
    #[inline]
    fn next_is_document_end(&self) -> bool {
        self.inner.next_is_document_end()
    }
    /// go-yaml v2 takes a tab for a blank after a token (`a:\tb` is `{a:
    /// b}`), and a `#` right after a token for a comment (`"b"#c`, `[a]#c`,
    /// `|#c`): its `yaml_parser_scan_to_next_token` eats a comment wherever
    /// a token may start.
    #[inline]
    fn skip_ws_to_eol(&mut self, skip_tabs: SkipTabs) -> (usize, Result<SkipTabs, &'static str>) {
        self.refused_question.set(false);
        let after_dash = std::mem::take(&mut self.after_dash);
        let (skipped, result) = self.inner.skip_ws_to_eol(skip_tabs);
        if !self.go_yaml {
            return (skipped, result);
        }
        match result {
            // A block entry's `-` (the only `-` skipped on its own before
            // blanks are): go-yaml eats no tab after it.
            Ok(SkipTabs::Result(true, _)) if after_dash => {
                (skipped, Err("found character that cannot start any token"))
            }
            Ok(SkipTabs::Result(tab, space)) => (skipped, Ok(SkipTabs::Result(tab, space || tab))),
            // Nothing was skipped: a `#` right after the token.
            Err(_) if skipped == 0 && self.inner.peek() == '#' => (
                self.inner.skip_while_non_breakz(),
                Ok(SkipTabs::Result(false, false)),
            ),
            other => (skipped, other),
        }
    }
    #[inline]
    fn next_is_blank_or_break(&self) -> bool {
        self.inner.next_is_blank_or_break()
    }
    #[inline]
    fn next_is_blank_or_breakz(&self) -> bool {
        self.inner.next_is_blank_or_breakz()
    }
    #[inline]
    fn next_is_blank(&self) -> bool {
        self.inner.next_is_blank()
    }
    #[inline]
    fn next_is_break(&self) -> bool {
        self.inner.next_is_break()
    }
    #[inline]
    fn next_is_breakz(&self) -> bool {
        self.inner.next_is_breakz()
    }
    #[inline]
    fn next_is_z(&self) -> bool {
        self.inner.next_is_z()
    }
    #[inline]
    fn next_is_flow(&self) -> bool {
        self.inner.next_is_flow()
    }
    #[inline]
    fn next_is_digit(&self) -> bool {
        self.inner.next_is_digit()
    }
    #[inline]
    fn next_is_alpha(&self) -> bool {
        self.inner.next_is_alpha()
    }
    #[inline]
    fn skip_while_non_breakz(&mut self) -> usize {
        self.consumed();
        self.inner.skip_while_non_breakz()
    }
    #[inline]
    fn skip_while_blank(&mut self) -> usize {
        self.consumed();
        self.inner.skip_while_blank()
    }
    #[inline]
    fn fetch_while_is_alpha(&mut self, out: &mut String) -> usize {
        self.consumed();
        self.inner.fetch_while_is_alpha(out)
    }
    #[inline]
    fn fetch_while_is_yaml_non_space(&mut self, out: &mut String) -> usize {
        self.consumed();
        self.inner.fetch_while_is_yaml_non_space(out)
    }
}
