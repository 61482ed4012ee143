//! Text filters: regular expressions (Python `re` syntax and semantics where the `regex` crate
//! allows), shell quoting, base64, digests, path manipulation, `comment` and `urlencode`.
//!
//! Regular expressions are compiled by `fancy-regex` (look-around and backreferences, as
//! Python's `re` has them; everything else is the `regex` crate underneath). A pattern that
//! backtracks past the crate's limit is an error, never a hang.

use super::add_filter;
use super::{a_type, fail, split_args};
use base64::Engine as _;
use fancy_regex::{Regex, RegexBuilder};
use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error};
use sha2::Digest as _;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "regex_replace", regex_replace);
    add_filter(env, "regex_search", regex_search);
    add_filter(env, "regex_findall", regex_findall);
    add_filter(env, "regex_escape", regex_escape);
    add_filter(env, "quote", quote);
    add_filter(env, "b64encode", b64encode);
    add_filter(env, "b64decode", b64decode);
    add_filter(env, "hash", hash);
    add_filter(env, "checksum", checksum);
    add_filter(env, "sha1", sha1);
    add_filter(env, "md5", md5);
    add_filter(env, "basename", basename);
    add_filter(env, "dirname", dirname);
    add_filter(env, "expanduser", expanduser);
    add_filter(env, "splitext", splitext);
    add_filter(env, "path_join", path_join);
    add_filter(env, "comment", comment);
    add_filter(env, "urlencode", urlencode);
    add_filter(env, "indent", indent);
}

/// Jinja's `indent(width=4, first=False, blank=False)`: every line after the first (and the
/// first with `first`) gets `width` spaces, or `width` itself when it is text; blank lines
/// only with `blank`. Lines split as Python's `str.splitlines` and join with `\n`, a trailing
/// line break kept (`"a\nb\n" | indent(2)` is `"a\n  b\n"`).
fn indent(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let arg = |i: usize, name: &str| -> Result<Option<Value>, Error> {
        Ok(match pos.get(i) {
            Some(v) => Some(v.clone()),
            None => kw.get::<Option<Value>>(name)?,
        })
    };
    let width = arg(0, "width")?;
    let first = arg(1, "first")?.is_some_and(|v| v.is_true());
    let blank = arg(2, "blank")?.is_some_and(|v| v.is_true());
    kw.assert_all_used()?;
    let indention = match &width {
        None => "    ".to_string(),
        Some(w) if w.kind() == ValueKind::String => w.as_str().unwrap_or_default().to_string(),
        Some(w) => match i64::try_from(w.clone()) {
            Ok(n) => " ".repeat(n.clamp(0, 65_535) as usize),
            Err(_) => return Err(fail(format!("indent: width must be a number or text, not {}", a_type(w)))),
        },
    };
    let text = format!("{}\n", text_of(value, "indent")?);
    let lines = super::pymethods::str_splitlines(&text);
    let mut rv = if blank {
        lines.join(&format!("\n{indention}"))
    } else {
        let mut rest = lines.iter();
        let mut rv = rest.next().copied().unwrap_or_default().to_string();
        for line in rest {
            rv.push('\n');
            if !line.is_empty() {
                rv.push_str(&indention);
            }
            rv.push_str(line);
        }
        rv
    };
    if first {
        rv.insert_str(0, &indention);
    }
    Ok(Value::from(rv))
}

/// The text of a scalar argument: strings as they are, numbers and booleans in their Python
/// spelling; anything else is an error naming `filter`.
pub(crate) fn text_of(value: &Value, filter: &str) -> Result<String, Error> {
    match value.kind() {
        ValueKind::String => Ok(value.as_str().unwrap_or_default().to_string()),
        ValueKind::Number => Ok(value.to_string()),
        ValueKind::Bool => Ok(if value.is_true() { "True" } else { "False" }.to_string()),
        ValueKind::Bytes => Ok(String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned()),
        ValueKind::Undefined => {
            Err(Error::new(minijinja::ErrorKind::UndefinedError, format!("{filter}: the value is undefined")))
        }
        _ => Err(fail(format!("{filter} expects a string, got {}", a_type(value)))),
    }
}

/// Rewrites the few Python-only spellings the `regex` crate reads differently: `\Z` (the
/// very end), and `$` outside a character class, which Python matches at the end and before a
/// newline that ends the text (and, multiline, before every newline, as the crate's).
fn python_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    // Inside `[...]`: `$` is a character there, and a `]` right after `[` or `[^` is too.
    let mut class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') if !class => out.push_str("\\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '[' if !class => {
                class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    out.push(chars.next().unwrap_or(']'));
                }
            }
            ']' if class => {
                class = false;
                out.push(']');
            }
            '$' if !class => out.push_str("(?:$|(?=\\n\\z))"),
            c => out.push(c),
        }
    }
    out
}

