//! Argument helpers shared by modules: Ansible-style lenient booleans, file modes, lists.

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// Deserializes a boolean the way Ansible accepts it: `true`, `"yes"`, `"on"`, `1`, `"True"`...
pub fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Bool(bool),
        Int(i64),
        Text(String),
    }
    match Lenient::deserialize(d)? {
        Lenient::Bool(b) => Ok(b),
        Lenient::Int(i @ (0 | 1)) => Ok(i == 1),
        Lenient::Int(i) => Err(de::Error::custom(format!("`{i}` is not a boolean (use true/false, yes/no)"))),
        Lenient::Text(s) => {
            parse_bool(&s).ok_or_else(|| de::Error::custom(format!("`{s}` is not a boolean (use true/false, yes/no)")))
        }
    }
}

/// Same as [`lenient_bool`] for `Option<bool>` fields.
pub fn lenient_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    lenient_bool(d).map(Some)
}

/// Parses Ansible's boolean spellings as ansible-core's strict `boolean()` does: any case,
/// surrounding spaces ignored; anything else (the empty string too) is not a boolean.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
        "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
        _ => None,
    }
}

/// A file mode: `0644` (YAML octal int), `'0644'`, `'644'`, or symbolic as chmod writes it
/// (`'u=rw,g=r,o=r'`, `'u+rwx'`, `'go-w'`, `'a+X'`), which applies to the mode a path has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Octal bits.
    Octal(u32),
    /// Symbolic clauses (checked), resolved against a path's mode by [`Mode::resolve`].
    Symbolic(String),
}

impl Mode {
    /// The bits `current` becomes, as ansible-core's `_symbolic_mode_to_octal` computes them:
    /// clauses in order, `X` when `is_dir` or an execute bit is set so far, a clause without
    /// `u`/`g`/`o`/`a` acting on all three but only on the bits `umask` leaves.
    pub fn resolve(&self, current: u32, is_dir: bool, umask: u32) -> u32 {
        match self {
            Mode::Octal(m) => *m,
            Mode::Symbolic(s) => resolve_symbolic(s, current & 0o7777, is_dir, umask),
        }
    }

    /// The octal bits, for a mode that does not depend on the path's own.
    pub fn octal(&self) -> Option<u32> {
        match self {
            Mode::Octal(m) => Some(*m),
            Mode::Symbolic(_) => None,
        }
    }
}

/// Checks chmod's symbolic grammar: `[ugoa]*([-+=]([rwxXst]*|[ugo]))+` per comma-separated
/// clause. `a` stands alone (ansible-core refuses `ua+x`); a clause copies a class (`u=g`) or
/// names bits (`u=rw`), not both (ansible-core reads `u=rg`, chmod refuses it: refused here).
fn symbolic_ok(s: &str) -> bool {
    !s.is_empty()
        && s.split(',').all(|clause| {
            let ops = clause.trim_start_matches(['u', 'g', 'o', 'a']);
            let who = &clause[..clause.len() - ops.len()];
            (!who.contains('a') || who == "a")
                && ops.starts_with(['+', '-', '='])
                && ops.split(['+', '-', '=']).skip(1).all(|perms| {
                    perms.chars().all(|c| "rwxXst".contains(c)) || (perms.len() == 1 && "ugo".contains(perms))
                })
        })
}

