//! Ansible's filter, test and lookup library on top of minijinja's builtins.
//!
//! [`register`] installs everything on an environment. Filters follow Ansible's semantics and
//! argument names (`default(value, boolean)`, `combine(recursive=true, list_merge='append')`,
//! `to_nice_json(indent=4, sort_keys=true)`, ...). What Ansible offers but prov does not is
//! simply not registered, so the compiler reports it as an unknown filter: `to_datetime`,
//! `to_uuid`, the short `ipaddr` among them. Where prov's result could differ from Python's
//! (a JMESPath function, a strftime conversion, an ipaddr query), the filter refuses it by name.
//!
//! Errors name the filter and say what was expected, e.g.
//! `dict2items requires a dictionary, got a list`.

mod crypt;
mod data;
mod digest;
mod glob;
mod ipaddr;
mod jinja_text;
mod jmes;
mod lookup;
pub use lookup::{canonical_lookup, lookup_supported, supported_lookups};

/// A regular expression in Python's `re` syntax, as modules read theirs (`lineinfile`'s
/// `regexp`): look-around and backreferences included; `multiline` is `re.MULTILINE`. The
/// error is the reason it does not compile, in Python's words where prov knows them.
pub fn python_regex(pattern: &str, multiline: bool) -> Result<fancy_regex::Regex, String> {
    text::compile_py(pattern, false, multiline)
}

/// Python's `re.subn(re, template, text, count)`: the text with the matches replaced (all for
/// a `count` of 0; `template` in the regex crate's `$1` form), and how many were (empty
/// matches counted as Python counts them). The error is a search that gave up (the
/// backtracking limit).
pub fn python_subn(
    re: &fancy_regex::Regex,
    template: &str,
    text: &str,
    count: usize,
) -> Result<(String, usize), String> {
    let mut found = text::py_captures(re, text)?;
    if count != 0 {
        found.truncate(count);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for c in &found {
        let Some(m) = c.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        c.expand(template, &mut out);
        last = m.end();
    }
    out.push_str(&text[last..]);
    Ok((out, found.len()))
}

/// Python's `json.dumps(value, indent=indent, sort_keys=sort_keys)` (ASCII only, as Python
/// writes by default): for modules that write a file as an Ansible module's Python writes it.
pub fn json_dumps(value: &serde_json::Value, indent: Option<usize>, sort_keys: bool) -> Result<String, String> {
    let opts = JsonOpts { indent, sort_keys, ensure_ascii: true, separators: None };
    serialize::to_json(&Value::from(minijinja::value::Serde(value)), &opts, "json.dumps").map_err(|e| e.to_string())
}

mod math;
mod paths;
mod pymethods;
mod pyset;
pub(crate) mod random;
mod seq_lookups;
mod serialize;
pub use serialize::{python_float, python_json_dumps};
pub(crate) mod text;
mod time;
mod url;
pub use math::human_to_bytes_text;
pub use pymethods::py_str;
pub use time::{PyDateTime, PyTimeDelta};
mod yaml_out;

use minijinja::value::{from_args, Kwargs, Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind};
use serialize::JsonOpts;
use yaml_out::YamlOpts;

/// What lookups may read: the controller environment and files relative to a base dir.
#[derive(Clone, Debug)]
pub struct LookupContext {
    /// Directories relative `lookup('file', ...)` paths are searched in, in order (each as
    /// `dir/files/path`, then `dir/path`, like Ansible's search path).
    pub base_dirs: std::sync::Arc<Vec<std::path::PathBuf>>,
}

/// The filters ansible-core ships as `ansible.builtin.*` (its filter plugins' names, read from
/// ansible-core 2.19): the ones prov implements answer that name too.
const ANSIBLE_BUILTIN_FILTERS: &[&str] = &[
    "b64decode",
    "b64encode",
    "basename",
    "bool",
    "checksum",
    "combinations",
    "combine",
    "comment",
    "commonpath",
    "d",
    "default",
    "dict2items",
    "difference",
    "dirname",
    "expanduser",
    "expandvars",
    "extract",
    "fileglob",
    "flatten",
    "from_json",
    "from_yaml",
    "from_yaml_all",
    "groupby",
    "hash",
    "human_readable",
    "human_to_bytes",
    "intersect",
    "items2dict",
    "log",
    "mandatory",
    "map",
    "md5",
    "normpath",
    "password_hash",
    "path_join",
    "permutations",
    "pow",
    "product",
    "quote",
    "random",
    "realpath",
    "regex_escape",
    "regex_findall",
    "regex_replace",
    "regex_search",
    "reject",
    "rejectattr",
    "rekey_on_member",
    "relpath",
    "root",
    "select",
    "selectattr",
    "sha1",
    "shuffle",
    "split",
    "splitext",
    "strftime",
    "subelements",
    "symmetric_difference",
    "ternary",
    "to_datetime",
    "to_json",
    "to_nice_json",
    "to_nice_yaml",
    "to_uuid",
    "to_yaml",
    "type_debug",
    "union",
    "unique",
    "unvault",
    "urldecode",
    "urlsplit",
    "vault",
    "win_basename",
    "win_dirname",
    "win_splitdrive",
    "zip",
    "zip_longest",
];

/// The tests ansible-core ships as `ansible.builtin.*` (read from ansible-core 2.19).
const ANSIBLE_BUILTIN_TESTS: &[&str] = &[
    "abs",
    "all",
    "any",
    "change",
    "changed",
    "contains",
    "defined",
    "directory",
    "exists",
    "failed",
    "failure",
    "falsy",
    "file",
    "finished",
    "is_abs",
    "is_dir",
    "is_file",
    "is_link",
    "is_mount",
    "is_same_file",
    "isnan",
    "issubset",
    "issuperset",
    "link",
    "link_exists",
    "match",
    "mount",
    "nan",
    "reachable",
    "regex",
    "same_file",
    "search",
    "skip",
    "skipped",
    "started",
    "subset",
    "succeeded",
    "success",
    "successful",
    "superset",
    "timedout",
    "truthy",
    "undefined",
    "unreachable",
    "uri",
    "url",
    "urn",
    "vault_encrypted",
    "vaulted_file",
    "version",
    "version_compare",
];

/// Jinja's own filters, which ansible-core 2.19 also answers as `ansible.builtin.NAME`
/// (`'a' | ansible.builtin.upper` renders `A` there).
const JINJA_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "capitalize",
    "center",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "filesizeformat",
    "first",
    "float",
    "forceescape",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "random",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "string",
    "striptags",
    "sum",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "urlize",
    "wordcount",
    "wordwrap",
    "xmlattr",
];

