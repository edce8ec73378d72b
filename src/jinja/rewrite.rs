//! The template's source checked ([`precheck`]) and written back ([`rewrite`]) with every operation whose cost grows with its operands routed through the hooks of `budget.rs`.

use super::*;

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
    // After the tags: a tag's own error (too many operators) says more than its line's length.
    if let Some(line) = long_line(source, LIMITS.line_chars) {
        return Err(format!(
            "line {line} has more than {} characters, the most tinychat accepts on one line",
            LIMITS.line_chars
        ));
    }
    Ok(())
}

pub(super) fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Scans a tag from `i` to its `close`, skipping string literals; returns the index after the
/// close and the number of operator tokens (an over-count: every symbol but `,` `:` and closing
/// brackets, and the keyword operators).
pub(super) fn scan_tag(b: &[u8], mut i: usize, close: &[u8]) -> (usize, usize) {
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
    // What minijinja's lexer can count (see `Limits::line_chars`), once rewritten.
    if let Some(line) = long_line(&w.out, u16::MAX as usize - 1) {
        return Err(format!(
            "line {line} is too long once the operators are routed through tinychat's limits: split it"
        ));
    }
    Ok(w.out)
}

/// The first line (1-based) of `source` with more than `max` characters.
fn long_line(source: &str, max: usize) -> Option<usize> {
    let mut lines = source.split('\n').enumerate();
    lines
        .find(|(_, l)| l.len() > max && l.chars().count() > max)
        .map(|(i, _)| i + 1)
}

pub(super) struct Writer {
    out: String,
    /// The source line the output has reached.
    line: usize,
}

/// Whether `e` prints as one unit (a name, a literal, a call, an attribute): it needs no
/// parentheses as an operand.
pub(super) fn is_atom(e: &Expr) -> bool {
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
pub(super) fn literal(v: &Value) -> Result<String, String> {
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

pub(super) fn arg_expr<'a, 'b>(a: &'b CallArg<'a>) -> Result<&'b Expr<'a>, String> {
    match a {
        CallArg::Pos(e) | CallArg::Kwarg(_, e) => Ok(e),
        CallArg::PosSplat(_) | CallArg::KwargSplat(_) => {
            Err("*args and **kwargs in calls are not supported".into())
        }
    }
}

pub(super) fn bin_op(op: &ast::BinOpKind) -> &'static str {
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

pub(super) fn same_op(a: &ast::BinOpKind, b: &ast::BinOpKind) -> bool {
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
