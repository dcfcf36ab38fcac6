# kubectl's reading of whole documents: merge keys, !!binary, tags, keys,
# document separators and directives, alias limits. Each case is a file
# given to `kubectl label --local -f FILE -o json tmp=1` (kubectl 1.32);
# the objects it prints (without the tmp label), or its refusal. Run with
# python3 to regenerate kubectl-documents.json beside this script.
import json, os, subprocess, sys, tempfile

H = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n"

def doc(body):
    return H + body

def generated(spec):
    """The alias documents, as host/tests/yaml11_kubectl.rs builds them."""
    out = H + "spec:\n"
    if spec["plain"]:
        out += "  p: [" + ", ".join(["1"] * spec["plain"]) + "]\n"
    out += "  a: &a [" + ", ".join(["1"] * spec["items"]) + "]\n"
    out += "  b: [" + ", ".join(["*a"] * spec["aliases"]) + "]\n"
    return out

laughs = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\n  annotations:\n    l0: &l0 \"lol\"\n"
for level in range(1, 10):
    laughs += "    l%d: &l%d [%s]\n" % (level, level, ", ".join(["*l%d" % (level - 1)] * 10))

MERGE = "map merge requires map or sequence of maps as the value"
BINARY = "!!binary value contains invalid base64 data"
SEPARATOR = "invalid Yaml document separator: "
ALIASING = "yaml: document contains excessive aliasing"