fn resolve_symbolic(s: &str, mut mode: u32, is_dir: bool, umask: u32) -> u32 {
    for clause in s.split(',') {
        let ops_at = clause.find(['+', '-', '=']).unwrap_or(clause.len());
        let who = &clause[..ops_at];
        let use_umask = who.is_empty();
        let users: Vec<char> = if who.is_empty() || who == "a" { vec!['u', 'g', 'o'] } else { who.chars().collect() };
        let mut rest = &clause[ops_at..];
        while let Some(op) = rest.chars().next() {
            let body = &rest[1..];
            let end = body.find(['+', '-', '=']).unwrap_or(body.len());
            let perms = &body[..end];
            rest = &body[end..];
            for &user in &users {
                let apply_x = is_dir || mode & 0o111 != 0;
                let shift = match user {
                    'u' => 6,
                    'g' => 3,
                    _ => 0,
                };
                let keep = if use_umask { !umask } else { 0o7777 };
                let class = |src: u32| (mode >> src) & 0o7;
                let mut bits = 0;
                for p in perms.chars() {
                    bits |= match p {
                        'r' => (0o4 << shift) & keep,
                        'w' => (0o2 << shift) & keep,
                        'x' => (0o1 << shift) & keep,
                        'X' if apply_x => 0o1 << shift,
                        's' if user == 'u' => 0o4000,
                        's' if user == 'g' => 0o2000,
                        't' if user == 'o' => 0o1000,
                        'u' => class(6) << shift,
                        'g' => class(3) << shift,
                        'o' => class(0) << shift,
                        _ => 0,
                    };
                }
                mode = match op {
                    '=' => {
                        let mask = match user {
                            'u' => 0o4700,
                            'g' => 0o2070,
                            _ => 0o1007,
                        };
                        (mode & !mask & 0o7777) | bits
                    }
                    '+' => mode | bits,
                    _ => mode & !bits,
                };
            }
        }
    }
    mode
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum M {
            I(i64),
            S(String),
        }
        match M::deserialize(d)? {
            // An int in YAML was already read as octal when written `0644`; a bare `644` is decimal.
            // Ansible applies an integer as it is: `mode: 644` (decimal) becomes 0o1204, sticky
            // bit included. That is never what was meant; refuse it instead of doing either.
            M::I(i) if (0..=0o7777).contains(&i) && i > 0o777 && i.to_string().bytes().all(|b| b < b'8') => {
                Err(de::Error::custom(format!(
                    "mode {i} is a decimal integer, which Ansible applies as 0o{i:o}; write it as an octal string ('0{i}') or with a leading zero (0{i})"
                )))
            }
            M::I(i) if (0..=0o7777).contains(&i) => Ok(Mode::Octal(i as u32)),
            M::I(i) => Err(de::Error::custom(format!("mode {i} is out of range"))),
            M::S(s) => match parse_mode(&s) {
                Some(m) => Ok(Mode::Octal(m)),
                None if symbolic_ok(s.trim()) => Ok(Mode::Symbolic(s.trim().to_string())),
                None => Err(de::Error::custom(format!(
                    "`{s}` is not a file mode (use '0644', 'u=rw,g=r,o=r' or 'u+x')"
                ))),
            },
        }
    }
}

/// Parses an octal mode, or a symbolic one that sets all three classes (`u=rw,g=r,o=`): one
/// that leaves a class out (`u=rw,g=r`) keeps that class's bits of the path's own mode, and is
/// a [`Mode::Symbolic`].
pub fn parse_mode(s: &str) -> Option<u32> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777);
    }
    let named: String = s.split(',').filter_map(|c| c.split_once('=').map(|(w, _)| w)).collect();
    let all_named = named.contains('a') || ['u', 'g', 'o'].iter().all(|c| named.contains(*c));
    if !all_named {
        return None;
    }
    let mut mode = 0u32;
    for clause in s.split(',') {
        let (who, perms) = clause.split_once('=')?;
        let mut bits = 0;
        for p in perms.chars() {
            bits |= match p {
                'r' => 4,
                'w' => 2,
                'x' => 1,
                _ => return None,
            };
        }
        for w in who.chars() {
            mode |= match w {
                'u' => bits << 6,
                'g' => bits << 3,
                'o' => bits,
                'a' => bits << 6 | bits << 3 | bits,
                _ => return None,
            };
        }
    }
    Some(mode)
}

use crate::template::filters::python_float;

/// The text ansible-core's copy action writes for a `content` that is not a string: JSON as
/// Python's `json.dumps` writes it for a mapping or a list, Python's `str()` for a scalar
/// (`True`, `1.0`).
pub fn python_text_of(v: &minijinja::Value) -> Result<String, String> {
    use minijinja::value::ValueKind;
    Ok(match v.kind() {
        ValueKind::Map | ValueKind::Seq | ValueKind::Iterable => crate::template::filters::python_json_dumps(v)?,
        ValueKind::Undefined => "None".to_string(),
        _ => crate::template::filters::py_str(v),
    })
}

/// A scalar given where text is wanted, as ansible-core's `type: str` (and `elements: str`)
/// makes it: Python's `str()` of it (`True`, `1.0`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScalarText(pub String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ListItem::deserialize(d).map(|i| ScalarText(i.text()))
    }
}

/// A list argument as ansible-core's `type: list, elements: str` reads it: a string is split at
/// commas and each part kept as written (`"a, b"` is `a` and ` b`, `""` is one empty name), a
/// lone number or boolean is a list of its text, and numbers and booleans in a list become
/// Python's text of them (`True`, `1.0`). A module that strips or drops parts does so itself,
/// as its Python does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StringList(pub Vec<String>);

