//! Python literals, as Ansible's INI inventory types values with `ast.literal_eval`: numbers
//! (`0x10`, `1_000`, `.5`), strings and bytes, `True`/`False`/`None`, lists, tuples, sets
//! and dicts. What Ansible cannot keep falls back to text: a complex number or `...` is its
//! source text, bytes become text, tuples and sets become lists.

use minijinja::Value;

/// A parsed literal before it becomes a variable's value.
enum Py {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A complex number or `...`: kept as its text.
    Text(String),
    Str(String),
    List(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

/// The value `literal_eval` gives for `src`, or `None` when `src` is not a Python literal
/// (the INI loader then keeps the text). At the top level a complex number or `...` is not
/// kept either (Ansible falls back to the text).
pub(crate) fn literal(src: &str) -> Option<Value> {
    let mut p = Parser { s: src.as_bytes(), i: 0, depth: 0 };
    let v = p.expr()?;
    p.ws();
    if p.i != p.s.len() {
        return None;
    }
    match v {
        Py::Text(_) => None,
        v => Some(to_value(v)),
    }
}

fn to_value(v: Py) -> Value {
    match v {
        Py::None => Value::from(()),
        Py::Bool(b) => Value::from(b),
        Py::Int(i) => Value::from(i),
        Py::Float(f) => Value::from(f),
        Py::Text(s) | Py::Str(s) => Value::from(s),
        Py::List(items) => Value::from(items.into_iter().map(to_value).collect::<Vec<_>>()),
        Py::Dict(kv) => Value::from_pairs(kv.into_iter().map(|(k, v)| (to_value(k), to_value(v)))),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, t: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(t.as_bytes()) {
            self.i += t.len();
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Option<Py> {
        self.depth += 1;
        if self.depth > 100 {
            return None;
        }
        self.ws();
        let v = match self.peek()? {
            b'-' | b'+' => {
                let neg = self.peek() == Some(b'-');
                self.i += 1;
                match self.expr()? {
                    Py::Int(i) => Py::Int(if neg { i.checked_neg()? } else { i }),
                    Py::Float(f) => Py::Float(if neg { -f } else { f }),
                    Py::Text(t) if t.ends_with(['j', 'J']) => Py::Text(format!("{}{t}", if neg { "-" } else { "" })),
                    _ => return None,
                }
            }
            b'[' => {
                self.i += 1;
                Py::List(self.items(b']')?)
            }
            b'(' => {
                self.i += 1;
                Py::List(self.items(b')')?)
            }
            b'{' => {
                self.i += 1;
                self.dict_or_set()?
            }
            b'\'' | b'"' => Py::Str(self.strings(false)?),
            b'b' | b'B' if matches!(self.s.get(self.i + 1), Some(b'\'' | b'"')) => {
                self.i += 1;
                Py::Str(self.strings(true)?)
            }
            b'.' if self.s[self.i..].starts_with(b"...") => {
                self.i += 3;
                Py::Text("...".into())
            }
            c if c.is_ascii_digit() || c == b'.' => self.number()?,
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
                    self.i += 1;
                }
                match &self.s[start..self.i] {
                    b"True" => Py::Bool(true),
                    b"False" => Py::Bool(false),
                    b"None" => Py::None,
                    b"set" if self.eat("(") && self.eat(")") => Py::List(Vec::new()),
                    _ => return None,
                }
            }
        };
        self.depth -= 1;
        Some(v)
    }

    /// Items up to `close`, comma-separated, a trailing comma allowed.
    fn items(&mut self, close: u8) -> Option<Vec<Py>> {
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(close) {
                self.i += 1;
                return Some(out);
            }
            out.push(self.expr()?);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {}
                _ => return None,
            }
        }
    }