type RegexCache = Mutex<HashMap<(String, bool, bool), Regex>>;

/// Compiles a Python-style pattern (cached); `filter` names the caller in errors.
pub(crate) fn py_regex(pattern: &str, ignorecase: bool, multiline: bool, filter: &str) -> Result<Regex, Error> {
    compile_py(pattern, ignorecase, multiline)
        .map_err(|why| fail(format!("{filter}: invalid regular expression {pattern:?}: {why}")))
}

/// [`py_regex`] with the reason a pattern does not compile, in Python's words where prov
/// knows them (`nothing to repeat at position 0`).
pub(crate) fn compile_py(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Regex, String> {
    static CACHE: OnceLock<RegexCache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (pattern.to_string(), ignorecase, multiline);
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(re);
    }
    let flags = if multiline { "(?m)" } else { "" };
    let re = RegexBuilder::new(&format!("{flags}{}", python_pattern(pattern)))
        .case_insensitive(ignorecase)
        .build()
        .map_err(|e| match e {
            fancy_regex::Error::ParseError(at, fancy_regex::ParseError::TargetNotRepeatable) => {
                format!("nothing to repeat at position {}", at.saturating_sub(flags.len()))
            }
            fancy_regex::Error::ParseError(_, fancy_regex::ParseError::UnclosedOpenParen) => {
                "missing ), unterminated subpattern".to_string()
            }
            fancy_regex::Error::CompileError(fancy_regex::CompileError::LookBehindNotConst) => {
                "look-behind requires fixed-width pattern".to_string()
            }
            e => e.to_string(),
        })?;
    if let Ok(mut c) = cache.lock() {
        if c.len() > 512 {
            c.clear();
        }
        c.insert(key, re.clone());
    }
    Ok(re)
}

/// A match that could not finish (the backtracking limit), as a template error.
pub(crate) fn regex_runtime(filter: &str) -> impl Fn(fancy_regex::Error) -> Error + '_ {
    move |e| fail(format!("{filter}: {e}"))
}

/// Reads the `ignorecase` / `multiline` keyword flags.
fn flags(kw: &Kwargs) -> Result<(bool, bool), Error> {
    Ok((
        kw.get::<Option<Value>>("ignorecase")?.is_some_and(|v| v.is_true()),
        kw.get::<Option<Value>>("multiline")?.is_some_and(|v| v.is_true()),
    ))
}

