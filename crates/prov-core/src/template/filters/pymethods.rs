//! The Python methods Ansible users call on template values (`s.split(',')`, `d.items()`,
//! `d.get('k', 1)`, `'{}-{}'.format(a, b)`, `l.index(x)`), installed as minijinja's unknown
//! method callback. Methods that mutate in place (`d.update()`, `l.append()`) cannot work on
//! template values and are reported with the filter to use instead.

use super::{a_type, fail};
use minijinja::value::{from_args, Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

pub fn register(env: &mut Environment<'static>) {
    env.set_unknown_method_callback(call);
}

fn call(_state: &mut State, value: &Value, name: &str, args: &[Value]) -> Result<Value, Error> {
    let (pos, kw): (&[Value], Kwargs) = from_args(args)?;
    let m = Method { name, pos, kw: &kw };
    let rv = match value.kind() {
        ValueKind::String => str_method(value.as_str().unwrap_or_default(), &m)?,
        ValueKind::Map => map_method(value, &m)?,
        ValueKind::Seq | ValueKind::Iterable => list_method(value, &m)?,
        ValueKind::Number => number_method(value, &m)?,
        _ => None,
    };
    match rv {
        Some(v) => {
            kw.assert_all_used()?;
            Ok(v)
        }
        None => Err(unknown(value, name)),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::String => "str",
        ValueKind::Map => "dict",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::Bool => "bool",
        ValueKind::None => "NoneType",
        _ => "object",
    }
}

fn unknown(value: &Value, name: &str) -> Error {
    let supported = match value.kind() {
        ValueKind::String => {
            "split, rsplit, splitlines, strip, lstrip, rstrip, startswith, endswith, replace, lower, upper, \
             title, capitalize, join, find, rfind, index, count, format, partition, rpartition, zfill, ljust, \
             rjust, center, removeprefix, removesuffix, isdigit, isalpha, isalnum, isspace, islower, isupper, \
             swapcase, expandtabs, istitle, isidentifier, isascii, translate; casefold and isprintable on ASCII text"
        }
        ValueKind::Number if value.is_integer() => "bit_length",
        ValueKind::Number => "is_integer",
        ValueKind::Map => "items, keys, values, get, copy",
        ValueKind::Seq | ValueKind::Iterable => "index, count, copy",
        _ => "none",
    };
    Error::new(
        ErrorKind::UnknownMethod,
        format!("{} has no method `{name}` (supported methods: {supported})", type_name(value)),
    )
}

struct Method<'a> {
    name: &'a str,
    pos: &'a [Value],
    kw: &'a Kwargs,
}

impl Method<'_> {
    fn qual(&self, ty: &str) -> String {
        format!("{ty}.{}()", self.name)
    }

    /// Checks the positional count and returns argument `i` or keyword `key`.
    fn arity(&self, ty: &str, min: usize, max: usize) -> Result<(), Error> {
        let n = self.pos.len();
        if n < min || n > max {
            let want = if min == max { format!("exactly {min}") } else { format!("{min} to {max}") };
            return Err(fail(format!("{} takes {want} arguments ({n} given)", self.qual(ty))));
        }
        Ok(())
    }

    fn arg(&self, i: usize, key: &str) -> Result<Option<Value>, Error> {
        match self.pos.get(i) {
            Some(v) => Ok(Some(v.clone())),
            None => self.kw.get::<Option<Value>>(key),
        }
    }

    fn str_arg(&self, ty: &str, i: usize, key: &str) -> Result<Option<String>, Error> {
        match self.arg(i, key)? {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) => v.as_str().map(|s| Some(s.to_string())).ok_or_else(|| {
                fail(format!("{}: argument {key:?} must be a string, got {}", self.qual(ty), a_type(&v)))
            }),
        }
    }

    fn int_arg(&self, ty: &str, i: usize, key: &str) -> Result<Option<i64>, Error> {
        match self.arg(i, key)? {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                fail(format!("{}: argument {key:?} must be an integer, got {}", self.qual(ty), a_type(&v)))
            }),
        }
    }
}

fn strings(v: Vec<String>) -> Value {
    Value::from(v.into_iter().map(Value::from).collect::<Vec<_>>())
}

/// Python's `str.split` / `str.rsplit` with `sep=None`: runs of whitespace, no empty items.
fn split_whitespace(s: &str, maxsplit: i64, from_right: bool) -> Vec<String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if maxsplit < 0 || (maxsplit as usize) >= words.len().saturating_sub(1) {
        return words.into_iter().map(str::to_string).collect();
    }
    let n = maxsplit as usize;
    if n == 0 {
        let t = if from_right { s.trim_end() } else { s.trim_start() };
        return if t.trim().is_empty() { Vec::new() } else { vec![t.to_string()] };
    }
    if from_right {
        // Cut the last `n` words off the end; the rest (right-trimmed) is the first item.
        let mut rest = s.trim_end();
        let mut tail = Vec::new();
        for _ in 0..n {
            let cut = rest.rfind(char::is_whitespace).map(|i| i + rest[i..].chars().next().map_or(1, char::len_utf8));
            let cut = cut.unwrap_or(0);
            tail.push(rest[cut..].to_string());
            rest = rest[..cut].trim_end();
        }
        let mut out = vec![rest.to_string()];
        out.extend(tail.into_iter().rev());
        out
    } else {
        let mut rest = s.trim_start();
        let mut out = Vec::new();
        for _ in 0..n {
            let cut = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(rest[..cut].to_string());
            rest = rest[cut..].trim_start();
        }
        out.push(rest.to_string());
        out
    }
}

