//! The documentation's links: every relative link in `README.md` and `docs/` (the book) names
//! a file of the repository, and a heading of it for a `#anchor`; links and bare URLs that
//! leave the repository go to public documentation only. README's two commands are the ones
//! `.ci/run` runs.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Hosts a link may leave the repository for: public documentation.
const PUBLIC_DOCS: &[&str] = &[
    "docs.ansible.com",
    "docs.rs",
    "doc.rust-lang.org",
    "rust-lang.github.io",
    "cloud.google.com",
    "docs.aws.amazon.com",
    "docs.docker.com",
    "docs.github.com",
    "docs.gitlab.com",
    "developer.hashicorp.com",
    "prometheus.io",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository's root")
}

/// The Markdown files the check covers: README.md and everything under docs/ but the built book.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read a docs directory").flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "book") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut out = vec![root.join("README.md")];
    walk(&root.join("docs"), &mut out);
    out
}

/// A link found in a Markdown file: its target and line.
#[derive(Debug, PartialEq)]
struct Link {
    target: String,
    line: usize,
    /// Written as a link (`[text](target)`, `[ref]: target`, `<url>`), not a bare URL.
    explicit: bool,
}

/// The text of a line without its inline code spans.
fn without_code_spans(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'`' {
            let run = b[i..].iter().take_while(|&&c| c == b'`').count();
            let fence = &line[i..i + run];
            if let Some(end) = line[i + run..].find(fence) {
                i += run + end + run;
                out.push(' ');
                continue;
            }
            out.push_str(fence);
            i += run;
            continue;
        }
        let ch = line[i..].chars().next().expect("a char");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The links of a Markdown text, outside fenced code blocks and code spans.
fn links(text: &str) -> Vec<Link> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let trimmed = raw.trim_start();
        if let Some(f) = &fence {
            if trimmed.starts_with(f.as_str()) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(trimmed[..3].to_string());
            continue;
        }
        let text = without_code_spans(raw);
        // `[ref]: target`
        if let Some(rest) = text.trim_start().strip_prefix('[') {
            if let Some((_, target)) = rest.split_once("]: ") {
                let target = target.split_whitespace().next().unwrap_or("");
                out.push(Link { target: target.to_string(), line, explicit: true });
                continue;
            }
        }
        // `[text](target "title")`
        let mut rest = text.as_str();
        let mut spans = Vec::new();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            let target = target.trim_start_matches('<').trim_end_matches('>');
            out.push(Link { target: target.to_string(), line, explicit: true });
            spans.push(after[..end].to_string());
            rest = &after[end..];
        }
        // `<https://...>` and bare URLs.
        for scheme in ["http://", "https://"] {
            let mut from = 0;
            while let Some(i) = text[from..].find(scheme) {
                let start = from + i;
                let url: String =
                    text[start..].chars().take_while(|c| !c.is_whitespace() && !"<>)\"'`".contains(*c)).collect();
                from = start + url.len();
                if spans.iter().any(|s| s.contains(&url)) {
                    continue; // the target of a `[text](url)` link, already listed
                }
                let explicit = text[..start].ends_with('<');
                let url = url.trim_end_matches(['.', ',', ';', ':']).to_string();
                out.push(Link { target: url, line, explicit });
            }
        }
    }
    out
}

/// The anchors of a Markdown file's headings, as mdBook and GitHub make them (lower case,
/// spaces to `-`, other punctuation dropped; a repeated heading gets `-1`, `-2`, ...).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut fence = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if fence || !t.starts_with('#') {
            continue;
        }
        let title = t.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let title = without_code_spans_keep(title.trim());
        let id: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c),
                c if c.is_whitespace() => Some('-'),
                _ => None,
            })
            .collect();
        let mut unique = id.clone();
        let mut k = 1;
        while out.contains(&unique) {
            unique = format!("{id}-{k}");
            k += 1;
        }
        out.insert(unique);
    }
    out
}

/// A heading's text with the backticks of its code spans removed (their text stays).
fn without_code_spans_keep(title: &str) -> String {
    title.replace('`', "")
}

/// Where a relative link points: `dir/target`, without `.` and `..`; None when it climbs out
/// of the repository.
fn resolve(root: &Path, dir: &Path, target: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in dir.join(target).components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out.starts_with(root).then_some(out)
}

/// What is wrong with one link of `file`, if anything.
fn check(root: &Path, file: &Path, link: &Link) -> Option<String> {
    let t = link.target.as_str();
    if let Some(rest) = t.strip_prefix("https://").or_else(|| t.strip_prefix("http://")) {
        let host = rest.split(['/', '?', '#', ':']).next().unwrap_or("");
        if PUBLIC_DOCS.contains(&host) {
            return None;
        }
        // Prose may name an address prov itself serves or an example domain without linking.
        let example = host.starts_with("127.")
            || host.starts_with("10.")
            || host == "localhost"
            || host.ends_with("example.org")
            || host.ends_with("example.com");
        if !link.explicit && example {
            return None;
        }
        return Some(format!("{t}: a link that leaves the repository for something other than public docs"));
    }
    if t.is_empty() || t.contains("://") || t.starts_with("mailto:") || t.starts_with('/') {
        return Some(format!("`{t}`: not a relative link into the repository"));
    }
    let (path, anchor) = t.split_once('#').map_or((t, None), |(p, a)| (p, Some(a)));
    let target = if path.is_empty() {
        file.to_path_buf()
    } else {
        match resolve(root, file.parent().expect("a file's directory"), path) {
            Some(p) => p,
            None => return Some(format!("{t}: leaves the repository")),
        }
    };
    if !target.exists() {
        return Some(format!("{t}: no such file in the repository"));
    }
    if let Some(anchor) = anchor {
        if target.extension().is_some_and(|x| x == "md") {
            let text = std::fs::read_to_string(&target).expect("read a linked file");
            if !anchors(&text).contains(anchor) {
                return Some(format!("{t}: {} has no heading with the anchor #{anchor}", target.display()));
            }
        }
    }
    None
}

