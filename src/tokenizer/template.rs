//! Chat templates: `tokenizer_config.json`'s `chat_template`, rendered with minijinja so that the
//! result is byte-for-byte what transformers' `apply_chat_template(tokenize=False)` returns.
//!
//! transformers renders with a Jinja2 `ImmutableSandboxedEnvironment(trim_blocks=True,
//! lstrip_blocks=True, extensions=[loopcontrols])` and adds globals `raise_exception`,
//! `strftime_now` and a `tojson` filter that is Python's `json.dumps`. What it takes to match:
//!
//! - trim_blocks, lstrip_blocks and `break`/`continue` (minijinja's `loop_controls` feature);
//! - Python string methods (`.strip()`, `.startswith()`, ...) through minijinja-contrib's pycompat;
//! - `raise_exception(msg)` fails the render with exactly `msg`;
//! - `tojson` as `json.dumps(x, ensure_ascii=False)`: `", "` and `": "` separators, no HTML
//!   escaping, non-ASCII kept, dict keys in insertion order (minijinja's `preserve_order`
//!   feature; a [`Message`] serialises as role, then content), Python's float spelling;
//! - special tokens (`bos_token`, `eos_token`) are defined only when the tokenizer has them.

use crate::error::{Error, Result};
use crate::jinja::{RenderError, Sandbox, LIMITS};
use minijinja::value::{Kwargs, ValueKind};
use minijinja::Value as JValue;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

/// One chat message, as in the OpenAI and transformers APIs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Self {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
    pub fn user(content: &str) -> Self {
        Self::new("user", content)
    }
    pub fn assistant(content: &str) -> Self {
        Self::new("assistant", content)
    }
    pub fn system(content: &str) -> Self {
        Self::new("system", content)
    }
}

/// The chat template and special tokens of `tokenizer_config.json`.
#[derive(Clone, Debug)]
pub struct ChatTemplate {
    pub template: String,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
}

impl ChatTemplate {
    pub fn new(template: &str, bos_token: Option<&str>, eos_token: Option<&str>) -> Self {
        ChatTemplate {
            template: template.into(),
            bos_token: bos_token.map(Into::into),
            eos_token: eos_token.map(Into::into),
        }
    }

    /// Reads the `chat_template` of a `tokenizer_config.json` (a string, or a list of named
    /// templates of which "default" is used), with its `bos_token` and `eos_token`.
    pub fn from_tokenizer_config(text: &str, origin: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::Template(format!("{origin}: invalid JSON: {e}")))?;
        let template = match v.get("chat_template") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                .or_else(|| list.first())
                .and_then(|t| t.get("template"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Error::Template(format!("{origin}: chat_template list has no usable template"))
                })?
                .to_string(),
            _ => {
                return Err(Error::Template(format!(
                    "{origin}: no chat_template field; this model has no chat format (use `generate` with a plain prompt)"
                )))
            }
        };
        // Special tokens are strings, or AddedToken objects {"content": "..."}.
        let token = |key: &str| match v.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => o.get("content").and_then(Value::as_str).map(Into::into),
            _ => None,
        };
        Ok(ChatTemplate {
            template,
            bos_token: token("bos_token"),
            eos_token: token("eos_token"),
        })
    }

    /// The text of a `tokenizer_config.json` (or `{}` when there is none) with its
    /// `chat_template` set to `template`: transformers ≥ 4.43 saves the template as
    /// `chat_template.jinja` beside tokenizer_config.json, and that file wins over the field.
    pub fn tokenizer_config_with_template(
        tokenizer_config: Option<&str>,
        template: &str,
        origin: &str,
    ) -> Result<String> {
        let mut v: Value = match tokenizer_config {
            Some(t) => serde_json::from_str(t)
                .map_err(|e| Error::Template(format!("{origin}: invalid JSON: {e}")))?,
            None => Value::Object(Default::default()),
        };
        let obj = v.as_object_mut().ok_or_else(|| {
            Error::Template(format!("{origin}: expected a JSON object at the top level"))
        })?;
        obj.insert("chat_template".into(), template.into());
        Ok(v.to_string())
    }

    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_tokenizer_config(&text, &path.display().to_string())
    }

    /// Renders the conversation; `add_generation_prompt` appends the assistant's header. The
    /// template runs under the limits of [`crate::jinja`]: one that is too large, too deep or
    /// too costly is an error, not a hang.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let mut ctx = std::collections::BTreeMap::new();
        ctx.insert("messages", JValue::from_serialize(messages));
        ctx.insert("add_generation_prompt", JValue::from(add_generation_prompt));
        if let Some(t) = &self.bos_token {
            ctx.insert("bos_token", JValue::from(t.as_str()));
        }
        if let Some(t) = &self.eos_token {
            ctx.insert("eos_token", JValue::from(t.as_str()));
        }
        sandbox().render(&self.template, ctx).map_err(|e| match e {
            RenderError::Prepare(m) => Error::Template(format!("cannot parse the template: {m}")),
            // raise_exception's message alone, as transformers raises it; otherwise
            // minijinja's description with the line it points at.
            RenderError::Render(m, Some(e)) => {
                let raised = std::error::Error::source(&e)
                    .is_some_and(|s| s.downcast_ref::<RaisedException>().is_some());
                match e.detail() {
                    Some(detail) if raised => Error::Template(detail.to_string()),
                    _ => Error::Template(m),
                }
            }
            RenderError::Render(m, None) => Error::Template(m),
        })
    }
}