/// Translates a Python `re.sub` replacement (`\1`, `\g<name>`, `\n`) into the `regex` crate's
/// syntax (`${1}`, `${name}`), checking group references against `re`.
fn python_replacement(rep: &str, re: &Regex) -> Result<String, Error> {
    let bad_group =
        |g: &str| fail(format!("regex_replace: the replacement refers to group {g}, which the pattern does not have"));
    let mut out = String::with_capacity(rep.len());
    let chars: Vec<char> = rep.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            out.push_str("$$");
            i += 1;
            continue;
        }
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&n) = chars.get(i + 1) else {
            return Err(fail("regex_replace: the replacement ends with a lone backslash"));
        };
        i += 2;
        match n {
            '0'..='9' => {
                let mut num = n.to_string();
                if let Some(d @ '0'..='9') = chars.get(i) {
                    num.push(*d);
                    i += 1;
                }
                let idx: usize = num.parse().unwrap_or(0);
                if idx == 0 || idx >= re.captures_len() {
                    return Err(bad_group(&num));
                }
                out.push_str(&format!("${{{idx}}}"));
            }
            'g' => {
                let rest: String = chars[i..].iter().collect();
                let Some(end) = rest.strip_prefix('<').and_then(|r| r.find('>')) else {
                    return Err(fail("regex_replace: `\\g` must be followed by <name> or <number>"));
                };
                let name = &rest[1..=end];
                let known = match name.parse::<usize>() {
                    Ok(idx) => idx < re.captures_len(),
                    Err(_) => re.capture_names().flatten().any(|n| n == name),
                };
                if !known {
                    return Err(bad_group(name));
                }
                out.push_str(&format!("${{{name}}}"));
                i += name.chars().count() + 2;
            }
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            '\\' => out.push('\\'),
            c if c.is_ascii_alphabetic() => {
                return Err(fail(format!("regex_replace: bad escape \\{c} in the replacement")));
            }
            c => {
                out.push('\\');
                if c == '$' {
                    out.push('$');
                }
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// `regex_replace(pattern='', replacement='', ignorecase=false, multiline=false, count=0,
/// mandatory_count=0)`: Python's `re.sub`.
fn regex_replace(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let text = text_of(value, "regex_replace")?;
    let arg = |i: usize, name: &str| -> Result<String, Error> {
        match pos.get(i) {
            Some(v) => text_of(v, "regex_replace"),
            None => Ok(kw.get::<Option<String>>(name)?.unwrap_or_default()),
        }
    };
    let pattern = arg(0, "pattern")?;
    let replacement = arg(1, "replacement")?;
    let (mut ignorecase, mut multiline) = flags(&kw)?;
    if let Some(v) = pos.get(2) {
        ignorecase = v.is_true();
    }
    if let Some(v) = pos.get(3) {
        multiline = v.is_true();
    }
    if pos.len() > 4 {
        return Err(fail("regex_replace takes at most four positional arguments"));
    }
    let count = kw.get::<Option<usize>>("count")?.unwrap_or(0);
    let mandatory = kw.get::<Option<usize>>("mandatory_count")?.unwrap_or(0);
    kw.assert_all_used()?;
    let re = py_regex(&pattern, ignorecase, multiline, "regex_replace")?;
    let rep = python_replacement(&replacement, &re)?;
    let (out, subs) = super::python_subn(&re, &rep, &text, count).map_err(|e| fail(format!("regex_replace: {e}")))?;
    if mandatory != 0 && mandatory != subs {
        return Err(fail(format!(
            "regex_replace: {pattern:?} should match {mandatory} times, but matches {subs} times in {text:?}"
        )));
    }
    Ok(Value::from(out))
}

/// The matches of `re` in `text` in the order Python's `re.sub` and `re.findall` take them:
/// after an empty match the next must end further on, and an empty match right after a
/// non-empty one counts (Python 3.7), which the regex crate's iteration leaves out
/// (`'abc' | regex_replace('.*', 'X')` is `XX` there).
pub(crate) fn py_captures<'t>(re: &Regex, text: &'t str) -> Result<Vec<fancy_regex::Captures<'t>>, String> {
    let mut out = Vec::new();
    let (mut pos, mut must_advance) = (0, false);
    while pos <= text.len() {
        let Some(c) = re.captures_from_pos(text, pos).map_err(|e| e.to_string())? else { break };
        let Some(m) = c.get(0) else { break };
        if must_advance && m.end() == pos {
            // The same empty match again: look from the next character on.
            match text[pos..].chars().next() {
                Some(ch) => pos += ch.len_utf8(),
                None => break,
            }
            must_advance = false;
            continue;
        }
        must_advance = m.start() == m.end();
        pos = m.end();
        out.push(c);
    }
    Ok(out)
}

/// `regex_search(regex, '\\1', '\\g<name>', ignorecase=false, multiline=false)`: the first match
/// (or the listed groups of it), none when nothing matches.
fn regex_search(value: &Value, regex: &str, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let text = text_of(value, "regex_search")?;
    let (ignorecase, multiline) = flags(&kw)?;
    kw.assert_all_used()?;
    let re = py_regex(regex, ignorecase, multiline, "regex_search")?;
    let mut groups = Vec::new();
    for a in &pos {
        let s = a.as_str().unwrap_or_default();
        let g = if let Some(name) = s.strip_prefix("\\g<").and_then(|r| r.strip_suffix('>')) {
            name.to_string()
        } else if let Some(num) =
            s.strip_prefix('\\').filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        {
            num.to_string()
        } else {
            return Err(fail(format!(
                "regex_search: unknown argument {a}; use '\\\\1' or '\\\\g<name>' to pick groups"
            )));
        };
        let known = match g.parse::<usize>() {
            Ok(i) => i < re.captures_len(),
            Err(_) => re.capture_names().flatten().any(|n| n == g),
        };
        if !known {
            return Err(fail(format!("regex_search: the pattern has no group {g}")));
        }
        groups.push(g);
    }
    let Some(caps) = re.captures(&text).map_err(regex_runtime("regex_search"))? else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map(|m| m.as_str()).unwrap_or_default()));
    }
    let pick = |g: &String| {
        let m = match g.parse::<usize>() {
            Ok(i) => caps.get(i),
            Err(_) => caps.name(g),
        };
        m.map(|m| Value::from(m.as_str())).unwrap_or(Value::from(()))
    };
    Ok(Value::from(groups.iter().map(pick).collect::<Vec<_>>()))
}

/// `regex_findall(regex, multiline=false, ignorecase=false)`: Python's `re.findall` (the whole
/// matches without groups, the group with one, lists of groups with several).
fn regex_findall(value: &Value, regex: &str, kw: Kwargs) -> Result<Value, Error> {
    let text = text_of(value, "regex_findall")?;
    let (ignorecase, multiline) = flags(&kw)?;
    kw.assert_all_used()?;
    let re = py_regex(regex, ignorecase, multiline, "regex_findall")?;
    let n = re.captures_len() - 1;
    let text_or_empty = |m: Option<fancy_regex::Match>| Value::from(m.map(|m| m.as_str()).unwrap_or_default());
    let mut out = Vec::new();
    for c in py_captures(&re, &text).map_err(|e| fail(format!("regex_findall: {e}")))? {
        out.push(match n {
            0 => text_or_empty(c.get(0)),
            1 => text_or_empty(c.get(1)),
            _ => Value::from((1..=n).map(|i| text_or_empty(c.get(i))).collect::<Vec<_>>()),
        });
    }
    Ok(Value::from(out))
}