# (name, text or generator spec, the reason the reader's error must hold
# when kubectl refuses; None: the reader refuses in its own words; "?..."
# for a case kubectl may read or refuse; "@..." for one kubectl reads and
# the reader refuses, saying so)
cases = [
    ("merge_order", doc("""  labels:
    tier: frontend
    <<: {tier: backend, app: web}
    app: api
spec:
  b: &b {tier: backend}
  c: &c {tier: cache, z: c}
  mergedAfter: {tier: frontend, <<: *b}
  mergedBefore: {<<: *b, tier: frontend}
  listAfter: {tier: frontend, <<: [*b, *c]}
  listCB: {<<: [*c, *b]}
  listBC: {<<: [*b, *c]}
  nested: {<<: {<<: *c, z: nz}, tier: t}
  nestedList: {q: 1, <<: {<<: *c, tier: nz}}
  twice: {<<: *b, tier: mid, <<: *c}
  emptyList: {a: 1, <<: []}
  emptyMap: {a: 1, <<: {}}
  block:
    tier: frontend
    <<:
    - *b
    - {tier: inline, extra: x}
    after: 1
"""), None),
    ("merge_spellings", doc("""spec:
  nonSpecific:
    ! <<: {a: 1}
    b: 2
  tagged:
    !!merge <<: {a: 1}
    !!merge "<<": {c: 1}
    "<<": {b: 2}
    !!str <<: x
  value: <<
  anchored: {&m <<: {a: 1}, k: *m}
"""), None),
    ("merge_alias_to_list", doc("spec: {s: &s [{a: 1}], x: {<<: *s}}\n"), MERGE),
    ("merge_scalar", doc("spec: {x: {<<: 1}}\n"), MERGE),
    ("merge_null", doc("spec: {x: {<<: ~}}\n"), MERGE),
    ("merge_list_of_lists", doc("spec: {x: {<<: [[{a: 1}]]}}\n"), MERGE),
    ("merge_list_of_alias_to_scalar", doc("spec: {s: &s 1, x: {<<: [*s]}}\n"), MERGE),
    ("merge_list_of_alias_to_list", doc("spec: {s: &s [{a: 1}], x: {<<: [*s]}}\n"), MERGE),
    ("merge_list_scalar_last", doc("spec: {x: {<<: [{a: 1}, 2]}}\n"), MERGE),
    ("merge_list_scalar_first", doc("spec: {x: {<<: [2, {a: 1}]}}\n"), MERGE),

    ("binary", doc("""  labels: {a: !!binary aGVsbG8=}
  annotations: {b: !!binary "aGk=", c: !!binary "aGVs\\r\\nbG8="}
spec:
  block: !!binary |
    aGVs
    bG8=
  quoted: !!binary "aGVs\\nbG8="
  trailingBreak: !!binary "aGk=\\n"
  innerBreak: !!binary "aG\\nk="
  cr: !!binary "aGk=\\r"
  leadingBreak: !!binary "\\naGk="
  invalidUtf8: !!binary /w==
  truncatedUtf8: !!binary 4oI=
  twoContinuations: !!binary gIA=
  nul: !!binary AA==
  trailingBits: !!binary aGVsbG9=
  empty: !!binary ""
  emptyPlain: !!binary
  !!binary aGVsbG8=: key
"""), None),
    ("binary_no_padding", doc("spec: {x: !!binary aGVsbG8}\n"), BINARY),
    ("binary_space", doc("spec: {x: !!binary \"aGVs bG8=\"}\n"), BINARY),
    ("binary_tab", doc("spec: {x: !!binary \"aGVs\\tbG8=\"}\n"), BINARY),
    ("binary_padding_inside", doc("spec: {x: !!binary aGk=aGk=}\n"), BINARY),
    ("binary_only_padding", doc("spec: {x: !!binary \"====\"}\n"), BINARY),
    ("binary_folded", doc("spec:\n  x: !!binary >\n    aGVs\n    bG8=\n"), BINARY),
    ("binary_plain_multiline", doc("spec:\n  x: !!binary aGVs\n    bG8=\n"), BINARY),

    ("tags", doc("""spec:
  a: !!str 1
  b: !!int "3"
  c: !!float 1.10
  d: !!bool yes
  e: !!null ~
  f: !!null ""
  g: !!float 1
  h: !!int 0x1F
  i: !!bool "on"
  j: !!merge foo
  k: !!merge 1
  l: !!timestamp 2001-12-14
  m: ! 42
  "n": !foo 1
  o: !!seq 1
  p: !!map yes
  q: !!str
  r: !!int "1_000"
  s: !!float "1e3"
  t: !!null
  u: !!float 1.0
  v: !<tag:yaml.org,2002:int> "7"
  w: !!str yes
  x: !!value 1
  z: !!float 0x10
  aa: !!int -0b11
  ab: !!float "1_0.5"
  ac: !!int 9223372036854775808
  ae: !!timestamp "2001-12-14 1:2:3"
  af: !!int "+12"
  ag: !!float ".5"
  ai: !!merge
  aj: !!str ~
  ak: !!float -0
  al: !!int "-0"
  am: !!map {a: 1}
  an: !!str [1]
  ao: !foo
  ap: !!float "9007199254740993"
"""), None),
]
for i, (tagged, shown) in enumerate([
    ("!!int foo", "cannot decode !!str `foo` as a !!int"),
    ("!!int 1.5", "cannot decode !!float `1.5` as a !!int"),
    ("!!int \"08\"", "cannot decode !!float `08` as a !!int"),
    ("!!bool 1", "cannot decode !!int `1` as a !!bool"),
    ("!!null 0", "cannot decode !!int `0` as a !!null"),
    ("!!float yes", "cannot decode !!bool `yes` as a !!float"),
    ("!!float 9223372036854775808", "cannot decode !!int `9223372036854775808` as a !!float"),
    ("!!bool \"\"", "cannot decode !!null `` as a !!bool"),
    ("!!int", "cannot decode !!null `` as a !!int"),
    ("!!timestamp foo", "cannot decode !!str `foo` as a !!timestamp"),
    ("!!timestamp 1", "cannot decode !!int `1` as a !!timestamp"),
    ("!!timestamp", "cannot decode !!null `` as a !!timestamp"),
]):
    cases.append(("tag_refused_%02d" % i, doc("spec:\n  x: %s\n" % tagged), shown))
for i, stamp in enumerate([
    "2001-12-14t21:59:43.10-05:00", "\"2001-12-14 21:59:43.10 -5\"", "2001-2-29", "2000-2-29",
    "1900-2-29", "2001-12-14T25:00:00Z", "\"2001-12-14  1:2:3\"", "2001-12-14 1:2:3.5",
    "\"2001-12-14T1:2:3,5+24:00\"", "\"2001-12-14T1:2:3,5+24:61\"", "2001-12-14T1:2:3+25:00",
    "12001-12-14", "2001-12-14T1:2:3Zjunk", "\"2001-1-1 \"", "2001-13-1", "2001-1-32", "2001-4-31",
    "2001-1-1T1:2:3", "2001-01-01T01:02:03.123456789123Z", "2001-1-1T1:2:60Z", "2001-1-1T24:0:0Z",
    "2001-1-1T1:2:3+05:60", "2001-1-1T1:2:3 +05:00", "2001-1-1T1:2:3.Z", "2001-001-1",
    "2001-1-1t1:2:3z", "2001-1-1 1:2:3Z", "2001-1-1T1:2:3-0500", "\"2001-12-14 1:2:3,123\"",
    "\"2001-1-1T1:2:3.123\"", "\"2001-1-1T1:2:3+5:000\"",
]):
    cases.append(("timestamp_%02d" % i, doc("spec:\n  x: !!timestamp %s\n" % stamp), "?as a !!timestamp"))