/// A scalar that ansible-core's `elements: str` turns into text.
#[derive(Deserialize)]
#[serde(untagged)]
enum ListItem {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl ListItem {
    fn text(self) -> String {
        match self {
            ListItem::Text(s) => s,
            ListItem::Int(n) => n.to_string(),
            ListItem::Float(f) => python_float(f),
            ListItem::Bool(b) => if b { "True" } else { "False" }.to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum L {
            One(ListItem),
            Many(Vec<ListItem>),
        }
        Ok(StringList(match L::deserialize(d)? {
            L::One(ListItem::Text(s)) => s.split(',').map(str::to_string).collect(),
            L::One(x) => vec![x.text()],
            L::Many(v) => v.into_iter().map(ListItem::text).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ansible's `type: list, elements: str` turns numbers and booleans in a list into text.
    #[test]
    fn list_elements_given_as_numbers_are_text() {
        let l: StringList =
            serde_json::from_value(serde_json::json!(["7000-7001/udp", 7100, true, 1.0])).expect("list");
        assert_eq!(l.0, ["7000-7001/udp", "7100", "True", "1.0"]);
        let l: StringList = serde_json::from_value(serde_json::json!(2.5)).expect("one number");
        assert_eq!(l.0, ["2.5"]);
    }

    /// ansible-core 2.19's `_validate_argument_values`: `logging: on` (YAML's true) is the choice
    /// `on`; with no single choice that reads as the boolean, the boolean stays (and is refused).
    #[test]
    fn a_boolean_given_for_a_choice_is_the_one_choice_that_reads_as_it() {
        #[derive(Deserialize, Debug, PartialEq)]
        enum Logging {
            #[serde(rename = "on")]
            On,
            #[serde(rename = "off")]
            Off,
            #[serde(rename = "low")]
            Low,
        }
        let read = |v: minijinja::Value| Logging::deserialize(Coerce(v));
        assert_eq!(read(minijinja::Value::from(true)).ok(), Some(Logging::On));
        assert_eq!(read(minijinja::Value::from(false)).ok(), Some(Logging::Off));
        assert_eq!(read(minijinja::Value::from("False")).ok(), Some(Logging::Off));
        assert_eq!(boolean_choice(&minijinja::Value::from(true), &["yes", "on"]), None);
        assert_eq!(boolean_choice(&minijinja::Value::from(false), &["no", "always"]), Some("no"));
    }

    /// What ansible-core's copy writes for a `content` that is not text (checked with its copy).
    #[test]
    fn content_that_is_not_text_is_written_as_python_writes_it() {
        let v =
            |j: serde_json::Value| python_text_of(&minijinja::Value::from(minijinja::value::Serde(j))).expect("text");
        assert_eq!(v(serde_json::json!(true)), "True");
        assert_eq!(v(serde_json::json!(1.0)), "1.0");
        assert_eq!(v(serde_json::json!(7)), "7");
        assert_eq!(
            v(serde_json::json!({"b": 1, "a": [1, "é", 2.0, true, null]})),
            r#"{"b": 1, "a": [1, "\u00e9", 2.0, true, null]}"#
        );
    }

    /// ansible-core's check_type_list: `value.split(",")`, nothing trimmed or dropped.
    #[test]
    fn a_list_given_as_a_string_keeps_its_parts_as_written() {
        let read = |v: serde_json::Value| serde_json::from_value::<StringList>(v).expect("list").0;
        assert_eq!(read(serde_json::json!("a, b")), ["a", " b"]);
        assert_eq!(read(serde_json::json!("")), [""]);
        assert_eq!(read(serde_json::json!("a,,b,")), ["a", "", "b", ""]);
        assert_eq!(read(serde_json::json!(["a", " b", ""])), ["a", " b", ""]);
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0644"), Some(0o644));
        assert_eq!(parse_mode("u=rw,g=r,o=r"), Some(0o644));
        assert_eq!(parse_mode("rw"), None);
    }

    /// ansible-core 2.19's `_symbolic_mode_to_octal` gives these (umask 022; checked with its Python).
    #[test]
    fn symbolic_modes_resolve_as_ansible_core() {
        let r = |m: &str, cur: u32, dir: bool| Mode::Symbolic(m.into()).resolve(cur, dir, 0o022);
        assert_eq!(r("u+rwx", 0o644, false), 0o744);
        assert_eq!(r("u+x,g-r", 0o644, false), 0o704);
        assert_eq!(r("a+X", 0o644, false), 0o644);
        assert_eq!(r("a+X", 0o644, true), 0o755);
        assert_eq!(r("a+X", 0o744, false), 0o755);
        assert_eq!(r("+w", 0o444, false), 0o644);
        assert_eq!(r("=rw", 0o777, false), 0o644);
        assert_eq!(r("go=u", 0o640, false), 0o666);
        assert_eq!(r("u=rw-x+X", 0o755, true), 0o755);
        assert_eq!(r("u+s,g+s,o+t", 0o755, true), 0o7755);
        assert_eq!(r("o=", 0o777, false), 0o770);
        assert_eq!(r("u=g", 0o640, false), 0o440);
        // A class a clause does not name keeps its bits.
        assert_eq!(r("u=rw,g=r", 0o666, false), 0o646);
        assert_eq!(r("u=rwx,g=rx", 0o755, true), 0o755);
        assert_eq!(r("a=r", 0o600, false), 0o444);
        assert_eq!(r("=r", 0o640, false), 0o444);
        assert_eq!(r("g=u", 0o600, false), 0o660);
        assert!(symbolic_ok("u+rwx") && symbolic_ok("a=r,go-w") && symbolic_ok("+x") && symbolic_ok("u=g"));
        assert!(!symbolic_ok("rw") && !symbolic_ok("u+q") && !symbolic_ok("") && !symbolic_ok("z+x"));
        assert!(!symbolic_ok("ua+x") && !symbolic_ok("u=rg") && symbolic_ok("a-w,o="));
    }

    // ansible-core 2.19's check_type_bool: strict boolean(), so `''` and `2` are errors
    // ("The value '' is not a valid boolean"), 0 and 1 are false and true.
    #[test]
    fn an_empty_string_or_an_integer_other_than_0_and_1_is_not_a_boolean() {
        #[derive(Deserialize, Debug)]
        struct A {
            #[serde(deserialize_with = "lenient_bool")]
            b: bool,
        }
        let read = |v: serde_json::Value| serde_json::from_value::<A>(serde_json::json!({ "b": v })).map(|a| a.b);
        assert!(read(serde_json::json!("")).is_err());
        assert!(read(serde_json::json!(" ")).is_err());
        assert!(read(serde_json::json!(2)).is_err());
        assert!(read(serde_json::json!(-1)).is_err());
        assert_eq!(read(serde_json::json!(1)).ok(), Some(true));
        assert_eq!(read(serde_json::json!(0)).ok(), Some(false));
        assert_eq!(read(serde_json::json!(" No ")).ok(), Some(false));
        assert_eq!(parse_bool(""), None);
    }
}

/// Module arguments as Ansible's argument spec reads them: a string where an integer, a float
/// or a boolean is wanted is converted as ansible-core converts it (`port: "22"`, `timeout:
/// "30"`, every `key=value` value, `force: "yes"`), at any depth; everything else is read as is.
pub(crate) struct Coerce(pub minijinja::Value);

type DeError = minijinja::Error;

/// ansible-core's return of a boolean given for a choice (its `_validate_argument_values`): for
/// the text `True` or `False` (a YAML boolean made text), the one choice among `y`, `yes`, `on`,
/// `1`, `true`, `t` (or their `False` counterparts), if exactly one is a choice.
pub fn boolean_choice(v: &minijinja::Value, choices: &[&'static str]) -> Option<&'static str> {
    use minijinja::value::ValueKind;
    let text = match v.kind() {
        ValueKind::Bool => Some(v.is_true()),
        ValueKind::String => match v.as_str() {
            Some("True") => Some(true),
            Some("False") => Some(false),
            _ => None,
        },
        _ => None,
    }?;
    let set: &[&str] =
        if text { &["y", "yes", "on", "1", "true", "t"] } else { &["n", "no", "off", "0", "false", "f"] };
    let mut overlap = choices.iter().filter(|c| set.contains(c));
    match (overlap.next(), overlap.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// A choice argument's text as ansible-core reads it: `True` or `False` (a YAML boolean made
/// text) is the one choice that reads as that boolean ([`boolean_choice`]), other text stays.
pub fn chosen<'a>(text: &'a str, choices: &[&'static str]) -> &'a str {
    boolean_choice(&minijinja::Value::from(text), choices).unwrap_or(text)
}

/// `check_type_int`: an integer, or a string holding a decimal number without a fractional
/// part (`" 22 "`, `"+3"`, `"1_000"`, `"22.0"`, `"1e3"`).
pub(crate) fn ansible_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let plain = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !plain.is_empty()
        && plain.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && !plain.starts_with('_')
        && !plain.ends_with('_')
        && !plain.contains("__")
    {
        let v: i128 = plain.replace('_', "").parse().ok()?;
        return Some(if t.starts_with('-') { -v } else { v });
    }
    // A decimal with a point or an exponent: only when it is a whole number.
    if !plain.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    let f: f64 = t.parse().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i128)
}

impl Coerce {
    fn text(&self) -> Option<&str> {
        (self.0.kind() == minijinja::value::ValueKind::String).then(|| self.0.as_str()).flatten()
    }

    fn int<'de, V: de::Visitor<'de>>(self, v: V, what: &str) -> Result<V::Value, DeError> {
        match self.text() {
            Some(s) => match ansible_int(s) {
                Some(i) => match i64::try_from(i) {
                    Ok(i) => v.visit_i64(i),
                    Err(_) => v.visit_i128(i),
                },
                None => Err(de::Error::custom(format!("{s:?} cannot be converted to {what}"))),
            },
            // A whole float is an integer for Ansible (`3.0`), a fractional one is not.
            None if self.0.kind() == minijinja::value::ValueKind::Number && !self.0.is_integer() => {
                match f64::try_from(self.0.clone()) {
                    Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => v.visit_i64(f as i64),
                    _ => Err(de::Error::custom(format!("{} cannot be converted to {what}", self.0))),
                }
            }
            None => self.0.into_deserializer_value().deserialize_any(v),
        }
    }
}

trait IntoValueDeserializer {
    fn into_deserializer_value(self) -> <minijinja::Value as de::IntoDeserializer<'static, DeError>>::Deserializer;
}

impl IntoValueDeserializer for minijinja::Value {
    fn into_deserializer_value(self) -> <minijinja::Value as de::IntoDeserializer<'static, DeError>>::Deserializer {
        de::IntoDeserializer::into_deserializer(self)
    }
}

impl<'de> de::IntoDeserializer<'de, DeError> for Coerce {
    type Deserializer = Coerce;
    fn into_deserializer(self) -> Coerce {
        self
    }
}

macro_rules! coerce_ints {
    ($($m:ident),*) => {$(
        fn $m<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            self.int(v, "an integer")
        }
    )*};
}

macro_rules! delegate {
    ($($m:ident),*) => {$(
        fn $m<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            self.0.into_deserializer_value().$m(v)
        }
    )*};
}

impl<'de> Deserializer<'de> for Coerce {
    type Error = DeError;

    fn deserialize_any<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        use minijinja::value::ValueKind;
        match self.0.kind() {
            ValueKind::Map => {
                let mut pairs = Vec::new();
                for k in self.0.try_iter()? {
                    let item = self.0.get_item(&k)?;
                    pairs.push((Coerce(k), Coerce(item)));
                }
                v.visit_map(de::value::MapDeserializer::new(pairs.into_iter()))
            }
            ValueKind::Seq | ValueKind::Iterable => {
                let items: Vec<Coerce> = self.0.try_iter()?.map(Coerce).collect();
                v.visit_seq(de::value::SeqDeserializer::new(items.into_iter()))
            }
            _ => self.0.into_deserializer_value().deserialize_any(v),
        }
    }

    fn deserialize_bool<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.text() {
            Some(s) => match parse_bool(s) {
                Some(b) => v.visit_bool(b),
                None => Err(de::Error::custom(format!("{s:?} is not a valid boolean (use true/false, yes/no)"))),
            },
            None => self.0.into_deserializer_value().deserialize_bool(v),
        }
    }

    coerce_ints!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128
    );

    fn deserialize_f32<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(v)
    }

    fn deserialize_f64<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.text() {
            Some(s) => match s.trim().parse::<f64>() {
                Ok(f) => v.visit_f64(f),
                Err(_) => Err(de::Error::custom(format!("{s:?} cannot be converted to a float"))),
            },
            None => self.0.into_deserializer_value().deserialize_f64(v),
        }
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if self.0.is_none() || self.0.is_undefined() {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_any(v)
    }

    fn deserialize_tuple<V: de::Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_any(v)
    }