/// Python's slice bounds from `start` / `end` arguments (negative counts from the end).
fn bounds(len: usize, start: Option<i64>, end: Option<i64>) -> (usize, usize) {
    let norm = |i: i64| -> usize {
        if i < 0 {
            (len as i64 + i).max(0) as usize
        } else {
            (i as usize).min(len)
        }
    };
    (start.map(norm).unwrap_or(0), end.map(norm).unwrap_or(len))
}

fn strip_with(s: &str, chars: Option<&str>, left: bool, right: bool) -> String {
    let keep = |c: char| match chars {
        Some(set) => set.contains(c),
        None => c.is_whitespace(),
    };
    let mut t = s;
    if left {
        t = t.trim_start_matches(keep);
    }
    if right {
        t = t.trim_end_matches(keep);
    }
    t.to_string()
}

fn python_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_cased = false;
    for c in s.chars() {
        if prev_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_cased = c.is_alphabetic();
    }
    out
}

fn char_index(s: &str, byte: usize) -> i64 {
    s[..byte].chars().count() as i64
}

/// The most a width or precision may ask for: template values are not meant to be megabytes.
const MAX_WIDTH: i64 = 100_000;

fn width_arg(m: &Method, ty: &str) -> Result<i64, Error> {
    let width = m.int_arg(ty, 0, "width")?.unwrap_or(0);
    if width > MAX_WIDTH {
        return Err(fail(format!("{}: width {width} is larger than the supported {MAX_WIDTH}", m.qual(ty))));
    }
    Ok(width)
}

fn pad(s: &str, width: i64, fill: char, align: char) -> String {
    let len = s.chars().count() as i64;
    if width <= len {
        return s.to_string();
    }
    let total = (width - len) as usize;
    let (left, right) = match align {
        '<' => (0, total),
        '>' => (total, 0),
        // Python's str.center puts the extra space on the left when the string length is odd;
        // format's `^` puts it on the right. Callers pass '^' for format, 'c' for center.
        'c' => {
            let left = total / 2 + (total & width as usize & 1);
            (left, total - left)
        }
        _ => (total / 2, total - total / 2),
    };
    let mut out = String::new();
    out.extend(std::iter::repeat_n(fill, left));
    out.push_str(s);
    out.extend(std::iter::repeat_n(fill, right));
    out
}

fn fill_arg(m: &Method, ty: &str) -> Result<char, Error> {
    match m.str_arg(ty, 1, "fillchar")? {
        None => Ok(' '),
        Some(f) => {
            let mut cs = f.chars();
            match (cs.next(), cs.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(fail(format!("{}: the fill character must be exactly one character long", m.qual(ty)))),
            }
        }
    }
}