/// The Jinja environment transformers renders chat templates in, with tinychat's limits.
fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        Sandbox::new(true, python_formatter, |env| {
            env.add_function("raise_exception", raise_exception);
            env.add_function("strftime_now", strftime_now);
            env.add_filter("tojson", tojson);
        })
    })
}

/// Marks the errors that the template raised itself.
#[derive(Debug)]
struct RaisedException;

impl std::fmt::Display for RaisedException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("raised by the template")
    }
}

impl std::error::Error for RaisedException {}

fn raise_exception(msg: String) -> std::result::Result<JValue, minijinja::Error> {
    Err(
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg)
            .with_source(RaisedException),
    )
}

/// `{{ x }}` prints booleans and none as Python does (`True`, `False`, `None`); everything else
/// as minijinja does (no auto-escaping: chat templates are not HTML).
fn python_formatter(
    out: &mut minijinja::Output<'_>,
    state: &minijinja::State<'_, '_>,
    value: &JValue,
) -> std::result::Result<(), minijinja::Error> {
    let word = match value.kind() {
        ValueKind::Bool if value.is_true() => "True",
        ValueKind::Bool => "False",
        ValueKind::None => "None",
        _ => return minijinja::escape_formatter(out, state, value),
    };
    out.write_str(word).map_err(minijinja::Error::from)
}

/// `strftime_now(format)`: the current date and time (UTC; transformers uses the local time
/// zone, which a browser tab and a server need not share) formatted like Python's `strftime`.
/// Templates use it for a "Today Date:" line (Llama 3.1+).
fn strftime_now(
    state: &minijinja::State,
    format: String,
) -> std::result::Result<String, minijinja::Error> {
    // Each code writes at most 9 bytes ("September").
    crate::jinja::charge(state, 10 * format.len() as u64)?;
    Ok(strftime(&format, unix_seconds_now()))
}

