//! `docs/src/modules/` (the book's module pages) is generated from each module's `//!` header
//! (its user reference), and so are the module entries of the book's table of contents,
//! `docs/src/SUMMARY.md`. This test fails when a page or an entry is missing or stale, or a
//! page names no module; `PROV_UPDATE_DOCS=1 cargo test -p prov-modules --test docs` rewrites
//! them.

use std::path::{Path, PathBuf};

fn find_source(dir: &Path, file: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_source(&p, file) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == file) {
            return Some(p);
        }
    }
    None
}

/// The `//!` lines at the top of a file, as Markdown.
fn header(src: &str) -> String {
    let mut out = String::new();
    for line in src.lines() {
        let Some(rest) = line.strip_prefix("//!") else { break };
        out.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        out.push('\n');
    }
    out.replace("[`super`]", "the deploy modules' overview")
}

/// The line of `SUMMARY.md` under which the module pages are listed, and their indent.
const SUMMARY_MODULES: &str = "- [Modules](modules/README.md)";
const SUMMARY_INDENT: &str = "    ";

/// `summary` with the lines after [`SUMMARY_MODULES`] that are indented entries replaced by
/// `entries`.
fn with_module_entries(summary: &str, entries: &str) -> String {
    let mut out = String::new();
    let mut lines = summary.lines().peekable();
    let mut found = false;
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        if line == SUMMARY_MODULES {
            found = true;
            while lines.peek().is_some_and(|l| l.starts_with(SUMMARY_INDENT)) {
                lines.next();
            }
            out.push_str(entries);
        }
    }
    assert!(found, "docs/src/SUMMARY.md has no line `{SUMMARY_MODULES}`");
    out
}

#[test]
fn summary_entries_replace_only_the_module_list() {
    let before = "# Summary\n- [Modules](modules/README.md)\n    - [old](modules/old.md)\n- [Next](next.md)\n";
    let after = with_module_entries(before, "    - [apt](modules/apt.md)\n");
    assert_eq!(after, "# Summary\n- [Modules](modules/README.md)\n    - [apt](modules/apt.md)\n- [Next](next.md)\n");
}

#[test]
fn module_docs_are_generated_from_the_sources() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = crate_dir.join("../../docs/src/modules");
    let update = std::env::var_os("PROV_UPDATE_DOCS").is_some();
    let mut names: Vec<&str> = prov_modules::registry().names().collect();
    names.sort_unstable();
    let mut index = String::from(
        "# Modules\n\nGenerated from each module's source header by \
         `PROV_UPDATE_DOCS=1 cargo test -p prov-modules --test docs`; do not edit by hand.\n\n",
    );
    let mut stale = Vec::new();
    let mut entries = String::new();
    for &name in &names {
        let src = find_source(&crate_dir.join("src"), &format!("{name}.rs")).expect("every module has its own file");
        let text = std::fs::read_to_string(&src).expect("read the module source");
        let doc = header(&text);
        assert!(!doc.trim().is_empty(), "{} has no //! header", src.display());
        // The first sentence of the first paragraph, after `name`:.
        let para: Vec<&str> = doc.lines().take_while(|l| !l.trim().is_empty()).collect();
        let para = para.join(" ");
        let para = para.split_once(": ").map_or(para.as_str(), |x| x.1);
        let summary = para.find(". ").map_or(para, |i| &para[..=i]);
        index.push_str(&format!("- [{name}]({name}.md): {summary}\n"));
        entries.push_str(&format!("{SUMMARY_INDENT}- [{name}](modules/{name}.md)\n"));
        let page = format!("# {name}\n\n{doc}");
        let path = docs.join(format!("{name}.md"));
        if std::fs::read_to_string(&path).ok().as_deref() != Some(page.as_str()) {
            stale.push(path.display().to_string());
            if update {
                std::fs::create_dir_all(&docs).expect("mkdir docs/src/modules");
                std::fs::write(&path, &page).expect("write the page");
            }
        }
    }
    let path = docs.join("README.md");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(index.as_str()) {
        stale.push(path.display().to_string());
        if update {
            std::fs::write(&path, &index).expect("write the index");
        }
    }
    // Pages of modules that no longer exist (renamed or removed).
    for e in std::fs::read_dir(&docs).expect("read docs/src/modules").flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = file.strip_suffix(".md") else { continue };
        if stem != "README" && !names.contains(&stem) {
            stale.push(e.path().display().to_string());
            if update {
                std::fs::remove_file(e.path()).expect("remove the page of a module that is gone");
            }
        }
    }
    let summary_path = docs.join("../SUMMARY.md");
    let summary = std::fs::read_to_string(&summary_path).expect("read docs/src/SUMMARY.md");
    let fresh = with_module_entries(&summary, &entries);
    if fresh != summary {
        stale.push(summary_path.display().to_string());
        if update {
            std::fs::write(&summary_path, &fresh).expect("write docs/src/SUMMARY.md");
        }
    }
    assert!(
        update || stale.is_empty(),
        "stale module docs (run `PROV_UPDATE_DOCS=1 cargo test -p prov-modules --test docs`): {stale:?}"
    );
}
