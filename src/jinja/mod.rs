//! Untrusted Jinja templates, rendered with limits. Chat templates and the pipeline's response
//! templates come from the model directory or the bundle, so a template must not be able to
//! hang, exhaust memory or overflow the stack, whatever it says; [`Sandbox`] renders them with
//! minijinja under the limits of [`LIMITS`] (docs/limits.md has the table).
//!
//! How each kind of cost is bounded:
//!
//! - **Parsing**: minijinja's parser recurses once per unary operator (`not not … 1`) and its
//!   code generator once per operator of a chain (`1+1+…`), without a limit. [`precheck`]
//!   refuses a source over 256 KiB, and any tag with more than 100 operators, before the parser
//!   sees it.
//! - **Steps**: minijinja's fuel counts instructions; a render gets 1,000,000.
//! - **Work and memory**: minijinja has no hook for its operators. [`rewrite`] parses the
//!   template (minijinja's `unstable_machinery` AST) and writes it back with every operation whose
//!   cost grows with its operands routed through a function of this module: `a + b`, `a * b`,
//!   `a ~ b`, comparisons and `in`, `x[i]`, `x[a:b]`, list and map literals, calls, `{% for %}`
//!   and `{% set ns.x = … %}`. Those functions, the filters, tests, functions and string methods
//!   (each wrapped or replaced) and the formatter charge a per-render budget of 16 Mi units (a
//!   unit is about a byte touched) before they do the work, and materialise lazy sequences, so no
//!   single step costs more than the budget has left. Every other instruction costs O(1), so a
//!   render does at most fuel + budget work and holds at most that much memory.
//! - **Values**: a value nested more than 64 deep is refused where it is measured, and a
//!   namespace attribute cannot be given a namespace, macro or other object, so no value contains
//!   itself (minijinja's `Display`, equality and hashing would recurse forever on one).
//! - **Recursion**: minijinja's recursion limit (macros, recursive loops), lowered to 100.
//! - **Output**: at most 16 MiB written.
//! - Filters, tests, functions and methods that cannot be bounded are not there: `pprint`,
//!   `debug`, includes, imports and `{% extends %}` (a template has no others to load).

mod budget;
mod rewrite;

#[allow(unused_imports)]
use budget::*;
pub use budget::{charge, check_format, remaining};
#[allow(unused_imports)]
use rewrite::*;
pub use rewrite::{precheck, rewrite};

use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};
use minijinja::machinery::WhitespaceConfig;
use minijinja::value::{Object, ObjectRepr, Rest, Value, ValueKind};

/// minijinja's map type (its own alias is private): what map literals and serde maps become.
type ValueMap = indexmap::IndexMap<Value, Value>;
use minijinja::{Environment, Error, ErrorKind, State};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The limits of one template and one render (docs/limits.md).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of template source.
    pub source_bytes: usize,
    /// Characters on one line of the source. minijinja keeps a column in a u16 that saturates,
    /// and its syntax error adds one to it: past 65,535 characters that overflows (a panic in
    /// builds with overflow checks: found by fuzzing). Rewritten lines grow, so the limit is
    /// far below that, and the rewritten source is checked again.
    pub line_chars: usize,
    /// Operators (and `.`, `[`, `(`, `|`) in one `{{ }}` or `{% %}` tag: the depth of an
    /// expression is at most this.
    pub operators_per_tag: usize,
    /// minijinja instructions per render.
    pub fuel: u64,
    /// Units of work per render: bytes built, copied, compared or printed by the operations
    /// that grow with their operands.
    pub work: u64,
    /// Bytes of output per render.
    pub output_bytes: usize,
    /// Items of one list (or entries of one map).
    pub items: usize,
    /// Nesting of a value (lists in lists, maps in maps).
    pub value_depth: usize,
    /// A width or precision in `format`, `indent` and string methods.
    pub width: usize,
    /// Nested macro calls and recursive loops (minijinja's recursion limit; a macro call counts 4).
    pub recursion: usize,
}

pub const LIMITS: Limits = Limits {
    source_bytes: 256 * 1024,
    line_chars: 16 * 1024,
    operators_per_tag: 100,
    fuel: 1_000_000,
    work: 16 << 20,
    output_bytes: 16 << 20,
    items: 100_000,
    value_depth: 64,
    width: 4096,
    recursion: 100,
};

/// Prefix of this module's functions in rewritten templates; a template may not use it.
const HOOK: &str = "__tc_";

// ---- the source, before minijinja parses it -------------------------------------------------------

/// Writes into a buffer and fails past the output limit.
struct Limited {
    out: Vec<u8>,
    over: bool,
}