#[cfg(not(target_arch = "wasm32"))]
fn unix_seconds_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(target_arch = "wasm32")]
fn unix_seconds_now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// Python's `time.strftime` for the C locale, for the codes templates use: `%Y %y %m %d %e %j
/// %H %I %M %S %p %a %A %b %B %%`, and glibc's `%-d`/`%-m`/`%-H`/`%-I`/`%-M`/`%-S` (no padding).
/// Any other code is copied as written.
pub fn strftime(format: &str, unix_seconds: i64) -> String {
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (secs / 3600, secs / 60 % 60, secs % 60);
    // 1970-01-01 was a Thursday (index 3 with Monday = 0).
    let weekday = (days + 3).rem_euclid(7) as usize;
    let yday = days - days_from_civil(year, 1, 1) + 1;
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };

    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let unpadded = chars.peek() == Some(&'-');
        if unpadded {
            chars.next();
        }
        let num = |out: &mut String, v: i64, width: usize| {
            if unpadded {
                let _ = write!(out, "{v}");
            } else {
                let _ = write!(out, "{v:0width$}");
            }
        };
        match chars.next() {
            Some('Y') => num(&mut out, year, 4),
            Some('y') => num(&mut out, year.rem_euclid(100), 2),
            Some('m') => num(&mut out, month, 2),
            Some('d') => num(&mut out, day, 2),
            Some('e') => {
                let _ = write!(out, "{day:2}");
            }
            Some('j') => num(&mut out, yday, 3),
            Some('H') => num(&mut out, hour, 2),
            Some('I') => num(&mut out, hour12, 2),
            Some('M') => num(&mut out, minute, 2),
            Some('S') => num(&mut out, second, 2),
            Some('p') => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            Some('a') => out.push_str(&DAYS[weekday][..3]),
            Some('A') => out.push_str(DAYS[weekday]),
            Some('b') | Some('h') => out.push_str(&MONTHS[month as usize - 1][..3]),
            Some('B') => out.push_str(MONTHS[month as usize - 1]),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                if unpadded {
                    out.push('-');
                }
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a civil date; the inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `tojson` filter of transformers' chat-template environment:
/// `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
fn tojson(
    state: &minijinja::State,
    value: &JValue,
    kwargs: Kwargs,
) -> std::result::Result<JValue, minijinja::Error> {
    let ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(false);
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    // indent: an int (that many spaces) or a string (used as is), as in Python.
    let indent = match kwargs.get::<Option<JValue>>("indent")? {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) if v.is_integer() => {
            let n = v.as_i64().unwrap_or(0).max(0) as usize;
            if n > LIMITS.width {
                return Err(too_wide());
            }
            Some(" ".repeat(n))
        }
        Some(v) if v.kind() == ValueKind::String => {
            let s = v.as_str().unwrap_or("");
            if s.len() > LIMITS.width {
                return Err(too_wide());
            }
            Some(s.to_string())
        }
        Some(v) => {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("tojson: indent must be an integer or a string, not {v}"),
            ))
        }
    };
    let separators = match kwargs.get::<Option<Vec<String>>>("separators")? {
        Some(s) if s.len() == 2 => (s[0].clone(), s[1].clone()),
        Some(_) => {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "tojson: separators must be a pair (item_separator, key_separator)",
            ))
        }
        // Python's default item separator drops its space when indenting (the newline replaces it).
        None if indent.is_some() => (",".to_string(), ": ".to_string()),
        None => (", ".to_string(), ": ".to_string()),
    };
    kwargs.assert_all_used()?;
    if separators.0.len() + separators.1.len() > LIMITS.width {
        return Err(too_wide());
    }
    let opts = JsonOpts {
        ensure_ascii,
        sort_keys,
        indent,
        item_sep: separators.0,
        key_sep: separators.1,
        // The output may use what the render has left; write_json stops past it.
        max: crate::jinja::remaining(state) as usize,
    };
    let mut out = String::new();
    write_json(&mut out, value, &opts, 0)?;
    crate::jinja::charge(state, out.len() as u64)?;
    Ok(JValue::from_safe_string(out))
}

fn too_wide() -> minijinja::Error {
    minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        format!(
            "tojson: indent and separators may be at most {} long",
            LIMITS.width
        ),
    )
}

struct JsonOpts {
    /// The longest output allowed.
    max: usize,
    ensure_ascii: bool,
    sort_keys: bool,
    indent: Option<String>,
    item_sep: String,
    key_sep: String,
}

impl JsonOpts {
    fn newline(&self, out: &mut String, depth: usize) {
        if let Some(ind) = &self.indent {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(ind);
            }
        }
    }
}

