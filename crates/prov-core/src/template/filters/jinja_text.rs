//! Jinja's text filters that minijinja does not have, as Jinja 3.1 and MarkupSafe 3 (what
//! ansible-core 2.19 runs) answer them: `wordwrap`, `truncate`, `wordcount`, `center`,
//! `striptags`, `xmlattr`, `filesizeformat` and `forceescape`.

use super::pymethods::{py_str, str_splitlines};
use super::text::text_of;
use super::{a_type, add_filter, fail, split_args};
use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error};

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "wordwrap", wordwrap);
    add_filter(env, "truncate", truncate);
    add_filter(env, "wordcount", wordcount);
    add_filter(env, "center", center);
    add_filter(env, "striptags", striptags);
    add_filter(env, "xmlattr", xmlattr);
    add_filter(env, "filesizeformat", filesizeformat);
    add_filter(env, "forceescape", forceescape);
}

/// Positional-or-keyword arguments of a filter, by position and name.
struct Args {
    pos: Vec<Value>,
    kw: Kwargs,
}

impl Args {
    fn new(args: Rest<ValueOrKwargs>, max: usize, filter: &str) -> Result<Args, Error> {
        let (pos, kw) = split_args(args)?;
        if pos.len() > max {
            return Err(fail(format!("{filter} takes at most {max} arguments, got {}", pos.len())));
        }
        Ok(Args { pos, kw })
    }

    fn get(&self, i: usize, name: &str) -> Result<Option<Value>, Error> {
        Ok(match self.pos.get(i) {
            Some(v) => Some(v.clone()),
            None => self.kw.get::<Option<Value>>(name)?,
        })
    }

    fn int(&self, i: usize, name: &str, default: i64, filter: &str) -> Result<i64, Error> {
        match self.get(i, name)? {
            None => Ok(default),
            Some(v) if v.kind() == ValueKind::Bool => Ok(i64::from(v.is_true())),
            Some(v) if v.is_integer() => i64::try_from(v).map_err(|_| fail(format!("{filter}: {name} is too large"))),
            Some(v) => Err(fail(format!("{filter}: {name} must be an integer, got {}", a_type(&v)))),
        }
    }

    fn flag(&self, i: usize, name: &str, default: bool) -> Result<bool, Error> {
        Ok(self.get(i, name)?.map_or(default, |v| v.is_true()))
    }