fn str_method(s: &str, m: &Method) -> Result<Option<Value>, Error> {
    const T: &str = "str";
    let bool_of = |b: bool| Ok(Some(Value::from(b)));
    match m.name {
        "split" | "rsplit" => {
            m.arity(T, 0, 2)?;
            let sep = m.str_arg(T, 0, "sep")?;
            let maxsplit = m.int_arg(T, 1, "maxsplit")?.unwrap_or(-1);
            let right = m.name == "rsplit";
            let parts: Vec<String> = match sep.as_deref() {
                None => split_whitespace(s, maxsplit, right),
                Some("") => return Err(fail(format!("{}: empty separator", m.qual(T)))),
                Some(sep) if maxsplit < 0 => s.split(sep).map(str::to_string).collect(),
                Some(sep) if right => {
                    let mut v: Vec<String> = s.rsplitn(maxsplit as usize + 1, sep).map(str::to_string).collect();
                    v.reverse();
                    v
                }
                Some(sep) => s.splitn(maxsplit as usize + 1, sep).map(str::to_string).collect(),
            };
            Ok(Some(strings(parts)))
        }
        "splitlines" => {
            m.arity(T, 0, 1)?;
            let keepends = m.arg(0, "keepends")?.is_some_and(|v| v.is_true());
            let out = if keepends { str_splitlines_keepends(s) } else { str_splitlines(s) };
            Ok(Some(strings(out.into_iter().map(str::to_string).collect())))
        }
        "strip" | "lstrip" | "rstrip" => {
            m.arity(T, 0, 1)?;
            let chars = m.str_arg(T, 0, "chars")?;
            let (l, r) = match m.name {
                "strip" => (true, true),
                "lstrip" => (true, false),
                _ => (false, true),
            };
            Ok(Some(Value::from(strip_with(s, chars.as_deref(), l, r))))
        }
        "startswith" | "endswith" => {
            m.arity(T, 1, 3)?;
            let (a, b) = bounds(s.chars().count(), m.int_arg(T, 1, "start")?, m.int_arg(T, 2, "end")?);
            let sub: String = s.chars().skip(a).take(b.saturating_sub(a)).collect();
            let affix = &m.pos[0];
            let candidates: Vec<Value> = if affix.kind() == ValueKind::String {
                vec![affix.clone()]
            } else if matches!(affix.kind(), ValueKind::Seq | ValueKind::Iterable) {
                affix.try_iter()?.collect()
            } else {
                return Err(fail(format!(
                    "{}: expects a string or a list of strings, got {}",
                    m.qual(T),
                    a_type(affix)
                )));
            };
            let mut hit = false;
            for c in &candidates {
                let c = c.as_str().ok_or_else(|| {
                    fail(format!("{}: expects a string or a list of strings, got {}", m.qual(T), a_type(c)))
                })?;
                hit |= if m.name == "startswith" { sub.starts_with(c) } else { sub.ends_with(c) };
            }
            bool_of(hit)
        }
        "replace" => {
            m.arity(T, 2, 3)?;
            let old = m.str_arg(T, 0, "old")?.unwrap_or_default();
            let new = m.str_arg(T, 1, "new")?.unwrap_or_default();
            let count = m.int_arg(T, 2, "count")?.unwrap_or(-1);
            Ok(Some(Value::from(if count < 0 {
                s.replace(&old, &new)
            } else {
                s.replacen(&old, &new, count as usize)
            })))
        }
        "lower" | "upper" | "title" | "capitalize" | "swapcase" => {
            m.arity(T, 0, 0)?;
            Ok(Some(Value::from(match m.name {
                "lower" => s.to_lowercase(),
                "upper" => s.to_uppercase(),
                "title" => python_title(s),
                "swapcase" => s
                    .chars()
                    .flat_map(|c| {
                        if c.is_uppercase() {
                            c.to_lowercase().collect::<Vec<_>>()
                        } else {
                            c.to_uppercase().collect::<Vec<_>>()
                        }
                    })
                    .collect(),
                _ => {
                    let mut cs = s.chars();
                    match cs.next() {
                        Some(f) => f.to_uppercase().chain(cs.flat_map(char::to_lowercase)).collect(),
                        None => String::new(),
                    }
                }
            })))
        }
        "join" => {
            m.arity(T, 1, 1)?;
            let items = &m.pos[0];
            let iter: Vec<Value> = match items.kind() {
                ValueKind::String => items.as_str().unwrap_or_default().chars().map(Value::from).collect(),
                ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => items.try_iter()?.collect(),
                _ => return Err(fail(format!("str.join() expects a list, got {}", a_type(items)))),
            };
            let mut parts = Vec::with_capacity(iter.len());
            for (i, v) in iter.iter().enumerate() {
                match v.as_str() {
                    Some(p) => parts.push(p.to_string()),
                    None => {
                        return Err(fail(format!(
                            "str.join(): item {i} is {}, not a string (use the join filter to join any values)",
                            a_type(v)
                        )))
                    }
                }
            }
            Ok(Some(Value::from(parts.join(s))))
        }
        "find" | "rfind" | "index" | "rindex" | "count" => {
            m.arity(T, 1, 3)?;
            let sub = m.str_arg(T, 0, "sub")?.unwrap_or_default();
            let (a, b) = bounds(s.chars().count(), m.int_arg(T, 1, "start")?, m.int_arg(T, 2, "end")?);
            let start_byte = s.char_indices().nth(a).map_or(s.len(), |(i, _)| i);
            let end_byte = s.char_indices().nth(b).map_or(s.len(), |(i, _)| i);
            let hay = if start_byte <= end_byte { &s[start_byte..end_byte] } else { "" };
            if m.name == "count" {
                let n = if sub.is_empty() { hay.chars().count() + 1 } else { hay.matches(sub.as_str()).count() };
                return Ok(Some(Value::from(n)));
            }
            let found = if m.name.starts_with('r') { hay.rfind(&sub) } else { hay.find(&sub) };
            match found {
                Some(i) => Ok(Some(Value::from(a as i64 + char_index(hay, i)))),
                None if m.name.ends_with("index") => Err(fail(format!("{}: substring {sub:?} not found", m.qual(T)))),
                None => Ok(Some(Value::from(-1))),
            }
        }
        "partition" | "rpartition" => {
            m.arity(T, 1, 1)?;
            let sep = m.str_arg(T, 0, "sep")?.unwrap_or_default();
            if sep.is_empty() {
                return Err(fail(format!("{}: empty separator", m.qual(T))));
            }
            let found = if m.name == "partition" { s.find(&sep) } else { s.rfind(&sep) };
            let (a, b, c) = match found {
                Some(i) => (&s[..i], sep.as_str(), &s[i + sep.len()..]),
                None if m.name == "partition" => (s, "", ""),
                None => ("", "", s),
            };
            Ok(Some(Value::from(vec![Value::from(a), Value::from(b), Value::from(c)])))
        }
        "zfill" => {
            m.arity(T, 1, 1)?;
            let width = width_arg(m, T)?;
            let (sign, digits) = match s.chars().next() {
                Some(c @ ('+' | '-')) => (c.to_string(), &s[1..]),
                _ => (String::new(), s),
            };
            let padded = pad(digits, width - sign.chars().count() as i64, '0', '>');
            Ok(Some(Value::from(format!("{sign}{padded}"))))
        }
        "ljust" | "rjust" | "center" => {
            m.arity(T, 1, 2)?;
            let width = width_arg(m, T)?;
            let fill = fill_arg(m, T)?;
            let align = match m.name {
                "ljust" => '<',
                "rjust" => '>',
                _ => 'c',
            };
            Ok(Some(Value::from(pad(s, width, fill, align))))
        }
        "removeprefix" | "removesuffix" => {
            m.arity(T, 1, 1)?;
            let a = m.str_arg(T, 0, "affix")?.unwrap_or_default();
            let r = if m.name == "removeprefix" { s.strip_prefix(a.as_str()) } else { s.strip_suffix(a.as_str()) };
            Ok(Some(Value::from(r.unwrap_or(s))))
        }
        "isdigit" | "isnumeric" | "isdecimal" => {
            m.arity(T, 0, 0)?;
            bool_of(!s.is_empty() && s.chars().all(|c| c.is_numeric()))
        }
        "isalpha" => {
            m.arity(T, 0, 0)?;
            bool_of(!s.is_empty() && s.chars().all(char::is_alphabetic))
        }
        "isalnum" => {
            m.arity(T, 0, 0)?;
            bool_of(!s.is_empty() && s.chars().all(char::is_alphanumeric))
        }
        "isspace" => {
            m.arity(T, 0, 0)?;
            bool_of(!s.is_empty() && s.chars().all(char::is_whitespace))
        }
        "islower" | "isupper" => {
            m.arity(T, 0, 0)?;
            let cased: Vec<char> = s.chars().filter(|c| c.is_lowercase() || c.is_uppercase()).collect();
            let want_lower = m.name == "islower";
            bool_of(
                !cased.is_empty() && cased.iter().all(|c| if want_lower { c.is_lowercase() } else { c.is_uppercase() }),
            )
        }
        "format" => format(s, m.pos, m.kw).map(Some),
        "expandtabs" => {
            m.arity(T, 0, 1)?;
            let size = m.int_arg(T, 0, "tabsize")?.unwrap_or(8);
            if size > MAX_WIDTH {
                return Err(fail(format!("{}: tab size {size} is larger than the supported {MAX_WIDTH}", m.qual(T))));
            }
            Ok(Some(Value::from(expand_tabs(s, size))))
        }
        "istitle" => {
            m.arity(T, 0, 0)?;
            bool_of(is_title(s))
        }
        "isidentifier" => {
            m.arity(T, 0, 0)?;
            let mut cs = s.chars();
            let first = cs.next().is_some_and(|c| c == '_' || unicode_ident::is_xid_start(c));
            bool_of(first && cs.all(unicode_ident::is_xid_continue))
        }
        "isascii" => {
            m.arity(T, 0, 0)?;
            bool_of(s.is_ascii())
        }
        // Python folds and classifies all of Unicode; prov knows ASCII's answers only.
        "casefold" | "isprintable" => {
            m.arity(T, 0, 0)?;
            if !s.is_ascii() {
                return Err(fail(format!("{} of text beyond ASCII is not supported by prov", m.qual(T))));
            }
            match m.name {
                "casefold" => Ok(Some(Value::from(s.to_ascii_lowercase()))),
                _ => bool_of(s.bytes().all(|b| (0x20..0x7f).contains(&b))),
            }
        }
        "translate" => {
            m.arity(T, 1, 1)?;
            translate(s, &m.pos[0]).map(Some)
        }
        _ => Ok(None),
    }
}