impl std::io::Write for Limited {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + b.len() > LIMITS.output_bytes {
            self.over = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.out.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How `{{ value }}` prints (after it has been measured).
pub type Formatter = fn(&mut minijinja::Output<'_>, &State<'_, '_>, &Value) -> Result<(), Error>;

/// A minijinja environment with the limits of this module. Build it once (it is `Sync`) and
/// render any number of templates with it.
pub struct Sandbox {
    env: Environment<'static>,
    /// Trim and lstrip blocks: applied when the template is rewritten (the rewritten template
    /// has no whitespace of its own to trim).
    trim: bool,
}

impl Sandbox {
    /// `trim`: Jinja2's `trim_blocks` and `lstrip_blocks` (chat templates use both); `print`
    /// prints `{{ value }}`; `extra` adds filters and functions (each must charge what it does:
    /// [`charge`]).
    pub fn new(
        trim: bool,
        print: Formatter,
        extra: impl FnOnce(&mut Environment<'static>),
    ) -> Self {
        let mut env = Environment::empty();
        env.set_fuel(Some(LIMITS.fuel));
        env.set_recursion_limit(LIMITS.recursion);
        for &name in FILTERS {
            env.add_filter(name, move |state: &State, args: Rest<Value>| {
                filter_hook(state, name, &args)
            });
        }
        for &name in TESTS {
            env.add_test(name, move |state: &State, args: Rest<Value>| {
                test_hook(state, name, &args)
            });
        }
        env.add_function("range", range_fn);
        env.add_function("namespace", builtin_fn("namespace"));
        env.add_function("dict", builtin_fn("dict"));
        env.add_function("__tc_op", |state: &State, op: String, v: Rest<Value>| {
            op_hook(state, &op, v)
        });
        env.add_function("__tc_cmp", cmp_hook);
        env.add_function("__tc_slice", slice_hook);
        env.add_function("__tc_item", item_hook);
        env.add_function("__tc_call", call_hook);
        env.add_function("__tc_list", list_hook);
        env.add_function("__tc_map", map_hook);
        env.add_function("__tc_attr", attr_hook);
        env.add_function("__tc_loop", loop_hook);
        env.set_unknown_method_callback(method_hook);
        env.set_formatter(move |out, state, value| {
            charge_values(state, &[value])?;
            print(out, state, value)
        });
        extra(&mut env);
        Sandbox { env, trim }
    }

    fn rewrite(&self, source: &str) -> Result<String, String> {
        let ws = WhitespaceConfig {
            keep_trailing_newline: false,
            lstrip_blocks: self.trim,
            trim_blocks: self.trim,
        };
        rewrite(source, ws)
    }

    /// Checks `source` ([`precheck`], [`rewrite`], compiles the result) without rendering it.
    pub fn check(&self, source: &str) -> Result<(), String> {
        let rewritten = self.rewrite(source)?;
        self.env
            .template_from_str(&rewritten)
            .map(|_| ())
            .map_err(|e| explain(&e))
    }

    /// Renders `source` with `ctx` under the limits; the error says what went wrong and where.
    pub fn render<S: serde::Serialize>(&self, source: &str, ctx: S) -> Result<String, RenderError> {
        let rewritten = self.rewrite(source).map_err(RenderError::Prepare)?;
        let tmpl = self
            .env
            .template_from_str(&rewritten)
            .map_err(|e| RenderError::Prepare(explain(&e)))?;
        let mut out = Limited {
            out: Vec::new(),
            over: false,
        };
        let result = tmpl.render_captured_to(ctx, &mut out).map(drop);
        match result {
            Ok(()) => String::from_utf8(out.out)
                .map_err(|_| RenderError::Render("the output is not valid UTF-8".into(), None)),
            Err(_) if out.over => Err(RenderError::Render(
                format!(
                    "template limit: the output is longer than {} bytes",
                    LIMITS.output_bytes
                ),
                None,
            )),
            Err(e) => Err(RenderError::Render(explain(&e), Some(e))),
        }
    }
}

/// Why a template did not render.
#[derive(Debug)]
pub enum RenderError {
    /// It was refused before running (too large, too deep, does not parse).
    Prepare(String),
    /// It failed while running; the minijinja error, when there is one, for its details.
    Render(String, Option<Error>),
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderError::Prepare(m) | RenderError::Render(m, _) => f.write_str(m),
        }
    }
}

/// A minijinja error as a message, with the limit that was reached spelled out.
fn explain(e: &Error) -> String {
    match e.kind() {
        ErrorKind::OutOfFuel => format!(
            "template limit: more than {} steps in one render (a loop that runs too long?)",
            LIMITS.fuel
        ),
        _ => {
            let msg = format!("{e:#}");
            if msg.contains("exceeds maximum recursion") || msg.contains("recursion limit") {
                format!("template limit: nested too deeply: {msg}")
            } else {
                msg
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_are_counted_outside_strings() {
        assert!(precheck("{{ 'a+b+c+d' }}").is_ok());
        let deep = format!("{{{{ {}1 }}}}", "not ".repeat(200));
        assert!(precheck(&deep).unwrap_err().contains("line 1"));
        let chain = format!("x\n{{{{ {}1 }}}}", "1+".repeat(200));
        assert!(precheck(&chain).unwrap_err().contains("line 2"));
        assert!(precheck("{% raw %}{{ 1+1+1+1 }}{% endraw %}").is_ok());
        assert!(precheck("{{ __tc_op('+', 1, 2) }}").is_err());
    }

    #[test]
    fn a_line_longer_than_minijinja_can_count_is_refused() {
        // A syntax error at column 65,535 overflowed minijinja's u16 column (fuzzing).
        let long = format!("{}{{{{ 1 +", "x".repeat(70_000));
        let err = precheck(&long).unwrap_err();
        assert!(
            err.contains("line 1 has more than 16384 characters"),
            "{err}"
        );
        let second = format!("ok\n{}", "é".repeat(LIMITS.line_chars + 1));
        assert!(precheck(&second).unwrap_err().starts_with("line 2 "));
        // At the limit (counted in characters, not bytes) the template is fine.
        assert!(precheck(&"é".repeat(LIMITS.line_chars)).is_ok());
        // A syntax error near the end of a line at the limit is an ordinary error.
        let sb = Sandbox::new(false, minijinja::escape_formatter, |_| {});
        let near = format!("{}{{{{ 1 +", "x".repeat(LIMITS.line_chars - 8));
        assert!(sb.check(&near).unwrap_err().contains("syntax error"));
    }

    #[test]
    fn rewrite_routes_growing_operations_through_hooks() {
        let ws = WhitespaceConfig::default();
        let r = rewrite("{{ a + b + c ~ d }}{% for x in xs %}ab{% endfor %}", ws).unwrap();
        assert_eq!(
            r,
            "{{ __tc_op('+', a, b, __tc_op('~', c, d)) }}{% for x in __tc_loop(xs) %}{{ \"ab\" }}{% endfor %}"
        );
        let r = rewrite(
            "{% set ns.x = [m['a'], y[1:]] %}\n{{ x == 1 and not y|f(2) }}",
            ws,
        )
        .unwrap();
        assert_eq!(
            r,
            "{% set ns.x = __tc_attr(__tc_list(__tc_item(m, \"a\"), __tc_slice(y, 1, none, none))) %}{{ \"\\u000a\" }}{{\n __tc_cmp(x, '==', 1) and (not (y|f(2))) }}"
        );
        assert!(rewrite("{% include 'x' %}", ws).is_err());
    }

    #[test]
    fn slices_follow_python() {
        let sb = Sandbox::new(false, minijinja::escape_formatter, |_| {});
        let r = |t: &str| sb.render(t, ()).unwrap();
        assert_eq!(r("{{ [1,2,3,4,5][::-1] }}"), "[5, 4, 3, 2, 1]");
        assert_eq!(r("{{ [1,2,3,4,5][-1:5:-2] }}"), "[]");
        assert_eq!(r("{{ [1,2,3,4,5][4:0:-2] }}"), "[5, 3]");
        assert_eq!(
            r("{{ 'hello'[1:-1] }}|{{ 'hello'[::-2] }}|{{ 'hello'[-100:100] }}"),
            "ell|olh|hello"
        );
        assert_eq!(
            r("{{ [1,2,3][-9223372036854775807:9223372036854775807:-9223372036854775807] }}"),
            "[]"
        );
        assert_eq!(
            r("{{ [1,2,3][::-9223372036854775807] }}{{ [1,2,3][9223372036854775807::-1] }}"),
            "[3][3, 2, 1]"
        );
        assert!(sb.render("{{ [1][::0] }}", ()).is_err());
    }

    #[test]
    fn format_widths_are_bounded() {
        assert!(check_format("%5d %-3s %.2f {:>10} {0} %%").is_ok());
        assert!(check_format("%999999999999d").is_err());
        assert!(check_format("%.999999999f").is_err());
        assert!(check_format("{:>99999}").is_err());
        assert!(check_format("%*d").is_err());
    }
}
