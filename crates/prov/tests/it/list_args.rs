//! List arguments given as one comma-separated string, and floats and booleans given for text,
//! over SSH on a docker VM: the 25 tasks of `results/list_args.yml` register what ansible-core 2.19.14
//! registered for them on a fresh container (`results/list_args.json`): `"a, b"` is `a` and
//! ` b` (kept by find, unarchive and locale_gen; stripped by apt and user; find expands `~` and
//! `$HOME` in each part), `""` is one empty name, apt's `*`, Python's text of a float or a
//! boolean (`line: yes` writes `True`). Needs the Docker Engine (`scripts/docker-up`) and the
//! node image's apt sources.

use crate::site::Site;
use crate::util::assert_registered_as_recorded;
use serde_json::Value as Json;

const VM: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: the VM
      vm: {provider: docker, project: "{{ prov_project }}", subnet: "{{ prov_subnet }}", name: la1, group: la, state: started}

- hosts: la
  gather_facts: false
  tasks:
    - name: locales installed
      apt: {name: locales, install_recommends: false, update_cache: true, cache_valid_time: 3600}
"#;

/// What differs between two hosts and runs whatever the tool: times, the temporary source of
/// `copy`, the size of a directory (it depends on the file system), the stat fields of found
/// files (kept: their paths, sorted).
fn normalized(mut v: Json) -> Json {
    fn walk(v: &mut Json) {
        match v {
            Json::Object(m) => {
                for k in ["cache_update_time", "start", "end", "delta", "examined"] {
                    m.remove(k);
                }
                if m.get("state").and_then(Json::as_str) == Some("directory") {
                    m.remove("size");
                }
                if m.get("src").and_then(Json::as_str).is_some_and(|s| s.ends_with("/.source") || s.contains("/.prov"))
                {
                    m.remove("src");
                }
                if let Some(Json::Array(files)) = m.get_mut("files") {
                    let mut paths: Vec<Json> = files.iter().filter_map(|f| f.get("path").cloned()).collect();
                    paths.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                    *files = paths;
                }
                m.values_mut().for_each(walk);
            }
            Json::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[test]
fn list_arguments_given_as_one_string_are_read_as_ansible_core_reads_them() {
    let site = Site::with_files(
        "10.225",
        "list-args",
        &[("vm.yml", VM), ("cases.yml", include_str!("results/list_args.yml"))],
    );
    let (code, _, all) = site.apply_with_vars("vm.yml", &[]);
    assert_eq!(code, 0, "{all}");
    let dump = site.dir.path().join("registered.json");
    let out = format!("out={}", dump.display());
    let (code, _, all) = site.apply_with_vars("cases.yml", &["-e", "list_host=la1", "-e", &out]);
    assert_eq!(code, 0, "{all}");
    assert_registered_as_recorded(&dump, include_str!("results/list_args.json"), normalized);
}
