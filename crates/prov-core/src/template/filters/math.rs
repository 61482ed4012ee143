//! Ansible's math and size filters: `log`, `pow`, `root`, `human_readable`, `human_to_bytes`,
//! `permutations`, `combinations`.

use super::add_filter;
use super::{a_type, fail, list_items};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error};

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "log", log);
    add_filter(env, "pow", pow);
    add_filter(env, "root", root);
    add_filter(env, "human_readable", human_readable);
    add_filter(env, "human_to_bytes", human_to_bytes);
    add_filter(env, "permutations", permutations);
    add_filter(env, "combinations", combinations);
}

/// A numeric argument (booleans count as 0 / 1, like Python).
fn number(v: &Value, what: &str) -> Result<f64, Error> {
    match v.kind() {
        ValueKind::Number | ValueKind::Bool => {
            f64::try_from(v.clone()).map_err(|_| fail(format!("{what}, got {}", a_type(v))))
        }
        _ => Err(fail(format!("{what}, got {}", a_type(v)))),
    }
}

/// A float result; NaN (Python's `ValueError: math domain error`) is an error.
fn finite(f: f64, filter: &str) -> Result<Value, Error> {
    if f.is_nan() {
        return Err(fail(format!("{filter}: math domain error")));
    }
    Ok(Value::from(f))
}

/// `log(base=e)`.
fn log(value: &Value, base: Option<Value>) -> Result<Value, Error> {
    let x = number(value, "log can only be used on numbers")?;
    if x <= 0.0 {
        return Err(fail("log: math domain error (the value must be positive)"));
    }
    match base {
        None => finite(x.ln(), "log"),
        Some(b) => {
            let b = number(&b, "log: the base must be a number")?;
            if b <= 0.0 || b == 1.0 {
                return Err(fail("log: the base must be positive and not 1"));
            }
            if b == 10.0 {
                return finite(x.log10(), "log");
            }
            finite(x.ln() / b.ln(), "log")
        }
    }
}

/// `pow(y)`: Python's `math.pow` (always a float).
fn pow(value: &Value, y: &Value) -> Result<Value, Error> {
    let x = number(value, "pow can only be used on numbers")?;
    let y = number(y, "pow: the exponent must be a number")?;
    finite(x.powf(y), "pow")
}

/// `root(base=2)`: square root, cube root, or `x ** (1 / base)`.
fn root(value: &Value, base: Option<Value>) -> Result<Value, Error> {
    let x = number(value, "root can only be used on numbers")?;
    let b = match base {
        None => 2.0,
        Some(b) => number(&b, "root: the base must be a number")?,
    };
    if b == 0.0 {
        return Err(fail("root: the base must not be 0"));
    }
    if b == 2.0 {
        if x < 0.0 {
            return Err(fail("root: math domain error (square root of a negative number)"));
        }
        return finite(x.sqrt(), "root");
    }
    if b == 3.0 {
        return finite(x.cbrt(), "root");
    }
    finite(x.powf(1.0 / b), "root")
}

const SIZE_RANGES: [(char, f64); 9] = [
    ('Y', 1_208_925_819_614_629_174_706_176.0),
    ('Z', 1_180_591_620_717_411_303_424.0),
    ('E', 1_152_921_504_606_846_976.0),
    ('P', 1_125_899_906_842_624.0),
    ('T', 1_099_511_627_776.0),
    ('G', 1_073_741_824.0),
    ('M', 1_048_576.0),
    ('K', 1024.0),
    ('B', 1.0),
];

/// `human_readable(isbits=false, unit=None)`: `1048576` becomes `1.00 MB`.
fn human_readable(value: &Value, isbits: Option<bool>, unit: Option<String>, kw: Kwargs) -> Result<Value, Error> {
    let isbits = match isbits {
        Some(b) => b,
        None => kw.get::<Option<bool>>("isbits")?.unwrap_or(false),
    };
    let unit = match unit {
        Some(u) => Some(u),
        None => kw.get::<Option<String>>("unit")?,
    };
    kw.assert_all_used()?;
    let size = match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().trim().parse::<f64>().ok(),
        _ => number(value, "").ok(),
    }
    .ok_or_else(|| fail(format!("human_readable: cannot interpret {value} as a number")))?;
    let base = if isbits { "bits" } else { "Bytes" };
    let wanted = unit.as_deref().and_then(|u| u.chars().next()).map(|c| c.to_ascii_uppercase());
    let (suffix, limit) = SIZE_RANGES
        .iter()
        .find(|(s, limit)| match wanted {
            Some(w) => w == *s,
            None => size >= *limit,
        })
        .copied()
        .unwrap_or(('B', 1.0));
    let suffix = if limit == 1.0 { base.to_string() } else { format!("{suffix}{}", &base[..1]) };
    Ok(Value::from(format!("{:.2} {suffix}", size / limit)))
}

