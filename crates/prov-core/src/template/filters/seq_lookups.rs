//! The lookups behind the older loop keywords: `sequence` (`with_sequence`), `together`
//! (`with_together`), `indexed_items` (`with_indexed_items`) and `dict` (`with_dict`), with
//! ansible-core 2.19's results and messages.

use super::{a_type, fail, is_list};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::Error;

/// One `sequence` term's settings.
#[derive(Clone)]
struct Seq {
    start: i64,
    end: Option<i64>,
    count: Option<i64>,
    stride: i64,
    format: String,
}

/// `sequence`: each term is `start=1 end=5 stride=1 format=%d` (or `count=N` for `end`), or
/// the short form `[start-]end[/stride][:format]`; keyword arguments give the defaults.
pub(super) fn sequence(terms: &[Value], kw: &Kwargs) -> Result<Vec<Value>, Error> {
    let int_kw = |k: &str| -> Result<Option<i64>, Error> {
        match kw.get::<Option<Value>>(k)? {
            None => Ok(None),
            Some(v) => integer(k, &v.to_string()).map(Some),
        }
    };
    let defaults = Seq {
        start: int_kw("start")?.unwrap_or(1),
        end: int_kw("end")?,
        count: int_kw("count")?,
        stride: int_kw("stride")?.unwrap_or(1),
        format: kw.get::<Option<String>>("format")?.unwrap_or_else(|| "%d".into()),
    };
    // Without terms, the keyword arguments alone (`query('sequence', start=2, end=4)`).
    if terms.is_empty() {
        return if kw.args().next().is_none() { Ok(Vec::new()) } else { generate(&defaults) };
    }
    let mut out = Vec::new();
    for term in terms {
        let Some(text) = term.as_str().filter(|_| term.kind() == ValueKind::String) else {
            return Err(fail(format!("terms must be strings, got {}", a_type(term))));
        };
        let mut s = defaults.clone();
        if !short_form(text, &mut s)? {
            // Ansible's parse_kv: words without `=` are `_raw_params`, quotes group words.
            let pairs = crate::compile::kv::parse_kv(text, false)
                .map_err(|_| fail("unrecognized arguments to with_sequence: ['_raw_params']"))?;
            let mut unknown = Vec::new();
            for (k, v) in pairs.0 {
                match k.as_str() {
                    "start" => s.start = integer(&k, &v)?,
                    "end" => s.end = Some(integer(&k, &v)?),
                    "count" => s.count = Some(integer(&k, &v)?),
                    "stride" => s.stride = integer(&k, &v)?,
                    "format" => s.format = v,
                    _ => unknown.push(format!("'{k}'")),
                }
            }
            if !unknown.is_empty() {
                return Err(fail(format!("unrecognized arguments to with_sequence: [{}]", unknown.join(", "))));
            }
        }
        out.extend(generate(&s)?);
    }
    Ok(out)
}

/// An `integer` option as ansible-core's config reads a string: Python's `Decimal(v)` that is
/// a whole number (`" 2"`, `"+2"`, `"1_0"`, `"1.0"`, `"1e1"`; not `"0x2"` or `"1.5"`).
fn integer(key: &str, v: &str) -> Result<i64, Error> {
    let invalid = || {
        fail(format!(
            "Config '{key}' for 'sequence' lookup plugin from 'Direct' has an invalid value: Invalid value provided for 'integer': '{v}'"
        ))
    };
    let t = v.trim();
    // Underscores only between digits, as Python allows them.
    let b = t.as_bytes();
    let underscores_ok = b.iter().enumerate().all(|(i, &c)| {
        c != b'_' || (i > 0 && i + 1 < b.len() && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit())
    });
    let plain: String = t.chars().filter(|&c| c != '_').collect();
    let numeric = !plain.is_empty()
        && plain.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
        && plain.chars().any(|c| c.is_ascii_digit());
    if !underscores_ok || !numeric {
        return Err(invalid());
    }
    if let Ok(i) = plain.parse::<i64>() {
        return Ok(i);
    }
    match plain.parse::<f64>() {
        Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(f as i64),
        _ => Err(invalid()),
    }
}

