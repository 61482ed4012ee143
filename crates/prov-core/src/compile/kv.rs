//! Ansible's `key=value` argument strings (`copy: src=a dest=/b mode=0644`).

/// `key=value` pairs, and the free-form rest (for `command`/`shell`) if any.
pub type KvParsed = (Vec<(String, String)>, Option<String>);

/// Splits `s` into `key=value` pairs and, when `free_form` is set, the remaining free text
/// (`command: echo hi creates=/x` gives `[("creates","/x")]` and `"echo hi"`).
/// Quotes group words (`msg="a b"`); a backslash escapes the next character inside quotes.
pub fn parse_kv(s: &str, free_form: bool) -> Result<KvParsed, String> {
    let words = match split_words(s) {
        Ok(w) => w,
        // A shell script may hold an apostrophe in a comment: take it whole.
        Err(_) if free_form => return Ok((Vec::new(), Some(s.trim().to_string()).filter(|r| !r.is_empty()))),
        Err(e) => return Err(e),
    };
    let mut pairs = Vec::new();
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for (raw, _, range) in words {
        // As ansible-core: Python's escapes are decoded in the whole word, which splits at its
        // first `=` not escaped; the value loses its quotes when they enclose all of it.
        let decoded = match decode_escapes(&raw) {
            Ok(d) => d,
            // Part of a command's free text.
            Err(_) if free_form => continue,
            Err(e) => return Err(e),
        };
        match split_at_equals(&decoded) {
            // A templated key (`set_fact: "{{ name }}=x"`) is for the module to render.
            Some((k, v))
                if (is_key(k) && (!free_form || FREE_FORM_KEYS.contains(&k))) || (!free_form && is_template_key(k)) =>
            {
                pairs.push((k.to_string(), unquote(v.trim()).to_string()));
                taken.push(range);
            }
            _ if free_form => {}
            _ => return Err(format!("cannot read `{raw}` as key=value")),
        }
    }
    if !free_form {
        return Ok((pairs, None));
    }
    // The free text keeps its own spacing and line breaks (multi-line `shell: |` scripts).
    let mut rest = String::with_capacity(s.len());
    let mut at = 0;
    for (start, end) in taken {
        rest.push_str(&s[at..start]);
        at = end;
    }
    rest.push_str(&s[at..]);
    let rest = rest.trim().to_string();
    Ok((pairs, Some(rest).filter(|r| !r.is_empty())))
}

/// The word split at its first `=` that no backslash escapes.
fn split_at_equals(w: &str) -> Option<(&str, &str)> {
    let b = w.as_bytes();
    (1..b.len()).find(|&i| b[i] == b'=' && b[i - 1] != b'\\').map(|i| (&w[..i], &w[i + 1..]))
}

/// `v` without the quotes that enclose all of it (ansible-core's `unquote`).
fn unquote(v: &str) -> &str {
    let b = v.as_bytes();
    let n = b.len();
    if n > 1 && (b[0] == b'"' || b[0] == b'\'') && b[n - 1] == b[0] && b[n - 2] != b'\\' {
        &v[1..n - 1]
    } else {
        v
    }
}