/// `regex_escape(re_type='python')`: escapes regex metacharacters (`posix_basic` for `sed`).
fn regex_escape(value: &Value, re_type: Option<String>, kw: Kwargs) -> Result<Value, Error> {
    let re_type = match re_type {
        Some(t) => t,
        None => kw.get::<Option<String>>("re_type")?.unwrap_or_else(|| "python".into()),
    };
    kw.assert_all_used()?;
    let text = text_of(value, "regex_escape")?;
    let special: &str = match re_type.as_str() {
        "python" => "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c",
        "posix_basic" => ".[]\\*^$",
        other => return Err(fail(format!("regex_escape: re_type must be 'python' or 'posix_basic', got {other:?}"))),
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(Value::from(out))
}

/// `quote`: Python's `shlex.quote`, for passing a value to a shell.
fn quote(value: &Value) -> Result<Value, Error> {
    let s = if value.is_none() { String::new() } else { text_of(value, "quote")? };
    Ok(Value::from(crate::cmd::shlex_quote(&s)))
}

fn check_encoding(kw: &Kwargs, filter: &str) -> Result<(), Error> {
    let enc = kw.get::<Option<String>>("encoding")?.unwrap_or_else(|| "utf-8".into());
    kw.assert_all_used()?;
    match enc.to_ascii_lowercase().replace('_', "-").as_str() {
        "utf-8" | "utf8" => Ok(()),
        _ => Err(fail(format!("{filter}: only the utf-8 encoding is supported, got {enc:?}"))),
    }
}

/// `b64encode(encoding='utf-8')`.
fn b64encode(value: &Value, kw: Kwargs) -> Result<Value, Error> {
    check_encoding(&kw, "b64encode")?;
    let text = text_of(value, "b64encode")?;
    Ok(Value::from(base64::engine::general_purpose::STANDARD.encode(text.as_bytes())))
}

/// `b64decode(encoding='utf-8')`: the decoded bytes must be text.
fn b64decode(value: &Value, kw: Kwargs) -> Result<Value, Error> {
    check_encoding(&kw, "b64decode")?;
    let text = text_of(value, "b64decode")?;
    let cleaned: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| fail(format!("b64decode: the value is not valid base64: {e}")))?;
    String::from_utf8(bytes).map(Value::from).map_err(|_| fail("b64decode: the decoded data is not UTF-8 text"))
}

/// The hex digest of `data` with one of Python `hashlib`'s algorithms.
pub(crate) fn hex_digest(algo: &str, data: &[u8]) -> Option<String> {
    Some(match algo {
        "md5" => hex::encode(super::digest::md5(data)),
        "sha1" => hex::encode(super::digest::sha1(data)),
        "sha224" => hex::encode(sha2::Sha224::digest(data)),
        "sha256" => hex::encode(sha2::Sha256::digest(data)),
        "sha384" => hex::encode(sha2::Sha384::digest(data)),
        "sha512" => hex::encode(sha2::Sha512::digest(data)),
        _ => return None,
    })
}

/// `hash(hashtype='sha1')`: the hex digest of the value's text.
fn hash(value: &Value, hashtype: Option<String>) -> Result<Value, Error> {
    let algo = hashtype.unwrap_or_else(|| "sha1".into()).to_ascii_lowercase();
    let text = text_of(value, "hash")?;
    hex_digest(&algo, text.as_bytes()).map(Value::from).ok_or_else(|| {
        fail(format!("hash: unsupported hash type {algo:?}; use md5, sha1, sha224, sha256, sha384 or sha512"))
    })
}

/// `checksum`: the SHA-1 hex digest, like Ansible's.
fn checksum(value: &Value) -> Result<Value, Error> {
    Ok(Value::from(hex::encode(super::digest::sha1(text_of(value, "checksum")?.as_bytes()))))
}

/// `sha1`.
fn sha1(value: &Value) -> Result<Value, Error> {
    Ok(Value::from(hex::encode(super::digest::sha1(text_of(value, "sha1")?.as_bytes()))))
}

/// `md5`.
fn md5(value: &Value) -> Result<Value, Error> {
    Ok(Value::from(hex::encode(super::digest::md5(text_of(value, "md5")?.as_bytes()))))
}