/// Python's `str.expandtabs`: a tab moves to the next multiple of `size` columns, counted
/// from the last line break.
fn expand_tabs(s: &str, size: i64) -> String {
    let mut out = String::with_capacity(s.len());
    let mut col = 0i64;
    for c in s.chars() {
        match c {
            '\t' if size > 0 => {
                let n = size - col % size;
                out.extend(std::iter::repeat_n(' ', n as usize));
                col += n;
            }
            '\t' => {}
            '\n' | '\r' => {
                out.push(c);
                col = 0;
            }
            c => {
                out.push(c);
                col += 1;
            }
        }
    }
    out
}

/// Python's `str.istitle`: upper case only after uncased characters, lower case only after
/// cased ones, and at least one cased character.
fn is_title(s: &str) -> bool {
    let (mut cased, mut previous_cased) = (false, false);
    for c in s.chars() {
        if c.is_uppercase() {
            if previous_cased {
                return false;
            }
            previous_cased = true;
            cased = true;
        } else if c.is_lowercase() {
            if !previous_cased {
                return false;
            }
            previous_cased = true;
            cased = true;
        } else {
            previous_cased = false;
        }
    }
    cased
}

/// Python's `str.translate` with a mapping of code points to a code point, a string or none
/// (deleted); characters it does not map stay.
fn translate(s: &str, table: &Value) -> Result<Value, Error> {
    if table.kind() != ValueKind::Map {
        return Err(fail(format!("str.translate() expects a dict of code points, got {}", a_type(table))));
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let to = table.get_item(&Value::from(c as u32))?;
        if to.is_undefined() {
            out.push(c);
        } else if to.is_none() {
        } else if let Some(t) = to.as_str() {
            out.push_str(t);
        } else if let Some(code) = to.as_i64().and_then(|n| u32::try_from(n).ok()).and_then(char::from_u32) {
            out.push(code);
        } else {
            return Err(fail(format!(
                "str.translate(): character mapping must return an integer, None or str, got {}",
                a_type(&to)
            )));
        }
    }
    Ok(Value::from(out))
}

