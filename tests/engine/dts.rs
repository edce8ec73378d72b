//! `web/tinychat.d.ts` against the Rust types it mirrors. Each type is serialised as the browser
//! API serialises it (JSON; `wasm.rs` uses serde-wasm-bindgen's JSON-compatible serializer) and
//! its keys are compared with the `.d.ts` interface of the same name: every Rust key must be
//! declared, every declared key must be serialised (or be optional, or be one the JavaScript
//! loader adds), a key serialised as null must be typed `| null`, and one Rust leaves out must be
//! optional (`?`). String unions (backends, error codes, stages, sources, routes, finish
//! reasons) are compared with the Rust values. A renamed Rust field fails here (see
//! `a_renamed_rust_field_fails_the_comparison`).

use std::collections::BTreeMap;
use tinychat::api::{self, Contract, EngineInfo};
use tinychat::engine::Backend;
use tinychat::error::ErrorCode;
use tinychat::moderation::{CategoryScore, Verdict};
use tinychat::pipeline::{Chunk, Reply, Route, Source, Timings};
use tinychat::templates::Stage;
use tinychat::{FinishReason, SamplingParams};

const DTS: &str = include_str!("../../web/tinychat.d.ts");

// ---- a small parser for the .d.ts ----------------------------------------------------------

/// One property of an interface or object type: `name?: type`.
#[derive(Clone, Debug)]
struct Prop {
    name: String,
    optional: bool,
    ty: String,
}