/// Python's `posixpath.split`: (head without trailing slashes unless all slashes, tail).
fn split_path(p: &str) -> (String, String) {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (head, tail) = p.split_at(i);
    let trimmed = head.trim_end_matches('/');
    let head = if trimmed.is_empty() { head } else { trimmed };
    (head.to_string(), tail.to_string())
}

/// `basename`: Python's `os.path.basename` (`/a/b/` gives `''`).
fn basename(value: &Value) -> Result<Value, Error> {
    Ok(Value::from(split_path(&text_of(value, "basename")?).1))
}

/// `dirname`: Python's `os.path.dirname`.
fn dirname(value: &Value) -> Result<Value, Error> {
    Ok(Value::from(split_path(&text_of(value, "dirname")?).0))
}

/// Python's `os.path.expanduser` for the controller user.
pub(crate) fn expand_user(p: &str) -> String {
    crate::paths::expand_user_local(p)
}

/// `expanduser`: `~` becomes the controller user's home directory.
fn expanduser(value: &Value) -> Result<Value, Error> {
    Ok(Value::from(expand_user(&text_of(value, "expanduser")?)))
}

/// `splitext`: Python's `os.path.splitext`, as a two-item list.
fn splitext(value: &Value) -> Result<Value, Error> {
    let p = text_of(value, "splitext")?;
    let base_start = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let name = &p[base_start..];
    let leading_dots = name.len() - name.trim_start_matches('.').len();
    let (root, ext) = match name.rfind('.') {
        Some(dot) if dot >= leading_dots && leading_dots < name.len() => {
            let at = base_start + dot;
            (&p[..at], &p[at..])
        }
        _ => (p.as_str(), ""),
    };
    Ok(Value::from(vec![Value::from(root), Value::from(ext)]))
}

/// `path_join`: Python's `os.path.join` over a list (an absolute part restarts the path).
fn path_join(value: &Value) -> Result<Value, Error> {
    let parts: Vec<String> = if value.kind() == ValueKind::String {
        vec![text_of(value, "path_join")?]
    } else {
        super::list_items(value, "path_join expects")?
            .iter()
            .map(|p| text_of(p, "path_join"))
            .collect::<Result<_, _>>()?
    };
    let mut out = String::new();
    for part in parts {
        if part.starts_with('/') || out.is_empty() {
            out = part;
        } else if out.ends_with('/') {
            out.push_str(&part);
        } else {
            out.push('/');
            out.push_str(&part);
        }
    }
    Ok(Value::from(out))
}

/// `comment(style='plain', decoration=..., prefix=..., ...)`: Ansible's comment filter.
fn comment(value: &Value, style: Option<String>, kw: Kwargs) -> Result<Value, Error> {
    let text = text_of(value, "comment")?;
    let style = match style {
        Some(s) => s,
        None => kw.get::<Option<String>>("style")?.unwrap_or_else(|| "plain".into()),
    };
    let (beginning, decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => {
            return Err(fail(format!("comment: unknown style {other:?}; use plain, erlang, c, cblock or xml")));
        }
    };
    let prepostfix = kw.get::<Option<String>>("decoration")?.unwrap_or_else(|| decoration.to_string());
    let get = |name: &str, default: &str| -> Result<String, Error> {
        Ok(kw.get::<Option<String>>(name)?.unwrap_or_else(|| default.to_string()))
    };
    let newline = get("newline", "\n")?;
    let beginning = get("beginning", beginning)?;
    let prefix = get("prefix", prepostfix.trim_end())?;
    let postfix = get("postfix", prepostfix.trim_end())?;
    let end = get("end", end)?;
    let decoration = prepostfix;
    let prefix_count = kw.get::<Option<usize>>("prefix_count")?.unwrap_or(1);
    let postfix_count = kw.get::<Option<usize>>("postfix_count")?.unwrap_or(1);
    kw.assert_all_used()?;
    if prefix_count > 1000 || postfix_count > 1000 {
        return Err(fail("comment: prefix_count and postfix_count must be at most 1000"));
    }
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        for _ in 0..prefix_count {
            if prefix != newline {
                out.push_str(&prefix);
            }
            out.push_str(&newline);
        }
    }
    let body = format!("{decoration}{}", text.replace(&newline, &format!("{newline}{decoration}")));
    out.push_str(&body.replace(&format!("{decoration}{newline}"), &format!("{}{newline}", decoration.trim_end())));
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(Value::from(out))
}