/// `float.is_integer()` and `int.bit_length()`.
fn number_method(v: &Value, m: &Method) -> Result<Option<Value>, Error> {
    match (m.name, v.is_integer()) {
        ("bit_length", true) => {
            m.arity("int", 0, 0)?;
            let n = i128::try_from(v.clone())?;
            Ok(Some(Value::from(128 - n.unsigned_abs().leading_zeros())))
        }
        ("is_integer", false) => {
            m.arity("float", 0, 0)?;
            let f = f64::try_from(v.clone())?;
            Ok(Some(Value::from(f.is_finite() && f.fract() == 0.0)))
        }
        _ => Ok(None),
    }
}

fn map_method(map: &Value, m: &Method) -> Result<Option<Value>, Error> {
    const T: &str = "dict";
    let entries = || super::serialize::map_entries(map);
    match m.name {
        "items" => {
            m.arity(T, 0, 0)?;
            let pairs = entries()?.into_iter().map(|(k, v)| Value::from(vec![k, v])).collect::<Vec<_>>();
            Ok(Some(Value::from(pairs)))
        }
        "keys" => {
            m.arity(T, 0, 0)?;
            Ok(Some(Value::from(entries()?.into_iter().map(|(k, _)| k).collect::<Vec<_>>())))
        }
        "values" => {
            m.arity(T, 0, 0)?;
            Ok(Some(Value::from(entries()?.into_iter().map(|(_, v)| v).collect::<Vec<_>>())))
        }
        "get" => {
            m.arity(T, 1, 2)?;
            let key = &m.pos[0];
            let found = entries()?.into_iter().find(|(k, _)| k == key).map(|(_, v)| v);
            Ok(Some(found.unwrap_or_else(|| m.pos.get(1).cloned().unwrap_or(Value::from(())))))
        }
        "copy" => {
            m.arity(T, 0, 0)?;
            Ok(Some(map.clone()))
        }
        "update" | "pop" | "popitem" | "setdefault" | "clear" => Err(fail(format!(
            "{} would modify the dictionary in place, which templates cannot do; build a new one with \
             the combine filter (or dict2items / items2dict) instead",
            m.qual(T)
        ))),
        _ => Ok(None),
    }
}

fn list_method(list: &Value, m: &Method) -> Result<Option<Value>, Error> {
    const T: &str = "list";
    let items = || list.try_iter().map(|it| it.collect::<Vec<_>>());
    match m.name {
        "index" => {
            m.arity(T, 1, 3)?;
            let items = items()?;
            let (a, b) = bounds(items.len(), m.int_arg(T, 1, "start")?, m.int_arg(T, 2, "end")?);
            let x = &m.pos[0];
            match items.iter().enumerate().skip(a).take(b.saturating_sub(a)).find(|(_, v)| *v == x) {
                Some((i, _)) => Ok(Some(Value::from(i))),
                None => Err(fail(format!("list.index(): {x} is not in the list"))),
            }
        }
        "count" => {
            m.arity(T, 1, 1)?;
            let x = &m.pos[0];
            Ok(Some(Value::from(items()?.iter().filter(|v| *v == x).count())))
        }
        "copy" => {
            m.arity(T, 0, 0)?;
            Ok(Some(Value::from(items()?)))
        }
        "append" | "extend" | "insert" | "pop" | "remove" | "clear" | "sort" | "reverse" => Err(fail(format!(
            "{} would modify the list in place, which templates cannot do; build a new list with `+`, \
             the union / difference filters, or sort / reverse filters instead",
            m.qual(T)
        ))),
        _ => Ok(None),
    }
}

/// A parsed `format` spec: `[[fill]align][sign][0][width][,][.precision][type]`.
struct Spec {
    fill: char,
    align: Option<char>,
    sign: Option<char>,
    zero: bool,
    width: i64,
    comma: bool,
    precision: Option<usize>,
    ty: Option<char>,
}

fn parse_spec(spec: &str) -> Result<Spec, Error> {
    let bad = || fail(format!("str.format(): unsupported format spec {spec:?}"));
    let cs: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let mut sp =
        Spec { fill: ' ', align: None, sign: None, zero: false, width: 0, comma: false, precision: None, ty: None };
    let is_align = |c: char| matches!(c, '<' | '>' | '^' | '=');
    if cs.len() >= 2 && is_align(cs[1]) {
        sp.fill = cs[0];
        sp.align = Some(cs[1]);
        i = 2;
    } else if cs.first().is_some_and(|c| is_align(*c)) {
        sp.align = Some(cs[0]);
        i = 1;
    }
    if let Some(c @ ('+' | '-' | ' ')) = cs.get(i) {
        sp.sign = Some(*c);
        i += 1;
    }
    if cs.get(i) == Some(&'0') {
        sp.zero = true;
        i += 1;
    }
    let start = i;
    while cs.get(i).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
    }
    if i > start {
        sp.width = cs[start..i].iter().collect::<String>().parse().map_err(|_| bad())?;
        if sp.width > MAX_WIDTH {
            return Err(bad());
        }
    }
    if cs.get(i) == Some(&',') {
        sp.comma = true;
        i += 1;
    }
    if cs.get(i) == Some(&'.') {
        i += 1;
        let start = i;
        while cs.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        let p: usize = cs[start..i].iter().collect::<String>().parse().map_err(|_| bad())?;
        if p as i64 > MAX_WIDTH {
            return Err(bad());
        }
        sp.precision = Some(p);
    }
    if let Some(c) = cs.get(i) {
        if !"sdfFxXob%".contains(*c) {
            return Err(bad());
        }
        sp.ty = Some(*c);
        i += 1;
    }
    if i != cs.len() {
        return Err(bad());
    }
    Ok(sp)
}