    fn done(self) -> Result<(), Error> {
        self.kw.assert_all_used()
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The first `n` characters of `s`.
fn head(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Python's whitespace for `textwrap` (ASCII only).
fn textwrap_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// `wordwrap(width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True)`: each
/// line wrapped by Python's `textwrap.wrap` (tabs and whitespace kept, words split after
/// hyphens as its `wordsep_re` splits them), joined by `wrapstring`.
fn wordwrap(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let a = Args::new(args, 4, "wordwrap")?;
    let width = a.int(0, "width", 79, "wordwrap")?;
    let break_long = a.flag(1, "break_long_words", true)?;
    let wrapstring = match a.get(2, "wrapstring")? {
        None => "\n".to_string(),
        Some(v) if v.is_none() => "\n".to_string(),
        Some(v) => text_of(&v, "wordwrap")?,
    };
    let hyphens = a.flag(3, "break_on_hyphens", true)?;
    a.done()?;
    if value.kind() != ValueKind::String {
        return Err(fail(format!("wordwrap expects a string, got {}", a_type(value))));
    }
    let s = value.as_str().unwrap_or_default();
    if width <= 0 {
        return Err(fail(format!("wordwrap: invalid width {width} (must be > 0)")));
    }
    let width = usize::try_from(width).unwrap_or(usize::MAX);
    let paragraphs: Vec<String> =
        str_splitlines(s).into_iter().map(|line| wrap(line, width, break_long, hyphens).join(&wrapstring)).collect();
    Ok(Value::from(paragraphs.join(&wrapstring)))
}

/// Python's `TextWrapper.wordsep_re`: whitespace, an em-dash between words, or a word up to
/// the end of a hyphenated part, the word's end, or an em-dash.
const WORDSEP: &str = r#"([\t\n\x0b\x0c\r ]+|(?<=[\w!"'&.,?])-{2,}(?=\w)|[^\t\n\x0b\x0c\r ]+?(?:-(?:(?<=[^\d\W]{2}-)|(?<=[^\d\W]-[^\d\W]-))(?=[^\d\W]-?[^\d\W])|(?=[\t\n\x0b\x0c\r ]|\z)|(?<=[\w!"'&.,?])(?=-{2,}\w)))"#;

/// The chunks `textwrap` wraps: `re.split` on [`WORDSEP`] with `hyphens`, on runs of
/// whitespace without; empty ones dropped.
fn chunks(text: &str, hyphens: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if !hyphens {
        for c in text.chars() {
            match out.last_mut() {
                Some(last) if last.chars().next().is_some_and(textwrap_space) == textwrap_space(c) => last.push(c),
                _ => out.push(c.to_string()),
            }
        }
        return out;
    }
    static RE: std::sync::OnceLock<Option<fancy_regex::Regex>> = std::sync::OnceLock::new();
    let Some(re) = RE.get_or_init(|| fancy_regex::Regex::new(WORDSEP).ok()) else {
        return vec![text.to_string()];
    };
    let mut at = 0;
    for m in re.find_iter(text) {
        let Ok(m) = m else { break };
        out.push(text[at..m.start()].to_string());
        out.push(m.as_str().to_string());
        at = m.end();
    }
    out.push(text[at..].to_string());
    out.retain(|c| !c.is_empty());
    out
}

/// Python's `textwrap.wrap(text, width, expand_tabs=False, replace_whitespace=False,
/// break_long_words=..., break_on_hyphens=...)`.
fn wrap(text: &str, width: usize, break_long: bool, hyphens: bool) -> Vec<String> {
    let mut chunks = chunks(text, hyphens);
    chunks.reverse();
    let blank = |s: &str| s.chars().all(textwrap_space);
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        let mut line: Vec<String> = Vec::new();
        let mut len = 0;
        if chunks.last().is_some_and(|c| blank(c)) && !lines.is_empty() {
            chunks.pop();
        }
        while let Some(c) = chunks.last() {
            let l = chars(c);
            if len + l > width {
                break;
            }
            len += l;
            line.extend(chunks.pop());
        }
        if chunks.last().is_some_and(|c| chars(c) > width) {
            // A chunk too long for any line.
            if break_long {
                // Python's: no room left takes nothing from the chunk here.
                let space = width.saturating_sub(len);
                if let Some(c) = chunks.last_mut() {
                    // With `hyphens`, after the last hyphen that fits, if something else
                    // comes before it.
                    let mut end = space;
                    if hyphens && chars(c) > space {
                        if let Some(h) = head(c, space).rfind('-') {
                            let h = c[..h].chars().count();
                            if h > 0 && head(c, h).chars().any(|x| x != '-') {
                                end = h + 1;
                            }
                        }
                    }
                    let cut = head(c, end).len();
                    let rest = c.split_off(cut);
                    line.push(std::mem::replace(c, rest));
                }
            } else if line.is_empty() {
                line.extend(chunks.pop());
            }
        }
        if line.last().is_some_and(|c| blank(c)) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        }
    }
    lines
}

/// `truncate(length=255, killwords=False, end='...', leeway=None)` (Jinja's default leeway
/// is 5).
fn truncate(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let a = Args::new(args, 4, "truncate")?;
    let length = a.int(0, "length", 255, "truncate")?;
    let killwords = a.flag(1, "killwords", false)?;
    let end = match a.get(2, "end")? {
        None => "...".to_string(),
        Some(v) => text_of(&v, "truncate")?,
    };
    let leeway = match a.get(3, "leeway")? {
        None => 5,
        Some(v) if v.is_none() => 5,
        Some(_) => a.int(3, "leeway", 5, "truncate")?,
    };
    a.done()?;
    if value.kind() != ValueKind::String {
        return Err(fail(format!("truncate expects a string, got {}", a_type(value))));
    }
    let s = value.as_str().unwrap_or_default();
    let end_len = i64::try_from(chars(&end)).unwrap_or(i64::MAX);
    if length < end_len {
        return Err(fail(format!("truncate: expected length >= {end_len}, got {length}")));
    }
    if leeway < 0 {
        return Err(fail(format!("truncate: expected leeway >= 0, got {leeway}")));
    }
    if i64::try_from(chars(s)).unwrap_or(i64::MAX) <= length.saturating_add(leeway) {
        return Ok(value.clone());
    }
    let kept = head(s, usize::try_from(length - end_len).unwrap_or(0));
    let kept = if killwords { kept } else { kept.rsplit_once(' ').map_or(kept, |(a, _)| a) };
    Ok(Value::from(format!("{kept}{end}")))
}

/// `wordcount`: the number of runs of word characters (Python's `\w+`) in the text.
fn wordcount(value: &Value) -> Result<Value, Error> {
    let s = py_text(value, "wordcount")?;
    let mut n = 0;
    let mut in_word = false;
    for c in s.chars() {
        let w = c.is_alphanumeric() || c == '_';
        if w && !in_word {
            n += 1;
        }
        in_word = w;
    }
    Ok(Value::from(n))
}

/// The widest line `center` pads to (a hostile width must not exhaust memory).
const MAX_WIDTH: i64 = 1 << 20;

/// `center(width=80)`: Python's `str.center`.
fn center(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let a = Args::new(args, 1, "center")?;
    let width = a.int(0, "width", 80, "center")?;
    a.done()?;
    let s = py_text(value, "center")?;
    if width > MAX_WIDTH {
        return Err(fail(format!("center: a width of {width} is more than prov makes ({MAX_WIDTH})")));
    }
    let len = i64::try_from(chars(&s)).unwrap_or(i64::MAX);
    if width <= len {
        return Ok(Value::from(s));
    }
    let marg = width - len;
    let left = marg / 2 + (marg & width & 1);
    let pad = |n: i64| " ".repeat(usize::try_from(n).unwrap_or(0));
    Ok(Value::from(format!("{}{s}{}", pad(left), pad(marg - left))))
}

/// `striptags`: MarkupSafe's `Markup.striptags`: comments, then tags removed, whitespace
/// collapsed to single spaces, then HTML entities decoded. Entities other than the XML ones
/// and numeric references are refused (Python decodes the whole HTML5 table).
fn striptags(value: &Value) -> Result<Value, Error> {
    let mut s = py_text(value, "striptags")?;
    for (open, close) in [("<!--", "-->"), ("<", ">")] {
        while let Some(start) = s.find(open) {
            let Some(end) = s[start..].find(close).map(|e| start + e) else { break };
            s.replace_range(start..end + close.len(), "");
        }
    }
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(Value::from(unescape(&collapsed)?))
}

/// Python's `html.unescape` for the XML entities and numeric character references.
fn unescape(s: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let name_end = rest[1..].find(|c: char| !c.is_ascii_alphanumeric() && c != '#').map_or(rest.len(), |e| e + 1);
        let name = &rest[1..name_end];
        let semi = rest[name_end..].starts_with(';');
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            match code.and_then(char::from_u32).filter(|c| *c != '\0' && semi) {
                Some(c) => Some(c.to_string()),
                None if name.len() > 1 => {
                    return Err(fail(format!("striptags: prov does not decode the character reference &{name}")))
                }
                None => None,
            }
        } else {
            match (name, semi) {
                ("amp", true) => Some("&".to_string()),
                ("lt", true) => Some("<".to_string()),
                ("gt", true) => Some(">".to_string()),
                ("quot", true) => Some("\"".to_string()),
                ("apos", true) => Some("'".to_string()),
                (name, true) if named_entity(name).is_some() => named_entity(name).map(str::to_string),
                ("", _) => None,
                // Python decodes a few entities without the `;` too (`&amp`, `&lt`, ...), by
                // the longest name that starts the text: refused; anything else stays.
                (name, false) if !NO_SEMICOLON.iter().any(|e| name.starts_with(e)) => None,
                _ => return Err(fail(format!("striptags: prov does not decode the HTML entity &{name}"))),
            }
        };
        match decoded {
            Some(d) => {
                out.push_str(&d);
                rest = &rest[name_end + usize::from(semi)..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The starts of HTML entity names Python's `html.unescape` also decodes without a `;`.
const NO_SEMICOLON: &[&str] =
    &["amp", "AMP", "lt", "LT", "gt", "GT", "quot", "QUOT", "nbsp", "copy", "COPY", "reg", "REG"];

/// A few common HTML entities beyond the XML ones.
fn named_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "nbsp" => "\u{a0}",
        "copy" => "\u{a9}",
        "reg" => "\u{ae}",
        "trade" => "\u{2122}",
        "hellip" => "\u{2026}",
        "mdash" => "\u{2014}",
        "ndash" => "\u{2013}",
        "laquo" => "\u{ab}",
        "raquo" => "\u{bb}",
        "middot" => "\u{b7}",
        "deg" => "\u{b0}",
        "euro" => "\u{20ac}",
        "pound" => "\u{a3}",
        "times" => "\u{d7}",
        "bull" => "\u{2022}",
        _ => return None,
    })
}

/// MarkupSafe's `escape`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Python's `str()` of a scalar; containers are refused (prov does not write Python's repr
/// of them here).
fn py_text(value: &Value, filter: &str) -> Result<String, Error> {
    match value.kind() {
        ValueKind::String | ValueKind::Number | ValueKind::Bool | ValueKind::None => Ok(py_str(value)),
        ValueKind::Undefined => {
            Err(Error::new(minijinja::ErrorKind::UndefinedError, format!("{filter}: the value is undefined")))
        }
        _ => Err(fail(format!("{filter}: prov does not support {} here", a_type(value)))),
    }
}

/// `xmlattr(autospace=True)`: `key="value"` pairs of a mapping, escaped, those with a none
/// or undefined value left out.
fn xmlattr(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let a = Args::new(args, 1, "xmlattr")?;
    let autospace = a.flag(0, "autospace", true)?;
    a.done()?;
    if value.kind() != ValueKind::Map {
        return Err(fail(format!("xmlattr expects a dictionary, got {}", a_type(value))));
    }
    let mut items = Vec::new();
    for (k, v) in super::serialize::map_entries(value)? {
        if v.is_none() || v.is_undefined() {
            continue;
        }
        let key = py_text(&k, "xmlattr")?;
        if key.chars().any(|c| c.is_ascii_whitespace() || c == '\x0b' || matches!(c, '/' | '>' | '=')) {
            return Err(fail(format!("xmlattr: Invalid character in attribute name: '{key}'")));
        }
        items.push(format!("{}=\"{}\"", escape(&key), escape(&py_text(&v, "xmlattr")?)));
    }
    let rv = items.join(" ");
    Ok(Value::from(if autospace && !rv.is_empty() { format!(" {rv}") } else { rv }))
}

/// `filesizeformat(binary=False)`: a number of bytes in kB, MB, ... (or KiB, MiB, ...).
fn filesizeformat(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let a = Args::new(args, 1, "filesizeformat")?;
    let binary = a.flag(0, "binary", false)?;
    a.done()?;
    let bytes = match value.kind() {
        ValueKind::Number | ValueKind::Bool => {
            f64::try_from(value.clone()).unwrap_or(f64::from(u8::from(value.is_true())))
        }
        ValueKind::String => {
            let t = value.as_str().unwrap_or_default().trim();
            t.parse::<f64>().map_err(|_| fail(format!("filesizeformat: could not convert string to float: '{t}'")))?
        }
        _ => return Err(fail(format!("filesizeformat expects a number, got {}", a_type(value)))),
    };
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let prefixes: [&str; 8] = if binary {
        ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    } else {
        ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    };
    if bytes == 1.0 {
        return Ok(Value::from("1 Byte"));
    }
    if bytes < base {
        return Ok(Value::from(format!("{} Bytes", bytes.trunc() as i64)));
    }
    let mut unit = base;
    for (i, prefix) in prefixes.iter().enumerate() {
        unit = base.powi(i32::try_from(i).unwrap_or(0) + 2);
        if bytes < unit || i + 1 == prefixes.len() {
            return Ok(Value::from(format!("{} {prefix}", one_decimal(base * bytes / unit))));
        }
    }
    Ok(Value::from(format!("{} YB", one_decimal(base * bytes / unit))))
}

/// Python's `f"{x:.1f}"`: the exact binary value rounded half to even.
fn one_decimal(x: f64) -> String {
    // Rust's formatting rounds the exact decimal expansion too; ties (exactly representable
    // halves) go to even in both.
    format!("{x:.1}")
}

/// `forceescape`: HTML escaping of the text.
fn forceescape(value: &Value) -> Result<Value, Error> {
    Ok(Value::from(escape(&py_text(value, "forceescape")?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::filters::testenv::{err, ok};

    // Values from ansible-core 2.19.14 (Jinja 3.1, MarkupSafe 3) on the same expressions.
    #[test]
    fn jinja_text_filters_answer_as_jinja_does() {
        assert_eq!(
            ok("{{ 'abc def ghi jkl mno pqr stu vwx yz' | wordwrap(10, true, '|') }}"),
            "abc def|ghi jkl|mno pqr|stu vwx yz"
        );
        assert_eq!(
            ok("{{ 'state-of-the-art x--y a-b-c-d-e-f-g' | wordwrap(6) }}"),
            "state-\nof-\nthe-\nart x\n--y\na-b-c-\nd-e-\nf-g"
        );
        assert_eq!(ok("{{ 'ab-cd-ef' | wordwrap(3, break_on_hyphens=false) }}"), "ab-\ncd-\nef");
        err("{{ 'x' | wordwrap(0) }}", "invalid width");
        assert_eq!(ok("{{ 'Hello World this is a long sentence here' | truncate(20) }}"), "Hello World this...");
        assert_eq!(ok("{{ 'Hello World this is a long sentence here' | truncate(20, true) }}"), "Hello World this ...");
        assert_eq!(ok("{{ 'Hello World' | truncate(9) }}"), "Hello World");
        assert_eq!(ok("{{ 'Hello World' | truncate(5) }}"), "He...");
        assert_eq!(
            ok("{{ 'Hello   World   again and again' | truncate(15, killwords=false, end='', leeway=0) }}"),
            "Hello   World "
        );
        err("{{ 'abc' | truncate(2) }}", "expected length >= 3");
        assert_eq!(ok("{{ 'Hello, World! foo-bar x' | wordcount }}"), "5");
        assert_eq!(ok("{{ 'ab' | center(7) }}|"), "   ab  |");
        assert_eq!(ok("{{ 'abc' | center(8) }}|"), "  abc   |");
        err("{{ 'abc' | center(10**12) }}", "more than prov makes");
        assert_eq!(ok("{{ '<!-- c <b> -->x<y' | striptags }}"), "x<y");
        assert_eq!(ok("{{ '<p>Hello <b>World</b></p>  x &amp; y' | striptags }}"), "Hello World x & y");
        assert_eq!(ok("{{ 'a &lt;b&gt; &#65;&#x42; &quot;' | striptags }}"), "a <b> AB \"");
        err("{{ 'a &shy; b' | striptags }}", "does not decode");
        assert_eq!(ok("{{ 'AT&T and R&D' | striptags }}"), "AT&T and R&D");
        assert_eq!(
            ok("{{ {'class': 'my', 'id': 'x y', 'n': none, 'u': 'a<b'} | xmlattr }}"),
            " class=\"my\" id=\"x y\" u=\"a&lt;b\""
        );
        assert_eq!(ok("{{ {'a': true, 'b': 1, 'c': 1.5} | xmlattr(false) }}"), "a=\"True\" b=\"1\" c=\"1.5\"");
        err("{{ {'a b': 1} | xmlattr }}", "Invalid character in attribute name");
        assert_eq!(ok("{{ 1000 | filesizeformat }}"), "1.0 kB");
        assert_eq!(ok("{{ 1024 | filesizeformat(true) }}"), "1.0 KiB");
        assert_eq!(ok("{{ 123456789 | filesizeformat }}"), "123.5 MB");
        assert_eq!(ok("{{ 1 | filesizeformat }}"), "1 Byte");
        assert_eq!(ok("{{ -5 | filesizeformat }}"), "-5 Bytes");
        assert_eq!(ok("{{ 1536000000000 | filesizeformat }}"), "1.5 TB");
        assert_eq!(ok("{{ '<a>' | forceescape }}"), "&lt;a&gt;");
    }

    #[test]
    fn one_decimal_rounds_ties_as_python_does() {
        // Python: f"{0.25:.1f}" == "0.2", f"{0.35:.1f}" == "0.3" (0.35 is below the tie),
        // f"{1.5:.1f}" == "1.5", f"{2.45:.1f}" == "2.5" (2.45 is above it).
        assert_eq!(one_decimal(0.25), "0.2");
        assert_eq!(one_decimal(0.35), "0.3");
        assert_eq!(one_decimal(2.45), "2.5");
        assert_eq!(one_decimal(0.75), "0.8");
    }

    #[test]
    fn wrap_follows_textwrap() {
        let w = |t: &str, n: usize, long: bool| wrap(t, n, long, true);
        assert_eq!(w("abcdefghijklmnopqrstuvwxyzabcdef", 10, true), ["abcdefghij", "klmnopqrst", "uvwxyzabcd", "ef"]);
        assert_eq!(w("abcdefghijklmnopqrstuvwxyzabcdef", 10, false), ["abcdefghijklmnopqrstuvwxyzabcdef"]);
        assert_eq!(w("  a  b", 3, true), ["  a", "b"]);
        // No room left on the line: the long chunk starts the next one.
        assert_eq!(w("b  cdef", 3, true), ["b  ", "cde", "f"]);
        assert!(w("", 3, true).is_empty());
        // Python 3.11's chunks and lines (textwrap.wrap with break_on_hyphens).
        assert_eq!(
            chunks("Look, goof-ball -- use the -b option!", true),
            ["Look,", " ", "goof-", "ball", " ", "--", " ", "use", " ", "the", " ", "-b", " ", "option!"]
        );
        assert_eq!(w("web-server-01 db-02", 8, true), ["web-serv", "er-01", "db-02"]);
        assert_eq!(w("aaaa-bbbb-cccc", 7, true), ["aaaa-", "bbbb-", "cccc"]);
    }
}