cases += [
    ("keys", doc("""spec:
  explicit:
    ? a
    : 1
    ? |
      b
    : 2
    ? on
    : 3
    ? "c"
    :
    ? d
  flowPairs: [a: 1, b: {c: 2}, ? d : 3]
  flowNulls: {a, b: 1, "c"}
  aliasKey: {&k on: 1, x: *k, *k : 2}
  ints: {1: a, 01: b, 0o10: c, 0b11: d, 0x1f: e, -0: f, +1: g, 1_0: h, 9223372036854775807: i}
  floats: {1e3: a, .5: b, 0.1: c, 100000.0: d, 1000000.0: e, 1.0e-5: f, 3.4e39: g, -.inf: h, .nan: i}
  tagged: {? !!binary aGk= : a, !!int "5": b, !!float 2: c, !!bool "no": d}
"""), None),
    ("key_sequence_flow", doc("spec: {[x]: 2}\n"), None),
    ("key_sequence_block", doc("spec:\n  ? [a]\n  : 1\n"), None),
    ("key_null", doc("spec: {~: a}\n"), None),
    ("key_uint64", doc("spec: {18446744073709551615: a}\n"), None),

    ("separator_flow", "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: m}}\n",
     SEPARATOR + "{apiVersion: v1, kind: ConfigMap, metadata: {name: m}}"),
    ("separator_mapping", "--- apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n", SEPARATOR + "apiVersion: v1"),
    ("separator_tag", "--- !!map\n" + H, SEPARATOR + "!!map"),
    ("separator_tag_alone", "--- !!map\n", SEPARATOR + "!!map"),
    ("separator_dashes", H + "----\n" + H, SEPARATOR + "-"),
    ("separator_block", H + "--- |\n  x\n", SEPARATOR + "|"),
    ("separator_key", H + "---x: 1\n", SEPARATOR + "x: 1"),
    ("separator_after_end", H + "...\n--- {a: 1}\n", SEPARATOR + "{a: 1}"),
    ("separator_in_quotes", H + "data: {a: \"x\n---\"}\n", SEPARATOR + "\"}"),
    ("separator_after_read_document", "---\n" + H + "...\n--- x\n", SEPARATOR + "x"),
    ("separator_wins_over_stray_end", "...\n--- x\n", SEPARATOR + "x"),
    ("separator_comment", "--- # x\n" + H, None),
    ("separator_tab_comment", H + "---\t# c\n" + H, None),
    ("separator_blank", H + "--- \n" + H, None),
    ("separator_blank_tab", H + "--- \t\n" + H, None),
    ("separator_crlf", (H + "---\n" + H).replace("\n", "\r\n"), None),
    ("separator_cr_only", H + "\r---\r" + H, None),
    ("separator_hash_glued_splits", H + "---#x\n" + H, None),
    ("separator_hash_glued_first_line", "---#x\n" + H, "mapping values are not allowed in this context"),
    ("separator_hash_glued_opens_piece", H + "---\n---#x\n" + H, "mapping values are not allowed in this context"),
    ("separators_doubled", "---\n---\n" + H, None),
    ("separators_around", "\n\n---\n" + H + "---\n\n", None),
    ("separator_last_no_break", H + "---", None),
    ("separator_comment_piece", "# only\n---\n" + H, None),
    ("bom", "\ufeff" + H, None),
    ("bom_separator", "\ufeff---\n" + H, None),
    ("block_scalar_dashes", H + "data:\n  a: |\n    x\n    ---\n    y\n", None),
    ("quoted_across_separator", H + "data: {a: \"x\n---\ny\"}\n", None),
    ("directive_yaml", "%YAML 1.1\n---\n" + H, "did not find expected <document start>"),
    ("directive_tag", "%TAG !e! tag:example.com,2000:\n---\n" + H, "did not find expected <document start>"),
    ("directive_second", H + "---\n%YAML 1.1\n---\n" + H, "did not find expected <document start>"),
    ("directive_after_comment", "# c\n%YAML 1.1\n---\n" + H, "did not find expected <document start>"),
    ("directive_alone", "%YAML 1.1\n", "did not find expected <document start>"),
    ("directive_after_end", H + "...\n%YAML 1.1\n---\n" + H, None),
    ("end_then_more", H + "...\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n", None),
    ("end_then_garbage", H + "...\n: : [\n", None),
    ("end_then_text", H + "... x\n", None),
    ("end_comment", H + "... # c\n---\n" + H, None),
    ("end_glued_hash", H + "...#c\n", None),
    ("end_then_document_then_separator", H + "...\n" + H + "---\n" + H, None),
    ("end_last", H + "...\n", None),
    ("end_then_separator", H + "...\n---\n", None),
    ("end_after_empty_explicit", "---\n...\n", None),
    ("stray_end", H + "---\n...\n", "did not find expected node content"),
    ("stray_end_after_comment", "# c\n...\n" + H, "did not find expected node content"),
    ("stray_end_blank", "\n...\n", "did not find expected node content"),
    ("stray_end_between", H + "---\n# c\n---\n...\n---\n" + H, "did not find expected node content"),
    ("anchor_across_pieces", H + "  labels: {a: &x b}\n---\n" + H + "  labels: {b: *x}\n", None),

    # Plain scalars in flow collections: go-yaml v2 ends one at ,?[]{} and
    # at a ':' only before a blank or a line break (scannerc.go,
    # yaml_parser_scan_plain_scalar), and reads a ':' or '?' that starts a
    # token there as an indicator.
    ("flow_plain_colons", doc("""spec:
  key: {app:}
  keyThenMore: {app:, b: c}
  item: [app:]
  items: [app:, b]
  value: {a: b:}
  valueThenMore: {a: b:, c: d}
  pair: [a: b:]
  doubled: {a::, b: 1}
  inside: [a:b:, a:-, a:#, a:b c]
  afterQuotedKey: {"a":b:}
  explicitKey: {? a:}
  afterBlank: {a :b, c: d :e}
  breakAfter: [a:
    ]
  blockColons: a:b:c
  blockKey: {x: y}
"""), None),
    ("flow_question_in_value", doc("spec: {x: {url: /x?y=1}}\n"), "did not find expected ',' or '}'"),
    ("flow_question_in_key", doc("spec: {x: {a?b: c}}\n"), "did not find expected ',' or '}'"),
    ("flow_question_in_item", doc("spec: {x: [a?b]}\n"), "expected ',' or ']'"),
    ("flow_question_before_blank", doc("spec: {x: [a? b]}\n"), "expected ',' or ']'"),
    ("flow_question_after_colon", doc("spec: {x: {a:?}}\n"), "did not find expected ',' or '}'"),
    ("flow_colon_before_sequence", doc("spec: {x: {a:[1]}}\n"), "did not find expected ',' or '}'"),
    ("flow_colon_before_mapping", doc("spec: {x: {a:{b: c}}}\n"), "did not find expected ',' or '}'"),
    ("flow_colon_starts_item", doc("spec: {x: [:b]}\n"), "did not find expected node content"),
    ("flow_colon_starts_value", doc("spec: {x: {a: :b}}\n"), "did not find expected node content"),
    ("flow_colon_starts_key", doc("spec: {x: {a: x, :b}}\n"), "did not find expected node content"),
    ("flow_colon_alone", doc("spec: {x: [:]}\n"), None),
    # A `-` alone before a flow indicator is text for go-yaml v2.
    ("flow_dashes", doc("""spec:
  alone: [-]
  last: [a, -]
  value: {a: -, b: c}
  trailing: [-,]
  afterBlank: [a -, --, ---, -a-]
  stdin: [tar, xf, -]
  anchored: {a: &d -, b: *d}
  quoted: {a: "-,", b: '-]'}
  block: -]
  blockComma: -,x
"""), None),
    # go-yaml v2 has no rule for indentation inside a flow collection.
    ("flow_indentation", doc("""  labels: {
    app: web,
  tier: x
}
spec:
  containers:
  - name: a
    args: [
      "--v=2",
    ]
    command: [
      sh,
    -c, "echo
  hi"
  ]
    env: [{name: A,
  value: "1"}, {
name: B, value: [
x]}]
  - {name: b,
 image: c  # a comment
 }
  flat: [a,
b]
"""), None),
    ("flow_indentation_crlf", doc("spec:\n  x: [\n  a,\n  ]\n  y: {\n b: c\n }\n").replace("\n", "\r\n"), None),
    ("flow_indentation_many", doc("spec:\n" + "".join("  k%d: [\n a%d\n  ]\n" % (i, i) for i in range(64))), None),
    ("flow_indentation_too_many", doc("spec:\n" + "".join("  k%d: [\n a%d\n  ]\n" % (i, i) for i in range(65))), "@up to 64 flow collections or quoted scalars"),
    ("flow_indentation_then_error", doc("spec:\n  x: [\na, ]]\n"), None),
    # go-yaml v2 takes a tab after a token for a blank, and a `#` right
    # after a token for a comment.
    ("tabs_and_glued_comments", doc("""data:
  tab:\tb
  tabQuoted:\t"b"
  flow: {a:\tb, c:\t-d}
  quoted: "b"# a comment
  single: 'b'#c
  literal: |#c
    x
  folded: >-#c
    y
  seq: ["a"#c
    , b]#c
"""), None),
    ("tab_after_dash", doc("data:\n  - a\n  -\tb\n"), None),
    ("tabs_in_flow_lines", doc("spec:\n  labels: {app: web,\n\ttier: db}\n  ports: [\n \t{port: 80},\n\t{port: 81}]\n  q: {b: \"x\n\ty\", c: 'u\n\tv'}\n"), None),
    # go-yaml v2 breaks lines at NEL (U+0085), LS (U+2028) and PS (U+2029).
    ("unicode_line_breaks", doc("  annotations:\n    nel: \"a\u0085b\"\n    nelThenBreak: \"a\u0085\n      b\"\n    single: 'a\u0085b'\nspec:\n  a: on\u0085\n  b: yes\u2028\n  c: 1\u2029\n  d: \u0085\n"), None),
    ("unicode_line_break_in_plain", doc("spec:\n  a: x\u0085y\n"), None),
    ("quoted_lines_less_indented", doc("  annotations:\n    a: \"x\ny\"\n    b: 'u\n  v\n\tw'\n    c: \"p\n\n q\"\n"), None),
    ("escaped_slash", doc("data:\n  a: \"x\\/y\"\n"), "found unknown escape character"),
    ("escaped_backslash_slash", doc("data:\n  a: \"x\\\\/y\"\n"), None),
    ("glued_comment_after_alias", doc("data:\n  a: &x b\n  c: *x#c\n"), None),
    # Tags and anchors next to flow indicators: go-yaml v2 takes `,[]` into
    # a tag (URI characters) and then wants a blank.
    ("flow_tags_read", doc("""spec:
  spaced: {a: !!null , b: !!str , c: d}
  verbatim: {a: !<tag:yaml.org,2002:str> 1, b: 2, c: !<tag:yaml.org,2002:int> "3",}
  anchors: {a: &x, b: &y,c: d, e: [&z, 1]}
  tagThenAnchor: {a: !!str &w 1, b: *w}
"""), None),
    ("flow_tag_before_brace", doc("spec: {x: {a: !!null}}\n"), "did not find expected whitespace or line break"),
    ("flow_tag_before_comma_last", doc("spec: {x: {a: !!str,}}\n"), "did not find expected whitespace or line break"),
    ("flow_tag_before_flow_mapping", doc("spec: {x: {a: !!map{}}}\n"), "did not find expected whitespace or line break"),
    ("flow_tag_before_comma", doc("spec: {x: {a: !!str, b: c}}\n"), None),
    ("flow_tag_before_bracket", doc("spec: {x: [!!null]}\n"), None),
    # kubectl reads these; the reader refuses them, naming what kubectl
    # reads ("@": the reason the reader's refusal must hold).
    ("flow_tag_takes_comma", doc("spec: {x: [!!str, y]}\n"), "@takes `,`, `[` and `]` into a tag"),
    ("flow_tag_takes_comma_and_key", doc("spec: {x: {a: !!null,b: c}}\n"), "@takes `,`, `[` and `]` into a tag"),
    ("block_tag_takes_comma", doc("spec:\n  x: !!str, y\n"), "@takes `,`, `[` and `]` into a tag"),
    ("block_tag_takes_brackets", doc("spec:\n  x: !!int[1] 2\n"), "@takes `,`, `[` and `]` into a tag"),
    ("flow_question_starts_item", doc("spec: {x: [?a]}\n"), "@a '?' that starts a plain scalar as a key indicator"),
    ("flow_question_starts_key", doc("spec: {x: {?a: b}}\n"), "@a '?' that starts a plain scalar as a key indicator"),
    ("flow_dash_beside_noncharacter", doc("spec: {x: [-], y: \ufdd0}\n"), "@reads such a '-' as text"),

    ("billion_laughs", laughs, ALIASING),
    ("alias_list_of_1_2000_times", {"plain": 0, "items": 1, "aliases": 2000}, None),
    ("alias_list_of_100_300_times", {"plain": 0, "items": 100, "aliases": 300}, None),
    ("alias_list_of_1000_111_times", {"plain": 0, "items": 1000, "aliases": 111}, None),
    ("alias_list_of_1000_112_times", {"plain": 0, "items": 1000, "aliases": 112}, ALIASING),
    ("alias_linear_range_reads", {"plain": 15459, "items": 1000, "aliases": 480}, None),
    ("alias_linear_range_refused", {"plain": 15458, "items": 1000, "aliases": 480}, ALIASING),
]

