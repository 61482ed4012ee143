//! The engine end to end on the controller: compile a playbook, bind it to an inventory, run
//! it with local connections, and look at the events.

use prov_core::compile::{bind, compile_playbook, CompileOptions};
use prov_core::connection::Connection;
use prov_core::inventory::Inventory;
use prov_core::source::SourceMap;
use prov_core::template::Templar;
use prov_core::vars::VarMap;
use prov_exec::event::{Event, HostResult, Status};
use prov_exec::{Connector, HostPersist, Interrupt, PlayEnv, RunOptions};
use std::collections::HashMap;
use std::sync::Arc;

struct Local;

impl Connector for Local {
    fn connection(&self, host: &str, _vars: &VarMap) -> Result<Arc<dyn Connection>, String> {
        Ok(Arc::new(prov_ssh::LocalConnection::new(host)))
    }
}

/// Runs every play of `yaml` over hosts `a` and `b` and returns the events.
async fn run(yaml: &str, files: &[(&str, &str)]) -> Vec<Event> {
    run_with(yaml, files, prov_modules::registry()).await
}

/// Same, with a given module registry.
async fn run_with(yaml: &str, files: &[(&str, &str)], registry: prov_core::module::Registry) -> Vec<Event> {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    let pb_path = dir.path().join("site.yml");
    std::fs::write(&pb_path, yaml).expect("write playbook");
    let mut inv = Inventory::new();
    inv.add_to_group("g", "a");
    inv.add_to_group("g", "b");
    inv.set_group_var("all", "root", dir.path().display().to_string().into());
    let sources = SourceMap::new();
    let templar = Arc::new(Templar::new(vec![dir.path().to_path_buf()]));
    let opts = CompileOptions::default();
    let (pb, _) = match compile_playbook(&pb_path, &sources, &templar, &registry, &inv, &opts) {
        Ok(x) => x,
        Err(d) => panic!("compile: {:?}", d.0.iter().map(|d| &d.message).collect::<Vec<_>>()),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let run_opts = RunOptions {
        mode: Default::default(),
        forks: 10,
        extra_vars: Arc::default(),
        task_timeout: None,
        tags: Vec::new(),
        skip_tags: Vec::new(),
        limit: None,
    };
    let mut persist: HashMap<String, HostPersist> = HashMap::new();
    for (i, play) in pb.plays.iter().enumerate() {
        let bp = bind(play, &inv, None).expect("binds");
        let env = PlayEnv {
            templar: templar.clone(),
            registry: &registry,
            inventory: &inv,
            connector: Arc::new(Local),
            opts: &run_opts,
            events: &tx,
            interrupt: Interrupt::never(),
            playbook_dir: dir.path().to_path_buf(),
            sources: sources.clone(),
        };
        persist = prov_exec::run_play(&bp, i, &env, persist).await.persist;
    }
    drop(tx);
    let mut out = Vec::new();
    while let Some(e) = rx.recv().await {
        out.push(e);
    }
    out
}

fn results(events: &[Event]) -> Vec<&HostResult> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult(r) => Some(&**r),
            _ => None,
        })
        .collect()
}

fn position(events: &[Event], host: &str, task_name: &str) -> usize {
    results(events)
        .iter()
        .position(|r| r.host == host && r.name == task_name)
        .unwrap_or_else(|| panic!("no result for {host}/{task_name}"))
}

const SLOW_A: &str = r#"
- hosts: g
  gather_facts: false
  STRATEGY
  tasks:
    - name: slow
      command: sleep 3
      when: inventory_hostname == 'a'
    - { name: q1, debug: { msg: "1" } }
    - { name: q2, debug: { msg: "2" } }
    - { name: q3, debug: { msg: "3" } }
    - { name: q4, debug: { msg: "4" } }
    - { name: q5, debug: { msg: "5" } }
"#;

#[tokio::test]
async fn dag_strategy_hosts_do_not_wait_for_each_other() {
    let ev = run(&SLOW_A.replace("STRATEGY", "strategy: dag"), &[]).await;
    let slow_a = position(&ev, "a", "slow");
    for q in ["q1", "q2", "q3", "q4", "q5"] {
        assert!(position(&ev, "b", q) < slow_a, "b's {q} waited for a's slow task");
    }
}