/// ansible-core's short form `[start-]end[/stride][:format]`, each number written with the
/// characters `0?x?[0-9a-f]+` (any case) and then read as an integer option (so `0x10` and `A`
/// match the form and are refused as integers); false when `text` is not of this form.
fn short_form(text: &str, s: &mut Seq) -> Result<bool, Error> {
    static SHORTCUT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = SHORTCUT.get_or_init(|| {
        const NUM: &str = "(0?x?[0-9a-f]+)";
        regex::RegexBuilder::new(&format!("^(?:{NUM}-)?{NUM}(?:/{NUM})?(?::(.+))?$"))
            .case_insensitive(true)
            .dot_matches_new_line(false)
            .build()
            .expect("the short form's pattern compiles")
    });
    let Some(c) = re.captures(text) else { return Ok(false) };
    if let Some(m) = c.get(1) {
        s.start = integer("start", m.as_str())?;
    }
    s.end = Some(integer("end", &c[2])?);
    if let Some(m) = c.get(3) {
        s.stride = integer("stride", m.as_str())?;
    }
    if let Some(m) = c.get(4) {
        s.format = m.as_str().to_string();
    }
    Ok(true)
}

fn generate(s: &Seq) -> Result<Vec<Value>, Error> {
    let end = match (s.count, s.end) {
        (Some(_), Some(_)) => return Err(fail("can't specify both count and end in with_sequence")),
        (Some(0), None) => return Ok(Vec::new()),
        // ansible-core's formula, whatever the stride's sign (`count=5 stride=-1` gives 7 items).
        (Some(c), None) => c
            .checked_mul(s.stride)
            .and_then(|n| n.checked_add(s.start))
            .and_then(|n| n.checked_sub(1))
            .ok_or_else(|| fail("the sequence's end is out of range"))?,
        (None, Some(e)) => e,
        (None, None) => return Err(fail("must specify count or end in with_sequence")),
    };
    if s.stride > 0 && end < s.start {
        return Err(fail("to count backwards make stride negative"));
    }
    if s.stride < 0 && end > s.start {
        return Err(fail("to count forward don't make stride negative"));
    }
    if s.stride == 0 {
        return Ok(Vec::new());
    }
    if s.format.matches('%').count() != 1 {
        return Err(fail(format!("bad formatting string: {}", s.format)));
    }
    let mut out = Vec::new();
    let mut i = s.start;
    while (s.stride > 0 && i <= end) || (s.stride < 0 && i >= end) {
        out.push(Value::from(percent(&s.format, i)?));
        let Some(next) = i.checked_add(s.stride) else { break };
        i = next;
        if out.len() > 1_000_000 {
            return Err(fail("more than a million items"));
        }
    }
    Ok(out)
}

/// Python's `format % i` for one conversion (`%d`, `%05x`, `%-3s`, ...).
fn percent(format: &str, i: i64) -> Result<String, Error> {
    let bad = || fail(format!("bad formatting string: {format}"));
    let at = format.find('%').ok_or_else(bad)?;
    let (head, rest) = (&format[..at], &format[at + 1..]);
    let flags_end = rest.find(|c: char| !"-+ 0#".contains(c)).unwrap_or(rest.len());
    let flags = &rest[..flags_end];
    let rest = &rest[flags_end..];
    let width_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let width: usize = rest[..width_end].parse().unwrap_or(0);
    let rest = &rest[width_end..];
    let (prec, rest) = match rest.strip_prefix('.') {
        Some(r) => {
            let e = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (Some(r[..e].parse::<usize>().unwrap_or(0)), &r[e..])
        }
        None => (None, rest),
    };
    let mut chars = rest.chars();
    let conv = chars.next().ok_or_else(bad)?;
    let tail = chars.as_str();
    let digits = match conv {
        'd' | 'i' | 'u' | 's' | 'r' => i.unsigned_abs().to_string(),
        'x' => format!("{:x}", i.unsigned_abs()),
        'X' => format!("{:X}", i.unsigned_abs()),
        'o' => format!("{:o}", i.unsigned_abs()),
        _ => return Err(bad()),
    };
    let digits = match prec {
        Some(p) if !matches!(conv, 's' | 'r') && digits.len() < p => {
            format!("{}{digits}", "0".repeat(p - digits.len()))
        }
        _ => digits,
    };
    let prefix = match conv {
        'x' if flags.contains('#') => "0x",
        'X' if flags.contains('#') => "0X",
        'o' if flags.contains('#') => "0o",
        _ => "",
    };
    let sign = if i < 0 {
        "-"
    } else if flags.contains('+') && !matches!(conv, 's' | 'r') {
        "+"
    } else if flags.contains(' ') && !matches!(conv, 's' | 'r') {
        " "
    } else {
        ""
    };
    let body_len = sign.len() + prefix.len() + digits.len();
    let pad = width.saturating_sub(body_len);
    let field = if flags.contains('-') {
        format!("{sign}{prefix}{digits}{}", " ".repeat(pad))
    } else if flags.contains('0') && !matches!(conv, 's' | 'r') && prec.is_none() {
        format!("{sign}{prefix}{}{digits}", "0".repeat(pad))
    } else {
        format!("{}{sign}{prefix}{digits}", " ".repeat(pad))
    };
    Ok(format!("{head}{field}{tail}"))
}