def kubectl(text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, newline="") as f:
        f.write(text)
    try:
        out = subprocess.run(["kubectl", "label", "--local", "-f", f.name, "-o", "json", "tmp=1"],
                             capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if out.returncode:
        lines = [l for l in out.stderr.strip().splitlines() if l.strip()]
        return None, lines[-1].replace(f.name, "FILE")
    objects, dec, s, i = [], json.JSONDecoder(), out.stdout, 0
    while True:
        while i < len(s) and s[i].isspace():
            i += 1
        if i >= len(s):
            break
        o, i = dec.raw_decode(s, i)
        objects.extend(o["items"] if o.get("kind") == "List" else [o])
    for o in objects:
        labels = o["metadata"].get("labels", {})
        labels.pop("tmp", None)
        if not labels:
            o["metadata"].pop("labels", None)
    return objects, None

rows = []
for name, text, reason in cases:
    spec = text if isinstance(text, dict) else None
    objects, refusal = kubectl(generated(spec) if spec else text)
    if reason is not None and reason.startswith("?"):
        reason = reason[1:] if refusal is not None else None
    row = {"name": name}
    row.update({"generate": spec} if spec else {"yaml": text})
    if reason is not None and reason.startswith("@"):
        if refusal is not None:
            sys.exit("%s: kubectl refuses it (%s), expected it to read it" % (name, refusal))
        row["objects"] = objects
        row["reader_refuses"] = reason[1:]
    elif refusal is None:
        if reason is not None:
            sys.exit("%s: kubectl reads it, expected a refusal (%s)" % (name, reason))
        if spec:
            # The whole object is long; kubectl reads every alias.
            row["aliases_read"] = len(objects[0]["spec"]["b"])
        else:
            row["objects"] = objects
    else:
        if reason is not None and reason not in refusal:
            sys.exit("%s: kubectl's refusal %r lacks %r" % (name, refusal, reason))
        row["refusal"] = refusal
        if reason is not None:
            row["reason"] = reason
    rows.append(row)

os.chdir(os.path.dirname(os.path.abspath(__file__)))
json.dump({"comment": "kubectl's reading of whole documents (kubectl label --local -f FILE -o json tmp=1, kubectl 1.32; the tmp label removed): the objects, or the refusal and the reason the reader's error must hold too; reader_refuses: kubectl reads it and the reader refuses it, with that reason; regenerate with host/tests/data/kubectl-documents.py",
           "cases": rows}, open("kubectl-documents.json", "w"), indent=1, ensure_ascii=False)
print(len(rows), "cases,", sum("refusal" in r for r in rows), "refused")