#[tokio::test]
async fn linear_strategy_waits() {
    let ev = run(&SLOW_A.replace("STRATEGY", "strategy: linear"), &[]).await;
    let slow_a = position(&ev, "a", "slow");
    assert!(position(&ev, "b", "q1") > slow_a, "with strategy linear, b's q1 must wait");
}

/// A play that names no strategy runs as Ansible's default, linear: a host never runs ahead
/// (a task that depends on another host's side effect without reading hostvars is safe).
#[tokio::test]
async fn default_strategy_is_linear_as_in_ansible() {
    let ev = run(&SLOW_A.replace("STRATEGY", ""), &[]).await;
    let slow_a = position(&ev, "a", "slow");
    assert!(position(&ev, "b", "q1") > slow_a, "by default, b's q1 must wait for a's slow task");
}

#[tokio::test]
async fn hostvars_read_waits_only_for_the_writer() {
    let yaml = r#"
- hosts: g
  gather_facts: false
  strategy: dag
  tasks:
    - name: slow
      command: sleep 3
      when: inventory_hostname == 'a'
    - name: set x
      set_fact:
        x: "from {{ inventory_hostname }}"
    - name: early
      debug: { msg: early }
    - name: read
      debug:
        msg: "{{ hostvars['a'].x }}"
      when: inventory_hostname == 'b'
"#;
    let ev = run(yaml, &[]).await;
    assert!(position(&ev, "b", "early") < position(&ev, "a", "slow"), "b's early task waited");
    assert!(position(&ev, "b", "read") > position(&ev, "a", "set x"), "b read before a set x");
    let read = results(&ev).into_iter().find(|r| r.host == "b" && r.name == "read").expect("read ran");
    assert_eq!(read.status, Status::Ok);
    assert_eq!(read.msg.as_deref(), Some("from a"));
}

#[tokio::test]
async fn handlers_blocks_loops_register() {
    let yaml = r#"
- hosts: g
  gather_facts: false
  vars:
    items: [1, 2, 3]
  tasks:
    - name: loop
      set_fact:
        total: "{{ (total | default(0) | int) + item }}"
      loop: "{{ items }}"
    - name: check total
      assert:
        that: total | int == 6
    - name: block
      block:
        - name: boom
          fail:
            msg: expected
        - name: never
          debug: { msg: unreachable }
      rescue:
        - name: rescued
          set_fact:
            rescued: true
          changed_when: true
          notify: h
      always:
        - name: always
          debug: { msg: always }
    - name: registered
      debug: { msg: hi }
      register: r
    - name: use register
      assert:
        that: r.msg == 'hi'
  handlers:
    - name: h
      debug: { msg: handled }
"#;
    let ev = run(yaml, &[]).await;
    let rs = results(&ev);
    for host in ["a", "b"] {
        let names: Vec<&str> = rs.iter().filter(|r| r.host == host).map(|r| r.name.as_str()).collect();
        let detail: Vec<String> =
            rs.iter().filter(|r| r.host == host).map(|r| format!("{}={:?}:{:?}", r.name, r.status, r.msg)).collect();
        assert!(!names.contains(&"never"), "{detail:?}");
        for n in ["loop", "check total", "boom", "rescued", "always", "registered", "use register", "h"] {
            assert!(names.contains(&n), "{host} lacks {n}: {detail:?}");
        }
        assert_eq!(names.last(), Some(&"h"), "handler runs last");
        let failed: Vec<&&HostResult> = rs.iter().filter(|r| r.host == host && r.status == Status::Failed).collect();
        assert_eq!(failed.len(), 1, "only `boom` fails (rescued)");
    }
    let recap = ev.iter().any(|e| matches!(e, Event::PlayEnd { .. }));
    assert!(recap);
}

/// A module whose loop items all wait until every item has started: it only finishes when
/// the engine runs the items at once.
#[derive(Default)]
struct Rendezvous;

static ARRIVED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RendezvousArgs {
    of: usize,
}

#[async_trait::async_trait]
impl prov_core::module::Module for Rendezvous {
    const NAME: &'static str = "rendezvous";
    const RUNS_ON: prov_core::module::RunsOn = prov_core::module::RunsOn::Controller;
    const PARALLEL_ITEMS: bool = true;
    type Args = RendezvousArgs;
    type Plan = ();