/// Jinja's own tests, also answered as `ansible.builtin.NAME` by ansible-core 2.19.
const JINJA_TESTS: &[&str] = &[
    "boolean",
    "callable",
    "defined",
    "divisibleby",
    "eq",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "gt",
    "in",
    "integer",
    "iterable",
    "le",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "sameas",
    "sequence",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// Whether ansible-core answers `ansible.builtin.NAME` for this filter.
fn ansible_builtin_filter(name: &str) -> bool {
    ANSIBLE_BUILTIN_FILTERS.contains(&name) || JINJA_FILTERS.contains(&name)
}

/// Whether ansible-core answers `ansible.builtin.NAME` for this test.
fn ansible_builtin_test(name: &str) -> bool {
    ANSIBLE_BUILTIN_TESTS.contains(&name) || JINJA_TESTS.contains(&name)
}

/// `ansible.builtin.NAME` and `ansible.legacy.NAME` for the Jinja filters and tests minijinja
/// has built in (their short names stay minijinja's own registrations).
fn jinja_builtin_aliases(env: &mut Environment<'static>) {
    use minijinja::filters as f;
    use minijinja::tests as t;
    alias_filter(env, "abs", f::abs);
    alias_filter(env, "batch", f::batch);
    alias_filter(env, "capitalize", f::capitalize);
    alias_filter(env, "escape", f::escape);
    alias_filter(env, "e", f::escape);
    alias_filter(env, "first", f::first);
    alias_filter(env, "format", f::format);
    alias_filter(env, "groupby", f::groupby);
    alias_filter(env, "items", f::items);
    alias_filter(env, "join", f::join);
    alias_filter(env, "last", f::last);
    alias_filter(env, "length", f::length);
    alias_filter(env, "count", f::length);
    alias_filter(env, "list", f::list);
    alias_filter(env, "lower", f::lower);
    alias_filter(env, "max", f::max);
    alias_filter(env, "min", f::min);
    alias_filter(env, "pprint", f::pprint);
    alias_filter(env, "reject", f::reject);
    alias_filter(env, "rejectattr", f::rejectattr);
    alias_filter(env, "replace", f::replace);
    alias_filter(env, "reverse", f::reverse);
    alias_filter(env, "round", f::round);
    alias_filter(env, "safe", f::safe);
    alias_filter(env, "select", f::select);
    alias_filter(env, "selectattr", f::selectattr);
    alias_filter(env, "slice", f::slice);
    alias_filter(env, "sort", f::sort);
    alias_filter(env, "string", f::string);
    alias_filter(env, "sum", f::sum);
    alias_filter(env, "title", f::title);
    alias_filter(env, "trim", f::trim);
    alias_filter(env, "unique", f::unique);
    alias_filter(env, "upper", f::upper);
    alias_test(env, "boolean", t::is_boolean);
    alias_test(env, "defined", t::is_defined);
    alias_test(env, "divisibleby", t::is_divisibleby);
    alias_test(env, "eq", t::is_eq);
    alias_test(env, "escaped", t::is_safe);
    alias_test(env, "even", t::is_even);
    alias_test(env, "false", t::is_false);
    alias_test(env, "filter", t::is_filter);
    alias_test(env, "float", t::is_float);
    alias_test(env, "ge", t::is_ge);
    alias_test(env, "gt", t::is_gt);
    alias_test(env, "in", t::is_in);
    alias_test(env, "integer", t::is_integer);
    alias_test(env, "le", t::is_le);
    alias_test(env, "lower", t::is_lower);
    alias_test(env, "lt", t::is_lt);
    alias_test(env, "mapping", t::is_mapping);
    alias_test(env, "ne", t::is_ne);
    alias_test(env, "none", t::is_none);
    alias_test(env, "number", t::is_number);
    alias_test(env, "odd", t::is_odd);
    alias_test(env, "sameas", t::is_sameas);
    alias_test(env, "test", t::is_test);
    alias_test(env, "true", t::is_true);
    alias_test(env, "undefined", t::is_undefined);
    alias_test(env, "upper", t::is_upper);
}

/// Adds a filter under its `ansible.builtin.` and `ansible.legacy.` names only.
fn alias_filter<F, Rv, Args>(env: &mut Environment<'static>, name: &'static str, f: F)
where
    F: minijinja::functions::Function<Rv, Args> + Clone,
    Rv: minijinja::value::FunctionResult,
    Args: for<'a> minijinja::value::FunctionArgs<'a>,
{
    env.add_filter(format!("ansible.builtin.{name}"), f.clone());
    env.add_filter(format!("ansible.legacy.{name}"), f);
}

/// Adds a test under its `ansible.builtin.` and `ansible.legacy.` names only.
fn alias_test<F, Rv, Args>(env: &mut Environment<'static>, name: &'static str, f: F)
where
    F: minijinja::functions::Function<Rv, Args> + Clone,
    Rv: minijinja::value::FunctionResult,
    Args: for<'a> minijinja::value::FunctionArgs<'a>,
{
    env.add_test(format!("ansible.builtin.{name}"), f.clone());
    env.add_test(format!("ansible.legacy.{name}"), f);
}

/// Adds a filter, also as `ansible.builtin.NAME` and `ansible.legacy.NAME` when ansible-core
/// answers that name.
pub(super) fn add_filter<F, Rv, Args>(env: &mut Environment<'static>, name: &'static str, f: F)
where
    F: minijinja::functions::Function<Rv, Args> + Clone,
    Rv: minijinja::value::FunctionResult,
    Args: for<'a> minijinja::value::FunctionArgs<'a>,
{
    if ansible_builtin_filter(name) {
        alias_filter(env, name, f.clone());
    }
    env.add_filter(name, f);
}

/// [`add_filter`] for tests (`x is ansible.builtin.match(...)`).
pub(super) fn add_test<F, Rv, Args>(env: &mut Environment<'static>, name: &'static str, f: F)
where
    F: minijinja::functions::Function<Rv, Args> + Clone,
    Rv: minijinja::value::FunctionResult,
    Args: for<'a> minijinja::value::FunctionArgs<'a>,
{
    if ansible_builtin_test(name) {
        alias_test(env, name, f.clone());
    }
    env.add_test(name, f);
}

/// Registers every filter, test and global function (`lookup`, `query`, `dict`) on `env`, and
/// the Python method fallback (`s.split(',')`, `d.items()`, `d.get('k', 1)`, ...).
pub fn register(env: &mut Environment<'static>, ctx: LookupContext) {
    // minijinja's builtins under their `ansible.builtin.` names first: prov's own versions
    // registered below replace both names.
    jinja_builtin_aliases(env);
    // Jinja's own, as Python answers them (minijinja's differ: `none is iterable`,
    // `'abc' is sequence`).
    add_test(env, "iterable", is_iterable);
    add_test(env, "string", is_string);
    add_test(env, "sequence", is_sequence);
    add_filter(env, "default", default);
    add_filter(env, "d", default);
    add_filter(env, "mandatory", mandatory);
    add_filter(env, "bool", to_bool);
    add_filter(env, "int", int);
    add_filter(env, "float", float);
    add_filter(env, "ternary", ternary);
    add_filter(env, "type_debug", type_debug);
    add_filter(env, "to_json", to_json);
    add_filter(env, "tojson", tojson);
    add_filter(env, "dictsort", dictsort);
    add_filter(env, "to_nice_json", to_nice_json);
    add_filter(env, "from_json", from_json);
    add_filter(env, "to_yaml", to_yaml);
    add_filter(env, "to_nice_yaml", to_nice_yaml);
    add_filter(env, "from_yaml", from_yaml);
    add_filter(env, "from_yaml_all", from_yaml_all);
    env.add_filter("__prov_jinja_map", minijinja::filters::map);
    add_filter(env, "map", map);
    add_filter(env, "attr", attr);
    data::register(env);
    text::register(env);
    math::register(env);
    random::register(env);
    jmes::register(env);
    crypt::register(env);
    ipaddr::register(env);
    time::register(env);
    glob::register(env);
    jinja_text::register(env);
    paths::register(env);
    url::register(env);
    lookup::register(env, ctx);
    super::tests_lib::register(env);
    pymethods::register(env);
}

/// Jinja's `map`: with a filter's name, that filter on each item with the other arguments,
/// keyword arguments included (`map('sort', reverse=true)`, which minijinja's `map` drops);
/// `map(attribute=...)` is minijinja's.
fn map(state: &mut minijinja::State, value: Value, args: Rest<ValueOrKwargs>) -> Result<Vec<Value>, Error> {
    let args = args.into_values();
    let Some(name) = args.first().and_then(Value::as_str).map(str::to_string) else {
        let all: Vec<Value> = std::iter::once(value).chain(args).collect();
        let mapped = state.apply_filter("__prov_jinja_map", &all)?;
        return mapped.try_iter()?.checked().collect();
    };
    let mut out = Vec::new();
    for item in value.try_iter()?.checked() {
        let call: Vec<Value> = std::iter::once(item?).chain(args[1..].iter().cloned()).collect();
        out.push(state.apply_filter(&name, &call)?);
    }
    Ok(out)
}

/// Jinja's `attr`: an attribute, which a mapping's keys are not (Python's dict methods are);
/// `{'name': 'x'} | attr('name')` is undefined, as in ansible-core.
fn attr(value: Value, name: &str) -> Result<Value, Error> {
    const DICT_METHODS: [&str; 11] =
        ["items", "keys", "values", "get", "copy", "pop", "popitem", "setdefault", "update", "clear", "fromkeys"];
    if value.kind() == ValueKind::Map && !DICT_METHODS.contains(&name) {
        return Ok(Value::UNDEFINED);
    }
    value.get_attr(name)
}

/// An error of a filter call, worded for the playbook author.
pub(crate) fn fail(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Names a value's type for messages, with an article: "a list", "a string", "none".
pub(crate) fn a_type(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "an undefined value",
        ValueKind::None => "none",
        ValueKind::Bool => "a boolean",
        ValueKind::Number if v.is_integer() => "an integer",
        ValueKind::Number => "a float",
        ValueKind::String => "a string",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "a list",
        ValueKind::Map => "a dictionary",
        _ if v.downcast_object_ref::<PyDateTime>().is_some() => "a datetime",
        _ if v.downcast_object_ref::<PyTimeDelta>().is_some() => "a timedelta",
        _ => "an object",
    }
}

/// Whether a value is a list-like sequence (not a string, not a mapping).
pub(crate) fn is_list(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable)
}

