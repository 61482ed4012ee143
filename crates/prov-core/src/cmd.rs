//! The one way modules build the shell commands they send to targets.
//!
//! A command is assembled from three kinds of pieces, and only the first may carry shell syntax:
//! - literals written in the code (`&'static str`: program names, flags, fixed pipelines), so a
//!   value from a playbook can never become syntax;
//! - values, always quoted for `sh`, placed either as an option's argument (`-o VALUE`) or as
//!   operands after `--`, where no option parser reads them;
//! - checked words ([`Word`]) for the tools that take no `--` (`service NAME start`,
//!   `/etc/init.d/NAME`, `update-rc.d NAME`): a package, service, user or group name that is
//!   neither an option (`-rf`) nor a path (`../../x`), or a path operand that cannot start with
//!   `-` (`-delete` becomes `./-delete`).
//!
//! ```
//! use prov_core::cmd::{Cmd, Word, WordKind};
//! let pkgs = ["-oDir::Bin::dpkg=/x", "hello"];
//! let c = Cmd::new("apt-get").flag("install").flag("-y").operands(pkgs).build();
//! assert_eq!(c.as_str(), "apt-get install -y -- -oDir::Bin::dpkg=/x hello");
//! assert!(Word::new(WordKind::Service, "../../tmp/evil").is_err());
//! ```

use crate::connection::shell_quote;
use std::fmt;

/// A piece of shell text that is safe to send: made only of literals from the code and quoted
/// or checked values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sh(String);

impl Sh {
    /// Shell text written in prov's code. The `'static` bound keeps runtime values out.
    pub fn lit(s: &'static str) -> Sh {
        Sh(s.to_string())
    }

    /// One quoted value, as a word of its own (for `echo`, `printf '%s'`, test expressions).
    pub fn quoted(v: &str) -> Sh {
        Sh(shell_quote(v))
    }

    /// Shell text the playbook's author wrote to be run as shell text (the `shell` module's
    /// command). The one way runtime text becomes syntax, on purpose; nothing else may use it.
    ///
    /// ```
    /// use prov_core::cmd::{Cmd, Sh};
    /// let s = Cmd::new("cd").operand("/srv").build().suffix(" || exit 1\n").glued(Sh::authored("echo $HOME"));
    /// assert_eq!(s.as_str(), "cd -- /srv || exit 1\necho $HOME");
    /// ```
    pub fn authored(text: &str) -> Sh {
        Sh(text.to_string())
    }

    /// A pattern quoted so that only its glob characters (`*`, `?`, `[…]`) stay active, for
    /// `creates`/`removes` tests.
    ///
    /// ```
    /// use prov_core::cmd::Sh;
    /// assert_eq!(Sh::glob("/tmp/a b*").as_str(), "/tmp/a\\ b*");
    /// assert_eq!(Sh::glob("$(id)").as_str(), "\\$\\(id\\)");
    /// ```
    pub fn glob(pattern: &str) -> Sh {
        let mut out = String::new();
        for c in pattern.chars() {
            if c.is_ascii_alphanumeric() || "/._-*?[]+,=@%:".contains(c) {
                out.push(c);
            } else if c == '\n' {
                out.push_str("'\n'");
            } else {
                out.push('\\');
                out.push(c);
            }
        }
        if out.is_empty() {
            out.push_str("''");
        }
        Sh(out)
    }

