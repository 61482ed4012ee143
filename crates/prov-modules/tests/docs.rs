//! `docs/modules/` is generated from each module's `//!` header (its user reference). This
//! test fails when a page is missing or stale; `PROV_UPDATE_DOCS=1 cargo test -p prov-modules
//! --test docs` rewrites them.

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

#[test]
fn module_docs_are_generated_from_the_sources() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = crate_dir.join("../../docs/modules");
    let update = std::env::var_os("PROV_UPDATE_DOCS").is_some();
    let mut names: Vec<&str> = prov_modules::registry().names().collect();
    names.sort_unstable();
    let mut index = String::from(
        "# Modules\n\nGenerated from each module's source header by \
         `PROV_UPDATE_DOCS=1 cargo test -p prov-modules --test docs`; do not edit by hand.\n\n",
    );
    let mut stale = Vec::new();
    for name in names {
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
        let page = format!("# {name}\n\n{doc}");
        let path = docs.join(format!("{name}.md"));
        if std::fs::read_to_string(&path).ok().as_deref() != Some(page.as_str()) {
            stale.push(path.display().to_string());
            if update {
                std::fs::create_dir_all(&docs).expect("mkdir docs/modules");
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
    assert!(
        update || stale.is_empty(),
        "stale module docs (run `PROV_UPDATE_DOCS=1 cargo test -p prov-modules --test docs`): {stale:?}"
    );
}