fn write_json(
    out: &mut String,
    v: &JValue,
    o: &JsonOpts,
    depth: usize,
) -> std::result::Result<(), minijinja::Error> {
    if depth > LIMITS.value_depth || out.len() > o.max {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            if depth > LIMITS.value_depth {
                format!(
                    "tojson: a value nested more than {} deep",
                    LIMITS.value_depth
                )
            } else {
                "template limit: tojson's output is larger than the work the render has left".into()
            },
        ));
    }
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number if v.is_integer() => {
            let _ = write!(out, "{v}");
        }
        ValueKind::Number => out.push_str(&python_float_repr(f64::try_from(v.clone())?)),
        ValueKind::String => write_json_str(out, v.as_str().unwrap_or(""), o.ensure_ascii),
        ValueKind::Map => {
            let mut keys: Vec<JValue> = v.try_iter()?.collect();
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if o.sort_keys {
                keys.sort_by(|a, b| a.to_string().cmp(&b.to_string()));
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(&o.item_sep);
                }
                o.newline(out, depth + 1);
                // Python turns str, int, float, bool and None keys into strings.
                let key = match k.kind() {
                    ValueKind::String => k.as_str().unwrap_or("").to_string(),
                    ValueKind::None | ValueKind::Undefined => "null".into(),
                    ValueKind::Bool => (if k.is_true() { "true" } else { "false" }).into(),
                    ValueKind::Number if !k.is_integer() => {
                        python_float_repr(f64::try_from(k.clone())?)
                    }
                    _ => k.to_string(),
                };
                write_json_str(out, &key, o.ensure_ascii);
                out.push_str(&o.key_sep);
                write_json(out, &v.get_item(k)?, o, depth + 1)?;
            }
            o.newline(out, depth);
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<JValue> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&o.item_sep);
                }
                o.newline(out, depth + 1);
                write_json(out, item, o, depth + 1)?;
            }
            o.newline(out, depth);
            out.push(']');
        }
        ValueKind::Bytes | ValueKind::Plain | ValueKind::Invalid => {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!(
                    "tojson: Object of type {} is not JSON serializable",
                    v.kind()
                ),
            ))
        }
        _ => {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "tojson: value is not JSON serializable",
            ))
        }
    }
    Ok(())
}

/// A JSON string literal as Python's json module writes it: `"` `\` and control characters
/// escaped (`\n \r \t \b \f` by name, the rest as `\u00XX`); with `ensure_ascii`, every
/// non-ASCII character as `\uXXXX` (UTF-16 surrogate pairs above U+FFFF).
fn write_json_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: the shortest digits that round-trip, positional for exponents in
/// [-4, 16), otherwise `1e+16` / `1.5e-07`; integral values keep a `.0`; `NaN`, `Infinity`.
fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    if (-4..16).contains(&exp) {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str) -> String {
        ChatTemplate::new(t, None, None).render(&[], false).unwrap()
    }

    #[test]
    fn tojson_is_python_json_dumps() {
        assert_eq!(
            render(r#"{{ {"b": 1, "a": [1.5, 2.0, true, none, "x<y>&'"]} | tojson }}"#),
            r#"{"b": 1, "a": [1.5, 2.0, true, null, "x<y>&'"]}"#
        );
        assert_eq!(
            render(r#"{{ {"b": [], "a": {}} | tojson(sort_keys=true) }}"#),
            r#"{"a": {}, "b": []}"#
        );
        assert_eq!(
            render(r#"{{ ["é", "\u0001"] | tojson(ensure_ascii=true) }}"#),
            r#"["\u00e9", "\u0001"]"#
        );
        assert_eq!(
            render(r#"{{ {"a": [1, 2]} | tojson(indent=1) }}"#),
            "{\n \"a\": [\n  1,\n  2\n ]\n}"
        );
        assert_eq!(
            render(r#"{{ [1, 2] | tojson(separators=[",", ":"]) }}"#),
            "[1,2]"
        );
    }

    #[test]
    fn python_float_spelling() {
        for (x, s) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (0.00001234, "1.234e-05"),
            (123456789012345.0, "123456789012345.0"),
        ] {
            assert_eq!(python_float_repr(x), s);
        }
    }

    #[test]
    fn strftime_matches_python() {
        // 2024-02-29 13:05:09 UTC, a Thursday: time.strftime(fmt, time.gmtime(1709211909))
        let t = 1_709_211_909;
        assert_eq!(strftime("%d %b %Y", t), "29 Feb 2024");
        assert_eq!(
            strftime("%A %B %-d %H:%M:%S %I%p %j %y %e %%", t),
            "Thursday February 29 13:05:09 01PM 060 24 29 %"
        );
        assert_eq!(strftime("%Y-%m-%d %a", 0), "1970-01-01 Thu");
    }

    #[test]
    fn missing_special_tokens_are_undefined() {
        // transformers passes only the special tokens the tokenizer has.
        assert_eq!(
            render("{{ bos_token is defined }}{{ eos_token is defined }} {{ none }}"),
            "FalseFalse None"
        );
    }
}