    /// One value as a word in which the target's shell still expands `$VAR`, `${VAR}` and a
    /// leading `~` or `~user` (Ansible's `expand_argument_vars`), and nothing else: no command
    /// substitution, no backquotes, no splitting.
    ///
    /// ```
    /// use prov_core::cmd::Sh;
    /// assert_eq!(Sh::expanding("$HOME/x y").as_str(), "\"$HOME/x y\"");
    /// assert_eq!(Sh::expanding("~/a$(id)`id`").as_str(), "~/\"a\\$(id)\\`id\\`\"");
    /// assert_eq!(Sh::expanding("a b").as_str(), "'a b'");
    /// ```
    pub fn expanding(arg: &str) -> Sh {
        if !arg.contains('$') && !arg.starts_with('~') {
            return Sh::quoted(arg);
        }
        let mut out = String::new();
        let mut rest = arg;
        if let Some(t) = arg.strip_prefix('~') {
            let end = t.find('/').unwrap_or(t.len());
            let user = &t[..end];
            if user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                // The tilde-prefix ends at the first unquoted `/`: the slash stays bare.
                out.push('~');
                out.push_str(user);
                rest = &t[end..];
                if rest.is_empty() {
                    return Sh(out);
                }
                out.push('/');
                rest = &rest[1..];
            }
        }
        out.push('"');
        let mut it = rest.chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '$' => {
                    let next_ok = matches!(it.peek(), Some(n) if n.is_ascii_alphabetic() || *n == '_' || *n == '{');
                    if next_ok {
                        out.push('$');
                    } else {
                        out.push_str("\\$");
                    }
                }
                '"' | '\\' | '`' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        Sh(out)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self; next` (an empty side is left out).
    pub fn then(self, next: impl Into<Sh>) -> Sh {
        self.join("; ", next.into())
    }

    /// `self && next`.
    pub fn and(self, next: impl Into<Sh>) -> Sh {
        self.join(" && ", next.into())
    }

    /// `self | next`.
    pub fn pipe(self, next: impl Into<Sh>) -> Sh {
        self.join(" | ", next.into())
    }

    /// `self` followed by a literal suffix such as ` 2>/dev/null` or ` >/dev/null 2>&1`.
    pub fn suffix(mut self, s: &'static str) -> Sh {
        self.0.push_str(s);
        self
    }

    /// `self` followed by a space and `word` (a quoted value or another fragment).
    pub fn word(mut self, word: impl Into<Sh>) -> Sh {
        let w = word.into();
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(&w.0);
        self
    }

    /// `self` and `next` with nothing between (`/etc/init.d/` + a checked name).
    pub fn glued(mut self, next: impl Into<Sh>) -> Sh {
        self.0.push_str(&next.into().0);
        self
    }

    fn join(self, sep: &str, next: Sh) -> Sh {
        match (self.0.is_empty(), next.0.is_empty()) {
            (true, _) => next,
            (_, true) => self,
            _ => Sh(format!("{}{sep}{}", self.0, next.0)),
        }
    }
}

impl fmt::Display for Sh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Sh> for String {
    fn from(s: Sh) -> String {
        s.0
    }
}

impl From<Cmd> for Sh {
    fn from(c: Cmd) -> Sh {
        c.build()
    }
}

impl From<&Word> for Sh {
    fn from(w: &Word) -> Sh {
        Sh(shell_quote(&w.text))
    }
}

/// A word quoted as Python's `shlex.quote` quotes it: how Ansible shows a command it ran
/// (`cmd` of a failed result), so prov's results read the same. Not for building commands
/// (the [`Cmd`] builder quotes those).
pub fn shlex_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".to_string();
    }
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// One command line: a program, its options, then its operands after `--`.
#[derive(Debug, Clone)]
pub struct Cmd {
    words: Vec<String>,
    ended_options: bool,
}

impl Cmd {
    /// Starts a command with the program's name (or a fixed prefix such as
    /// `DEBIAN_FRONTEND=noninteractive apt-get`).
    pub fn new(program: &'static str) -> Cmd {
        Cmd { words: vec![program.to_string()], ended_options: false }
    }

    /// Starts a command whose program is a fragment (`/etc/init.d/` glued to a checked name).
    pub fn program(program: Sh) -> Cmd {
        Cmd { words: vec![program.0], ended_options: false }
    }

    /// A literal word: an option or a subcommand written in the code.
    pub fn flag(mut self, f: &'static str) -> Cmd {
        self.words.push(f.to_string());
        self
    }

    /// An option and its value as two words (`-o VALUE`). The value may start with `-`: the
    /// option consumes it whatever it is.
    pub fn opt(mut self, flag: &'static str, value: impl AsRef<str>) -> Cmd {
        self.words.push(flag.to_string());
        self.words.push(shell_quote(value.as_ref()));
        self
    }

    /// An option and its value as one word (`--format=VALUE`).
    pub fn opt_eq(mut self, flag: &'static str, value: impl AsRef<str>) -> Cmd {
        self.words.push(shell_quote(&format!("{flag}={}", value.as_ref())));
        self
    }

    /// A checked word (a name or a path operand) where the tool takes no `--`.
    pub fn word(mut self, w: &Word) -> Cmd {
        self.words.push(shell_quote(&w.text));
        self
    }

    /// An integer as one word (`insert -1`): digits and a sign, nothing a shell reads.
    pub fn num(mut self, n: i64) -> Cmd {
        self.words.push(n.to_string());
        self
    }

    /// Operands: `--` (once), then each value quoted. No option parser reads them.
    pub fn operands<I, S>(mut self, values: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if !self.ended_options {
            self.words.push("--".to_string());
            self.ended_options = true;
        }
        self.words.extend(values.into_iter().map(|v| shell_quote(v.as_ref())));
        self
    }

    /// One operand after `--`.
    pub fn operand(self, value: impl AsRef<str>) -> Cmd {
        self.operands([value])
    }

    /// The command line.
    pub fn build(self) -> Sh {
        Sh(self.words.join(" "))
    }
}

/// What a [`Word`] names; each kind has its own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordKind {
    /// A package (`nginx`, `nginx=1.22-1`, `libc6:amd64`, `python3-*`).
    Package,
    /// A service or systemd unit (`nginx`, `getty@tty1.service`); never a path.
    Service,
    /// A user or group name.
    Account,
    /// A container-engine object: node, service, network, image or container name or id.
    DockerObject,
    /// A host name or address (`db1`, `10.0.0.5`, `::1`) for tools such as `nc` that may read
    /// a word starting with `-` as an option (`-e` runs a program in some of them).
    ///
    /// ```
    /// use prov_core::cmd::{Sh, Word, WordKind};
    /// assert!(Word::new(WordKind::Host, "-e/bin/sh").is_err());
    /// assert!(Word::new(WordKind::Host, "db1 x").is_err());
    /// let h = Word::new(WordKind::Host, "::1").expect("an address");
    /// assert_eq!(Sh::lit("H=").glued(&h).as_str(), "H=::1");
    /// ```
    Host,
    /// An OpenPGP key id or fingerprint: hexadecimal digits only.
    KeyId,
    /// A path on the target. Never refused for its first character: a relative path that
    /// starts with `-` is written `./-x`.
    Path,
    /// A word of a tool's own rule grammar (`ufw allow from 10.0.0.0/8 to any port 80:90`):
    /// an address with its prefix length, a port, a list or range of ports, an interface.
    /// No white space, and never a leading `-`.
    Token,
    /// Free text a tool takes as one argument (a firewall rule's comment): white space
    /// allowed, control characters and a leading `-` are not.
    ///
    /// ```
    /// use prov_core::cmd::{Word, WordKind};
    /// assert!(Word::new(WordKind::Text, "Block syslog").is_ok());
    /// assert!(Word::new(WordKind::Text, "--rootdir=/tmp/x").is_err());
    /// assert!(Word::new(WordKind::Token, "10.0.0.0/8").is_ok());
    /// assert!(Word::new(WordKind::Token, "22 proto udp").is_err());
    /// ```
    Text,
}

