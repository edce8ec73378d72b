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

/// Checks what minijinja's parser and code generator would recurse on without a limit: the
/// source's size and the number of operators in each tag. `Err` says what and where.
pub fn precheck(source: &str) -> Result<(), String> {
    if source.len() > LIMITS.source_bytes {
        return Err(format!(
            "the template has {} bytes, more than the {} tinychat accepts",
            source.len(),
            LIMITS.source_bytes
        ));
    }
    if source.contains(HOOK) {
        return Err(format!("names starting with {HOOK:?} are reserved"));
    }
    let b = source.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'{', b'#') => i = find(b, i + 2, b"#}").map_or(b.len(), |j| j + 2),
            (b'{', b'{') | (b'{', b'%') => {
                let close: &[u8] = if b[i + 1] == b'{' { b"}}" } else { b"%}" };
                let start = i;
                let (end, ops) = scan_tag(b, i + 2, close);
                if ops > LIMITS.operators_per_tag {
                    let line = 1 + source[..start].matches('\n').count();
                    return Err(format!(
                        "line {line}: a tag with {ops} operators; tinychat accepts {} in one expression (deeper nesting overflows the parser)",
                        LIMITS.operators_per_tag
                    ));
                }
                // {% raw %} … {% endraw %}: the text between is not parsed.
                let tag = &source[start..end.min(source.len())];
                i = if tag
                    .trim_start_matches(['{', '%', '-', '+', ' '])
                    .starts_with("raw")
                    && close == b"%}"
                {
                    find(b, end, b"endraw").map_or(b.len(), |j| j + 6)
                } else {
                    end
                };
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Scans a tag from `i` to its `close`, skipping string literals; returns the index after the
/// close and the number of operator tokens (an over-count: every symbol but `,` `:` and closing
/// brackets, and the keyword operators).
fn scan_tag(b: &[u8], mut i: usize, close: &[u8]) -> (usize, usize) {
    let mut ops = 0;
    while i < b.len() {
        if b[i..].starts_with(close) {
            return (i + close.len(), ops);
        }
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if matches!(
                    &b[s..i],
                    b"not" | b"and" | b"or" | b"in" | b"is" | b"if" | b"else"
                ) {
                    ops += 1;
                }
            }
            c if c.is_ascii_digit() => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_')
                {
                    i += 1;
                }
            }
            b',' | b':' | b')' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            _ => {
                ops += 1;
                i += 1;
            }
        }
    }
    (b.len(), ops)
}

// ---- the rewrite -----------------------------------------------------------------------------------

/// Parses `source` (after [`precheck`]) and writes it out again, from the syntax tree, with
/// every operation whose cost grows with its operands routed through this module's functions
/// (see the module docs), and the template's text emitted as string expressions (so that text
/// a macro or `{% set %}` block captures is measured like everything else). `ws` must be the
/// whitespace handling the template is meant for: the text is written after it is applied, and
/// the result renders without any. Line breaks of the source are kept inside tags, so errors
/// point at the source's lines. Refuses what a template cannot use here: includes, imports,
/// `extends`, blocks, and `*args` / `**kwargs`.
pub fn rewrite(source: &str, ws: WhitespaceConfig) -> Result<String, String> {
    precheck(source)?;
    let ast = minijinja::machinery::parse(source, "<template>", Default::default(), ws)
        .map_err(|e| format!("{e:#}"))?;
    let mut w = Writer {
        out: String::with_capacity(source.len() * 2),
        line: 1,
    };
    w.stmt(&ast)?;
    Ok(w.out)
}

struct Writer {
    out: String,
    /// The source line the output has reached.
    line: usize,
}

/// Whether `e` prints as one unit (a name, a literal, a call, an attribute): it needs no
/// parentheses as an operand.
fn is_atom(e: &Expr) -> bool {
    match e {
        Expr::Var(_) | Expr::Call(_) | Expr::GetAttr(_) | Expr::GetItem(_) | Expr::Slice(_) => true,
        Expr::List(_) | Expr::Map(_) | Expr::Compare(_) => true,
        Expr::Const(c) => {
            !c.value.as_i64().is_some_and(|i| i < 0)
                && !f64::try_from(c.value.clone()).is_ok_and(|f| f.is_sign_negative())
        }
        Expr::BinOp(b) => matches!(
            b.op,
            ast::BinOpKind::Add
                | ast::BinOpKind::Mul
                | ast::BinOpKind::Concat
                | ast::BinOpKind::Eq
                | ast::BinOpKind::Ne
                | ast::BinOpKind::Lt
                | ast::BinOpKind::Lte
                | ast::BinOpKind::Gt
                | ast::BinOpKind::Gte
                | ast::BinOpKind::In
        ),
        _ => false,
    }
}