    fn dict_or_set(&mut self) -> Option<Py> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Some(Py::Dict(Vec::new()));
        }
        let first = self.expr()?;
        self.ws();
        if self.peek() != Some(b':') {
            // A set: its items, as a list.
            let mut items = vec![first];
            if self.peek() == Some(b',') {
                self.i += 1;
                items.extend(self.items(b'}')?);
            } else if self.peek() == Some(b'}') {
                self.i += 1;
            } else {
                return None;
            }
            return Some(Py::List(items));
        }
        let mut kv = Vec::new();
        let mut key = first;
        loop {
            if !self.eat(":") {
                return None;
            }
            let v = self.expr()?;
            if matches!(key, Py::List(_) | Py::Dict(_)) {
                return None;
            }
            kv.push((key, v));
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        return Some(Py::Dict(kv));
                    }
                    key = self.expr()?;
                }
                b'}' => {
                    self.i += 1;
                    return Some(Py::Dict(kv));
                }
                _ => return None,
            }
        }
    }

    /// One or more adjacent string literals (Python concatenates them).
    fn strings(&mut self, bytes: bool) -> Option<String> {
        let mut out = self.string()?;
        loop {
            let save = self.i;
            self.ws();
            let b = matches!(self.peek(), Some(b'b' | b'B')) && matches!(self.s.get(self.i + 1), Some(b'\'' | b'"'));
            if b != bytes {
                self.i = save;
                return Some(out);
            }
            if b {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'\'' | b'"')) {
                self.i = save;
                return Some(out);
            }
            out.push_str(&self.string()?);
        }
    }

    fn string(&mut self) -> Option<String> {
        let q = self.peek()?;
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.i += 1;
            match c {
                c if c == q => break,
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'0' => out.push(0),
                        b'\\' | b'\'' | b'"' => out.push(e),
                        b'x' => {
                            let h = std::str::from_utf8(self.s.get(self.i..self.i + 2)?).ok()?;
                            let ch = char::from_u32(u32::from_str_radix(h, 16).ok()?)?;
                            out.extend_from_slice(ch.to_string().as_bytes());
                            self.i += 2;
                        }
                        b'u' => {
                            let h = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                            let ch = char::from_u32(u32::from_str_radix(h, 16).ok()?)?;
                            out.extend_from_slice(ch.to_string().as_bytes());
                            self.i += 4;
                        }
                        other => {
                            out.push(b'\\');
                            out.push(other);
                        }
                    }
                }
                c => out.push(c),
            }
        }
        String::from_utf8(out).ok()
    }

    fn number(&mut self) -> Option<Py> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_'))
            || (matches!(self.peek(), Some(b'+' | b'-'))
                && matches!(self.s[self.i - 1], b'e' | b'E')
                && !self.is_hex(start))
        {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        if text.contains("__") || text.ends_with('_') || text.starts_with('_') {
            return None;
        }
        let clean = text.replace('_', "");
        let lower = clean.to_ascii_lowercase();
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
            if let Some(d) = lower.strip_prefix(prefix) {
                return i64::from_str_radix(d, radix).ok().map(Py::Int);
            }
        }
        if lower.ends_with('j') {
            lower[..lower.len() - 1].parse::<f64>().ok()?;
            return Some(Py::Text(text.to_string()));
        }
        if lower.bytes().all(|c| c.is_ascii_digit()) {
            // Python 3 refuses leading zeros (`07`), except for zero itself.
            if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|c| c != b'0') {
                return None;
            }
            return lower.parse::<i64>().ok().map(Py::Int);
        }
        lower.parse::<f64>().ok().filter(|f| f.is_finite()).map(Py::Float)
    }

    fn is_hex(&self, start: usize) -> bool {
        self.s.get(start..start + 2).is_some_and(|p| p.eq_ignore_ascii_case(b"0x"))
    }
}

#[cfg(test)]
mod tests {
    use super::literal;

    fn show(src: &str) -> String {
        literal(src).map_or_else(|| format!("text:{src}"), |v| serde_json::to_string(&v).expect("json"))
    }

    // ansible-core 2.19's types for the same INI values (inventory_ini target, test_types.yml,
    // and a run with v1=true ... v9=07): what literal_eval keeps, else the text.
    #[test]
    fn ini_values_are_typed_as_python_literals() {
        assert_eq!(show("True"), "true");
        assert_eq!(show("true"), "text:true");
        assert_eq!(show("yes"), "text:yes");
        assert_eq!(show("0x10"), "16");
        assert_eq!(show("1_000"), "1000");
        assert_eq!(show("-3"), "-3");
        assert_eq!(show("1e3"), "1000.0");
        assert_eq!(show(".5"), "0.5");
        assert_eq!(show("07"), "text:07");
        assert_eq!(show("1j"), "text:1j");
        assert_eq!(show("..."), "text:...");
        assert_eq!(show("'single'"), r#""single""#);
        assert_eq!(show("b'single'"), r#""single""#);
        assert_eq!(show("(1, 2)"), "[1,2]");
        assert_eq!(show("{1, 2}"), "[1,2]");
        assert_eq!(show("set()"), "[]");
        assert_eq!(show("None"), "null");
        assert_eq!(show(r#"{"a": "b"}"#), r#"{"a":"b"}"#);
        assert_eq!(show("[..., 1j, set(), {1, 2}, b'x']"), r#"["...","1j",[],[1,2],"x"]"#);
        assert_eq!(show("host-01.internal"), "text:host-01.internal");
        assert_eq!(show("invalid"), "text:invalid");
        assert_eq!(show("1.2.3.4"), "text:1.2.3.4");
        assert_eq!(show(&"[".repeat(5000)), format!("text:{}", "[".repeat(5000)));
    }
}