/// `src` without `/* */` and `//` comments (none of them sit inside string literals here).
fn strip_comments(src: &str) -> String {
    let mut out = String::new();
    let mut rest = src;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Splits `body` at `sep` where no bracket is open (`=>` is not a closing angle bracket).
fn split_top(body: &str, sep: char) -> Vec<String> {
    let (mut parts, mut cur, mut depth) = (vec![], String::new(), 0i32);
    let mut prev = ' ';
    for c in body.chars() {
        match c {
            '{' | '(' | '[' | '<' => depth += 1,
            '>' if prev == '=' => {}
            '}' | ')' | ']' | '>' => depth -= 1,
            _ => {}
        }
        if c == sep && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
        prev = c;
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The properties in the body of an interface or object type (methods are skipped).
fn props(body: &str) -> Vec<Prop> {
    split_top(body, ';')
        .into_iter()
        .filter_map(|m| {
            let m = m.trim_start_matches("readonly ").trim();
            let colon = m.find(':')?;
            let (name, ty) = (m[..colon].trim(), m[colon + 1..].trim());
            let (name, optional) = match name.strip_suffix('?') {
                Some(n) => (n, true),
                None => (name, false),
            };
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None; // a method: `create(request: ...): ...`
            }
            Some(Prop {
                name: name.to_string(),
                optional,
                ty: ty.to_string(),
            })
        })
        .collect()
}

/// The text between the brace at `open` and its match.
fn braced(s: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &s[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces after byte {open}")
}

struct Dts {
    src: String,
}

impl Dts {
    fn new(text: &str) -> Self {
        Dts {
            src: strip_comments(text),
        }
    }

    /// The properties of `export interface name`.
    fn interface(&self, name: &str) -> Vec<Prop> {
        let head = format!("export interface {name} ");
        let at = self
            .src
            .find(&head)
            .unwrap_or_else(|| panic!("tinychat.d.ts has no `interface {name}`"));
        let open = at + self.src[at..].find('{').unwrap();
        props(braced(&self.src, open))
    }

    /// The text of `export type name = ...;`.
    fn alias(&self, name: &str) -> String {
        let head = format!("export type {name} =");
        let at = self
            .src
            .find(&head)
            .unwrap_or_else(|| panic!("tinychat.d.ts has no `type {name}`"));
        let rest = &self.src[at + head.len()..];
        split_top(rest, ';').into_iter().next().unwrap_or_default()
    }
}

/// The string literals of a union type: `"a" | "b" | null` → [a, b].
fn literals(ty: &str) -> Vec<String> {
    ty.split('|')
        .map(str::trim)
        .filter_map(|t| t.strip_prefix('"')?.strip_suffix('"').map(String::from))
        .collect()
}

/// The object types of a union: `| { type: "text"; text: string } | { ... }`.
fn object_variants(ty: &str) -> Vec<Vec<Prop>> {
    split_top(ty, '|')
        .iter()
        .filter(|v| v.starts_with('{'))
        .map(|v| props(braced(v, 0)))
        .collect()
}

// ---- the comparison ------------------------------------------------------------------------

/// Compares the keys of `value` (a serialised Rust value) with the properties of the `.d.ts`
/// type `ts` (named `name` in messages); `js_added` are properties the JavaScript side adds.
/// Returns every mismatch.
fn compare(
    name: &str,
    ts: &[Prop],
    value: &serde_json::Value,
    js_added: &[&str],
) -> Result<(), Vec<String>> {
    let obj = value.as_object().expect("a struct serialises as an object");
    let declared: BTreeMap<&str, &Prop> = ts.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut errors = vec![];
    for (key, v) in obj {
        match declared.get(key.as_str()) {
            None => errors.push(format!(
                "{name}: Rust serialises `{key}`, which tinychat.d.ts does not declare"
            )),
            Some(p) if v.is_null() && !p.ty.contains("null") => errors.push(format!(
                "{name}.{key}: Rust serialises null, but the .d.ts type `{}` has no `| null`",
                p.ty
            )),
            Some(_) => {}
        }
    }
    for p in ts {
        if !obj.contains_key(&p.name) && !p.optional && !js_added.contains(&p.name.as_str()) {
            errors.push(format!(
                "{name}: tinychat.d.ts declares `{}`, which Rust does not serialise (renamed?)",
                p.name
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

fn check(name: &str, ts: &[Prop], value: &serde_json::Value, js_added: &[&str]) {
    if let Err(errors) = compare(name, ts, value, js_added) {
        panic!(
            "tinychat.d.ts does not match the Rust types:\n  {}\n---> HINT: rename the field in web/tinychat.d.ts too (and in the JavaScript that reads it)",
            errors.join("\n  ")
        );
    }
}

// ---- samples: every optional field set, then none --------------------------------------------

fn score(category: &str, implied_by: Option<&str>) -> CategoryScore {
    CategoryScore {
        category: category.into(),
        score: 0.25,
        threshold: 0.5,
        flagged: implied_by.is_some(),
        implied_by: implied_by.map(String::from),
    }
}

fn verdict() -> Verdict {
    Verdict {
        flagged: true,
        categories: vec![
            score("violence", Some("illicit/violent")),
            score("hate", None),
        ],
    }
}

fn reply(full: bool) -> Reply {
    Reply {
        text: "Paris.".into(),
        source: Source::Model,
        route: Route::Model,
        input_verdict: verdict(),
        output_verdict: full.then(verdict),
        template_category: full.then(|| "violence".into()),
        prompt_tokens: 12,
        dropped_turns: 1,
        completion_tokens: 3,
        finish_reason: full.then_some(FinishReason::Stop),
        timings: Timings::default(),
    }
}

fn engine_info() -> EngineInfo {
    EngineInfo {
        backend: "cpu".into(),
        backend_reason: "the CPU engine was requested".into(),
        backend_detail: String::new(),
        moderator_backend: "cpu".into(),
        cpu_threads: 2,
        chat_model_path: "chat".into(),
        chat_model: serde_json::json!({ "model_type": "llama" }),
        chat_weights: "f16".into(),
        moderator_labels: vec!["violence".into()],
        thresholds: vec![("violence".into(), 0.5)],
        context: 512,
        sampling: SamplingParams::default(),
    }
}

/// Every value of each enum: the `match`es stop compiling when a variant is added.
fn sources() -> Vec<Source> {
    let all = vec![Source::Model, Source::Template];
    for s in &all {
        match s {
            Source::Model | Source::Template => {}
        }
    }
    all
}
fn routes() -> Vec<Route> {
    let all = vec![Route::Model, Route::InputFlagged, Route::OutputFlagged];
    for r in &all {
        match r {
            Route::Model | Route::InputFlagged | Route::OutputFlagged => {}
        }
    }
    all
}
fn finish_reasons() -> Vec<FinishReason> {
    let all = vec![FinishReason::Stop, FinishReason::Length];
    for f in &all {
        match f {
            FinishReason::Stop | FinishReason::Length => {}
        }
    }
    all
}
fn stages() -> Vec<Stage> {
    let all = vec![Stage::Input, Stage::Output];
    for s in &all {
        match s {
            Stage::Input | Stage::Output => {}
        }
    }
    all
}

fn names<T: serde::Serialize>(values: &[T]) -> Vec<String> {
    values
        .iter()
        .map(|v| json(v).as_str().unwrap().to_string())
        .collect()
}

fn prop<'a>(ts: &'a [Prop], name: &str) -> &'a Prop {
    ts.iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no property {name}"))
}

// ---- the tests -----------------------------------------------------------------------------

#[test]
fn reply_verdict_and_scores_match_the_dts() {
    let d = Dts::new(DTS);
    let ts = d.interface("Reply");
    check("Reply", &ts, &json(&reply(true)), &[]);
    check("Reply (nothing optional)", &ts, &json(&reply(false)), &[]);
    check("Verdict", &d.interface("Verdict"), &json(&verdict()), &[]);
    let cs = d.interface("CategoryScore");
    check(
        "CategoryScore",
        &cs,
        &json(&score("violence", Some("x"))),
        &[],
    );
    check(
        "CategoryScore (not implied)",
        &cs,
        &json(&score("hate", None)),
        &[],
    );
    check(
        "Timings",
        &d.interface("Timings"),
        &json(&Timings::default()),
        &[],
    );

    let mut source = literals(&prop(&ts, "source").ty);
    let mut want = names(&sources());
    source.sort();
    want.sort();
    assert_eq!(source, want, "Reply.source");
    assert_eq!(
        literals(&prop(&ts, "route").ty),
        names(&routes()),
        "Reply.route"
    );
    assert_eq!(
        literals(&prop(&ts, "finish_reason").ty),
        names(&finish_reasons()),
        "Reply.finish_reason"
    );
}

#[test]
fn chunks_match_the_dts_variants() {
    let d = Dts::new(DTS);
    let variants = object_variants(&d.alias("Chunk"));
    let chunks = [
        Chunk::Text {
            text: "Paris".into(),
        },
        Chunk::Template {
            text: "I can't help with that.".into(),
            stage: Stage::Input,
            verdict: verdict(),
        },
    ];
    assert_eq!(variants.len(), chunks.len(), "one .d.ts variant per Chunk");
    for c in &chunks {
        let v = json(c);
        let tag = v["type"].as_str().unwrap();
        let ts = variants
            .iter()
            .find(|props| {
                props
                    .iter()
                    .any(|p| p.name == "type" && literals(&p.ty) == [tag])
            })
            .unwrap_or_else(|| panic!("tinychat.d.ts has no Chunk variant with type \"{tag}\""));
        check(&format!("Chunk {tag}"), ts, &v, &[]);
    }
    assert_eq!(literals(&d.alias("Stage")), names(&stages()), "Stage");
}

#[test]
fn engine_info_and_the_contract_match_the_dts() {
    let d = Dts::new(DTS);
    // The loader (web/core.js) adds these to what Rust serialises.
    let js_added = [
        "cpu_threads_reason",
        "from_cache",
        "bundle_bytes",
        "load_ms",
        "pipeline",
        "model",
    ];
    check(
        "EngineInfo",
        &d.interface("EngineInfo"),
        &json(&engine_info()),
        &js_added,
    );
    let contract: Contract = api::contract();
    check("Contract", &d.interface("Contract"), &json(&contract), &[]);
    assert_eq!(
        literals(&d.alias("Backend")),
        Backend::BROWSER_NAMES,
        "Backend"
    );
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(literals(&d.alias("ErrorCode")), codes, "ErrorCode");
    let options: Vec<String> = d
        .interface("SamplingOptions")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(options, api::sampling_keys(), "SamplingOptions");
}

/// The comparison catches a renamed field (a Rust rename seen from the .d.ts side: the key the
/// Rust side serialises is no longer the declared one), a dropped `| null`, and an optional
/// field that Rust always serialises is fine.
#[test]
fn a_renamed_rust_field_fails_the_comparison() {
    let d = Dts::new(DTS);
    let ts = d.interface("Reply");
    let mut v = json(&reply(true));
    let obj = v.as_object_mut().unwrap();
    let x = obj.remove("dropped_turns").unwrap();
    obj.insert("turns_dropped".into(), x);
    let errors = compare("Reply", &ts, &v, &[]).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("`turns_dropped`, which tinychat.d.ts does not declare"));
    assert!(errors[1].contains("declares `dropped_turns`, which Rust does not serialise"));

    let strict = props("output_verdict: Verdict; template_category?: string");
    let v = serde_json::json!({ "output_verdict": null });
    let errors = compare("R", &strict, &v, &[]).unwrap_err();
    assert!(errors[0].contains("has no `| null`"), "{errors:?}");

    // The parser: nested types, arrow functions, optional and readonly members, methods.
    let p = props(
        "readonly a: Array<{ x: 1; y: 2 }>; b?: (c: C) => void; m(x: X): Y; d: \"p\" | null;",
    );
    let got: Vec<(&str, bool)> = p.iter().map(|p| (p.name.as_str(), p.optional)).collect();
    assert_eq!(got, [("a", false), ("b", true), ("d", false)]);
    assert_eq!(literals(&p[2].ty), ["p"]);
}