/// Python's escape sequences as ansible-core decodes them in `key=value` words: `\\`, `\'`,
/// `\"`, `\a \b \f \n \r \t \v`, `\xHH`, `\uHHHH`, `\UHHHHHHHH`; any other backslash stays.
/// `\N{name}` (a character by its Unicode name) is refused.
fn decode_escapes(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let single = match tail.chars().next() {
            Some('\\') => Some('\\'),
            Some('\'') => Some('\''),
            Some('"') => Some('"'),
            Some('a') => Some('\u{7}'),
            Some('b') => Some('\u{8}'),
            Some('f') => Some('\u{c}'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('t') => Some('\t'),
            Some('v') => Some('\u{b}'),
            _ => None,
        };
        if let Some(c) = single {
            out.push(c);
            rest = &tail[1..];
            continue;
        }
        let hex = match tail.chars().next() {
            Some('x') => 2,
            Some('u') => 4,
            Some('U') => 8,
            Some('N') if tail[1..].starts_with('{') && tail[2..].find('}').is_some_and(|end| end > 0) => {
                return Err(format!(
                    "`{s}`: a \\N{{...}} escape (a character by its Unicode name) is not supported by prov; write the character"
                ))
            }
            _ => 0,
        };
        let digits = tail.get(1..1 + hex).filter(|d| hex > 0 && d.chars().all(|c| c.is_ascii_hexdigit()));
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(n) => match char::from_u32(n) {
                Some(c) => {
                    out.push(c);
                    rest = &tail[1 + hex..];
                }
                // Python refuses it too (a surrogate, or past U+10FFFF).
                None => return Err(format!("`{s}`: the escape \\{} is no Unicode character", &tail[..1 + hex])),
            },
            None => {
                out.push('\\');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Keys that Ansible pulls out of free-form `command`/`shell` strings.
const FREE_FORM_KEYS: &[&str] =
    &["creates", "removes", "chdir", "executable", "warn", "stdin", "stdin_add_newline", "strip_empty_ends"];

fn is_template_key(k: &str) -> bool {
    k.contains("{{")
}

fn is_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A word: raw text (quotes kept), unquoted text, and its byte range in the input.
type Word = (String, String, (usize, usize));

/// Words with their raw text (quotes kept, for free-form commands) and unquoted text.
fn split_words(s: &str) -> Result<Vec<Word>, String> {
    let mut out = Vec::new();
    let mut raw = String::new();
    let mut val = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0i32; // inside {{ }} / {% %}: spaces do not split
    let indexed: Vec<(usize, char)> = s.char_indices().collect();
    let chars: Vec<char> = indexed.iter().map(|(_, c)| *c).collect();
    let byte_at = |i: usize| indexed.get(i).map(|(b, _)| *b).unwrap_or(s.len());
    let mut start = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if raw.is_empty() {
            start = byte_at(i);
        }
        let next = chars.get(i + 1).copied();
        if quote.is_none() && (c == '{' && matches!(next, Some('{') | Some('%'))) {
            depth += 1;
            raw.push(c);
            val.push(c);
            raw.push(chars[i + 1]);
            val.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if quote.is_none() && depth > 0 && matches!(c, '}' | '%') && next == Some('}') {
            depth -= 1;
            raw.push(c);
            val.push(c);
            raw.push('}');
            val.push('}');
            i += 2;
            continue;
        }
        match quote {
            Some(q) if c == q => {
                quote = None;
                raw.push(c);
            }
            Some(_) if c == '\\' && next.is_some() => {
                raw.push(c);
                if let Some(n) = next {
                    raw.push(n);
                    val.push(n);
                }
                i += 1;
            }
            Some(_) => {
                raw.push(c);
                val.push(c);
            }
            None if c == '\\' && matches!(next, Some('"' | '\'')) => {
                raw.push(c);
                raw.push(chars[i + 1]);
                i += 1;
            }
            None if (c == '"' || c == '\'') && depth == 0 => {
                quote = Some(c);
                raw.push(c);
            }
            None if c.is_whitespace() && depth == 0 => {
                if !raw.is_empty() {
                    out.push((std::mem::take(&mut raw), std::mem::take(&mut val), (start, byte_at(i))));
                }
            }
            None => {
                raw.push(c);
                val.push(c);
            }
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(format!("unbalanced quotes in `{s}`"));
    }
    if !raw.is_empty() {
        out.push((raw, val, (start, s.len())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_form_keeps_lines_and_spacing() {
        let (pairs, rest) = parse_kv("export A=1\napt-get  update creates=/x\necho 'it''s'", true).expect("parses");
        assert_eq!(pairs, vec![("creates".to_string(), "/x".to_string())]);
        assert_eq!(rest.as_deref(), Some("export A=1\napt-get  update \necho 'it''s'"));
        let (pairs, rest) = parse_kv("# don't\necho hi", true).expect("unbalanced quotes: whole text");
        assert!(pairs.is_empty());
        assert_eq!(rest.as_deref(), Some("# don't\necho hi"));
    }

    #[test]
    fn pairs_and_quotes() {
        let (p, r) = parse_kv("src=a dest='/b c' mode=0644", false).expect("parses");
        assert_eq!(p, vec![("src".into(), "a".into()), ("dest".into(), "/b c".into()), ("mode".into(), "0644".into())]);
        assert_eq!(r, None);
    }

    #[test]
    fn free_form_keeps_command_and_extracts_creates() {
        let (p, r) = parse_kv("echo 'a b' > /tmp/x creates=/tmp/x", true).expect("parses");
        assert_eq!(p, vec![("creates".into(), "/tmp/x".into())]);
        assert_eq!(r.as_deref(), Some("echo 'a b' > /tmp/x"));
    }

    /// ansible-core 2.19's splitter pulls these out of a free-form command too.
    #[test]
    fn free_form_extracts_stdin_add_newline_and_strip_empty_ends() {
        let (p, r) = parse_kv("cat stdin=x stdin_add_newline=no strip_empty_ends=no", true).expect("parses");
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["stdin", "stdin_add_newline", "strip_empty_ends"]);
        assert_eq!(r.as_deref(), Some("cat"));
    }

    #[test]
    fn templates_with_spaces_stay_whole() {
        let (p, _) = parse_kv("msg={{ a | default('x y') }}", false).expect("parses");
        assert_eq!(p, vec![("msg".into(), "{{ a | default('x y') }}".into())]);
    }

    /// The values ansible-core 2.19's `parse_kv` gives for the same strings.
    #[test]
    fn escapes_and_quotes_as_ansible() {
        let kv = |s: &str| parse_kv(s, false).expect("parses").0;
        let p = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert_eq!(
            kv(r#"path=x regexp='\b(.+)\b' replace='"\1"'"#),
            p(&[("path", "x"), ("regexp", "\u{8}(.+)\u{8}"), ("replace", "\"\\1\"")])
        );
        assert_eq!(kv(r"regexp='\\b(.+)\\b' x=a\nb"), p(&[("regexp", r"\b(.+)\b"), ("x", "a\nb")]));
        assert_eq!(kv("msg=a'b c'd"), p(&[("msg", "a'b c'd")]));
        assert_eq!(kv(r#"msg="it\"s" y='a\'b'"#), p(&[("msg", "it\"s"), ("y", "a'b")]));
        assert_eq!(kv(r"msg=C:\temp\x41 z=\q"), p(&[("msg", "C:\tempA"), ("z", r"\q")]));
        assert_eq!(kv(r"a=b\=c"), p(&[("a", r"b\=c")]));
        assert_eq!(kv(r#"msg="{{ 'a b' }}" "#), p(&[("msg", "{{ 'a b' }}")]));
        assert!(parse_kv(r"msg=\N{BULLET}", false).is_err());
        assert_eq!(kv(r"msg=\N{} y=\N{x"), p(&[("msg", r"\N{}"), ("y", r"\N{x")]));
        assert!(parse_kv(r"msg=\U00110000", false).is_err());
        assert!(parse_kv(r"msg=\ud800", false).is_err());
    }

    #[test]
    fn errors() {
        assert!(parse_kv("src=a oops", false).is_err());
        assert!(parse_kv("msg='open", false).is_err());
    }
}