/// `together`: the terms' lists side by side, `None` where a list is shorter (zip_longest).
pub(super) fn together(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let lists: Vec<Vec<Value>> = terms
        .iter()
        .map(|t| if is_list(t) { t.try_iter().map(Iterator::collect) } else { Ok(vec![t.clone()]) })
        .collect::<Result<_, _>>()?;
    if lists.is_empty() {
        return Err(fail("lookup('together'): with_together requires at least one element in each list"));
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok((0..n)
        .map(|i| Value::from(lists.iter().map(|l| l.get(i).cloned().unwrap_or(Value::from(()))).collect::<Vec<_>>()))
        .collect())
}

/// `indexed_items`: `[index, item]` for each item of the terms (lists spliced).
pub(super) fn indexed_items(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut items = Vec::new();
    for t in terms {
        if is_list(t) {
            items.extend(t.try_iter()?);
        } else {
            items.push(t.clone());
        }
    }
    Ok(items.into_iter().enumerate().map(|(i, v)| Value::from(vec![Value::from(i), v])).collect())
}

/// `dict`: `{key, value}` for each entry of each mapping term.
pub(super) fn dict(terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for t in terms {
        if t.kind() != ValueKind::Map {
            // ansible-core's words (its type is `<class 'int'>` and the like).
            return Err(fail(format!(
                "the 'dict' lookup plugin expects a dictionary, got '{}' of type <class '{}'>)",
                super::py_str(t),
                super::type_debug(t)
            )));
        }
        for k in t.try_iter()? {
            let v = t.get_item(&k)?;
            out.push(Value::from_pairs([("key".to_string(), k), ("value".to_string(), v)]));
        }
    }
    Ok(out)
}

/// community.general's `flattened` (`with_flattened`): the terms with lists flattened at every
/// depth. A list of one item stands for the item, and the string `None` or `null` ends the
/// list it is in (ansible-core 2.19 templates no string term: a variable's name stays a name).
pub(super) fn flattened(terms: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for term in terms {
        let mut term = term.clone();
        while is_list(&term) && term.len() == Some(1) {
            let Ok(one) = term.get_item_by_index(0) else { break };
            term = one;
        }
        if term.kind() == ValueKind::String && matches!(term.as_str(), Some("None" | "null")) {
            break;
        }
        if is_list(&term) {
            let items: Vec<Value> = term.try_iter().map(|it| it.collect()).unwrap_or_default();
            out.extend(flattened(&items));
        } else {
            out.push(term);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{err, ok};

    // Results and messages of ansible-core 2.19 for the same calls.
    #[test]
    fn sequence_counts_as_ansible_does() {
        assert_eq!(ok("{{ query('sequence', 'start=1 end=3') | to_json }}"), r#"["1", "2", "3"]"#);
        assert_eq!(ok("{{ query('sequence', 'count=3') | to_json }}"), r#"["1", "2", "3"]"#);
        assert_eq!(ok("{{ query('sequence', '4-8/2:host%02d') | to_json }}"), r#"["host04", "host06", "host08"]"#);
        assert_eq!(ok("{{ query('sequence', 'start=10 end=12 format=%x') | to_json }}"), r#"["a", "b", "c"]"#);
        assert_eq!(ok("{{ query('sequence', 'start=5 end=1 stride=-2') | to_json }}"), r#"["5", "3", "1"]"#);
        assert_eq!(ok("{{ query('sequence', 'start=1 count=0') | to_json }}"), "[]");
        assert_eq!(ok("{{ query('sequence', '5') | to_json }}"), r#"["1", "2", "3", "4", "5"]"#);
        assert_eq!(ok("{{ query('sequence', start=2, end=4) | to_json }}"), r#"["2", "3", "4"]"#);
        assert_eq!(ok("{{ query('sequence', 'end=3', 'start=7 end=8') | to_json }}"), r#"["1", "2", "3", "7", "8"]"#);
        assert_eq!(ok("{{ lookup('sequence', 'end=3') }}"), "1,2,3");
        assert_eq!(ok("{{ query('sequence', 'start=1 end=3 format=%s-x') | to_json }}"), r#"["1-x", "2-x", "3-x"]"#);
        err("{{ query('sequence', 'start=5 end=1') }}", "to count backwards make stride negative");
        err("{{ query('sequence', 'start=0x0A end=3') }}", "Invalid value provided for 'integer': '0x0A'");
        err("{{ query('sequence', 'start=1') }}", "must specify count or end");
        // Integers as ansible-core's config reads them; the short form's characters.
        assert_eq!(ok("{{ query('sequence', 'start=1.0 end=3') | to_json }}"), r#"["1", "2", "3"]"#);
        assert_eq!(ok("{{ query('sequence', \"start=' 2' end=4\") | to_json }}"), r#"["2", "3", "4"]"#);
        assert_eq!(ok("{{ query('sequence', 'start=+2 end=4') | to_json }}"), r#"["2", "3", "4"]"#);
        assert_eq!(ok("{{ query('sequence', 'start=1_0 end=12') | to_json }}"), r#"["10", "11", "12"]"#);
        assert_eq!(ok("{{ query('sequence', '2-4/1:x%d') | to_json }}"), r#"["x2", "x3", "x4"]"#);
        err("{{ query('sequence', '0x2-4') }}", "Config 'start' for 'sequence' lookup plugin from 'Direct' has an invalid value: Invalid value provided for 'integer': '0x2'");
        err(
            "{{ query('sequence', 'A-4/2') }}",
            "Config 'start' for 'sequence' lookup plugin from 'Direct' has an invalid value",
        );
        err("{{ query('sequence', '1-4/C') }}", "Invalid value provided for 'integer': 'C'");
        err("{{ query('sequence', 'end=3 count=') }}", "Invalid value provided for 'integer': ''");
        err("{{ query('sequence', '1-4/') }}", "unrecognized arguments to with_sequence: ['_raw_params']");
        err("{{ query('sequence', '0-2 junk') }}", "unrecognized arguments to with_sequence: ['_raw_params']");
        err("{{ query('sequence', 'start=0 junk=3') }}", "unrecognized arguments to with_sequence: ['junk']");
        // ansible-core's end for a count: start + count * stride - 1, whatever the sign.
        assert_eq!(ok("{{ query('sequence', 'count=5 start=0', stride=-1) | length }}"), "7");
        assert_eq!(
            ok("{{ query('sequence', 'start=-1 count=3 stride=-2 format=%03d') | to_json }}"),
            r#"["-01", "-03", "-05", "-07"]"#
        );
        assert_eq!(ok("{{ query('sequence') | to_json }}"), "[]");
        assert_eq!(ok("{{ query('sequence', 'count=3 stride=0 format=bad') | to_json }}"), "[]");
        err("{{ query('sequence', 'start=9223372036854775807 count=9 stride=9') }}", "out of range");
        assert_eq!(
            ok("{{ query('sequence', 'start=9223372036854775806 end=9223372036854775807 stride=5') | length }}"),
            "1"
        );
    }

    #[test]
    fn together_indexed_items_and_dict_pair_up_items() {
        assert_eq!(ok("{{ query('together', [1,2,3], ['a','b']) | to_json }}"), r#"[[1, "a"], [2, "b"], [3, null]]"#);
        assert_eq!(ok("{{ query('indexed_items', ['a','b']) | to_json }}"), r#"[[0, "a"], [1, "b"]]"#);
        assert_eq!(
            ok("{{ query('dict', {'x': 1, 'y': 2}) | to_json }}"),
            r#"[{"key": "x", "value": 1}, {"key": "y", "value": 2}]"#
        );
    }
}
