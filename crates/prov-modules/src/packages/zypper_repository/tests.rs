use super::*;

const REPOS: &str = r#"<?xml version='1.0'?>
<stream>
<repo-list>
<repo alias="local" name="local" type="rpm-md" priority="99" enabled="1" autorefresh="0" gpgcheck="0" repo_gpgcheck="0" pkg_gpgcheck="0" raw_gpgcheck="0">
<url>file:/srv/rpmrepo</url>
</repo>
<repo alias="meta" name="Meta" type="rpm-md" priority="50" enabled="0" autorefresh="1" gpgcheck="1" metalink="https://m/x"/>
</repo-list>
</stream>
"#;

#[test]
fn repositories_are_read_from_zyppers_xml() {
    let r = parse_repos(REPOS).expect("XML");
    assert_eq!(r.len(), 2);
    assert_eq!((get(&r[0], "alias"), get(&r[0], "url"), get(&r[0], "priority")), ("local", "file:/srv/rpmrepo", "99"));
    assert_eq!(get(&r[1], "url"), "https://m/x", "a metalink when there is no url");
    assert_eq!(
        repos_repr(&[&r[0]]),
        "[{'alias': 'local', 'name': 'local', 'priority': '99', 'enabled': '1', 'autorefresh': '0', 'gpgcheck': '0', 'url': 'file:/srv/rpmrepo'}]"
    );
}

#[test]
fn only_the_values_given_are_compared_and_urls_without_their_final_slash() {
    let r = parse_repos(REPOS).expect("XML");
    let same_fn = |s: &str| s.to_string();
    let same: Option<&dyn Fn(&str) -> String> = Some(&same_fn);
    let want = RepoData {
        url: Some("file:/srv/rpmrepo/".into()),
        alias: Some("local".into()),
        name: None,
        priority: None,
        enabled: "1".into(),
        gpgcheck: "0".into(),
        autorefresh: "0".into(),
    };
    assert!(!differs(&r[0], &want, same));
    assert!(differs(&r[0], &RepoData { priority: Some(50), ..want.clone() }, same));
    assert!(!differs(&r[0], &RepoData { priority: Some(0), ..want.clone() }, same), "0 is not given");
    assert!(differs(&r[0], &RepoData { autorefresh: "1".into(), ..want.clone() }, same));
    assert!(differs(&r[0], &RepoData { name: Some("Local".into()), ..want.clone() }, same));
}

#[test]
fn a_repo_file_holds_one_repository() {
    let (s, items) = parse_repo_file("# c\n[x]\nName = X\nbaseurl: file:///a\n  /b\nenabled=1\n").expect("parsed");
    assert_eq!(s, "x");
    assert_eq!(
        items,
        [("name".into(), "X".into()), ("baseurl".into(), "file:///a\n/b".into()), ("enabled".into(), "1".into())]
    );
    assert_eq!(
        parse_repo_file("[a]\nbaseurl=x\n[b]\nbaseurl=y\n").unwrap_err(),
        "Invalid format, .repo file contains 2 repositories, expected 1"
    );
    assert_eq!(parse_repo_file("baseurl=x\n").unwrap_err(), "Invalid format, .repo file could not be parsed");
    let (s, items) =
        parse_repo_file("[DEFAULT]\nenabled=0\ngpgcheck=1\n[y]\n  baseurl=u\ngpgcheck=0\n").expect("parsed");
    assert_eq!(s, "y", "DEFAULT is no repository");
    assert_eq!(
        items,
        [("baseurl".into(), "u".into()), ("gpgcheck".into(), "0".into()), ("enabled".into(), "0".into())],
        "an indented first key is a key; DEFAULT's items come under the section's own"
    );
    assert!(parse_repo_file("[a]\nbaseurl=http://h/%(x)s\n").is_err());
}

#[test]
fn python_reprs_quote_as_python_does() {
    assert_eq!(py_repr("a'b"), "\"a'b\"");
    assert_eq!(py_repr("a'b\""), "'a\\'b\"'");
    assert_eq!(py_repr("a\\b"), "'a\\\\b'");
}