fn group_thousands(digits: &str) -> String {
    let (int, frac) = match digits.find('.') {
        Some(i) => (&digits[..i], &digits[i..]),
        None => (digits, ""),
    };
    let mut out = String::new();
    for (n, c) in int.chars().enumerate() {
        if n > 0 && (int.len() - n) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out + frac
}

fn format_one(v: &Value, spec: &str) -> Result<String, Error> {
    if spec.is_empty() {
        return Ok(py_str(v));
    }
    let sp = parse_spec(spec)?;
    let numeric = v.kind() == ValueKind::Number || v.kind() == ValueKind::Bool;
    let wrong = |what: &str| fail(format!("str.format(): format spec {spec:?} needs {what}, got {}", a_type(v)));
    let (neg, body) = match sp.ty {
        Some('s') | None if !numeric || sp.ty == Some('s') => {
            if sp.ty == Some('s') && v.kind() != ValueKind::String {
                return Err(wrong("a string"));
            }
            let mut s = py_str(v);
            if let Some(p) = sp.precision {
                s = s.chars().take(p).collect();
            }
            (false, s)
        }
        Some('d' | 'x' | 'X' | 'o' | 'b') => {
            let i = v
                .as_i64()
                .filter(|_| v.is_integer() || v.kind() == ValueKind::Bool)
                .ok_or_else(|| wrong("an integer"))?;
            let a = i.unsigned_abs();
            let s = match sp.ty {
                Some('x') => format!("{a:x}"),
                Some('X') => format!("{a:X}"),
                Some('o') => format!("{a:o}"),
                Some('b') => format!("{a:b}"),
                _ => a.to_string(),
            };
            (i < 0, if sp.comma { group_thousands(&s) } else { s })
        }
        _ => {
            // f, F, %, or a number without a type.
            let f = f64::try_from(v.clone()).map_err(|_| wrong("a number"))?;
            let (f, pct) = if sp.ty == Some('%') { (f * 100.0, "%") } else { (f, "") };
            let s = match (sp.ty, sp.precision) {
                (None, None) if v.is_integer() => format!("{}", f.abs() as i128),
                (None, None) => super::serialize::python_float(f.abs()),
                (None, Some(p)) => format!("{:.*}", p, f.abs()),
                (_, p) => format!("{:.*}", p.unwrap_or(6), f.abs()),
            };
            (f.is_sign_negative() && f != 0.0, format!("{}{pct}", if sp.comma { group_thousands(&s) } else { s }))
        }
    };
    let sign = match (neg, sp.sign) {
        (true, _) => "-",
        (false, Some('+')) => "+",
        (false, Some(' ')) => " ",
        _ => "",
    };
    let is_num = numeric && sp.ty != Some('s');
    let (fill, align) = match (sp.align, sp.zero) {
        (Some(a), _) => (sp.fill, a),
        (None, true) => ('0', '='),
        (None, false) => (' ', if is_num { '>' } else { '<' }),
    };
    if align == '=' {
        let padded = pad(&body, sp.width - sign.len() as i64, fill, '>');
        return Ok(format!("{sign}{padded}"));
    }
    Ok(pad(&format!("{sign}{body}"), sp.width, fill, align))
}

/// The characters Python's `str.splitlines` ends a line at (`\r\n` counts as one end).
const LINE_ENDS: [char; 10] =
    ['\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}'];

/// Python's `str.splitlines()`: no empty last line for a trailing end.
pub(crate) fn str_splitlines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let end = rest.find(LINE_ENDS).unwrap_or(rest.len());
        out.push(&rest[..end]);
        rest = &rest[end..];
        let nl = if rest.starts_with("\r\n") { 2 } else { rest.chars().next().map_or(0, char::len_utf8) };
        rest = &rest[nl..];
    }
    out
}

/// Python's `str.splitlines(keepends=True)`.
fn str_splitlines_keepends(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let end = rest.find(LINE_ENDS).unwrap_or(rest.len());
        let after = &rest[end..];
        let nl = if after.starts_with("\r\n") { 2 } else { after.chars().next().map_or(0, char::len_utf8) };
        out.push(&rest[..end + nl]);
        rest = &rest[end + nl..];
    }
    out
}

/// Python's `str(value)` for the basic types.
pub fn py_str(v: &Value) -> String {
    match v.kind() {
        ValueKind::None => "None".into(),
        ValueKind::Bool => if v.is_true() { "True" } else { "False" }.into(),
        ValueKind::Number if !v.is_integer() => {
            f64::try_from(v.clone()).map(super::serialize::python_float).unwrap_or_else(|_| v.to_string())
        }
        _ => v.to_string(),
    }
}

