//! The template harnesses: chat templates and a bundle's template overrides, as text or assembled from Jinja fragments.

use super::*;

/// A chat template and a conversation: the template is parsed and rendered.
pub fn chat_template(data: &[u8]) {
    let (source, messages, bos) = match shape(data, 2) {
        Ok(files) => {
            let messages = serde_json::from_slice::<Vec<Message>>(files[1]).unwrap_or_else(|_| {
                vec![
                    Message::system("Be brief."),
                    Message::user("Hi!"),
                    Message::assistant("Hello."),
                ]
            });
            (text(files[0]), messages, true)
        }
        Err(mut inp) => {
            let source = jinja_template(&mut inp, 0);
            let messages = (0..inp.below(4))
                .map(|_| {
                    let role = *inp.pick(&["user", "assistant", "system", "tool", ""]);
                    Message::new(role, &inp.text(16))
                })
                .collect();
            (source, messages, inp.bool())
        }
    };
    let t = ChatTemplate::new(&source, bos.then_some("<s>"), Some("</s>"));
    let _ = t.render(&messages, true);
    let _ = t.render(&messages, false);
}

/// Names a template may use: the variables chat templates get, the loop's, literals.
const ATOMS: &[&str] = &[
    "messages",
    "message",
    "m",
    "x",
    "ns",
    "ns.a",
    "loop.index",
    "loop",
    "bos_token",
    "eos_token",
    "add_generation_prompt",
    "messages[0]",
    "message['content']",
    "m.role",
    "none",
    "true",
    "1",
    "0",
    "-1",
    "2.5",
    "10**12",
    "10**6",
    "100000",
    "'abc'",
    "''",
    "'%999999999999d'",
    "'%.999999999f'",
    "'{}'",
    "[1]",
    "[1, 2, 3]",
    "{'a': 1}",
    "range(100000)",
    "namespace()",
    "namespace(a=[1])",
    "dict(a=1)",
    "x ~ x",
    "9223372036854775807",
    "1e308",
];
const BINOPS: &[&str] = &[
    "+", "-", "*", "/", "//", "%", "**", "~", "and", "or", "==", "!=", "<", ">=", "in", "not in",
];
const FILTERS: &[&str] = &[
    "length",
    "list",
    "join",
    "join(', ')",
    "string",
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "first",
    "last",
    "reverse",
    "sort",
    "unique",
    "tojson",
    "tojson(indent=2)",
    "indent(10**12)",
    "indent(4)",
    "center(10**12)",
    "format(1)",
    "format(1.0)",
    "replace('', 'xx')",
    "replace('a', 'bb')",
    "wordcount",
    "wordwrap(5)",
    "truncate(3)",
    "batch(10**9)",
    "slice(3)",
    "map('upper')",
    "map(attribute='role')",
    "select",
    "reject('none')",
    "selectattr('role')",
    "items",
    "dictsort",
    "default('d')",
    "int",
    "float",
    "abs",
    "round",
    "sum",
    "min",
    "max",
    "safe",
    "escape",
    "urlencode",
    "pprint",
    "attr('a')",
    "groupby('role')",
    "count",
    "lines",
    "split",
    "split(',')",
    "striptags",
    "chain([1])",
    "zip([1])",
];
const METHODS: &[&str] = &[
    "strip()",
    "upper()",
    "split()",
    "split(',')",
    "count('')",
    "count('a')",
    "replace('', 'x')",
    "startswith('a')",
    "endswith('a')",
    "format(1)",
    "center(10**12)",
    "ljust(10**12)",
    "zfill(10**12)",
    "join(['a', 'b'])",
    "items()",
    "keys()",
    "values()",
    "get('a')",
    "title()",
    "lstrip('a')",
    "find('a')",
    "rfind('')",
    "isdigit()",
    "expandtabs(10**9)",
    "splitlines()",
    "partition('a')",
];
const TESTS: &[&str] = &[
    "defined",
    "none",
    "string",
    "number",
    "mapping",
    "sequence",
    "iterable",
    "divisibleby 0",
    "divisibleby(3)",
    "even",
    "odd",
    "sameas x",
    "in [1]",
    "true",
    "startingwith('a')",
];