/// The items of a list argument; `what` introduces the error ("union expects ...").
pub(crate) fn list_items(v: &Value, what: &str) -> Result<Vec<Value>, Error> {
    if !is_list(v) {
        return Err(fail(format!("{what} a list, got {}", a_type(v))));
    }
    v.try_iter()?.checked().collect()
}

/// Separates positional arguments from keyword arguments.
pub(crate) fn split_args(args: Rest<ValueOrKwargs>) -> Result<(Vec<Value>, Kwargs), Error> {
    let values = args.into_values();
    let (pos, kw): (&[Value], Kwargs) = from_args(&values)?;
    Ok((pos.to_vec(), kw))
}

/// A map value in the given order.
pub(crate) fn map_value(entries: impl IntoIterator<Item = (Value, Value)>) -> Value {
    Value::from(entries.into_iter().collect::<indexmap::IndexMap<Value, Value>>())
}

/// `default(default_value='', boolean=false)`: the value, or the default when it is undefined
/// (or falsy, with `boolean`). Unlike a plain variable reference this never fails under strict
/// undefined handling.
fn default(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    if pos.len() > 2 {
        return Err(fail("default takes at most two arguments: the default value and `boolean`"));
    }
    let fallback = match pos.first() {
        Some(v) => v.clone(),
        None => kw.get::<Option<Value>>("default_value")?.unwrap_or(Value::from("")),
    };
    let boolean = match pos.get(1) {
        Some(v) => v.is_true(),
        None => kw.get::<Option<Value>>("boolean")?.is_some_and(|v| v.is_true()),
    };
    kw.assert_all_used()?;
    Ok(if value.is_undefined() || (boolean && !value.is_true()) { fallback } else { value.clone() })
}

/// `mandatory(msg=None)`: fails when the value is undefined.
fn mandatory(value: &Value, msg: Option<String>, kw: Kwargs) -> Result<Value, Error> {
    let msg = match msg {
        Some(m) => Some(m),
        None => kw.get::<Option<String>>("msg")?,
    };
    kw.assert_all_used()?;
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            msg.unwrap_or_else(|| "Mandatory variable not defined.".to_string()),
        ));
    }
    Ok(value.clone())
}

/// `bool`, as ansible-core 2.19's `to_bool`: text (any case, not stripped) and integers read
/// through their text: `yes`, `on`, `true`, `1` are true, `no`, `off`, `false`, `0` false;
/// anything else is false unless it equals 1 (`1.0`), which ansible-core deprecates
/// (`'y'`, `' yes '`, `'foo'`, `[]` are all false there).
fn to_bool(value: &Value) -> Result<bool, Error> {
    let text = match value.kind() {
        ValueKind::Undefined => return Err(Error::new(ErrorKind::UndefinedError, "bool: the value is undefined")),
        ValueKind::String => value.as_str().unwrap_or_default().to_lowercase(),
        ValueKind::Bool => value.is_true().to_string(),
        ValueKind::Number if value.is_integer() => value.to_string(),
        ValueKind::Number => return Ok(f64::try_from(value.clone()).is_ok_and(|f| f == 1.0)),
        _ => return Ok(false),
    };
    Ok(matches!(text.as_str(), "yes" | "on" | "true" | "1"))
}

