//! Package managers.

pub mod apt;
pub mod apt_key;
pub mod apt_repository;
pub mod deb822_repository;
pub mod dnf;
pub mod npm;
pub mod package;
pub mod package_facts;
pub mod pacman;
pub mod pip;
pub mod rpm_key;
pub mod yum;
pub mod yum_repository;
pub mod zypper;
pub mod zypper_repository;

#[cfg(test)]
mod tests {
    use crate::testing::*;
    use prov_core::cmd::Sh;
    use prov_core::testutil::FakeConnection;
    use serde_json::json;

    /// The payloads of the security issue as package names for every package manager: each is
    /// refused before anything runs, or reaches each command only quoted, as an operand after
    /// `--` when it looks like an option. Nothing a payload would run reaches a shell.
    #[tokio::test]
    async fn hostile_package_names_are_refused_or_quoted_operands() {
        let marker = pwned_marker("packages");
        for v in hostile_values(&marker) {
            // Some managers strip the name first (as their ansible-core modules do): `v.trim()`.
            let cases: Vec<(&str, Result<Vec<String>, String>)> = vec![
                ("apt", calls::<super::apt::Apt>(json!({"name": v}), "command -v dpkg-query").await),
                ("dnf", calls::<super::dnf::Dnf>(json!({"name": v}), "").await),
                ("yum", calls::<super::yum::Yum>(json!({"name": v}), "").await),
                ("pip", calls::<super::pip::Pip>(json!({"name": v}), "").await),
                ("npm", calls::<super::npm::Npm>(json!({"name": v, "global": true}), "").await),
                ("zypper", calls::<super::zypper::Zypper>(json!({"name": v}), "").await),
                ("zypper absent", calls::<super::zypper::Zypper>(json!({"name": v, "state": "absent"}), "").await),
                ("pacman", calls::<super::pacman::Pacman>(json!({"name": v}), "").await),
            ];
            for (module, r) in cases {
                let Ok(calls) = r else { continue };
                // zypper reads a leading `-`, `~` or `+` as "remove" or "install" the rest (as
                // community.general.zypper passes it on): the rest is the name given.
                let rest = v.strip_prefix(['-', '~', '+']).filter(|_| module.starts_with("zypper")).unwrap_or(&v);
                // Each form the name may take in a command: quoted, or (zypper, pacman: through
                // util::argv, as ansible-core's run_command) with only `$VAR` and `~` live.
                let forms: Vec<String> = [Sh::quoted(&v), Sh::quoted(v.trim()), Sh::quoted(rest)]
                    .into_iter()
                    .chain(
                        [Sh::expanding(&v), Sh::expanding(rest)]
                            .into_iter()
                            .filter(|_| matches!(module, "zypper" | "zypper absent" | "pacman")),
                    )
                    .map(|s| s.to_string())
                    .collect();
                let form_in = |c: &str| forms.iter().find(|f| c.contains(f.as_str())).cloned();
                // Not refused: then the name was given to the manager (else nothing was tested).
                assert!(
                    calls.iter().any(|c| form_in(c).is_some()),
                    "{module}: {v:?} reached no command quoted: {calls:?}"
                );
                for c in calls.iter().filter(|c| c.contains(v.trim()) || form_in(c).is_some()) {
                    let Some(q) = form_in(c) else { panic!("{module}: {v:?} not quoted in: {c}") };
                    // The word as it reaches the command (zypper's without its prefix).
                    if q.trim_start_matches(['\'', '"']).starts_with('-') {
                        let at = c.find(q.as_str()).unwrap_or(0);
                        assert!(c[..at].contains(" -- "), "{module}: {v:?} could be read as an option in: {c}");
                    }
                }
            }
        }
        assert!(!std::path::Path::new(&marker).exists(), "a payload ran");
    }

    /// The commands a module sends for `args` (every command answered empty), or its refusal.
    async fn calls<M: prov_core::module::Module + Default>(
        args: serde_json::Value,
        probe: &str,
    ) -> Result<Vec<String>, String> {
        // Every tool is found; every other command prints nothing.
        let h = fake(FakeConnection::new().on("command -v -- ", 0, "/usr/bin/tool\n").on(probe, 0, ""));
        use prov_core::module::DynModule as _;
        match prov_core::module::Erased::new(M::default()).run(&j(args), &h.ctx()).await {
            Err(e) => Err(e.to_string()),
            Ok(_) => Ok(h.conn.calls()),
        }
    }
}