#[test]
fn every_link_of_the_docs_resolves_in_the_repository() {
    let root = repo_root();
    let mut bad = Vec::new();
    let mut checked = 0;
    for file in markdown_files(&root) {
        let text = std::fs::read_to_string(&file).expect("read a Markdown file");
        for link in links(&text) {
            checked += 1;
            if let Some(why) = check(&root, &file, &link) {
                bad.push(format!("{}:{}: {why}", file.strip_prefix(&root).unwrap_or(&file).display(), link.line));
            }
        }
    }
    assert!(checked > 50, "only {checked} links found: is the scanner broken?");
    assert!(bad.is_empty(), "broken links:\n{}", bad.join("\n"));
}

#[test]
fn links_are_found_outside_code_only() {
    let text =
        "see [a](a.md) and `[b](b.md)`\n```\n[c](c.md)\n```\n[d]: d.md#x\n<https://docs.rs/x> https://evil.test/y.\n";
    let got: Vec<(String, bool)> = links(text).into_iter().map(|l| (l.target, l.explicit)).collect();
    assert_eq!(
        got,
        [
            ("a.md".to_string(), true),
            ("d.md#x".to_string(), true),
            ("https://docs.rs/x".to_string(), true),
            ("https://evil.test/y".to_string(), false)
        ]
    );
}

#[test]
fn a_link_to_a_missing_file_a_missing_heading_or_outside_is_reported() {
    let root = repo_root();
    let readme = root.join("README.md");
    let link = |t: &str| Link { target: t.into(), line: 1, explicit: true };
    assert_eq!(check(&root, &readme, &link("docs/src/SUMMARY.md")), None);
    assert!(check(&root, &readme, &link("docs/src/no-such-chapter.md")).is_some());
    assert!(check(&root, &readme, &link("../shared/STYLE.md")).is_some());
    assert!(check(&root, &readme, &link("docs/src/cli.md#no-such-heading")).is_some());
    assert_eq!(check(&root, &readme, &link("docs/src/cli.md#run-lock")), None);
    assert!(check(&root, &readme, &link("https://example.com/")).is_some());
    assert_eq!(check(&root, &readme, &link("https://docs.ansible.com/")), None);
}

#[test]
fn anchors_are_made_as_mdbook_makes_them() {
    let a = anchors("# Inventory without `-i`\n## Run lock\n## Run lock\n```\n# not a heading\n```\n");
    let want: BTreeSet<String> =
        ["inventory-without--i", "run-lock", "run-lock-1"].iter().map(|s| s.to_string()).collect();
    assert_eq!(a, want);
}

/// `.ci/run` runs "the README's test command" and the reference job: both must stay in
/// README's "The two commands", and `.ci/run` must run both.
#[test]
fn readme_two_commands_are_what_ci_runs() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let section = readme.split("## The two commands").nth(1).expect("README has `## The two commands`");
    let section = section.split("\n## ").next().unwrap_or(section);
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    for cmd in ["scripts/reference-job", "cargo test --workspace"] {
        assert!(section.lines().any(|l| l.trim() == cmd), "README's two commands lack `{cmd}` on a line of its own");
        assert!(ci.lines().any(|l| l.trim() == cmd), ".ci/run does not run `{cmd}`");
    }
}

/// `prov ARGS --help`, as text.
fn help(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prov"))
        .args(args)
        .arg("--help")
        .output()
        .expect("the prov binary runs");
    assert!(out.status.success(), "prov {args:?} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first words of the lines of a `--help` section (`Commands:`, `Options:`, ...).
fn section_words(help: &str, section: &str) -> Vec<String> {
    let Some(rest) = help.split(&format!("\n{section}:\n")).nth(1) else { return Vec::new() };
    rest.lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

/// The book's command-line chapter names every subcommand and every long option the CLI
/// definition has (`prov COMMAND --help`).
#[test]
fn cli_chapter_names_every_subcommand_and_flag() {
    let chapter = std::fs::read_to_string(repo_root().join("docs/src/cli.md")).expect("docs/src/cli.md");
    let mut missing = Vec::new();
    let mut commands: Vec<Vec<String>> = Vec::new();
    for c in section_words(&help(&[]), "Commands") {
        if c == "help" {
            continue;
        }
        let sub = section_words(&help(&[&c]), "Commands");
        if sub.is_empty() {
            commands.push(vec![c]);
        } else {
            commands.extend(sub.into_iter().filter(|s| s != "help").map(|s| vec![c.clone(), s]));
        }
    }
    assert!(commands.len() >= 10, "subcommands found: {commands:?}");
    for cmd in &commands {
        let name = format!("prov {}", cmd.join(" "));
        if !chapter.contains(&name) {
            missing.push(name.clone());
        }
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let text = help(&args);
        for line in text.split("\nOptions:\n").nth(1).unwrap_or("").lines() {
            for word in line.split([' ', ',']) {
                let flag = word.split(['<', '=', ']']).next().unwrap_or("");
                if flag.starts_with("--") && flag.len() > 2 && flag != "--help" && !chapter.contains(flag) {
                    missing.push(format!("{name} {flag}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "docs/src/cli.md does not mention: {missing:?}");
}