/// `human_to_bytes(default_unit=None, isbits=false)`: `'1.5 KB'` becomes `1536`. Any error is
/// the filter's one message, as ansible-core's filter words it.
fn human_to_bytes(value: &Value, default_unit: Option<String>, kw: Kwargs) -> Result<Value, Error> {
    let default_unit = match default_unit {
        Some(u) => Some(u),
        None => kw.get::<Option<String>>("default_unit")?,
    };
    let isbits = kw.get::<Option<bool>>("isbits")?.unwrap_or(false);
    kw.assert_all_used()?;
    let text = match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_string(),
        ValueKind::Number => value.to_string(),
        _ => return Err(fail(format!("human_to_bytes expects a string, got {}", a_type(value)))),
    };
    human_to_bytes_text(&text, default_unit.as_deref(), isbits)
        .map(Value::from)
        .map_err(|e| fail(format!("human_to_bytes() can't interpret the input: {e}")))
}

/// ansible-core's `human_to_bytes` (`module_utils.common.text.formatters`): `'2K'` is 2048, a
/// unit of more than one letter must be its byte (or, with `isbits`, bit) form; the error is
/// its `ValueError` text.
pub fn human_to_bytes_text(text: &str, default_unit: Option<&str>, isbits: bool) -> Result<i128, String> {
    static FORM: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$").expect("a valid pattern")
    });
    let Some(m) = FORM.captures(text) else {
        return Err(format!("human_to_bytes() can't interpret following string: {text}"));
    };
    let digits = &m[1];
    let num: f64 = digits.parse().map_err(|_| {
        format!("human_to_bytes() can't interpret following number: {digits} (original input string: {text})")
    })?;
    let Some(unit) = m.get(2).map(|u| u.as_str()).or(default_unit) else {
        return Ok(num.round() as i128);
    };
    let key = unit.chars().next().map(|c| c.to_ascii_uppercase()).unwrap_or(' ');
    let Some(limit) = SIZE_RANGES.iter().find(|(s, _)| *s == key).map(|(_, l)| *l) else {
        return Err(format!(
            "human_to_bytes() failed to convert {text} (unit = {unit}). The suffix must be one of Y, Z, E, P, T, G, M, K, B"
        ));
    };
    if unit.chars().count() > 1 {
        let (class, name) = if isbits { ('b', "bit") } else { ('B', "byte") };
        let expect =
            if key == 'B' { format!("expect {class} or {name}") } else { format!("expect {key}{class} or {key}") };
        let words = [
            ('B', "byte", "bit"),
            ('K', "kilobyte", "kilobit"),
            ('M', "megabyte", "megabit"),
            ('G', "gigabyte", "gigabit"),
            ('T', "terabyte", "terabit"),
            ('P', "petabyte", "petabit"),
            ('E', "exabyte", "exabit"),
            ('Z', "zetabyte", "zetabit"),
            ('Y', "yottabyte", "yottabit"),
        ];
        let (_, byte_word, bit_word) = words.iter().find(|w| w.0 == key).copied().unwrap_or(('B', "byte", "bit"));
        let word = if isbits { bit_word } else { byte_word };
        let short = if key == 'B' { class.to_string() } else { format!("{key}{class}") };
        if unit.to_lowercase() != word && unit != short {
            return Err(format!("human_to_bytes() failed to convert {text}. Value is not a valid string ({expect})"));
        }
    }
    Ok((num * limit).round() as i128)
}

/// The most items a permutation or combination filter may produce.
const MAX_RESULTS: usize = 100_000;

fn choose_r(value: &Value, r: Option<Value>, filter: &str, required: bool) -> Result<(Vec<Value>, usize), Error> {
    let items = list_items(value, &format!("{filter} expects"))?;
    let r = match r {
        Some(r) => usize::try_from(r).map_err(|_| fail(format!("{filter}: r must be a non-negative integer")))?,
        None if required => return Err(fail(format!("{filter} needs the size of each group (r)"))),
        None => items.len(),
    };
    Ok((items, r))
}

fn too_many(filter: &str) -> Error {
    fail(format!("{filter}: more than {MAX_RESULTS} results"))
}