    fn deserialize_tuple_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(v)
    }

    fn deserialize_map<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_any(v)
    }

    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(v)
    }

    /// A choice. ansible-core first makes a boolean given for it text (`True`), then, for the
    /// text `True` or `False`, takes the one choice that reads as that boolean, if exactly one
    /// does (`logging: on`, which YAML reads as true, is the choice `on`).
    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        if let Some(choice) = boolean_choice(&self.0, variants) {
            return minijinja::Value::from(choice).into_deserializer_value().deserialize_enum(name, variants, v);
        }
        self.0.into_deserializer_value().deserialize_enum(name, variants, v)
    }

    fn deserialize_unit_struct<V: de::Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, DeError> {
        self.0.into_deserializer_value().deserialize_unit_struct(name, v)
    }

    fn deserialize_str<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_string(v)
    }

    /// `check_type_str`: numbers and booleans given for a string become Python's `str()` of them.
    fn deserialize_string<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        use minijinja::value::ValueKind;
        match self.0.kind() {
            ValueKind::Bool | ValueKind::Number => v.visit_string(crate::template::filters::py_str(&self.0)),
            _ => self.0.into_deserializer_value().deserialize_string(v),
        }
    }

    delegate!(
        deserialize_char,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_identifier,
        deserialize_ignored_any
    );
}