/// `str.format(*args, **kwargs)`: `{}`, `{0}`, `{name}`, `{0.attr}`, `{name[key]}`, `!s` / `!r`
/// conversions and common format specs.
fn format(fmt: &str, pos: &[Value], kw: &Kwargs) -> Result<Value, Error> {
    let mut out = String::new();
    let mut auto = 0usize;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => return Err(fail("str.format(): single '}' encountered in the format string")),
            '{' => {
                let mut field = String::new();
                let mut depth = 0;
                loop {
                    match chars.next() {
                        None => return Err(fail("str.format(): unmatched '{' in the format string")),
                        Some('[') => {
                            depth += 1;
                            field.push('[');
                        }
                        Some(']') => {
                            depth -= 1;
                            field.push(']');
                        }
                        Some('}') if depth == 0 => break,
                        Some(ch) => field.push(ch),
                    }
                }
                let (field, spec) = match field.find(':') {
                    Some(i) => (field[..i].to_string(), field[i + 1..].to_string()),
                    None => (field, String::new()),
                };
                let (field, conv) = match field.find('!') {
                    Some(i) => (field[..i].to_string(), Some(field[i + 1..].to_string())),
                    None => (field, None),
                };
                let head_end = field.find(['.', '[']).unwrap_or(field.len());
                let head = &field[..head_end];
                let mut v = if head.is_empty() {
                    let v = pos.get(auto).cloned();
                    auto += 1;
                    v.ok_or_else(|| fail(format!("str.format(): positional argument {} is missing", auto - 1)))?
                } else if let Ok(i) = head.parse::<usize>() {
                    pos.get(i)
                        .cloned()
                        .ok_or_else(|| fail(format!("str.format(): positional argument {i} is missing")))?
                } else {
                    kw.get::<Option<Value>>(head)?
                        .ok_or_else(|| fail(format!("str.format(): no keyword argument named {head:?}")))?
                };
                let mut rest = &field[head_end..];
                while !rest.is_empty() {
                    if let Some(r) = rest.strip_prefix('.') {
                        let end = r.find(['.', '[']).unwrap_or(r.len());
                        v = v.get_attr(&r[..end])?;
                        rest = &r[end..];
                    } else if let Some(r) = rest.strip_prefix('[') {
                        let end = r.find(']').ok_or_else(|| fail("str.format(): missing ']' in a field"))?;
                        let key = &r[..end];
                        v = match key.parse::<usize>() {
                            Ok(i) if v.kind() != ValueKind::Map => v.get_item_by_index(i)?,
                            _ => v.get_item(&Value::from(key))?,
                        };
                        rest = &r[end + 1..];
                    } else {
                        return Err(fail(format!("str.format(): cannot read field {field:?}")));
                    }
                }
                if v.is_undefined() {
                    return Err(Error::new(
                        ErrorKind::UndefinedError,
                        format!("str.format(): field {field:?} is undefined"),
                    ));
                }
                let v = match conv.as_deref() {
                    None | Some("s") => v,
                    Some("r") if v.kind() == ValueKind::String => {
                        Value::from(format!("'{}'", v.as_str().unwrap_or_default()))
                    }
                    Some("r") => v,
                    Some(other) => return Err(fail(format!("str.format(): unknown conversion !{other}"))),
                };
                out.push_str(&format_one(&v, &spec)?);
            }
            c => out.push(c),
        }
    }
    // Keyword arguments the format string did not use are fine in Python.
    for name in kw.args().map(str::to_string).collect::<Vec<_>>() {
        let _ = kw.get::<Value>(&name)?;
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{err, ok};

    #[test]
    fn string_split_family() {
        assert_eq!(ok("{{ 'a,b,,c'.split(',') | to_json }}"), r#"["a", "b", "", "c"]"#);
        assert_eq!(ok("{{ '  a  b c '.split() | to_json }}"), r#"["a", "b", "c"]"#);
        assert_eq!(ok("{{ ' a b  c '.split(none, 1) | to_json }}"), r#"["a", "b  c "]"#);
        assert_eq!(ok("{{ ' a b  c '.rsplit(none, 1) | to_json }}"), r#"[" a b", "c"]"#);
        assert_eq!(ok("{{ 'a.b.c'.rsplit('.', 1) | to_json }}"), r#"["a.b", "c"]"#);
        assert_eq!(ok("{{ 'a.b.c'.split('.', maxsplit=1) | to_json }}"), r#"["a", "b.c"]"#);
        assert_eq!(ok("{{ 'a\\nb\\r\\nc'.splitlines() | to_json }}"), r#"["a", "b", "c"]"#);
        assert_eq!(ok("{{ ''.split() | to_json }}"), "[]");
        err("{{ 'a'.split('') }}", "str.split(): empty separator");
        err("{{ 'a'.split(1) }}", "argument \"sep\" must be a string, got an integer");
        err("{{ 'a'.split(',', 1, 2) }}", "str.split() takes 0 to 2 arguments (3 given)");
    }

    #[test]
    fn string_strip_case_and_tests() {
        assert_eq!(ok("[{{ '  x  '.strip() }}][{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}]"), "[x][x  ][  x]");
        assert_eq!(ok("{{ 'xxhixx'.strip('x') }}"), "hi");
        assert_eq!(
            ok("{{ 'Hello'.lower() }} {{ 'Hello'.upper() }} {{ \"they're bill\".title() }} {{ 'hELLO'.capitalize() }}"),
            "hello HELLO They'Re Bill Hello"
        );
        assert_eq!(ok("{{ 'foobar'.startswith('foo') }} {{ 'foobar'.endswith(('x', 'bar')) }} {{ 'foobar'.startswith('bar', 3) }}"), "True True True");
        assert_eq!(ok("{{ '123'.isdigit() }} {{ 'a1'.isdigit() }} {{ 'ab'.isalpha() }} {{ 'a1'.isalnum() }} {{ ' '.isspace() }} {{ 'ab1'.islower() }} {{ 'AB'.isupper() }}"), "True False True True True True True");
        assert_eq!(ok("{{ 'a-b-c'.replace('-', '+') }} {{ 'a-b-c'.replace('-', '+', 1) }}"), "a+b+c a+b-c");
        err("{{ 'a'.startswith(1) }}", "expects a string or a list of strings, got an integer");
    }

    #[test]
    fn string_search_pad_join() {
        assert_eq!(
            ok("{{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.count('l') }}"),
            "2 3 -1 2"
        );
        assert_eq!(
            ok("{{ 'a=b=c'.partition('=') | to_json }} {{ 'a=b=c'.rpartition('=') | to_json }}"),
            r#"["a", "=", "b=c"] ["a=b", "=", "c"]"#
        );
        assert_eq!(ok("{{ '42'.zfill(5) }} {{ '-42'.zfill(5) }} [{{ 'ab'.ljust(4) }}] [{{ 'ab'.rjust(4, '*') }}] [{{ 'ab'.center(5) }}]"), "00042 -0042 [ab  ] [**ab] [  ab ]");
        assert_eq!(ok("{{ ', '.join(['a', 'b']) }} {{ '-'.join('abc') }}"), "a, b a-b-c");
        assert_eq!(ok("{{ 'v1.2'.removeprefix('v') }} {{ 'a.txt'.removesuffix('.txt') }}"), "1.2 a");
        err("{{ 'hello'.index('z') }}", "str.index(): substring \"z\" not found");
        err("{{ ','.join([1, 2]) }}", "item 0 is an integer, not a string");
        err("{{ 'a'.ljust(3, 'ab') }}", "exactly one character");
        err("{{ 'a'.ljust(1000000000) }}", "larger than the supported");
        err("{{ '{:1000000000}'.format(1) }}", "unsupported format spec");
    }

    #[test]
    fn string_format() {
        assert_eq!(ok("{{ '{}-{}'.format('a', 1) }}"), "a-1");
        assert_eq!(ok("{{ '{1}{0}'.format('a', 'b') }}"), "ba");
        assert_eq!(ok("{{ '{name}:{port}'.format(name='h', port=80) }}"), "h:80");
        assert_eq!(ok("{{ '{0[a]} {1.x}'.format({'a': 5}, {'x': 6}) }}"), "5 6");
        assert_eq!(
            ok("{{ '{:>5}|{:<4}|{:^5}|{:05d}|{:.2f}|{:,}'.format('ab', 'c', 'x', 42, 3.14159, 1234567) }}"),
            "   ab|c   |  x  |00042|3.14|1,234,567"
        );
        assert_eq!(ok("{{ '{:x} {:+d} {:.1%} {!r} {{}}'.format(255, 3, 0.25, 's') }}"), "ff +3 25.0% 's' {}");
        assert_eq!(ok("{{ '{} {}'.format(none, true) }}"), "None True");
        err("{{ '{}{}'.format('a') }}", "positional argument 1 is missing");
        err("{{ '{x}'.format() }}", "no keyword argument named \"x\"");
        err("{{ '{:d}'.format('a') }}", "needs an integer, got a string");
        err("{{ '{:q}'.format(1) }}", "unsupported format spec");
        err("{{ '{'.format() }}", "unmatched '{'");
    }

    #[test]
    fn dict_methods() {
        let d = "{% set d = {'a': 1, 'b': 2} %}";
        assert_eq!(ok(&format!("{d}{{% for k, v in d.items() %}}{{{{ k }}}}={{{{ v }}}};{{% endfor %}}")), "a=1;b=2;");
        assert_eq!(
            ok(&format!("{d}{{{{ d.keys() | list | to_json }}}} {{{{ d.values() | sum }}}}")),
            r#"["a", "b"] 3"#
        );
        assert_eq!(
            ok(&format!("{d}{{{{ d.get('a') }}}} {{{{ d.get('z') is none }}}} {{{{ d.get('z', 9) }}}}")),
            "1 True 9"
        );
        assert_eq!(
            ok(&format!("{d}{{{{ 'a' in d.keys() }}}} {{{{ d.copy() | to_json }}}}")),
            r#"True {"a": 1, "b": 2}"#
        );
        err(&format!("{d}{{{{ d.update({{'c': 3}}) }}}}"), "dict.update() would modify the dictionary in place");
        err(&format!("{d}{{{{ d.get() }}}}"), "dict.get() takes 1 to 2 arguments (0 given)");
        err(&format!("{d}{{{{ d.frobnicate() }}}}"), "dict has no method `frobnicate`");
    }

    #[test]
    fn list_methods() {
        assert_eq!(
            ok("{{ ['a', 'b', 'a'].index('b') }} {{ ['a', 'b', 'a'].count('a') }} {{ ['a', 'b', 'a'].index('a', 1) }}"),
            "1 2 2"
        );
        err("{{ [1].index(2) }}", "list.index(): 2 is not in the list");
        err("{{ [1].append(2) }}", "list.append() would modify the list in place");
        err("{{ [1].sorted() }}", "list has no method `sorted`");
        err("{{ 'x'.frob() }}", "str has no method `frob`");
        err("{{ (1).frob() }}", "int has no method `frob`");
    }
}