impl WordKind {
    fn what(self) -> &'static str {
        match self {
            WordKind::Package => "package name",
            WordKind::Service => "service name",
            WordKind::Account => "user or group name",
            WordKind::DockerObject => "name or id",
            WordKind::Host => "host name or address",
            WordKind::KeyId => "key id",
            WordKind::Path => "path",
            WordKind::Token => "rule value",
            WordKind::Text => "text argument",
        }
    }
}

/// A value checked for its kind, safe as a command word without `--`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    text: String,
}

/// Why a value cannot be a [`Word`] of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {what}: {why}")]
pub struct WordError {
    /// The value as given.
    pub value: String,
    /// What it was meant to be.
    pub what: &'static str,
    /// The rule it breaks.
    pub why: &'static str,
}

impl Word {
    /// Checks `value` as a `kind`.
    pub fn new(kind: WordKind, value: &str) -> Result<Word, WordError> {
        let err = |why| WordError { value: value.to_string(), what: kind.what(), why };
        if value.is_empty() {
            return Err(err("it is empty"));
        }
        if value.contains('\0') {
            return Err(err("it contains a NUL byte"));
        }
        if kind == WordKind::Path {
            let text = if value.starts_with('-') { format!("./{value}") } else { value.to_string() };
            return Ok(Word { text });
        }
        if value.starts_with('-') {
            return Err(err("it starts with `-`, so a command would read it as an option"));
        }
        if value.chars().any(char::is_control) {
            return Err(err("it contains a control character"));
        }
        if kind != WordKind::Text && value.chars().any(char::is_whitespace) {
            return Err(err("it contains white space or a control character"));
        }
        match kind {
            WordKind::Service | WordKind::Account | WordKind::DockerObject | WordKind::Host if value.contains('/') => {
                return Err(err("it contains `/`, so it would name a path"))
            }
            WordKind::Service | WordKind::Account if value == "." || value == ".." => {
                return Err(err("it is `.` or `..`"))
            }
            WordKind::Account if value.contains(':') => return Err(err("it contains `:`")),
            WordKind::KeyId if !value.chars().all(|c| c.is_ascii_hexdigit()) => {
                return Err(err("a key id is hexadecimal digits"))
            }
            WordKind::Package if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) => {
                return Err(err("a package name starts with a letter or digit"))
            }
            WordKind::Package if value.contains('/') => {
                // apt takes `pkg/release`; keep the release part a plain word.
                let (_, rel) = value.split_once('/').unwrap_or((value, ""));
                if rel.is_empty() || rel.contains('/') || rel.starts_with('.') {
                    return Err(err("only `name/release` may contain `/`"));
                }
            }
            _ => {}
        }
        Ok(Word { text: value.to_string() })
    }

    /// The text as it goes on the command line (unquoted; [`Cmd`] quotes it).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_follow_a_double_dash_and_are_quoted() {
        let c = Cmd::new("apt-get").flag("install").operands(["-s", "a b", "$(id)"]).build();
        assert_eq!(c.as_str(), "apt-get install -- -s 'a b' '$(id)'");
        let c = Cmd::new("rm").flag("-rf").operand("x").operand("y").build();
        assert_eq!(c.as_str(), "rm -rf -- x y", "one `--` for all operands");
    }

    #[test]
    fn option_values_are_quoted_words() {
        let c = Cmd::new("apt-get").opt("-t", "bookworm; id").opt_eq("--format", "{{.Name}}").build();
        assert_eq!(c.as_str(), "apt-get -t 'bookworm; id' '--format={{.Name}}'");
    }

    #[test]
    fn names_that_are_options_or_paths_are_refused() {
        for (kind, bad) in [
            (WordKind::Service, "../../tmp/evil"),
            (WordKind::Service, "-rf"),
            (WordKind::Service, ".."),
            (WordKind::Service, "a b"),
            (WordKind::Package, "-oDir::Bin::dpkg=/x"),
            (WordKind::Package, "../x"),
            (WordKind::Account, "root:x"),
            (WordKind::Account, "-o"),
            (WordKind::DockerObject, "--format"),
            (WordKind::Package, ""),
            (WordKind::Service, "nginx\n"),
            (WordKind::KeyId, "0xABCD"),
            (WordKind::KeyId, "ABCD;id"),
        ] {
            assert!(Word::new(kind, bad).is_err(), "{kind:?} {bad:?} was accepted");
        }
        for (kind, good) in [
            (WordKind::Service, "getty@tty1.service"),
            (WordKind::Package, "nginx=1.22-1"),
            (WordKind::Package, "libc6:amd64"),
            (WordKind::Package, "nginx/bookworm-backports"),
            (WordKind::Account, "www-data"),
            (WordKind::DockerObject, "abc123"),
        ] {
            assert!(Word::new(kind, good).is_ok(), "{kind:?} {good:?} was refused");
        }
    }

    #[test]
    fn a_path_starting_with_a_dash_is_made_relative() {
        let w = Word::new(WordKind::Path, "-delete").expect("a path");
        assert_eq!(Cmd::new("find").word(&w).flag("-print").build().as_str(), "find ./-delete -print");
        let w = Word::new(WordKind::Path, "/srv/a b").expect("a path");
        assert_eq!(Sh::from(&w).as_str(), "'/srv/a b'");
    }

    #[test]
    fn fragments_join_without_empty_sides() {
        let s = Sh::default().then(Sh::lit("a")).then(Sh::default()).and(Sh::lit("b")).pipe(Sh::lit("c"));
        assert_eq!(s.as_str(), "a && b | c");
        assert_eq!(Sh::lit("x").suffix(" 2>/dev/null").word(Sh::quoted("it's")).as_str(), "x 2>/dev/null 'it'\\''s'");
    }

    /// What `sh` (and bash) make of an expanding word: `~` and `$VAR` as ansible-core's
    /// `expanduser(expandvars(word))`, the rest literal.
    #[test]
    fn an_expanding_word_expands_a_leading_tilde_and_variables_in_the_shell() {
        let home = "/home/pro v";
        for shell in ["sh", "bash"] {
            let run = |arg: &str| {
                let script = format!("printf %s {}", Sh::expanding(arg));
                let out = std::process::Command::new(shell)
                    .args(["-c", &script])
                    .env("HOME", home)
                    .env("V", "a b")
                    .output()
                    .expect("a shell");
                String::from_utf8(out.stdout).expect("text")
            };
            assert_eq!(run("~/x y"), "/home/pro v/x y", "{shell}");
            assert_eq!(run("~"), "/home/pro v", "{shell}");
            assert_eq!(run("~root/x"), "/root/x", "{shell}");
            assert_eq!(run("$V/~/$(id)`id`"), "a b/~/$(id)`id`", "{shell}");
            assert_eq!(run("${V}x$"), "a bx$", "{shell}");
            assert_eq!(run("~nosuchuser/x"), "~nosuchuser/x", "{shell}: no such user: literal");
        }
    }
}