    async fn plan(
        &self,
        args: &RendezvousArgs,
        _cx: &prov_core::module::ModuleCtx<'_>,
    ) -> Result<prov_core::module::Plan<()>, prov_core::module::ModuleError> {
        ARRIVED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let all_here = async {
            while ARRIVED.load(std::sync::atomic::Ordering::SeqCst) < args.of {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        };
        // Sequential items would wait here forever; give up (and fail) after a while.
        match tokio::time::timeout(std::time::Duration::from_secs(20), all_here).await {
            Ok(()) => Ok(prov_core::module::Plan::Ok(prov_core::module::Outcome::ok())),
            Err(_) => {
                Ok(prov_core::module::Plan::Ok(prov_core::module::Outcome::failed("items ran one after another")))
            }
        }
    }

    async fn apply(
        &self,
        _: &RendezvousArgs,
        _: (),
        _: &prov_core::module::ModuleCtx<'_>,
    ) -> Result<prov_core::module::Outcome, prov_core::module::ModuleError> {
        Ok(prov_core::module::Outcome::ok())
    }
}

#[tokio::test]
async fn loop_items_of_parallel_modules_run_at_once() {
    use prov_core::module::{DynModule, Erased};
    let registry = prov_core::module::Registry::new(vec![Box::new(Erased::new(Rendezvous)) as Box<dyn DynModule>]);
    let ev = run_with(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - name: meet\n      rendezvous: { of: 4 }\n      loop: [1, 2, 3, 4]\n",
        &[],
        registry,
    )
    .await;
    let items = results(&ev).into_iter().filter(|r| r.name == "meet").collect::<Vec<_>>();
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|r| r.status == Status::Ok), "{:?}", items.iter().map(|r| &r.msg).collect::<Vec<_>>());
}

/// `with_nested`, `with_subelements`, `with_first_found` and `with_fileglob` iterate what
/// ansible-core 2.19 iterates for the same playbook (its items, in its order).
#[tokio::test]
async fn with_lookup_loops_iterate_the_lookup_results() {
    let yaml = r#"
- hosts: a
  gather_facts: false
  vars:
    users: [{name: alice, groups: [a, b]}, {name: bob, groups: [c]}, {name: carl}]
  tasks:
    - name: nested
      debug: msg="{{ item }}"
      with_nested: [[1, 2], [x]]
      register: n
    - name: subelements
      debug: msg="{{ item.0.name }}-{{ item.1 }}-{{ item.0.groups is defined }}"
      with_subelements: ["{{ users }}", groups, {skip_missing: true}]
      register: s
    - name: first_found
      debug: msg="{{ item }}"
      with_first_found:
        - files: [redhat.yml, debian.yml]
          paths: [vars]
      register: f
    - name: fileglob
      debug: msg="{{ item }}"
      with_fileglob: ["conf.d/*.conf"]
      register: g
    - name: skip
      debug: msg="{{ item }}"
      with_first_found: [{files: [nope.yml], skip: true}]
"#;
    let files = [
        ("vars/debian.yml", "v: 1\n"),
        ("files/conf.d/a.conf", "a"),
        ("files/conf.d/b.conf", "b"),
        ("files/x.conf", "x"),
    ];
    let ev = run(yaml, &files).await;
    let rs = results(&ev);
    let detail: Vec<String> = rs.iter().map(|r| format!("{}={:?}:{:?}", r.name, r.status, r.msg)).collect();
    let msgs = |name: &str| -> Vec<String> {
        rs.iter().filter(|r| r.name == name).map(|r| r.msg.clone().unwrap_or_default()).collect()
    };
    assert_eq!(msgs("nested"), ["[1,\"x\"]", "[2,\"x\"]"], "{detail:?}");
    assert_eq!(msgs("subelements"), ["alice-a-False", "alice-b-False", "bob-c-False"], "{detail:?}");
    let root = rs.iter().find(|r| r.name == "first_found").and_then(|r| r.msg.clone()).unwrap_or_default();
    assert!(root.ends_with("/vars/debian.yml"), "{detail:?}");
    let mut globbed: Vec<String> =
        msgs("fileglob").iter().map(|m| m.rsplit('/').next().unwrap_or_default().to_string()).collect();
    globbed.sort();
    assert_eq!(globbed, ["a.conf", "b.conf"], "{detail:?}");
    assert!(rs.iter().all(|r| r.status != Status::Failed), "{detail:?}");
}