/// `permutations(r=None)`: `itertools.permutations`, in its order.
fn permutations(value: &Value, r: Option<Value>) -> Result<Value, Error> {
    let (items, r) = choose_r(value, r, "permutations", false)?;
    let n = items.len();
    let mut out = Vec::new();
    if r > n {
        return Ok(Value::from(out));
    }
    fn rec(items: &[Value], r: usize, used: &mut Vec<bool>, cur: &mut Vec<Value>, out: &mut Vec<Value>) -> bool {
        if cur.len() == r {
            out.push(Value::from(cur.clone()));
            return out.len() <= MAX_RESULTS;
        }
        for i in 0..items.len() {
            if !used[i] {
                used[i] = true;
                cur.push(items[i].clone());
                let ok = rec(items, r, used, cur, out);
                cur.pop();
                used[i] = false;
                if !ok {
                    return false;
                }
            }
        }
        true
    }
    if !rec(&items, r, &mut vec![false; n], &mut Vec::new(), &mut out) {
        return Err(too_many("permutations"));
    }
    Ok(Value::from(out))
}

/// `combinations(r)`: `itertools.combinations`, in its order.
fn combinations(value: &Value, r: Option<Value>) -> Result<Value, Error> {
    let (items, r) = choose_r(value, r, "combinations", true)?;
    let mut out = Vec::new();
    fn rec(items: &[Value], start: usize, r: usize, cur: &mut Vec<Value>, out: &mut Vec<Value>) -> bool {
        if cur.len() == r {
            out.push(Value::from(cur.clone()));
            return out.len() <= MAX_RESULTS;
        }
        for i in start..items.len() {
            cur.push(items[i].clone());
            let ok = rec(items, i + 1, r, cur, out);
            cur.pop();
            if !ok {
                return false;
            }
        }
        true
    }
    if r <= items.len() && !rec(&items, 0, r, &mut Vec::new(), &mut out) {
        return Err(too_many("combinations"));
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{err, ok};

    #[test]
    fn log_pow_root() {
        assert_eq!(ok("{{ 100 | log(10) }} {{ 8 | log(2) }} {{ (1 | log) }}"), "2.0 3.0 0.0");
        assert_eq!(ok("{{ 2 | pow(10) }} {{ 9 | root }} {{ 27 | root(3) }} {{ 16 | root(4) }}"), "1024.0 3.0 3.0 2.0");
        err("{{ 'x' | log }}", "log can only be used on numbers, got a string");
        err("{{ 0 | log }}", "math domain error");
        err("{{ -4 | root }}", "square root of a negative number");
        err("{{ 2 | pow('a') }}", "the exponent must be a number, got a string");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(ok("{{ 1048576 | human_readable }}"), "1.00 MB");
        assert_eq!(ok("{{ 10 | human_readable }} {{ 0 | human_readable }}"), "10.00 Bytes 0.00 Bytes");
        assert_eq!(ok("{{ 1024 | human_readable(isbits=true) }}"), "1.00 Kb");
        assert_eq!(ok("{{ 1048576 | human_readable(unit='K') }}"), "1024.00 KB");
        assert_eq!(ok("{{ '2048' | human_readable }}"), "2.00 KB");
        assert_eq!(ok("{{ '1.5 KB' | human_to_bytes }} {{ '1M' | human_to_bytes }} {{ '10' | human_to_bytes }} {{ '2' | human_to_bytes('K') }}"), "1536 1048576 10 2048");
        // ansible-core 2.19: 1024 3 1024, and '3 bytes' fails (a unit word is singular).
        assert_eq!(ok("{{ '1 Kb' | human_to_bytes(isbits=true) }} {{ '3 byte' | human_to_bytes }} {{ '1 kilobyte' | human_to_bytes }}"), "1024 3 1024");
        err(
            "{{ '3 bytes' | human_to_bytes }}",
            "human_to_bytes() can't interpret the input: human_to_bytes() failed to convert 3 bytes. Value is not a valid string (expect B or byte)",
        );
        err("{{ 'abc' | human_readable }}", "human_readable: cannot interpret abc as a number");
        err(
            "{{ 'x' | human_to_bytes }}",
            "human_to_bytes() can't interpret the input: human_to_bytes() can't interpret following string: x",
        );
        err("{{ '1 Q' | human_to_bytes }}", "(unit = Q). The suffix must be one of Y, Z, E, P, T, G, M, K, B");
        err("{{ '1 Kx' | human_to_bytes }}", "Value is not a valid string (expect KB or K)");
    }

    #[test]
    fn permutations_and_combinations() {
        assert_eq!(ok("{{ [1, 2, 3] | permutations | list | length }}"), "6");
        assert_eq!(ok("{{ [1, 2, 3] | permutations(2) | first | to_json }}"), "[1, 2]");
        assert_eq!(ok("{{ [1, 2, 3] | combinations(2) | to_json }}"), "[[1, 2], [1, 3], [2, 3]]");
        assert_eq!(ok("{{ [1] | combinations(2) | to_json }}"), "[]");
        err("{{ [1] | combinations }}", "combinations needs the size of each group");
        err("{{ 'ab' | permutations }}", "permutations expects a list, got a string");
        err("{{ range(12) | list | permutations }}", "more than 100000 results");
    }
}