#[cfg(test)]
mod coerce_tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Args {
        port: Option<u16>,
        timeout: u64,
        #[serde(default)]
        delay: f64,
        #[serde(default)]
        force: bool,
        #[serde(default)]
        mode: Option<Mode>,
        #[serde(default)]
        inner: Vec<Inner>,
        #[serde(default)]
        name: Option<String>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Inner {
        n: i32,
    }

    fn read(yaml_like: minijinja::Value) -> Result<Args, String> {
        Args::deserialize(Coerce(yaml_like)).map_err(|e| e.to_string())
    }

    #[test]
    fn strings_are_read_as_the_numbers_and_booleans_ansible_core_reads() {
        let v = minijinja::context! {
            port => "22", timeout => " 30 ", delay => "1.5", force => "yes", mode => "0644",
            inner => vec![minijinja::context! { n => "-3" }], name => "x",
        };
        assert_eq!(
            read(v),
            Ok(Args {
                port: Some(22),
                timeout: 30,
                delay: 1.5,
                force: true,
                mode: Some(Mode::Octal(0o644)),
                inner: vec![Inner { n: -3 }],
                name: Some("x".into())
            })
        );
        let v = minijinja::context! { port => 22, timeout => "1_000", force => true };
        let a = read(v).expect("reads");
        assert_eq!((a.port, a.timeout, a.force), (Some(22), 1000, true));
        assert_eq!(read(minijinja::context! { timeout => "22.0" }).map(|a| a.timeout), Ok(22));
        assert_eq!(read(minijinja::context! { timeout => "1e3" }).map(|a| a.timeout), Ok(1000));
        assert_eq!(read(minijinja::context! { timeout => "0644" }).map(|a| a.timeout), Ok(644));
        assert_eq!(read(minijinja::context! { timeout => 3.0 }).map(|a| a.timeout), Ok(3));
        assert!(read(minijinja::context! { timeout => 3.5 }).is_err());
        let e = read(minijinja::context! { timeout => "22.5" }).expect_err("fraction");
        assert!(e.contains("\"22.5\" cannot be converted to an integer"), "{e}");
        let e = read(minijinja::context! { timeout => "0x10" }).expect_err("hex");
        assert!(e.contains("cannot be converted"), "{e}");
        let e = read(minijinja::context! { port => "70000", timeout => 1 }).expect_err("range");
        assert!(e.contains("70000"), "{e}");
        let e = read(minijinja::context! { timeout => 1, force => "maybe" }).expect_err("bool");
        assert!(e.contains("is not a valid boolean"), "{e}");
        assert_eq!(read(minijinja::context! { timeout => 1, name => 123 }).map(|a| a.name), Ok(Some("123".into())));
        assert_eq!(read(minijinja::context! { timeout => 1, name => true }).map(|a| a.name), Ok(Some("True".into())));
        let e = read(minijinja::context! { timeout => 1, mode => 644 }).expect_err("decimal mode");
        assert!(e.contains("mode 644 is a decimal integer, which Ansible applies as 0o1204"), "{e}");
        assert_eq!(
            read(minijinja::context! { timeout => 1, mode => 420 }).map(|a| a.mode),
            Ok(Some(Mode::Octal(0o644)))
        );
        let e = read(minijinja::context! { timeout => 1, bogus => 1 }).expect_err("unknown");
        assert!(e.contains("bogus"), "{e}");
    }
}