fn percent_encode(s: &str, safe: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.as_bytes().contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `urlencode`: Jinja2's: a string is quoted keeping `/`; a dict (or list of pairs) becomes a
/// query string.
fn urlencode(value: &Value) -> Result<Value, Error> {
    let pairs: Vec<(Value, Value)> = match value.kind() {
        ValueKind::Map => super::serialize::map_entries(value)?,
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::new();
            for item in super::list_items(value, "urlencode expects")? {
                let kv = super::list_items(&item, "urlencode: each item must be a [key, value] pair, not")?;
                match kv.as_slice() {
                    [k, v] => out.push((k.clone(), v.clone())),
                    _ => return Err(fail("urlencode: each item must be a [key, value] pair")),
                }
            }
            out
        }
        ValueKind::None => return Ok(Value::from("")),
        _ => return Ok(Value::from(percent_encode(&text_of(value, "urlencode")?, "/"))),
    };
    // Jinja's `url_quote(..., for_qs=True)`: nothing kept, a space is `+`.
    let enc = |v: &Value| -> Result<String, Error> {
        let s = if v.is_none() { "None".to_string() } else { text_of(v, "urlencode")? };
        Ok(percent_encode(&s, "").replace("%20", "+"))
    };
    let parts: Vec<String> =
        pairs.iter().map(|(k, v)| Ok(format!("{}={}", enc(k)?, enc(v)?))).collect::<Result<_, Error>>()?;
    Ok(Value::from(parts.join("&")))
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{err, ok};

    #[test]
    fn regex_replace_python_syntax() {
        assert_eq!(ok("{{ 'ansible' | regex_replace('^a.*i(.*)$', 'a\\\\1') }}"), "able");
        assert_eq!(ok("{{ 'foobar' | regex_replace('^f.*o(.*)$', '\\\\1') }}"), "bar");
        assert_eq!(
            ok("{{ 'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\\\\d+)$', '\\\\g<host>, \\\\g<port>') }}"),
            "localhost, 80"
        );
        assert_eq!(ok("{{ 'a.b.c' | regex_replace('\\\\.', '-') }}"), "a-b-c");
        assert_eq!(ok("{{ 'a.b.c' | regex_replace('\\\\.', '-', count=1) }}"), "a-b.c");
        assert_eq!(ok("{{ 'ABC' | regex_replace('b', 'x', ignorecase=true) }}"), "AxC");
        assert_eq!(ok("{{ 'a\\nb' | regex_replace('^', '> ', multiline=true) }}"), "> a\n> b");
        assert_eq!(ok("{{ 'cost' | regex_replace('cost', '$5') }}"), "$5");
        assert_eq!(ok("{{ 'x' | regex_replace('x', 'a\\\\nb') }}"), "a\nb");
        assert_eq!(ok("{{ 'abc' | regex_replace('b') }}"), "ac");
        assert_eq!(ok("{{ 42 | regex_replace('2', '3') }}"), "43");
        assert_eq!(ok("{{ 'abc\\n' | regex_replace('c\\\\Z', 'C') }}"), "abc\n");
        err("{{ 'a' | regex_replace('(', 'x') }}", "regex_replace: invalid regular expression");
        // Look-around and backreferences, as ansible-core 2.19 (Python's re) gives them.
        assert_eq!(ok("{{ 'a' | regex_replace('a(?=b)', 'x') }}"), "a");
        assert_eq!(ok("{{ 'ab' | regex_replace('a(?=b)', 'x') }}"), "xb");
        assert_eq!(ok("{{ 'xaa' | regex_search('(a)\\\\1') }}"), "aa");
        assert_eq!(ok("{{ 'foo.bar' | regex_replace('(?<=\\.)bar', 'baz') }}"), "foo.baz");
        assert_eq!(ok("{{ 'abcabc' | regex_findall('(?!a)\\w') | to_json }}"), r#"["b", "c", "b", "c"]"#);
        assert_eq!(ok("{{ 'AbC' is search('(?i)abc') }}"), "True");
        assert_eq!(ok("{{ 'a\nb' | regex_findall('^\\w$', multiline=True) | to_json }}"), r#"["a", "b"]"#);
        // A pattern that would backtrack for ages fails (Python would run for hours) instead of
        // hanging the run.
        err("{{ 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab' | regex_search('(a*)*\\\\1c') }}", "backtracking");
        err("{{ 'a' | regex_replace('a', '\\\\2') }}", "refers to group 2");
        err("{{ 'aa' | regex_replace('a', 'b', mandatory_count=1) }}", "should match 1 times, but matches 2 times");
        err("{{ [1] | regex_replace('a', 'b') }}", "regex_replace expects a string, got a list");
        err("{{ 'a' | regex_replace('a', 'b', bogus=1) }}", "bogus");
    }

    /// Python's `$` matches at the end and before a newline that ends the text (ansible-core
    /// 2.19.14 gave these values for "foo\n"); in a character class it is a `$`. prov's `$`
    /// matched at the very end only.
    #[test]
    fn a_dollar_matches_before_a_final_newline_as_in_python() {
        let s = "{% set s = 'foo\\n' %}";
        assert_eq!(ok(&format!("{s}{{{{ s | regex_search('o$') }}}}")), "o");
        assert_eq!(ok(&format!("{s}{{{{ s is search('o$') }}}}")), "True");
        assert_eq!(ok(&format!("{s}{{{{ s is match('foo$') }}}}")), "True");
        assert_eq!(ok(&format!("{s}{{{{ s | regex_replace('o$', 'X') | to_json }}}}")), r#""foX\n""#);
        assert_eq!(ok(&format!("{s}{{{{ s | regex_findall('$') | length }}}}")), "2");
        assert_eq!(ok(&format!("{s}{{{{ s | regex_replace('o\\\\Z', 'Y') | to_json }}}}")), r#""foo\n""#);
        assert_eq!(ok("{{ 'a$b' | regex_search('[$]') }}"), "$");
        assert_eq!(ok("{{ 'a]$' | regex_search('[]$]+') }}"), "]$");
        assert_eq!(ok("{{ 'ab\\n' | regex_search('b$\\n') | to_json }}"), r#""b\n""#);
    }

    /// Empty matches count as Python's `re.sub` and `re.findall` count them (ansible-core
    /// 2.19.14's values): one right after a non-empty match is replaced too. prov used the
    /// regex crate's iteration, which leaves it out (`X` and `v0`).
    #[test]
    fn empty_matches_are_replaced_as_python_replaces_them() {
        assert_eq!(ok("{{ 'abc' | regex_replace('.*', 'X') }}"), "XX");
        assert_eq!(ok("{{ 'v1.2' | regex_replace('[0-9.]*$', '0') }}"), "v00");
        assert_eq!(ok("{{ 'ax' | regex_replace('x*', '-') }}"), "-a--");
        assert_eq!(ok("{{ 'héllo' | regex_replace('', '.') }}"), ".h.é.l.l.o.");
        assert_eq!(ok("{{ 'a b' | regex_replace('\\s*', '_', count=2) }}"), "_a_b");
        assert_eq!(ok("{{ 'abc' | regex_findall('.*') | to_json }}"), r#"["abc", ""]"#);
    }

    #[test]
    fn regex_search_and_findall() {
        assert_eq!(ok("{{ 'server1/database42' | regex_search('database[0-9]+') }}"), "database42");
        assert_eq!(ok("{{ 'ansible' | regex_search('x') is none }}"), "True");
        assert_eq!(
            ok("{{ 'server1/database42' | regex_search('server([0-9]+)/database([0-9]+)', '\\\\1', '\\\\2') }}"),
            "['1', '42']"
        );
        assert_eq!(ok("{{ 'ab' | regex_search('(?P<x>b)', '\\\\g<x>') | first }}"), "b");
        assert_eq!(ok("{{ 'FOO' | regex_search('foo', ignorecase=true) }}"), "FOO");
        assert_eq!(ok("{{ 'a1 b2 c3' | regex_findall('[a-z][0-9]') | join(',') }}"), "a1,b2,c3");
        assert_eq!(ok("{{ 'a1 b2' | regex_findall('([a-z])[0-9]') | join(',') }}"), "a,b");
        assert_eq!(ok("{{ 'a1 b2' | regex_findall('([a-z])([0-9])') | to_json }}"), r#"[["a", "1"], ["b", "2"]]"#);
        err("{{ 'a' | regex_search('a', 'x') }}", "regex_search: unknown argument");
        err("{{ 'a' | regex_search('a', '\\\\3') }}", "has no group 3");
        err("{{ {} | regex_findall('a') }}", "regex_findall expects a string, got a dictionary");
    }

    #[test]
    fn regex_escape_python_and_posix() {
        assert_eq!(ok("{{ '^f.*o(.*)$' | regex_escape }}"), "\\^f\\.\\*o\\(\\.\\*\\)\\$");
        assert_eq!(ok("{{ 'a b_c' | regex_escape }}"), "a\\ b_c");
        assert_eq!(ok("{{ '^f.*o(.*)$' | regex_escape('posix_basic') }}"), "\\^f\\.\\*o(\\.\\*)\\$");
        err("{{ 'a' | regex_escape('posix_extended') }}", "re_type must be");
    }

    #[test]
    fn quote_like_shlex() {
        assert_eq!(ok("{{ 'abc' | quote }}"), "abc");
        assert_eq!(ok("{{ '' | quote }}"), "''");
        assert_eq!(ok("{{ none | quote }}"), "''");
        assert_eq!(ok("{{ 'a b' | quote }}"), "'a b'");
        assert_eq!(ok("{{ \"it's\" | quote }}"), "'it'\"'\"'s'");
        assert_eq!(ok("{{ '/tmp/x-1.conf' | quote }}"), "/tmp/x-1.conf");
        err("{{ [1] | quote }}", "quote expects a string, got a list");
    }

    #[test]
    fn base64_round_trip() {
        assert_eq!(ok("{{ 'hello' | b64encode }}"), "aGVsbG8=");
        assert_eq!(ok("{{ 'aGVsbG8=' | b64decode }}"), "hello");
        assert_eq!(ok("{{ 'é' | b64encode | b64decode }}"), "é");
        assert_eq!(ok("{{ 'hi' | b64encode(encoding='utf-8') }}"), "aGk=");
        err("{{ '!!' | b64decode }}", "b64decode: the value is not valid base64");
        err("{{ '/w==' | b64decode }}", "not UTF-8 text");
        err("{{ 'a' | b64encode(encoding='utf-16') }}", "only the utf-8 encoding");
        err("{{ {} | b64encode }}", "b64encode expects a string, got a dictionary");
    }

    #[test]
    fn digests() {
        assert_eq!(ok("{{ 'abc' | hash }}"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(ok("{{ 'abc' | hash('md5') }}"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            ok("{{ 'abc' | hash('sha256') }}"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            ok("{{ 'abc' | sha1 }} {{ 'abc' | checksum }}"),
            "a9993e364706816aba3e25717850c26c9cd0d89d a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(ok("{{ 'abc' | md5 }}"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(ok("{{ 'abc' | hash('sha512') | length }}"), "128");
        err("{{ 'abc' | hash('blake9') }}", "hash: unsupported hash type \"blake9\"");
        err("{{ [1] | md5 }}", "md5 expects a string, got a list");
    }

    #[test]
    fn paths() {
        assert_eq!(ok("{{ '/etc/asdf/foo.txt' | basename }}"), "foo.txt");
        assert_eq!(ok("{{ '/etc/asdf/' | basename }}"), "");
        assert_eq!(ok("{{ '/etc/asdf/foo.txt' | dirname }}"), "/etc/asdf");
        assert_eq!(ok("{{ 'foo.txt' | dirname }}"), "");
        assert_eq!(ok("{{ '/foo' | dirname }}"), "/");
        assert_eq!(ok("{{ 'a//b' | dirname }}"), "a");
        assert_eq!(ok("{{ '/a/b.tar.gz' | splitext | to_json }}"), r#"["/a/b.tar", ".gz"]"#);
        assert_eq!(ok("{{ '.bashrc' | splitext | to_json }}"), r#"[".bashrc", ""]"#);
        assert_eq!(ok("{{ 'a.d/b' | splitext | to_json }}"), r#"["a.d/b", ""]"#);
        assert_eq!(ok("{{ ['/etc', 'x', 'y.conf'] | path_join }}"), "/etc/x/y.conf");
        assert_eq!(ok("{{ ['a/', '/abs', 'b'] | path_join }}"), "/abs/b");
        assert_eq!(ok("{{ '/no/tilde' | expanduser }}"), "/no/tilde");
        let home = std::env::var("HOME").unwrap_or_default();
        if !home.is_empty() {
            assert_eq!(ok("{{ '~/x' | expanduser }}"), format!("{}/x", home.trim_end_matches('/')));
        }
        err("{{ 5 | path_join }}", "path_join expects a list, got an integer");
        err("{{ [1] | basename }}", "basename expects a string, got a list");
    }

    #[test]
    fn comment_styles() {
        assert_eq!(ok("{{ 'Plain style' | comment }}"), "#\n# Plain style\n#");
        assert_eq!(ok("{{ 'a\\nb' | comment('c') }}"), "//\n// a\n// b\n//");
        assert_eq!(ok("{{ 'C block' | comment('cblock') }}"), "/*\n *\n * C block\n *\n */");
        assert_eq!(ok("{{ 'x' | comment('xml') }}"), "<!--\n -\n - x\n -\n-->");
        assert_eq!(ok("{{ 'x' | comment('erlang') }}"), "%\n% x\n%");
        assert_eq!(ok("{{ 'a\\n\\nb' | comment }}"), "#\n# a\n#\n# b\n#");
        assert_eq!(ok("{{ 'x' | comment(prefix='', postfix='') }}"), "# x\n");
        err("{{ 'x' | comment('lisp') }}", "comment: unknown style \"lisp\"");
    }

    #[test]
    fn urlencode_strings_and_dicts() {
        assert_eq!(ok("{{ 'a b/c&d' | urlencode }}"), "a%20b/c%26d");
        assert_eq!(ok("{{ {'a': 'x y', 'b': 1} | urlencode }}"), "a=x+y&b=1");
        assert_eq!(ok("{{ [['k', 'v/w']] | urlencode }}"), "k=v%2Fw");
        err("{{ [1] | urlencode }}", "urlencode: each item must be a [key, value] pair");
    }
}