/// Jinja's `iterable`: Python's `iter()` takes it (text, lists, mappings; not none or numbers).
fn is_iterable(value: &Value) -> Result<bool, Error> {
    match value.kind() {
        ValueKind::Undefined => Err(Error::new(ErrorKind::UndefinedError, "iterable: the value is undefined")),
        ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Iterable | ValueKind::Bytes => Ok(true),
        _ => Ok(false),
    }
}

/// Jinja's `sequence`: it has a length and items (text, lists, mappings, ranges).
fn is_sequence(value: &Value) -> Result<bool, Error> {
    match value.kind() {
        ValueKind::Undefined => Err(Error::new(ErrorKind::UndefinedError, "sequence: the value is undefined")),
        ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Bytes => Ok(true),
        // `range(3)`: a length and items; a generator has no length.
        ValueKind::Iterable => Ok(value.len().is_some()),
        _ => Ok(false),
    }
}

/// Parses an integer like Python's `int(s, base)`: surrounding whitespace, a sign, `_` between
/// digits and (for bases 2, 8, 16, or 0 = auto) a `0b`/`0o`/`0x` prefix.
fn parse_python_int(s: &str, base: u32) -> Option<i128> {
    let s = s.trim();
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = rest.to_ascii_lowercase();
    let (base, digits) = match (base, lower.get(..2)) {
        (0 | 16, Some("0x")) => (16, &rest[2..]),
        (0 | 8, Some("0o")) => (8, &rest[2..]),
        (0 | 2, Some("0b")) => (2, &rest[2..]),
        (0, _) if rest.len() > 1 && rest.starts_with('0') && rest.bytes().any(|b| b != b'0' && b != b'_') => {
            return None
        }
        (0, _) => (10, rest),
        (b, _) => (b, rest),
    };
    let digits = digits.strip_prefix('_').filter(|_| base != 10).unwrap_or(digits);
    if !(2..=36).contains(&base) || digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    if digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let v = i128::from_str_radix(&clean, base).ok()?;
    Some(if neg { -v } else { v })
}

/// Parses a float like Python's `float(s)`.
fn parse_python_float(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.contains("__") || s.starts_with('_') || s.ends_with('_') {
        return None;
    }
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    clean.parse::<f64>().ok()
}

/// An integer as a value: an `i64` when it fits, so that module arguments typed `u64`/`i64`
/// accept it (serde sees an `i128` value as a different type).
fn int_value(i: i128) -> Value {
    i64::try_from(i).map(Value::from).unwrap_or_else(|_| Value::from(i))
}

/// `int(default=0, base=10)`: like Jinja2's, a value that does not convert gives the default.
fn int(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let default = match pos.first() {
        Some(d) => d.clone(),
        None => kw.get::<Option<Value>>("default")?.unwrap_or(Value::from(0)),
    };
    let base = match pos.get(1) {
        Some(b) => u32::try_from(b.clone()).map_err(|_| fail("int: `base` must be an integer"))?,
        None => kw.get::<Option<u32>>("base")?.unwrap_or(10),
    };
    kw.assert_all_used()?;
    if base == 1 || base > 36 {
        return Err(fail(format!("int: base must be 0 or between 2 and 36, got {base}")));
    }
    Ok(match value.kind() {
        ValueKind::Undefined => return Err(Error::new(ErrorKind::UndefinedError, "int: the value is undefined")),
        ValueKind::Bool => Value::from(value.is_true() as i64),
        ValueKind::Number if value.is_integer() => value.clone(),
        ValueKind::Number => match f64::try_from(value.clone()) {
            Ok(f) if f.is_finite() => int_value(f.trunc() as i128),
            _ => default,
        },
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            match parse_python_int(s, base) {
                Some(i) => int_value(i),
                None => match parse_python_float(s) {
                    Some(f) if f.is_finite() => int_value(f.trunc() as i128),
                    _ => default,
                },
            }
        }
        _ => default,
    })
}

/// `float(default=0.0)`: a value that does not convert gives the default.
fn float(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let default = match pos.first() {
        Some(d) => d.clone(),
        None => kw.get::<Option<Value>>("default")?.unwrap_or(Value::from(0.0)),
    };
    kw.assert_all_used()?;
    Ok(match value.kind() {
        ValueKind::Undefined => return Err(Error::new(ErrorKind::UndefinedError, "float: the value is undefined")),
        ValueKind::Bool => Value::from(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(value.clone()).map(Value::from).unwrap_or(default),
        ValueKind::String => parse_python_float(value.as_str().unwrap_or_default()).map(Value::from).unwrap_or(default),
        _ => default,
    })
}

/// `ternary(true_val, false_val, none_val=None)`.
fn ternary(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let take = |i: usize, name: &str| -> Result<Option<Value>, Error> {
        match pos.get(i) {
            Some(v) => Ok(Some(v.clone())),
            None => kw.get::<Option<Value>>(name),
        }
    };
    let t = take(0, "true_val")?.ok_or_else(|| fail("ternary needs a value for true"))?;
    let f = take(1, "false_val")?.ok_or_else(|| fail("ternary needs a value for false"))?;
    let n = take(2, "none_val")?;
    kw.assert_all_used()?;
    if value.is_undefined() {
        return Err(Error::new(ErrorKind::UndefinedError, "ternary: the tested value is undefined"));
    }
    Ok(match n {
        Some(n) if value.is_none() => n,
        _ if value.is_true() => t,
        _ => f,
    })
}

/// `type_debug`: the Python name of the value's type (`str`, `int`, `list`, `dict`, ...).
/// Jinja's `string` test; `omit` is a placeholder object in ansible-core, not a string.
fn is_string(value: &Value) -> bool {
    value.kind() == ValueKind::String && value.as_str() != Some(crate::template::OMIT)
}

fn type_debug(value: &Value) -> &'static str {
    if value.downcast_object_ref::<PyDateTime>().is_some() {
        return "datetime";
    }
    if value.downcast_object_ref::<PyTimeDelta>().is_some() {
        return "timedelta";
    }
    if value.as_str() == Some(crate::template::OMIT) {
        return "_OmitType";
    }
    match value.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

fn json_with(value: &Value, kw: Kwargs, indent: Option<usize>, sort_keys: bool, filter: &str) -> Result<Value, Error> {
    let indent = match kw.get::<Option<Value>>("indent")? {
        Some(v) => Some(usize::try_from(v).map_err(|_| fail(format!("{filter}: `indent` must be an integer")))?),
        None => indent,
    };
    let opts = JsonOpts {
        indent,
        sort_keys: kw.get::<Option<bool>>("sort_keys")?.unwrap_or(sort_keys),
        ensure_ascii: kw.get::<Option<bool>>("ensure_ascii")?.unwrap_or(true),
        separators: match kw.get::<Option<Value>>("separators")? {
            None => None,
            Some(v) => {
                let parts: Vec<Value> =
                    if matches!(v.kind(), ValueKind::Seq) { v.try_iter()?.collect() } else { Vec::new() };
                match parts.as_slice() {
                    [a, b] if a.as_str().is_some() && b.as_str().is_some() => {
                        Some((a.as_str().unwrap_or_default().to_string(), b.as_str().unwrap_or_default().to_string()))
                    }
                    _ => return Err(fail(format!("{filter}: `separators` must be two strings, (item, key)"))),
                }
            }
        },
    };
    kw.assert_all_used()?;
    serialize::to_json(value, &opts, filter).map(Value::from)
}

/// `to_json(indent=None, sort_keys=False, ensure_ascii=True)`: Python's `json.dumps` text.
fn to_json(value: &Value, kw: Kwargs) -> Result<Value, Error> {
    json_with(value, kw, None, false, "to_json")
}

/// Jinja's `dictsort(case_sensitive=False, by='key', reverse=False)`, its arguments also
/// given by position (`dictsort(true)`, `dictsort(false, 'value')`), as Python allows.
fn dictsort(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    const NAMES: [&str; 3] = ["case_sensitive", "by", "reverse"];
    let (pos, kw) = split_args(args)?;
    if pos.len() > NAMES.len() {
        return Err(fail(format!("dictsort takes at most 3 arguments ({} given)", pos.len())));
    }
    let mut all: Vec<(&str, Value)> = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let given = if kw.has(name) { Some(kw.get::<Value>(name)?) } else { None };
        match (pos.get(i).cloned(), given) {
            (Some(_), Some(_)) => return Err(fail(format!("dictsort got multiple values for argument '{name}'"))),
            (Some(v), None) | (None, Some(v)) => all.push((name, v)),
            (None, None) => {}
        }
    }
    kw.assert_all_used()?;
    minijinja::filters::dictsort(value, Kwargs::from_iter(all))
}