/// A Jinja literal for a constant.
fn literal(v: &Value) -> Result<String, String> {
    Ok(match v.kind() {
        ValueKind::Undefined | ValueKind::None => "none".into(),
        ValueKind::Bool => (if v.is_true() { "true" } else { "false" }).into(),
        ValueKind::Number if v.is_integer() => {
            let s = v.to_string();
            if s.starts_with('-') {
                format!("({s})")
            } else {
                s
            }
        }
        ValueKind::Number => {
            let f = f64::try_from(v.clone()).map_err(|e| e.to_string())?;
            if !f.is_finite() {
                return Err("the template has a number that is not finite".into());
            }
            // {:?} keeps a `.0` on whole numbers and round-trips.
            let s = format!("{f:?}");
            if f.is_sign_negative() {
                format!("({s})")
            } else {
                s
            }
        }
        ValueKind::String => {
            let mut out = String::from("\"");
            for c in v.as_str().unwrap_or("").chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 || c == '\u{7f}' => {
                        out.push_str(&format!("\\u{:04x}", c as u32))
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        ValueKind::Seq => {
            let items: Result<Vec<String>, String> = v
                .try_iter()
                .map_err(|e| e.to_string())?
                .map(|x| literal(&x))
                .collect();
            format!("{HOOK}list({})", items?.join(", "))
        }
        other => {
            return Err(format!(
                "the template has a constant of kind {other} that cannot be written back"
            ))
        }
    })
}

fn arg_expr<'a, 'b>(a: &'b CallArg<'a>) -> Result<&'b Expr<'a>, String> {
    match a {
        CallArg::Pos(e) | CallArg::Kwarg(_, e) => Ok(e),
        CallArg::PosSplat(_) | CallArg::KwargSplat(_) => {
            Err("*args and **kwargs in calls are not supported".into())
        }
    }
}

fn bin_op(op: &ast::BinOpKind) -> &'static str {
    match op {
        ast::BinOpKind::Eq => "==",
        ast::BinOpKind::Ne => "!=",
        ast::BinOpKind::Lt => "<",
        ast::BinOpKind::Lte => "<=",
        ast::BinOpKind::Gt => ">",
        ast::BinOpKind::Gte => ">=",
        ast::BinOpKind::ScAnd => "and",
        ast::BinOpKind::ScOr => "or",
        ast::BinOpKind::Add => "+",
        ast::BinOpKind::Sub => "-",
        ast::BinOpKind::Mul => "*",
        ast::BinOpKind::Div => "/",
        ast::BinOpKind::FloorDiv => "//",
        ast::BinOpKind::Rem => "%",
        ast::BinOpKind::Pow => "**",
        ast::BinOpKind::Concat => "~",
        ast::BinOpKind::In => "in",
    }
}

fn same_op(a: &ast::BinOpKind, b: &ast::BinOpKind) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

impl Writer {
    /// Opens a tag (`{{` or `{%`), with the line breaks that bring the output to `line`.
    fn open(&mut self, tag: &str, line: usize) {
        self.out.push_str(tag);
        while self.line < line {
            self.out.push('\n');
            self.line += 1;
        }
        self.out.push(' ');
    }

    fn tag(&mut self, line: usize, body: &str) {
        self.open("{%", line);
        self.out.push_str(body);
        self.out.push_str(" %}");
    }

    /// An operand: parenthesised unless it prints as one unit.
    fn operand(&self, e: &Expr) -> Result<String, String> {
        let t = self.expr(e)?;
        Ok(if is_atom(e) { t } else { format!("({t})") })
    }

    fn args(&self, args: &[CallArg]) -> Result<String, String> {
        let mut parts = vec![];
        for a in args {
            parts.push(match a {
                CallArg::Kwarg(name, e) => format!("{name}={}", self.expr(e)?),
                _ => self.expr(arg_expr(a)?)?,
            });
        }
        Ok(parts.join(", "))
    }

    /// A call, not wrapped: `f(…)`, `x.m(…)`.
    fn call_text(&self, c: &ast::Call) -> Result<String, String> {
        let callee = match &c.expr {
            Expr::Var(v) => v.id.to_string(),
            other => self.operand(other)?,
        };
        Ok(format!("{callee}({})", self.args(&c.args)?))
    }

    /// A filter chain as `{% filter %}` and `{% set x | … %}` write it (no value to its left).
    fn filter_chain(&self, e: &Expr) -> Result<String, String> {
        match e {
            Expr::Filter(f) => {
                let head = match &f.expr {
                    None => String::new(),
                    Some(inner) => format!("{}|", self.filter_chain(inner)?),
                };
                Ok(format!("{head}{}({})", f.name, self.args(&f.args)?))
            }
            other => self.expr(other),
        }
    }

    fn expr(&self, e: &Expr) -> Result<String, String> {
        Ok(match e {
            Expr::Var(v) => v.id.to_string(),
            Expr::Const(c) => literal(&c.value)?,
            Expr::UnaryOp(u) => {
                let op = match u.op {
                    ast::UnaryOpKind::Not => "not ",
                    ast::UnaryOpKind::Neg => "-",
                };
                format!("{op}{}", self.operand(&u.expr)?)
            }
            Expr::BinOp(b) => {
                if let Some(op) = match b.op {
                    ast::BinOpKind::Add | ast::BinOpKind::Mul | ast::BinOpKind::Concat => {
                        Some("op")
                    }
                    ast::BinOpKind::Eq
                    | ast::BinOpKind::Ne
                    | ast::BinOpKind::Lt
                    | ast::BinOpKind::Lte
                    | ast::BinOpKind::Gt
                    | ast::BinOpKind::Gte
                    | ast::BinOpKind::In => Some("cmp"),
                    _ => None,
                } {
                    if op == "cmp" {
                        return Ok(format!(
                            "{HOOK}cmp({}, '{}', {})",
                            self.expr(&b.left)?,
                            bin_op(&b.op),
                            self.expr(&b.right)?
                        ));
                    }
                    // a + b + c parses as (a + b) + c: one call over the whole chain keeps the
                    // output as shallow as the source.
                    let mut operands = vec![&b.right];
                    let mut left = &b.left;
                    while let Expr::BinOp(l) = left {
                        if !same_op(&l.op, &b.op) {
                            break;
                        }
                        operands.push(&l.right);
                        left = &l.left;
                    }
                    operands.push(left);
                    let mut parts = vec![format!("'{}'", bin_op(&b.op))];
                    for o in operands.into_iter().rev() {
                        parts.push(self.expr(o)?);
                    }
                    return Ok(format!("{HOOK}op({})", parts.join(", ")));
                }
                // A left-associative chain (a - b - c, a and b and c) stays flat.
                let left = match &b.left {
                    Expr::BinOp(l)
                        if same_op(&l.op, &b.op) && !matches!(b.op, ast::BinOpKind::Pow) =>
                    {
                        self.expr(&b.left)?
                    }
                    other => self.operand(other)?,
                };
                format!("{left} {} {}", bin_op(&b.op), self.operand(&b.right)?)
            }
            Expr::Compare(c) => {
                let mut parts = vec![self.expr(&c.expr)?];
                for op in &c.ops {
                    let name = match op.op {
                        ast::CompareOpKind::Eq => "'=='",
                        ast::CompareOpKind::Ne => "'!='",
                        ast::CompareOpKind::Lt => "'<'",
                        ast::CompareOpKind::Lte => "'<='",
                        ast::CompareOpKind::Gt => "'>'",
                        ast::CompareOpKind::Gte => "'>='",
                        ast::CompareOpKind::In => "'in'",
                        ast::CompareOpKind::NotIn => "'not in'",
                    };
                    parts.push(name.into());
                    parts.push(self.expr(&op.expr)?);
                }
                format!("{HOOK}cmp({})", parts.join(", "))
            }
            Expr::IfExpr(i) => {
                let mut t = format!(
                    "{} if {}",
                    self.operand(&i.true_expr)?,
                    self.operand(&i.test_expr)?
                );
                if let Some(f) = &i.false_expr {
                    t.push_str(&format!(" else {}", self.operand(f)?));
                }
                t
            }
            Expr::Filter(f) => {
                let value = match &f.expr {
                    Some(x) => format!("{}|", self.operand(x)?),
                    None => String::new(),
                };
                format!("{value}{}({})", f.name, self.args(&f.args)?)
            }
            Expr::Test(t) => {
                format!(
                    "{} is {}({})",
                    self.operand(&t.expr)?,
                    t.name,
                    self.args(&t.args)?
                )
            }
            Expr::GetAttr(g) => format!("{}.{}", self.operand(&g.expr)?, g.name),
            Expr::GetItem(g) => format!(
                "{HOOK}item({}, {})",
                self.expr(&g.expr)?,
                self.expr(&g.subscript_expr)?
            ),
            Expr::Slice(s) => {
                let mut parts = vec![self.expr(&s.expr)?];
                for p in [&s.start, &s.stop, &s.step] {
                    parts.push(match p {
                        Some(x) => self.expr(x)?,
                        None => "none".into(),
                    });
                }
                format!("{HOOK}slice({})", parts.join(", "))
            }
            Expr::Call(c) => format!("{HOOK}call({})", self.call_text(c)?),
            Expr::List(l) => {
                let items: Result<Vec<String>, String> =
                    l.items.iter().map(|i| self.expr(i)).collect();
                format!("{HOOK}list({})", items?.join(", "))
            }
            Expr::Map(m) => {
                let mut parts = vec![];
                for (k, v) in m.keys.iter().zip(&m.values) {
                    parts.push(self.expr(k)?);
                    parts.push(self.expr(v)?);
                }
                format!("{HOOK}map({})", parts.join(", "))
            }
        })
    }

    /// An assignment target: a name, `ns.attr`, or a tuple of targets.
    fn target(&self, e: &Expr) -> Result<String, String> {
        match e {
            Expr::Var(v) => Ok(v.id.to_string()),
            Expr::GetAttr(g) => Ok(format!("{}.{}", self.target(&g.expr)?, g.name)),
            Expr::List(l) => {
                let items: Result<Vec<String>, String> =
                    l.items.iter().map(|i| self.target(i)).collect();
                Ok(format!("({})", items?.join(", ")))
            }
            _ => Err("an assignment target the sandbox does not know".into()),
        }
    }

    fn body(&mut self, stmts: &[Stmt]) -> Result<(), String> {
        for s in stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    fn macro_sig(&self, name: &str, m: &ast::Macro) -> Result<String, String> {
        let first_default = m.args.len().saturating_sub(m.defaults.len());
        let mut parts = vec![];
        for (i, a) in m.args.iter().enumerate() {
            let mut p = self.target(a)?;
            if i >= first_default {
                p.push_str(&format!("={}", self.expr(&m.defaults[i - first_default])?));
            }
            parts.push(p);
        }
        Ok(format!("{name}({})", parts.join(", ")))
    }

    fn stmt(&mut self, s: &Stmt) -> Result<(), String> {
        match s {
            Stmt::Template(t) => self.body(&t.children)?,
            Stmt::EmitRaw(r) => {
                if !r.raw.is_empty() {
                    let line = r.span().start_line as usize;
                    self.open("{{", line);
                    self.out.push_str(&literal(&Value::from(r.raw))?);
                    self.out.push_str(" }}");
                }
            }
            Stmt::EmitExpr(e) => {
                self.open("{{", e.span().start_line as usize);
                let t = self.expr(&e.expr)?;
                self.out.push_str(&t);
                self.out.push_str(" }}");
            }
            Stmt::ForLoop(f) => {
                let mut head = format!(
                    "for {} in {HOOK}loop({})",
                    self.target(&f.target)?,
                    self.expr(&f.iter)?
                );
                if let Some(x) = &f.filter_expr {
                    head.push_str(&format!(" if {}", self.operand(x)?));
                }
                if f.recursive {
                    head.push_str(" recursive");
                }
                self.tag(f.span().start_line as usize, &head);
                self.body(&f.body)?;
                if !f.else_body.is_empty() {
                    self.tag(0, "else");
                    self.body(&f.else_body)?;
                }
                self.tag(0, "endfor");
            }
            Stmt::IfCond(i) => {
                let head = format!("if {}", self.expr(&i.expr)?);
                self.tag(i.span().start_line as usize, &head);
                self.body(&i.true_body)?;
                if !i.false_body.is_empty() {
                    self.tag(0, "else");
                    self.body(&i.false_body)?;
                }
                self.tag(0, "endif");
            }
            Stmt::WithBlock(w) => {
                let mut parts = vec![];
                for (t, v) in &w.assignments {
                    parts.push(format!("{} = {}", self.target(t)?, self.expr(v)?));
                }
                self.tag(w.span().start_line as usize, &format!("with {}", parts.join(", ")));
                self.body(&w.body)?;
                self.tag(0, "endwith");
            }
            Stmt::Set(set) => {
                let value = self.expr(&set.expr)?;
                // {% set ns.x = … %}: no namespace may come to contain itself.
                let value = match set.target {
                    Expr::GetAttr(_) => format!("{HOOK}attr({value})"),
                    _ => value,
                };
                let head = format!("set {} = {value}", self.target(&set.target)?);
                self.tag(set.span().start_line as usize, &head);
            }
            Stmt::SetBlock(b) => {
                let mut head = format!("set {}", self.target(&b.target)?);
                if let Some(f) = &b.filter {
                    head.push_str(&format!(" | {}", self.filter_chain(f)?));
                }
                self.tag(b.span().start_line as usize, &head);
                self.body(&b.body)?;
                self.tag(0, "endset");
            }
            Stmt::AutoEscape(a) => {
                let head = format!("autoescape {}", self.expr(&a.enabled)?);
                self.tag(a.span().start_line as usize, &head);
                self.body(&a.body)?;
                self.tag(0, "endautoescape");
            }
            Stmt::FilterBlock(f) => {
                let head = format!("filter {}", self.filter_chain(&f.filter)?);
                self.tag(f.span().start_line as usize, &head);
                self.body(&f.body)?;
                self.tag(0, "endfilter");
            }
            Stmt::Macro(m) => {
                let head = format!("macro {}", self.macro_sig(m.name, m)?);
                self.tag(m.span().start_line as usize, &head);
                self.body(&m.body)?;
                self.tag(0, "endmacro");
            }
            Stmt::CallBlock(c) => {
                // `{% call(…) m(…) %}`: the call must stay a call of m (it receives `caller`).
                let sig = self.macro_sig("", &c.macro_decl)?;
                let head = format!("call{} {}", sig, self.call_text(&c.call)?);
                self.tag(c.span().start_line as usize, &head);
                self.body(&c.macro_decl.body)?;
                self.tag(0, "endcall");
            }
            Stmt::Do(d) => {
                let head = format!("do {}", self.call_text(&d.call)?);
                self.tag(d.span().start_line as usize, &head);
            }
            Stmt::Continue(c) => self.tag(c.span().start_line as usize, "continue"),
            Stmt::Break(b) => self.tag(b.span().start_line as usize, "break"),
            Stmt::Block(_)
            | Stmt::Import(_)
            | Stmt::FromImport(_)
            | Stmt::Extends(_)
            | Stmt::Include(_) => {
                return Err(
                    "blocks, includes, imports and extends are not supported (a template here has no other templates to load)"
                        .into(),
                )
            }
        }
        Ok(())
    }
}

// ---- the budget ------------------------------------------------------------------------------------

/// Work done in one render (shared by its macro calls through the state's temps).
#[derive(Debug, Default)]
struct Budget {
    used: AtomicU64,
}

impl Object for Budget {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
}

fn limit_error(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

/// Charges `n` units of work to this render.
pub fn charge(state: &State, n: u64) -> Result<(), Error> {
    let b = state.get_or_set_temp_object("__tc_budget", Budget::default);
    let used = b.used.fetch_add(n, Ordering::Relaxed).saturating_add(n);
    if used > LIMITS.work {
        return Err(limit_error(format!(
            "template limit: more than {} units of work (bytes built, copied or compared) in one render",
            LIMITS.work
        )));
    }
    Ok(())
}

/// Units of work this render has left.
pub fn remaining(state: &State) -> u64 {
    let b = state.get_or_set_temp_object("__tc_budget", Budget::default);
    LIMITS.work.saturating_sub(b.used.load(Ordering::Relaxed))
}

/// The size of `v` as printed, compared or copied in full (strings by bytes, 8 per other item),
/// refusing a value nested deeper than the limit or larger than `max`.
fn size_of(v: &Value, max: u64) -> Result<u64, Error> {
    fn walk(v: &Value, depth: usize, total: &mut u64, max: u64) -> Result<(), Error> {
        *total += 8;
        if *total > max {
            return Err(limit_error(format!(
                "template limit: a value larger than the {max} units of work left"
            )));
        }
        if depth > LIMITS.value_depth {
            return Err(limit_error(format!(
                "template limit: a value nested more than {} deep (does it contain itself?)",
                LIMITS.value_depth
            )));
        }
        match v.kind() {
            ValueKind::String | ValueKind::Bytes => {
                *total += v
                    .as_str()
                    .map_or_else(|| v.as_bytes().map_or(0, |b| b.len()), str::len)
                    as u64;
            }
            ValueKind::Seq | ValueKind::Iterable => {
                for x in v.try_iter()? {
                    walk(&x, depth + 1, total, max)?;
                }
            }
            ValueKind::Map => {
                let Some(obj) = v.as_object() else {
                    return Ok(());
                };
                if let Some(pairs) = obj.try_iter_pairs() {
                    for (k, x) in pairs {
                        walk(&k, depth + 1, total, max)?;
                        walk(&x, depth + 1, total, max)?;
                    }
                }
            }
            _ => {}
        }
        if *total > max {
            return Err(limit_error(format!(
                "template limit: a value larger than the {max} units of work left"
            )));
        }
        Ok(())
    }
    let mut total = 0;
    walk(v, 0, &mut total, max)?;
    Ok(total)
}

/// Measures `values` and charges their size.
fn charge_values(state: &State, values: &[&Value]) -> Result<u64, Error> {
    let left = remaining(state);
    let mut total = 0u64;
    for v in values {
        total += size_of(v, left.saturating_sub(total))?;
    }
    charge(state, total)?;
    Ok(total)
}

/// A lazy sequence (a range, a concatenation, a filter's iterator) as a list, refusing more
/// items than the limit; other values as they are.
fn materialise(v: Value) -> Result<Value, Error> {
    if v.kind() != ValueKind::Iterable
        && !(v.kind() == ValueKind::Seq && v.downcast_object_ref::<Vec<Value>>().is_none())
    {
        return Ok(v);
    }
    let mut items = Vec::new();
    for x in v.try_iter()? {
        if items.len() == LIMITS.items {
            return Err(limit_error(format!(
                "template limit: a sequence of more than {} items",
                LIMITS.items
            )));
        }
        items.push(x);
    }
    Ok(Value::from(items))
}

/// Items of a sequence, map or string (what iterating it yields), if it has a length.
fn len_of(v: &Value) -> usize {
    v.len().unwrap_or(0)
}

// ---- the hooks the rewritten template calls ---------------------------------------------------------

/// minijinja's own semantics for an operation, after it has been measured: an expression
/// evaluated in a plain environment.
fn eval(expr: &'static str, a: Value, b: Value, c: Value, d: Value) -> Result<Value, Error> {
    const EXPRS: [&str; 13] = [
        "a + b",
        "a ~ b",
        "a * b",
        "a == b",
        "a != b",
        "a < b",
        "a <= b",
        "a > b",
        "a >= b",
        "a in b",
        "a not in b",
        "a[b:c:d]",
        "a[b]",
    ];
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    static COMPILED: OnceLock<Vec<minijinja::Expression<'static, 'static>>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(|| {
        let env = ENV.get_or_init(Environment::new);
        EXPRS
            .iter()
            .map(|e| env.compile_expression(e).expect("a valid expression"))
            .collect()
    });
    // The commonest operations as minijinja's VM computes them (in the default, lenient
    // mode): the same values without a fresh evaluation state per operation, which made an
    // operation cost as much as a few hundred bytes of work.
    match expr {
        "a ~ b" => return Ok(Value::from(format!("{a}{b}"))),
        "a + b" if a.kind() == ValueKind::String && b.kind() == ValueKind::String => {
            let (x, y) = (a.as_str().unwrap_or(""), b.as_str().unwrap_or(""));
            return Ok(Value::from([x, y].concat()));
        }
        "a[b]" => return a.get_item(&b),
        "a == b" => return Ok(Value::from(a == b)),
        "a != b" => return Ok(Value::from(a != b)),
        "a < b" => return Ok(Value::from(a < b)),
        "a <= b" => return Ok(Value::from(a <= b)),
        "a > b" => return Ok(Value::from(a > b)),
        "a >= b" => return Ok(Value::from(a >= b)),
        _ => {}
    }
    let i = EXPRS
        .iter()
        .position(|e| *e == expr)
        .ok_or_else(|| limit_error(format!("no operation {expr:?}")))?;
    compiled[i].eval(minijinja::context! { a => a, b => b, c => c, d => d })
}

fn op_hook(state: &State, op: &str, operands: Rest<Value>) -> Result<Value, Error> {
    let mut acc = operands
        .first()
        .cloned()
        .ok_or_else(|| limit_error("an operator without operands".into()))?;
    for b in operands.iter().skip(1) {
        let a = acc;
        acc = match op {
            "+" | "~" => {
                // The result holds both operands in full.
                charge_values(state, &[&a, b])?;
                let expr = if op == "+" { "a + b" } else { "a ~ b" };
                materialise(eval(
                    expr,
                    a,
                    b.clone(),
                    Value::UNDEFINED,
                    Value::UNDEFINED,
                )?)?
            }
            "*" => {
                // string * n, list * n: n copies; numbers: O(1).
                let (seq, n) = match (a.kind(), b.kind()) {
                    (ValueKind::Number, ValueKind::Number) => (None, 0),
                    (_, ValueKind::Number) => (Some(&a), b.as_i64().unwrap_or(0)),
                    (ValueKind::Number, _) => (Some(b), a.as_i64().unwrap_or(0)),
                    _ => (None, 0),
                };
                if let Some(seq) = seq {
                    let n = n.max(0) as u64;
                    let one = size_of(seq, remaining(state))?;
                    if seq.kind() != ValueKind::String
                        && (len_of(seq) as u64).saturating_mul(n) > LIMITS.items as u64
                    {
                        return Err(limit_error(format!(
                            "template limit: a sequence of more than {} items",
                            LIMITS.items
                        )));
                    }
                    charge(state, one.saturating_mul(n))?;
                }
                materialise(eval(
                    "a * b",
                    a,
                    b.clone(),
                    Value::UNDEFINED,
                    Value::UNDEFINED,
                )?)?
            }
            _ => return Err(limit_error(format!("unknown operator {op:?}"))),
        };
    }
    Ok(acc)
}

/// `a op b op c …` (a comparison chain): each pair compared after both are measured.
fn cmp_hook(state: &State, parts: Rest<Value>) -> Result<Value, Error> {
    let mut i = 0;
    while i + 2 < parts.len() {
        let (a, op, b) = (&parts[i], &parts[i + 1], &parts[i + 2]);
        charge_values(state, &[a, b])?;
        let expr = match op.as_str().unwrap_or("") {
            "==" => "a == b",
            "!=" => "a != b",
            "<" => "a < b",
            "<=" => "a <= b",
            ">" => "a > b",
            ">=" => "a >= b",
            "in" => "a in b",
            "not in" => "a not in b",
            other => return Err(limit_error(format!("unknown comparison {other:?}"))),
        };
        let r = eval(
            expr,
            a.clone(),
            b.clone(),
            Value::UNDEFINED,
            Value::UNDEFINED,
        )?;
        if !r.is_true() {
            return Ok(Value::from(false));
        }
        i += 2;
    }
    Ok(Value::from(true))
}

/// `x[start:stop:step]` with Python's semantics (`slice.indices`), on the characters of a
/// string or the items of a sequence. (minijinja's own slicing overflowed on some negative
/// steps.)
fn slice_hook(
    state: &State,
    x: Value,
    start: Value,
    stop: Value,
    step: Value,
) -> Result<Value, Error> {
    let int = |v: &Value, what: &str| -> Result<Option<i128>, Error> {
        if v.is_none() || v.is_undefined() {
            return Ok(None);
        }
        v.as_i64().map(|i| Some(i as i128)).ok_or_else(|| {
            limit_error(format!(
                "slice {what} must be an integer or none, not {}",
                v.kind()
            ))
        })
    };
    let (start, stop, step) = (
        int(&start, "start")?,
        int(&stop, "stop")?,
        int(&step, "step")?.unwrap_or(1),
    );
    if step == 0 {
        return Err(limit_error("slice step cannot be zero".into()));
    }
    let items: Vec<Value> = match x.kind() {
        ValueKind::String => {
            charge(state, x.as_str().map_or(0, str::len) as u64)?;
            x.as_str().unwrap_or("").chars().map(Value::from).collect()
        }
        ValueKind::Seq | ValueKind::Iterable => {
            charge(state, 8 * len_of(&x) as u64)?;
            x.try_iter()?.collect()
        }
        ValueKind::None | ValueKind::Undefined => vec![],
        other => {
            return Err(limit_error(format!(
                "value of type {other} cannot be sliced"
            )))
        }
    };
    let n = items.len() as i128;
    let (lower, upper) = if step < 0 { (-1, n - 1) } else { (0, n) };
    let clamp = |i: Option<i128>, default: i128| match i {
        None => default,
        Some(i) if i < 0 => (i + n).max(lower),
        Some(i) => i.min(upper),
    };
    let (mut i, end) = if step < 0 {
        (clamp(start, upper), clamp(stop, lower))
    } else {
        (clamp(start, lower), clamp(stop, upper))
    };
    let mut out = vec![];
    while (step > 0 && i < end) || (step < 0 && i > end) {
        out.push(items[i as usize].clone());
        i += step;
    }
    if x.kind() == ValueKind::String {
        Ok(Value::from(
            out.iter().filter_map(Value::as_str).collect::<String>(),
        ))
    } else {
        Ok(Value::from(out))
    }
}

fn item_hook(state: &State, x: Value, i: Value) -> Result<Value, Error> {
    // A string is indexed by characters, counted from its start.
    if let Some(s) = x.as_str() {
        charge(state, s.len() as u64)?;
    }
    eval("a[b]", x, i, Value::UNDEFINED, Value::UNDEFINED)
}

fn call_hook(state: &State, v: Value) -> Result<Value, Error> {
    charge_values(state, &[&v])?;
    materialise(v)
}

fn list_hook(state: &State, items: Rest<Value>) -> Result<Value, Error> {
    let refs: Vec<&Value> = items.iter().collect();
    charge_values(state, &refs)?;
    Ok(Value::from(items.0))
}

fn map_hook(state: &State, kv: Rest<Value>) -> Result<Value, Error> {
    let refs: Vec<&Value> = kv.iter().collect();
    charge_values(state, &refs)?;
    Ok(kv
        .0
        .chunks(2)
        .filter_map(|p| match p {
            [k, v] => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect())
}

/// `{% set ns.x = v %}`: v is measured, and may hold only plain data (no namespace, macro or
/// other object), so no namespace ever contains itself.
fn attr_hook(state: &State, v: Value) -> Result<Value, Error> {
    fn plain(v: &Value, depth: usize) -> bool {
        if depth > LIMITS.value_depth {
            return false;
        }
        match v.kind() {
            ValueKind::Seq | ValueKind::Iterable => v
                .try_iter()
                .is_ok_and(|mut it| it.all(|x| plain(&x, depth + 1))),
            ValueKind::Map => {
                v.downcast_object_ref::<ValueMap>().is_some()
                    && v.try_iter().is_ok_and(|mut it| {
                        it.all(|k| {
                            plain(&k, depth + 1)
                                && plain(&v.get_item(&k).unwrap_or_default(), depth + 1)
                        })
                    })
            }
            ValueKind::Plain | ValueKind::Invalid => false,
            _ => true,
        }
    }
    charge_values(state, &[&v])?;
    let v = materialise(v)?;
    if !plain(&v, 0) {
        return Err(limit_error(
            "a namespace attribute may hold strings, numbers, lists and maps, not a namespace, macro or other object".into(),
        ));
    }
    Ok(v)
}

/// `{% for x in v %}`: a lazy sequence is materialised (so that the loop's `length` and the
/// like cost O(1)), and its items are charged.
fn loop_hook(state: &State, v: Value) -> Result<Value, Error> {
    let v = materialise(v)?;
    let n = if v.is_undefined() || v.is_none() {
        0
    } else {
        len_of(&v)
    } as u64;
    charge(state, 8 * n)?;
    Ok(v)
}

// ---- filters, tests, functions, methods -----------------------------------------------------------

/// The builtin filters a template may use; each is measured before and after (see
/// [`filter_hook`]). Left out: `pprint` (its output grows with nesting) and `urlencode`'s
/// twin `json`.
const FILTERS: &[&str] = &[
    "safe",
    "escape",
    "e",
    "lower",
    "upper",
    "title",
    "capitalize",
    "replace",
    "length",
    "count",
    "dictsort",
    "items",
    "reverse",
    "trim",
    "join",
    "split",
    "lines",
    "default",
    "d",
    "round",
    "abs",
    "int",
    "float",
    "attr",
    "first",
    "last",
    "min",
    "max",
    "sort",
    "list",
    "string",
    "bool",
    "batch",
    "slice",
    "sum",
    "indent",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "map",
    "groupby",
    "unique",
    "chain",
    "zip",
    "format",
    "urlencode",
];

/// Filters `map` may apply to every item: their cost is bounded by the item's size.
const MAP_FILTERS: &[&str] = &[
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "int",
    "float",
    "abs",
    "length",
    "count",
    "bool",
    "round",
    "string",
    "first",
    "last",
    "default",
    "d",
    "escape",
    "e",
    "safe",
    "list",
];

fn builtins() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(Environment::new)
}

fn int_arg(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_i64).unwrap_or(0)
}

/// Checks the widths and precisions of a `%`-style (`printf`) or `{}`-style format string.
pub fn check_format(fmt: &str) -> Result<(), Error> {
    let too_wide = || {
        limit_error(format!(
            "template limit: a width or precision above {} in a format string",
            LIMITS.width
        ))
    };
    let b = fmt.as_bytes();
    let mut i = 0;
    let mut specs = 0usize;
    while i < b.len() {
        let spec_start = match b[i] {
            b'%' if b.get(i + 1) != Some(&b'%') => i + 1,
            b'%' => {
                i += 2;
                continue;
            }
            b'{' if b.get(i + 1) != Some(&b'{') => i + 1,
            b'{' => {
                i += 2;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        specs += 1;
        // Every run of digits up to the conversion's end must be a small number; `*` and a
        // nested `{` (widths from arguments) are refused.
        let mut j = spec_start;
        while j < b.len() && !b[j].is_ascii_alphabetic() && b[j] != b'}' && b[j] != b'%' {
            if b[j] == b'*' || (b[j] == b'{' && b[spec_start - 1] == b'{') {
                return Err(limit_error(
                    "a width or precision taken from an argument (* or {}) in a format string is not supported".into(),
                ));
            }
            if b[j].is_ascii_digit() {
                let s = j;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                let n: u64 = fmt[s..j].parse().unwrap_or(u64::MAX);
                if n > LIMITS.width as u64 {
                    return Err(too_wide());
                }
                continue;
            }
            j += 1;
        }
        i = j.max(i + 1);
    }
    if specs > LIMITS.items {
        return Err(too_wide());
    }
    Ok(())
}

/// A builtin filter, measured: the input and arguments are charged (for filters that apply
/// something to every item, once per item), filters that can multiply their input are checked
/// against what their arguments ask for, and the output is materialised and charged.
fn filter_hook(state: &State, name: &str, args: &[Value]) -> Result<Value, Error> {
    let value = args.first().cloned().unwrap_or(Value::UNDEFINED);
    let rest = args.get(1..).unwrap_or(&[]);
    let refs: Vec<&Value> = args.iter().collect();
    let input = charge_values(state, &refs)?;
    let n = len_of(&value) as u64;
    let str_len = |v: Option<&Value>| v.and_then(Value::as_str).map_or(0, str::len) as u64;
    match name {
        "replace" => {
            // Every occurrence of `old` (every position, when it is empty) becomes `new`.
            let (old, new) = (str_len(rest.first()), str_len(rest.get(1)));
            let count = input / old.max(1) + 1;
            charge(state, count.saturating_mul(new))?;
        }
        "indent" => {
            let width = match rest.first() {
                Some(w) if w.kind() == ValueKind::String => str_len(Some(w)),
                w => int_arg(w).max(0) as u64,
            };
            if width > LIMITS.width as u64 {
                return Err(limit_error(format!(
                    "template limit: indent wider than {}",
                    LIMITS.width
                )));
            }
            let lines = value.as_str().map_or(1, |s| s.matches('\n').count() + 1) as u64;
            charge(state, lines.saturating_mul(width))?;
        }
        "join" => charge(state, n.saturating_mul(str_len(rest.first())))?,
        "format" => {
            check_format(value.as_str().unwrap_or(""))?;
            charge(
                state,
                input.saturating_mul(2) + LIMITS.width as u64 * rest.len() as u64,
            )?;
        }
        "batch" | "slice" => {
            let k = int_arg(rest.first());
            if k < 1 || k > LIMITS.items as i64 {
                return Err(limit_error(format!(
                    "{name}: the count must be from 1 to {}",
                    LIMITS.items
                )));
            }
            charge(state, 8 * (n + k as u64))?;
        }
        "map" => {
            if let Some(f) = rest.first().and_then(Value::as_str) {
                if !MAP_FILTERS.contains(&f) {
                    return Err(limit_error(format!(
                        "map: the filter {f:?} cannot be mapped here"
                    )));
                }
            }
            let extra: u64 = rest
                .iter()
                .map(|a| size_of(a, remaining(state)).unwrap_or(u64::MAX))
                .fold(0, u64::saturating_add);
            charge(state, n.saturating_mul(extra))?;
        }
        "select" | "reject" | "selectattr" | "rejectattr" => {
            let extra: u64 = rest
                .iter()
                .map(|a| size_of(a, remaining(state)).unwrap_or(u64::MAX))
                .fold(0, u64::saturating_add);
            charge(state, n.saturating_mul(extra))?;
        }
        // Sorting compares items: about log2(n) passes over them.
        "sort" | "dictsort" | "groupby" | "unique" => {
            charge(state, input.saturating_mul(64 - n.leading_zeros() as u64))?
        }
        // Case changes and escaping can grow text a few times.
        "upper" | "lower" | "title" | "capitalize" | "escape" | "e" | "urlencode" | "string" => {
            charge(state, input.saturating_mul(6))?
        }
        _ => {}
    }
    let out = builtins().empty_state().apply_filter(name, args)?;
    let out = materialise(out)?;
    charge_values(state, &[&out])?;
    Ok(out)
}

/// The builtin tests, measured like filters (`in`, `eq` and the like compare whole values);
/// `divisibleby` refuses 0 (it panicked on it).
fn test_hook(state: &State, name: &str, args: &[Value]) -> Result<bool, Error> {
    let refs: Vec<&Value> = args.iter().collect();
    charge_values(state, &refs)?;
    if name == "divisibleby" {
        let d = args.get(1).cloned().unwrap_or(Value::UNDEFINED);
        if d.as_i64() == Some(0) || f64::try_from(d.clone()).is_ok_and(|f| f == 0.0) {
            return Err(limit_error("divisibleby 0: division by zero".into()));
        }
        if d.as_i64() == Some(-1) {
            return Ok(args.first().is_some_and(|v| v.kind() == ValueKind::Number));
        }
    }
    builtins().empty_state().perform_test(name, args)
}

const TESTS: &[&str] = &[
    "undefined",
    "defined",
    "none",
    "safe",
    "escaped",
    "boolean",
    "odd",
    "even",
    "divisibleby",
    "number",
    "integer",
    "int",
    "float",
    "string",
    "sequence",
    "iterable",
    "mapping",
    "startingwith",
    "endingwith",
    "lower",
    "upper",
    "sameas",
    "eq",
    "equalto",
    "==",
    "ne",
    "!=",
    "lt",
    "lessthan",
    "<",
    "le",
    "<=",
    "gt",
    "greaterthan",
    ">",
    "ge",
    ">=",
    "in",
    "true",
    "false",
];

/// `range(…)`: as minijinja's (at most 100,000 items), materialised and charged.
fn range_fn(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let r = builtins()
        .globals()
        .find(|(n, _)| *n == "range")
        .map(|(_, f)| f)
        .ok_or_else(|| limit_error("no range".into()))?;
    let v = materialise(r.call(&builtins().empty_state(), &args)?)?;
    charge(state, 8 * len_of(&v) as u64)?;
    Ok(v)
}

fn builtin_fn(name: &'static str) -> impl Fn(&State, Rest<Value>) -> Result<Value, Error> {
    move |state: &State, args: Rest<Value>| {
        let refs: Vec<&Value> = args.iter().collect();
        charge_values(state, &refs)?;
        let f = builtins()
            .globals()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f)
            .ok_or_else(|| limit_error(format!("no {name}")))?;
        f.call(&builtins().empty_state(), &args)
    }
}

/// Python's string, list and dict methods (minijinja-contrib's pycompat), measured; the ones
/// that can loop forever or multiply their input are checked first.
fn method_hook(state: &State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let mut refs: Vec<&Value> = args.iter().collect();
    refs.push(value);
    let input = charge_values(state, &refs)?;
    let s = value.as_str();
    let arg_len = |i: usize| args.get(i).and_then(Value::as_str).map_or(0, str::len) as u64;
    match (s, method) {
        // 'abc'.count('') looped forever; Python counts the len + 1 empty matches.
        (Some(s), "count") if args.first().and_then(Value::as_str) == Some("") => {
            return Ok(Value::from(s.chars().count() + 1));
        }
        (Some(_), "replace") => {
            let count = input / arg_len(0).max(1) + 1;
            charge(state, count.saturating_mul(arg_len(1)))?;
        }
        (Some(_), "join") => {
            let n = args.first().map_or(0, len_of) as u64;
            charge(state, n.saturating_mul(input))?;
        }
        (Some(s), "format") => {
            check_format(s)?;
            charge(
                state,
                input.saturating_mul(2) + LIMITS.width as u64 * args.len() as u64,
            )?;
        }
        (Some(_), "upper" | "lower" | "title" | "capitalize") => {
            charge(state, input.saturating_mul(6))?
        }
        _ => {}
    }
    let out = minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)?;
    let out = materialise(out)?;
    charge_values(state, &[&out])?;
    Ok(out)
}

// ---- the environment --------------------------------------------------------------------------------

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
