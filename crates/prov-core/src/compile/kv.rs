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
    for (raw, unquoted, range) in words {
        match unquoted.split_once('=') {
            // A templated key (`set_fact: "{{ name }}=x"`) is for the module to render.
            Some((k, v))
                if (is_key(k) && (!free_form || FREE_FORM_KEYS.contains(&k))) || (!free_form && is_template_key(k)) =>
            {
                pairs.push((k.to_string(), v.to_string()));
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

/// Keys that Ansible pulls out of free-form `command`/`shell` strings.
const FREE_FORM_KEYS: &[&str] = &["creates", "removes", "chdir", "executable", "warn", "stdin"];

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

    #[test]
    fn templates_with_spaces_stay_whole() {
        let (p, _) = parse_kv("msg={{ a | default('x y') }}", false).expect("parses");
        assert_eq!(p, vec![("msg".into(), "{{ a | default('x y') }}".into())]);
    }

    #[test]
    fn errors() {
        assert!(parse_kv("src=a oops", false).is_err());
        assert!(parse_kv("msg='open", false).is_err());
    }
}