/// Jinja's `tojson(indent=None)`: `json.dumps` with sorted keys (Jinja's default policy) and
/// non-ASCII escaped, then `<`, `>`, `&` and `'` as `\u003c`-style escapes, marked safe.
fn tojson(value: &Value, indent: Option<Value>) -> Result<Value, Error> {
    let indent = match indent.filter(|i| !i.is_none()) {
        None => None,
        Some(i) => Some(usize::try_from(i).map_err(|_| fail("tojson: `indent` must be an integer"))?),
    };
    let opts = JsonOpts { indent, sort_keys: true, ensure_ascii: true, separators: None };
    let text = serialize::to_json(value, &opts, "tojson")?
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027");
    Ok(Value::from_safe_string(text))
}

/// `to_nice_json(indent=4, sort_keys=True)`.
fn to_nice_json(value: &Value, kw: Kwargs) -> Result<Value, Error> {
    json_with(value, kw, Some(4), true, "to_nice_json")
}

/// `from_json`: parses a JSON text (mapping order is kept).
fn from_json(value: &Value) -> Result<Value, Error> {
    let s = value.as_str().ok_or_else(|| fail(format!("from_json expects a string, got {}", a_type(value))))?;
    let parsed: serde_json::Value =
        serde_json::from_str(s).map_err(|e| fail(format!("from_json: the text is not valid JSON: {e}")))?;
    Ok(Value::from(minijinja::value::Serde(parsed)))
}

/// The keyword arguments of ansible-core's YAML filters, passed on to `yaml.dump`: `indent`,
/// `width`, `default_flow_style`, `sort_keys`, `explicit_start`, `explicit_end`. Positional
/// arguments after the first (to_nice_yaml's indent) are ignored there, and here too.
fn yaml_with(value: &Value, args: Rest<ValueOrKwargs>, nice: bool) -> Result<Value, Error> {
    let filter = if nice { "to_nice_yaml" } else { "to_yaml" };
    let (pos, kw) = split_args(args)?;
    if kw.has("allow_unicode") {
        return Err(fail(format!("{filter}: yaml.dump() got multiple values for keyword argument 'allow_unicode'")));
    }
    let number = |name: &str, v: Option<Value>| -> Result<Option<i64>, Error> {
        match v {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) if v.kind() == minijinja::value::ValueKind::Bool => Ok(Some(i64::from(v.is_true()))),
            Some(v) => match (i64::try_from(v.clone()), f64::try_from(v.clone())) {
                (Ok(i), _) => Ok(Some(i)),
                (_, Ok(f)) if f.is_finite() => Ok(Some(f.trunc() as i64)),
                _ => Err(fail(format!("{filter}: {name} must be an integer, got {}", a_type(&v)))),
            },
        }
    };
    let flag = |v: Option<Value>| v.map(|v| v.is_true());
    // A keyword given as none is not a missing keyword (`indent=None` is libyaml's 2).
    let given = |name: &str| -> Result<Option<Value>, Error> {
        if kw.has(name) {
            kw.get::<Value>(name).map(Some)
        } else {
            Ok(None)
        }
    };
    let positional_indent = if nice { pos.first().cloned() } else { None };
    let indent = match given("indent")? {
        Some(_) if positional_indent.is_some() => {
            return Err(fail(format!("{filter}: got multiple values for argument 'indent'")))
        }
        Some(v) => number("indent", Some(v))?,
        None if nice => number("indent", Some(positional_indent.unwrap_or(Value::from(4))))?,
        None => None,
    };
    let flow_style = match given("default_flow_style")? {
        Some(v) if v.is_none() => None,
        Some(v) => Some(v.is_true()),
        None if nice => Some(false),
        None => None,
    };
    let opts = YamlOpts {
        indent: indent.unwrap_or(2),
        width: number("width", kw.get::<Option<Value>>("width")?)?,
        flow_style,
        sort_keys: flag(kw.get("sort_keys")?).unwrap_or(true),
        explicit_start: flag(kw.get("explicit_start")?).unwrap_or(false),
        explicit_end: flag(kw.get("explicit_end")?).unwrap_or(false),
    };
    kw.assert_all_used()?;
    yaml_out::to_yaml(value, &opts, filter).map(Value::from)
}

/// `to_yaml(*args, default_flow_style=None, **kwargs)`: collections of scalars in flow style.
fn to_yaml(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    yaml_with(value, args, false)
}

/// `to_nice_yaml(indent=4, *args, default_flow_style=False, **kwargs)`: block style.
fn to_nice_yaml(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    yaml_with(value, args, true)
}