pub(super) fn jinja_expr(inp: &mut Input, depth: usize) -> String {
    if depth > 6 {
        return inp.pick(ATOMS).to_string();
    }
    let d = depth + 1;
    match inp.below(14) {
        0..=3 => inp.pick(ATOMS).to_string(),
        4 => format!(
            "{} {} {}",
            jinja_expr(inp, d),
            inp.pick(BINOPS),
            jinja_expr(inp, d)
        ),
        5 => format!("({})|{}", jinja_expr(inp, d), inp.pick(FILTERS)),
        6 => format!("({}).{}", jinja_expr(inp, d), inp.pick(METHODS)),
        7 => format!("{} is {}", jinja_expr(inp, d), inp.pick(TESTS)),
        8 => format!("[{}, {}]", jinja_expr(inp, d), jinja_expr(inp, d)),
        9 => format!(
            "{}[{}:{}:{}]",
            jinja_expr(inp, d),
            inp.below(3),
            inp.below(3),
            *inp.pick(&["", "-1", "1", "0"])
        ),
        10 => format!(
            "{} if {} else {}",
            jinja_expr(inp, d),
            jinja_expr(inp, d),
            jinja_expr(inp, d)
        ),
        11 => format!("{}[{}]", jinja_expr(inp, d), jinja_expr(inp, d)),
        12 => {
            // long chains: parser and compiler depth
            let n = *inp.pick(&[2usize, 50, 300, 20_000]);
            let op = *inp.pick(&["not ", "-", "1+", "(", "x.", "[", "x|", "1~"]);
            let close = match op {
                "(" => ")".repeat(n),
                "[" => "]".repeat(n),
                _ => String::new(),
            };
            format!("{}{}{close}", op.repeat(n), *inp.pick(&["1", "x", "upper"]))
        }
        _ => format!(
            "{}({})",
            *inp.pick(&[
                "range",
                "namespace",
                "dict",
                "raise_exception",
                "strftime_now",
                "m",
                "loop"
            ]),
            jinja_expr(inp, d)
        ),
    }
}

/// A template of Jinja fragments: text, expressions and statements nested up to a few levels.
pub(super) fn jinja_template(inp: &mut Input, depth: usize) -> String {
    let mut out = String::new();
    for _ in 0..1 + inp.below(4) {
        let d = depth + 1;
        let deep = depth > 3;
        match inp.below(16) {
            0 => out.push_str(*inp.pick(&["<|im_start|>", "\n", " ", "text", "{#c#}"])),
            1..=3 => out.push_str(&format!("{{{{ {} }}}}", jinja_expr(inp, 0))),
            4 if !deep => out.push_str(&format!(
                "{{% for x in {} %}}{}{{% endfor %}}",
                jinja_expr(inp, 0),
                jinja_template(inp, d)
            )),
            5 if !deep => out.push_str(&format!(
                "{{% for message in messages %}}{}{{% endfor %}}",
                jinja_template(inp, d)
            )),
            6 if !deep => out.push_str(&format!(
                "{{% if {} %}}{}{{% else %}}{}{{% endif %}}",
                jinja_expr(inp, 0),
                jinja_template(inp, d),
                jinja_template(inp, d)
            )),
            7 => out.push_str(&format!("{{% set x = {} %}}", jinja_expr(inp, 0))),
            8 => out.push_str("{% set ns = namespace(a=1) %}"),
            9 => out.push_str(&format!("{{% set ns.a = {} %}}", jinja_expr(inp, 0))),
            10 if !deep => out.push_str(&format!(
                "{{% macro m(a) %}}{}{{% endmacro %}}",
                jinja_template(inp, d)
            )),
            11 if !deep => out.push_str(&format!(
                "{{% set x %}}{}{{% endset %}}",
                jinja_template(inp, d)
            )),
            12 if !deep => out.push_str(&format!(
                "{{% filter upper %}}{}{{% endfilter %}}",
                jinja_template(inp, d)
            )),
            13 => out.push_str(*inp.pick(&["{% break %}", "{% continue %}", "{%- ", " -%}", "{{", "}}", "{%", "%}"])),
            14 => out.push_str(&inp.text(12)),
            _ => out.push_str("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
        }
    }
    out
}

// ---- template overrides -------------------------------------------------------------------------

/// pipeline.json's `templates`: overrides parsed, then each answering a flagged verdict.
pub fn template_overrides(data: &[u8]) {
    let (json, mut inp) = match shape(data, 1) {
        Ok(files) => (text(files[0]), Input::new(&[])),
        Err(mut inp) => {
            let mut m = Map::new();
            for _ in 0..1 + inp.below(3) {
                let key = *inp.pick(&[
                    "violence",
                    "self-harm",
                    "output",
                    "default",
                    "hate",
                    "harassment/new",
                ]);
                m.insert(key.into(), json!(jinja_template(&mut inp, 0)));
            }
            (Value::Object(m).to_string(), inp)
        }
    };
    let Ok(t) = Templates::with_overrides_json(&json) else {
        return;
    };
    let cats = [
        "violence",
        "self-harm",
        "hate",
        "harassment/new",
        "sexual",
        "illicit",
    ];
    let verdict = Verdict::from_scores(
        cats.iter()
            .map(|c| (c.to_string(), inp.below(100) as f32 / 100.0, 0.5)),
    );
    for stage in [Stage::Input, Stage::Output] {
        let _ = t.respond(&verdict, stage);
    }
    let all = Verdict::from_scores(cats.iter().map(|c| (c.to_string(), 0.9, 0.5)));
    let _ = t.respond(&all, Stage::Input);
}

// ---- bundles --------------------------------------------------------------------------------------

/// What the secret file outside the fuzzed bundle holds: no read through the bundle may return it.
pub(super) const SECRET: &[u8] = b"tinychat-fuzz: outside the bundle";
