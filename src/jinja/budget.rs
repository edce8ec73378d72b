//! The per-render work budget and the hooks that charge it: operators, comparisons, slices, items, calls, literals, attributes, loops, and the whitelisted filters, tests, functions and methods.

use super::*;

/// Work done in one render (shared by its macro calls through the state's temps).
#[derive(Debug, Default)]
pub(super) struct Budget {
    used: AtomicU64,
}

impl Object for Budget {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
}

pub(super) fn limit_error(msg: String) -> Error {
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
pub(super) fn size_of(v: &Value, max: u64) -> Result<u64, Error> {
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
pub(super) fn charge_values(state: &State, values: &[&Value]) -> Result<u64, Error> {
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
pub(super) fn materialise(v: Value) -> Result<Value, Error> {
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
pub(super) fn len_of(v: &Value) -> usize {
    v.len().unwrap_or(0)
}

// ---- the hooks the rewritten template calls ---------------------------------------------------------

/// minijinja's own semantics for an operation, after it has been measured: an expression
/// evaluated in a plain environment.
pub(super) fn eval(
    expr: &'static str,
    a: Value,
    b: Value,
    c: Value,
    d: Value,
) -> Result<Value, Error> {
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

pub(super) fn op_hook(state: &State, op: &str, operands: Rest<Value>) -> Result<Value, Error> {
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
pub(super) fn cmp_hook(state: &State, parts: Rest<Value>) -> Result<Value, Error> {
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
pub(super) fn slice_hook(
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

pub(super) fn item_hook(state: &State, x: Value, i: Value) -> Result<Value, Error> {
    // A string is indexed by characters, counted from its start.
    if let Some(s) = x.as_str() {
        charge(state, s.len() as u64)?;
    }
    eval("a[b]", x, i, Value::UNDEFINED, Value::UNDEFINED)
}

pub(super) fn call_hook(state: &State, v: Value) -> Result<Value, Error> {
    charge_values(state, &[&v])?;
    materialise(v)
}

pub(super) fn list_hook(state: &State, items: Rest<Value>) -> Result<Value, Error> {
    let refs: Vec<&Value> = items.iter().collect();
    charge_values(state, &refs)?;
    Ok(Value::from(items.0))
}

pub(super) fn map_hook(state: &State, kv: Rest<Value>) -> Result<Value, Error> {
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
pub(super) fn attr_hook(state: &State, v: Value) -> Result<Value, Error> {
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
pub(super) fn loop_hook(state: &State, v: Value) -> Result<Value, Error> {
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
pub(super) const FILTERS: &[&str] = &[
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
pub(super) const MAP_FILTERS: &[&str] = &[
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

pub(super) fn builtins() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(Environment::new)
}

pub(super) fn int_arg(v: Option<&Value>) -> i64 {
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
pub(super) fn filter_hook(state: &State, name: &str, args: &[Value]) -> Result<Value, Error> {
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
pub(super) fn test_hook(state: &State, name: &str, args: &[Value]) -> Result<bool, Error> {
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

pub(super) const TESTS: &[&str] = &[
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
pub(super) fn range_fn(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let r = builtins()
        .globals()
        .find(|(n, _)| *n == "range")
        .map(|(_, f)| f)
        .ok_or_else(|| limit_error("no range".into()))?;
    let v = materialise(r.call(&builtins().empty_state(), &args)?)?;
    charge(state, 8 * len_of(&v) as u64)?;
    Ok(v)
}

pub(super) fn builtin_fn(
    name: &'static str,
) -> impl Fn(&State, Rest<Value>) -> Result<Value, Error> {
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
pub(super) fn method_hook(
    state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
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