fn node_to_value(node: &crate::yaml::Node) -> Value {
    use crate::yaml::NodeKind;
    match &node.kind {
        NodeKind::Seq(items) => Value::from(items.iter().map(node_to_value).collect::<Vec<_>>()),
        NodeKind::Map(entries) => {
            map_value(entries.iter().map(|(k, v)| (Value::from(k.scalar_text().unwrap_or_default()), node_to_value(v))))
        }
        _ => node.to_value(),
    }
}

fn yaml_error(filter: &str, d: &crate::diag::Diagnostic) -> Error {
    fail(format!("{filter}: {} (line {}, column {})", d.message, d.span.line, d.span.col))
}

/// `from_yaml`: parses one YAML document (YAML 1.1 typing like Ansible); non-strings pass through.
fn from_yaml(value: &Value) -> Result<Value, Error> {
    let Some(s) = value.as_str() else {
        return Ok(value.clone());
    };
    let (node, _warnings) =
        crate::yaml::parse_one(crate::source::FileId(0), s).map_err(|d| yaml_error("from_yaml", &d))?;
    Ok(node_to_value(&node))
}

/// `from_yaml_all`: parses every document of a YAML stream into a list.
fn from_yaml_all(value: &Value) -> Result<Value, Error> {
    let Some(s) = value.as_str() else {
        return Ok(value.clone());
    };
    let (docs, _warnings) =
        crate::yaml::parse(crate::source::FileId(0), s).map_err(|d| yaml_error("from_yaml_all", &d))?;
    Ok(Value::from(docs.iter().map(node_to_value).collect::<Vec<_>>()))
}

/// Shared helpers for the tests of every file of the library.
#[cfg(test)]
pub(crate) mod testenv {
    use super::*;
    use minijinja::UndefinedBehavior;

    /// An environment set up like the Templar's: strict undefined, the whole library.
    pub fn env_with(base_dirs: Vec<std::path::PathBuf>) -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        if let Ok(syntax) =
            minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).keep_trailing_newline(true).build()
        {
            env.set_syntax(syntax);
        }
        register(&mut env, LookupContext { base_dirs: std::sync::Arc::new(base_dirs) });
        // Ansible's finalize: None prints as nothing (`a-{{ none }}` is `a-`).
        env.set_formatter(
            |out, state, v| if v.is_none() { Ok(()) } else { minijinja::escape_formatter(out, state, v) },
        );
        env
    }

    /// Renders `src` with `ctx`; the error as text (with minijinja's detail).
    pub fn render_ctx(src: &str, ctx: Value) -> Result<String, String> {
        env_with(Vec::new()).render_str(src, ctx).map_err(|e| format!("{:#}", e))
    }

    /// Renders `src` without variables.
    pub fn render(src: &str) -> Result<String, String> {
        render_ctx(src, Value::from(()))
    }

    /// Renders and unwraps, naming the template on failure.
    #[track_caller]
    pub fn ok(src: &str) -> String {
        match render(src) {
            Ok(s) => s,
            Err(e) => panic!("{src} failed: {e}"),
        }
    }

    /// Renders expecting an error that contains `needle`.
    #[track_caller]
    pub fn err(src: &str, needle: &str) {
        match render(src) {
            Ok(s) => panic!("{src} rendered {s:?}, expected an error containing {needle:?}"),
            Err(e) => assert!(e.contains(needle), "{src}: error {e:?} does not contain {needle:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testenv::{err, ok, render_ctx};
    use minijinja::context;

    #[test]
    fn default_replaces_undefined_even_when_strict() {
        assert_eq!(ok("{{ missing | default('x') }}"), "x");
        assert_eq!(ok("{{ missing | d('x') }}"), "x");
        assert_eq!(ok("{{ missing | default }}"), "");
        assert_eq!(ok("{{ missing | default(none) | type_debug }}"), "NoneType");
        assert_eq!(ok("{{ '' | default('x') }}"), "");
        assert_eq!(ok("{{ '' | default('x', true) }}"), "x");
        assert_eq!(ok("{{ 0 | default('x', boolean=true) }}"), "x");
        assert_eq!(ok("{{ 5 | default('x', true) }}"), "5");
        assert_eq!(render_ctx("{{ d.nope | default(3) }}", context! { d => context! { a => 1 } }).unwrap(), "3");
        err("{{ missing | default('a', true, 3) }}", "at most two arguments");
        err("{{ missing }}", "undefined");
    }

    #[test]
    fn mandatory_fails_on_undefined_only() {
        assert_eq!(ok("{{ 1 | mandatory }}"), "1");
        err("{{ missing | mandatory }}", "Mandatory variable not defined");
        err("{{ missing | mandatory('set app_port in group_vars') }}", "set app_port in group_vars");
        err("{{ missing | mandatory(msg='say why') }}", "say why");
    }

    #[test]
    fn bool_accepts_ansible_strings() {
        assert_eq!(
            ok("{{ 'yes' | bool }} {{ 'On' | bool }} {{ '1' | bool }} {{ 'TRUE' | bool }} {{ 1 | bool }}"),
            "True True True True True"
        );
        assert_eq!(
            ok("{{ 'no' | bool }} {{ 'off' | bool }} {{ '0' | bool }} {{ none | bool }} {{ 2 | bool }}"),
            "False False False False False"
        );
        // ansible-core 2.19 (under ansible-playbook): false for anything it does not know.
        assert_eq!(
            ok("{{ ['y' | bool, 't' | bool, ' yes ' | bool, 'ture' | bool, [1] | bool, {} | bool] }}"),
            "[False, False, False, False, False, False]"
        );
        assert_eq!(ok("{{ [1.0 | bool, 2.5 | bool, true | bool, 'Yes' | bool] }}"), "[True, False, True, True]");
    }

    /// ansible-core 2.19 (same expressions under ansible-playbook): floats print as Python's
    /// `repr`, wherever they become text.
    #[test]
    fn floats_become_text_as_python_writes_them() {
        assert_eq!(
            ok("{{ 'v=' ~ 0.00001 }} {{ 1.0e+16 | string }} {{ [0.00001, 123.456] | join(',') }} {{ 1e20 }} {{ 1/3 }} {{ 2.0 }}"),
            "v=1e-05 1e+16 1e-05,123.456 1e+20 0.3333333333333333 2.0"
        );
    }

    /// ansible-core 2.19 (same expressions under ansible-playbook).
    #[test]
    fn iterable_sequence_indent_and_urlencode_answer_as_jinja_in_python() {
        assert_eq!(
            ok("{{ [none is iterable, 'abc' is sequence, {'a':1} is sequence, range(3) is sequence, 5 is iterable] }}"),
            "[False, True, True, True, False]"
        );
        assert_eq!(ok("{{ 'a\nb\n' | indent(2) | to_json }}"), r#""a\n  b\n""#);
        assert_eq!(ok("{{ 'a\n\nb\n\n' | indent(4) | to_json }}"), r#""a\n\n    b\n\n""#);
        assert_eq!(ok("{{ 'a\r\nb\r\n' | indent(2) | to_json }}"), r#""a\n  b\n""#);
        assert_eq!(ok("{{ '' | indent(2, true) | to_json }}"), r#""  ""#);
        assert_eq!(ok("{{ 'a\nb\n' | indent(2, first=true, blank=true) | to_json }}"), r#""  a\n  b\n  ""#);
        assert_eq!(ok("{{ 'x\ny' | indent('--') | to_json }}"), r#""x\n--y""#);
        assert_eq!(
            ok("{{ {'a': 'b c', 'd/e': 'f&g'} | urlencode }} {{ 'a b/c' | urlencode }}"),
            "a=b+c&d%2Fe=f%26g a%20b/c"
        );
    }

    #[test]
    fn int_parses_like_python_and_defaults_to_zero() {
        assert_eq!(ok("{{ '42' | int + 1 }}"), "43");
        assert_eq!(ok("{{ ' -7 ' | int }}"), "-7");
        assert_eq!(ok("{{ '3.9' | int }}"), "3");
        assert_eq!(ok("{{ 3.9 | int }}"), "3");
        assert_eq!(ok("{{ true | int }}"), "1");
        assert_eq!(ok("{{ 'abc' | int }}"), "0");
        assert_eq!(ok("{{ 'abc' | int(5) }}"), "5");
        assert_eq!(ok("{{ 'abc' | int(default=-1) }}"), "-1");
        assert_eq!(ok("{{ none | int }}"), "0");
        assert_eq!(ok("{{ '0x1f' | int(base=16) }} {{ 'ff' | int(0, 16) }} {{ '0b101' | int(base=0) }}"), "31 255 5");
        assert_eq!(ok("{{ '1_000' | int }}"), "1000");
        assert_eq!(ok("{{ '0755' | int(base=8) }}"), "493");
        err("{{ '1' | int(base=1) }}", "base must be 0 or between 2 and 36");
        err("{{ missing | int }}", "int: the value is undefined");
    }

    /// `replicas: "{{ item.value | int }}"` reached `docker_service` as an i128, which serde
    /// refused for its `u64` argument ("invalid type: integer `3` as i128, expected u64").
    #[test]
    fn int_gives_a_value_that_deserializes_as_u64() {
        use serde::Deserialize;
        let env = super::testenv::env_with(Vec::new());
        for src in ["'3' | int", "3.9 | int", "'3.2' | int"] {
            let v = env.compile_expression(src).expect("expression").eval(()).expect("eval");
            assert_eq!(u64::deserialize(v).expect("u64"), 3, "{src}");
        }
        let big = env.compile_expression("'170141183460469231731687303715884105727' | int").unwrap().eval(()).unwrap();
        assert_eq!(big.to_string(), "170141183460469231731687303715884105727");
    }

    #[test]
    fn float_parses_and_defaults() {
        assert_eq!(ok("{{ '2.5' | float * 2 }}"), "5.0");
        assert_eq!(ok("{{ 3 | float }}"), "3.0");
        assert_eq!(ok("{{ 'x' | float }}"), "0.0");
        assert_eq!(ok("{{ 'x' | float(1.5) }}"), "1.5");
    }

    #[test]
    fn ternary_picks_by_truth_and_none() {
        assert_eq!(ok("{{ true | ternary('a', 'b') }} {{ 0 | ternary('a', 'b') }}"), "a b");
        assert_eq!(ok("{{ none | ternary('a', 'b', 'n') }} {{ none | ternary('a', 'b') }}"), "n b");
        err("{{ true | ternary('a') }}", "ternary needs a value for false");
    }

    #[test]
    fn type_debug_names_python_types() {
        assert_eq!(
            ok("{{ 'a' | type_debug }} {{ 1 | type_debug }} {{ [] | type_debug }} {{ {} | type_debug }}"),
            "str int list dict"
        );
        // ansible-core 2.19.14: "_OmitType False datetime timedelta".
        let d = "('2024-01-01' | to_datetime('%Y-%m-%d'))";
        let e = "('2024-01-02' | to_datetime('%Y-%m-%d'))";
        let omit = format!("'{}'", crate::template::OMIT);
        let src = format!("{{{{ {omit} | type_debug }}}} {{{{ {omit} is string }}}} {{{{ {d} | type_debug }}}} {{{{ ({e} - {d}) | type_debug }}}}");
        assert_eq!(ok(&src), "_OmitType False datetime timedelta");
    }

    #[test]
    fn to_json_matches_python() {
        assert_eq!(ok("{{ {'a': 1} | combine({'b': [true, none]}) | to_json }}"), r#"{"a": 1, "b": [true, null]}"#);
        assert_eq!(
            ok("{{ {'b': 1, 'a': 'é'} | to_json(sort_keys=true, ensure_ascii=false) }}"),
            r#"{"a": "é", "b": 1}"#
        );
        assert_eq!(ok("{{ [1, 2] | to_json(indent=2) }}"), "[\n  1,\n  2\n]");
        assert_eq!(
            ok("{{ {'b': 1, 'a': {'c': []}} | to_nice_json }}"),
            "{\n    \"a\": {\n        \"c\": []\n    },\n    \"b\": 1\n}"
        );
        assert_eq!(
            ok("{{ {'b': 1, 'a': 2} | to_nice_json(indent=2, sort_keys=false) }}"),
            "{\n  \"b\": 1,\n  \"a\": 2\n}"
        );
        err("{{ [missing] | to_json }}", "undefined");
        err("{{ 1 | to_json(bogus=1) }}", "bogus");
    }

    #[test]
    fn dictsort_takes_its_arguments_by_position_too() {
        // ansible-core 2.19.14 (Jinja 3.1) gives these.
        let d = "{'b': 1, 'A': 2, 'c': 0}";
        assert_eq!(ok(&format!("{{{{ {d} | dictsort(true) }}}}")), "[['A', 2], ['b', 1], ['c', 0]]");
        assert_eq!(ok(&format!("{{{{ {d} | dictsort(false, 'value') }}}}")), "[['c', 0], ['b', 1], ['A', 2]]");
        assert_eq!(ok(&format!("{{{{ {d} | dictsort(false, 'key', true) }}}}")), "[['c', 0], ['b', 1], ['A', 2]]");
        assert_eq!(ok(&format!("{{{{ {d} | dictsort(reverse=true) }}}}")), "[['c', 0], ['b', 1], ['A', 2]]");
        err(&format!("{{{{ {d} | dictsort(true, case_sensitive=true) }}}}"), "multiple values");
    }

    #[test]
    fn tojson_is_jinja_s_sorted_and_html_safe() {
        // ansible-core 2.19.14 (Jinja 3.1).
        assert_eq!(ok("{{ {'b': 1, 'a': 'é<'} | tojson }}"), "{\"a\": \"\\u00e9\\u003c\", \"b\": 1}");
        assert_eq!(ok("{{ {'b': [1]} | tojson(2) }}"), "{\n  \"b\": [\n    1\n  ]\n}");
        assert_eq!(ok("{{ \"it's\" | ansible.builtin.tojson }}"), "\"it\\u0027s\"");
    }

    #[test]
    fn python_methods_and_json_separators_answer_as_python() {
        // Python 3.11 under ansible-core 2.19.14 gives these.
        assert_eq!(ok("{{ 'ab\\tc\\n\\txy\\t'.expandtabs(4) }}"), "ab  c\n    xy  ");
        assert_eq!(ok("{{ 'a\\tb'.expandtabs(0) }}|{{ 'a\\tb'.expandtabs() }}"), "ab|a       b");
        let titles =
            "{{ 'Hello World'.istitle() }} {{ 'Hello world'.istitle() }} {{ 'HELLO'.istitle() }} {{ '1A'.istitle() }}";
        assert_eq!(ok(titles), "True False False True");
        let idents =
            "{{ '_a1'.isidentifier() }} {{ '1a'.isidentifier() }} {{ 'é'.isidentifier() }} {{ ''.isidentifier() }}";
        assert_eq!(ok(idents), "True False True False");
        assert_eq!(
            ok("{{ 'é'.isascii() }} {{ ''.isascii() }} {{ 'a\\n'.isprintable() }} {{ 'ABC'.casefold() }}"),
            "False True False abc"
        );
        assert_eq!(ok("{{ 'hello'.translate({104: 72, 108: none, 111: 'OO'}) }}"), "HeOO");
        assert_eq!(
            ok("{{ (-255).bit_length() }} {{ 0 .bit_length() }} {{ (2.0).is_integer() }} {{ (1.5).is_integer() }}"),
            "8 0 True False"
        );
        err("{{ 'Straße'.casefold() }}", "beyond ASCII");
        err("{{ (2).is_integer() }}", "int has no method `is_integer`");
        assert_eq!(ok("{{ {'a': [1, 2]} | to_json(separators=(',', ':')) }}"), "{\"a\":[1,2]}");
        assert_eq!(
            ok("{{ {'a': [1, 2]} | to_json(indent=1, separators=(';', '=')) }}"),
            "{\n \"a\"=[\n  1;\n  2\n ]\n}"
        );
        err("{{ 1 | to_json(separators=',') }}", "`separators` must be two strings");
    }

    #[test]
    fn yaml_filters_take_pyyaml_s_arguments() {
        // ansible-core 2.19.14: to_nice_yaml's first positional argument is the indent, to_yaml's
        // positional arguments are ignored; width folds; allow_unicode is already passed.
        let v = "{'a': [1, {'b': 2}]}";
        assert_eq!(ok(&format!("{{{{ {v} | to_nice_yaml(2) }}}}")), "a:\n- 1\n- b: 2\n");
        assert_eq!(ok(&format!("{{{{ {v} | to_yaml(7) }}}}")), "a:\n- 1\n- {b: 2}\n");
        assert_eq!(ok(&format!("{{{{ {v} | to_nice_yaml(indent=none) }}}}")), "a:\n- 1\n- b: 2\n");
        assert_eq!(ok(&format!("{{{{ {v} | to_yaml(default_flow_style=true) }}}}")), "{a: [1, {b: 2}]}\n");
        assert_eq!(ok("{{ ('x y ' * 3) | to_yaml(width=4) }}"), "'x y x y x y '\n");
        assert_eq!(ok(&format!("{{{{ {v} | to_nice_yaml(default_flow_style=none) }}}}")), "a:\n- 1\n- {b: 2}\n");
        assert_eq!(ok("{{ {'a': 'x y ' * 3} | to_yaml(width=10.5) }}"), "{a: 'x y x y\n    x y '}\n");
        assert_eq!(ok("{{ 'abc' | to_yaml(explicit_start=true, explicit_end=true) }}"), "--- abc\n...\n");
        err("{{ 1 | to_yaml(allow_unicode=false) }}", "multiple values for keyword argument 'allow_unicode'");
        err("{{ 1 | to_nice_yaml(2, indent=2) }}", "multiple values for argument 'indent'");
    }

    #[test]
    fn from_json_parses_and_reports_errors() {
        assert_eq!(ok("{{ ('{\"z\": 1, \"a\": [1, 2.5, null]}' | from_json).a[1] }}"), "2.5");
        assert_eq!(ok("{{ '{\"z\": 1, \"a\": 2}' | from_json | list | join(',') }}"), "z,a");
        err("{{ '{bad' | from_json }}", "from_json: the text is not valid JSON");
        err("{{ 3 | from_json }}", "from_json expects a string, got an integer");
    }

    #[test]
    fn yaml_round_trip() {
        assert_eq!(ok("{{ {'b': [1, 2], 'a': 'yes'} | to_nice_yaml }}"), "a: 'yes'\nb:\n- 1\n- 2\n");
        assert_eq!(ok("{{ {'b': [1, 2], 'a': {'c': 'x'}} | to_yaml }}"), "a: {c: x}\nb: [1, 2]\n");
        assert_eq!(ok("{{ {'b': [1, 2]} | to_nice_yaml(indent=2) }}"), "b:\n- 1\n- 2\n");
        assert_eq!(ok("{{ {'z': 1, 'a': 2} | to_yaml(sort_keys=false) }}"), "{z: 1, a: 2}\n");
        let src = "{% set y = 'a: yes\\nb: [1, \"2\"]\\nc:\\n  d: null\\n' | from_yaml %}{{ y.a }} {{ y.b[0] + 1 }} {{ y.b[1] is string }} {{ y.c.d is none }} {{ y | list | join(',') }}";
        assert_eq!(ok(src), "True 2 True True a,b,c");
        assert_eq!(
            ok("{{ ({'k': 'a\\nb', 'n': 'null'} | to_nice_yaml | from_yaml) == {'k': 'a\\nb', 'n': 'null'} }}"),
            "True"
        );
        assert_eq!(ok("{{ 'a: 1\\n---\\nb: 2\\n' | from_yaml_all | map(attribute='b', default=0) | list }}"), "[0, 2]");
        err("{{ 'a: [1' | from_yaml }}", "from_yaml:");
    }
}
