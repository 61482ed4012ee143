//! The node image: a minimal Debian bookworm with sshd, built locally with `debootstrap`
//! from the machine's own apt mirror and imported into the Docker Engine.

use super::{api_error, is_not_found, PROVIDER};
use crate::ProviderError;
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The default image of docker VMs.
pub const NODE_IMAGE: &str = "prov-node:bookworm";

/// The Debian release the node image is made of.
pub const NODE_SUITE: &str = "bookworm";

/// Packages on top of debootstrap's `minbase` variant.
pub const NODE_PACKAGES: &str = "openssh-server,sudo,iproute2,ca-certificates,procps,iputils-ping,curl";

/// What a node container runs as PID 1: make the cgroup hierarchies its own and writable
/// (without `--privileged` Docker mounts them read-only, and a Docker Engine inside could
/// not start containers), then sshd in the foreground. Each read-only cgroup v1 hierarchy is
/// mounted afresh and the container's own subtree bound over the read-only mount, so nested
/// containers live below the VM's cgroup and share its limits. sshd makes a host key only
/// when none was uploaded before the first start.
pub const NODE_CMD: [&str; 3] = ["/bin/sh", "-c", NODE_INIT];

const NODE_INIT: &str = r#"grep ' - cgroup ' /proc/self/mountinfo > /run/prov-cgroups || true
while read -r _ _ _ root mp opts rest; do
  case "$opts" in ro|ro,*) ;; *) continue ;; esac
  sopts=${rest##* }; sopts=${sopts#rw,}
  dir=/run/prov-cgroup/${mp##*/}
  mkdir -p "$dir"
  { mount -t cgroup -o "$sopts" cgroup "$dir" && umount "$mp" && mount --bind "$dir$root" "$mp"; } || echo "prov: $mp stays read-only" >&2
done < /run/prov-cgroups
mkdir -p /run/sshd
[ -s /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
exec /usr/sbin/sshd -D -e"#;

/// sshd settings of the node image (`/etc/ssh/sshd_config.d/prov.conf`; the first value of
/// a keyword wins and Debian's `sshd_config` includes this directory first).
pub const SSHD_CONFIG: &str = "\
# written by prov: sshd of a prov docker VM
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
";

/// Image label that marks prov's node images.
pub const IMAGE_LABEL: &str = "prov-image";

static BUILD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether `image` exists in the engine.
pub async fn image_exists(docker: &Docker, image: &str) -> Result<bool, ProviderError> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(api_error(e)),
    }
}

/// Makes sure `image` exists: builds it when it is missing and `build` is set, else says
/// how to build it.
pub async fn ensure_node_image(docker: &Docker, image: &str, build: bool) -> Result<(), ProviderError> {
    if image_exists(docker, image).await? {
        return Ok(());
    }
    if !build {
        return Err(ProviderError::Invalid(format!(
            "node image {image} is missing; build it with `prov image build` \
             (debootstrap of Debian {NODE_SUITE}, a few minutes; needs root and debootstrap)"
        )));
    }
    // One build at a time in this process; whoever waited finds the image made.
    let _guard = BUILD_LOCK.lock().await;
    if image_exists(docker, image).await? {
        return Ok(());
    }
    build_node_image(docker, image).await
}

/// Builds the node image `image` from scratch (replacing an image of that name): runs
/// `debootstrap` into a temporary directory with the mirror of this machine's apt sources,
/// trims the result, sets up sshd and imports it. The temporary directory is removed.
pub async fn build_node_image(docker: &Docker, image: &str) -> Result<(), ProviderError> {
    let (repo, tag) = split_image(image);
    let mirror = apt_mirror()?;
    let tmp = tempfile::Builder::new()
        .prefix("prov-node-")
        .tempdir()
        .map_err(|e| invalid(format!("cannot make a temporary directory: {e}")))?;
    let rootfs = tmp.path().join("rootfs");
    let result = async {
        debootstrap(&rootfs, &mirror).await?;
        let r = rootfs.clone();
        tokio::task::spawn_blocking(move || prepare_rootfs(&r))
            .await
            .map_err(|e| invalid(format!("preparing the rootfs failed: {e}")))??;
        import(docker, &rootfs, &repo, &tag).await
    }
    .await;
    // debootstrap mounts /proc and /sys inside the target while it works; a failed run may
    // leave them, and removing the directory must not walk into them.
    unmount_below(tmp.path());
    let removed = tmp.close();
    result?;
    removed.map_err(|e| invalid(format!("cannot remove the build directory: {e}")))
}

fn invalid(message: String) -> ProviderError {
    ProviderError::Invalid(message)
}

/// `repo:tag` → (repo, tag); `latest` when there is no tag.
fn split_image(image: &str) -> (String, String) {
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[slash..].rfind(':') {
        Some(i) => (image[..slash + i].to_string(), image[slash + i + 1..].to_string()),
        None => (image.to_string(), "latest".to_string()),
    }
}

async fn debootstrap(rootfs: &Path, mirror: &str) -> Result<(), ProviderError> {
    let out = tokio::process::Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--include={NODE_PACKAGES}"))
        .arg(NODE_SUITE)
        .arg(rootfs)
        .arg(mirror)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                invalid("debootstrap is not installed: install it with `apt-get install -y debootstrap`".to_string())
            } else {
                invalid(format!("cannot run debootstrap: {e}"))
            }
        })?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    if let Ok(log) = std::fs::read_to_string(rootfs.join("debootstrap/debootstrap.log")) {
        text.push_str(&log);
    }
    Err(invalid(format!("debootstrap {NODE_SUITE} from {mirror} failed ({}):\n{}", out.status, tail(&text, 30))))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Host keys out, sshd settings in, apt lists and caches out.
fn prepare_rootfs(rootfs: &Path) -> Result<(), ProviderError> {
    let io = |what: &str, e: std::io::Error| invalid(format!("preparing the rootfs: {what}: {e}"));
    let ssh = rootfs.join("etc/ssh");
    for entry in std::fs::read_dir(&ssh).map_err(|e| io("read etc/ssh", e))? {
        let entry = entry.map_err(|e| io("read etc/ssh", e))?;
        if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
            std::fs::remove_file(entry.path()).map_err(|e| io("remove a host key", e))?;
        }
    }
    let conf_dir = ssh.join("sshd_config.d");
    std::fs::create_dir_all(&conf_dir).map_err(|e| io("mkdir sshd_config.d", e))?;
    std::fs::write(conf_dir.join("prov.conf"), SSHD_CONFIG).map_err(|e| io("write sshd_config.d/prov.conf", e))?;
    std::fs::create_dir_all(rootfs.join("run/sshd")).map_err(|e| io("mkdir run/sshd", e))?;
    for dir in ["var/lib/apt/lists", "var/cache/apt/archives", "var/cache/apt", "var/cache/debconf", "var/log"] {
        clear_dir(&rootfs.join(dir)).map_err(|e| io(dir, e))?;
    }
    // The emptied lists are no cache: dated 1970, so `apt: update_cache: true,
    // cache_valid_time: 3600` (which reads this directory's time, as ansible-core's apt does)
    // updates them on a VM made within the hour of the image.
    let lists = rootfs.join("var/lib/apt/lists");
    std::fs::File::open(&lists)
        .and_then(|d| d.set_modified(std::time::SystemTime::UNIX_EPOCH))
        .map_err(|e| io("date var/lib/apt/lists", e))?;
    Ok(())
}

/// Removes the files of `dir` (not its subdirectories, except apt's `partial`, which is
/// emptied).
fn clear_dir(dir: &Path) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        if kind.is_dir() {
            if name == "partial" {
                clear_dir(&entry.path())?;
            }
        } else if name != "lock" {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Streams `tar -C rootfs -c .` into the engine's import (`docker import`).
async fn import(docker: &Docker, rootfs: &Path, repo: &str, tag: &str) -> Result<(), ProviderError> {
    let mut child = tokio::process::Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-C"])
        .arg(rootfs)
        .args(["-cf", "-", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| invalid(format!("cannot run tar: {e}")))?;
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(invalid("tar has no output pipes".to_string()));
    };
    let errors = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let body = futures_util::stream::unfold(Some(stdout), |out| async move {
        let mut out = out?;
        let mut buf = vec![0u8; 1 << 18];
        match out.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(out)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let cmd = serde_json::to_string(&NODE_CMD).map_err(|e| invalid(e.to_string()))?;
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .changes(vec![format!("CMD {cmd}"), format!("LABEL {IMAGE_LABEL}=node"), "ENV LANG=C.UTF-8".to_string()])
        .build();
    let slow = docker.clone().with_timeout(Duration::from_secs(3600));
    let mut progress = slow.create_image(Some(options), Some(bollard::body_try_stream(body)), None);
    let mut failure = None;
    while let Some(item) = progress.next().await {
        if let Err(e) = item {
            failure = Some(e);
            break;
        }
    }
    let status = child.wait().await.map_err(|e| invalid(format!("tar failed: {e}")))?;
    let tar_errors = errors.await.unwrap_or_default();
    if let Some(e) = failure {
        return Err(ProviderError::Api {
            provider: PROVIDER,
            message: format!("importing {repo}:{tag} failed: {e} {}", tail(&tar_errors, 5)),
        });
    }
    if !status.success() {
        return Err(invalid(format!("tar of the rootfs failed ({status}): {}", tail(&tar_errors, 10))));
    }
    Ok(())
}

/// Unmounts whatever is mounted at or below `dir` (deepest first).
fn unmount_below(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let _ = std::process::Command::new("umount").arg("-l").arg(&p).status();
    }
}

/// The Debian mirror of this machine's apt sources: `PROV_DEBIAN_MIRROR` when set, else the
/// first `URIs:` of `/etc/apt/sources.list.d/*.sources` (a stanza for the release itself
/// before `-security`/`-updates` ones), else the first `deb URL` line of
/// `/etc/apt/sources.list`.
pub fn apt_mirror() -> Result<String, ProviderError> {
    if let Ok(m) = std::env::var("PROV_DEBIAN_MIRROR") {
        if !m.trim().is_empty() {
            return Ok(m.trim().to_string());
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir("/etc/apt/sources.list.d")
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sources"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for f in &files {
        if let Some(m) = std::fs::read_to_string(f).ok().and_then(|t| mirror_from_deb822(&t)) {
            return Ok(m);
        }
    }
    if let Some(m) = std::fs::read_to_string("/etc/apt/sources.list").ok().and_then(|t| mirror_from_one_line(&t)) {
        return Ok(m);
    }
    Err(invalid(
        "no Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; \
         set PROV_DEBIAN_MIRROR to one"
            .to_string(),
    ))
}

fn is_side_suite(suite: &str) -> bool {
    suite.contains("security") || suite.ends_with("-updates") || suite.ends_with("-backports")
}

/// The first URI of a deb822 sources file, preferring a stanza with a main suite.
fn mirror_from_deb822(text: &str) -> Option<String> {
    let mut first = None;
    for stanza in text.split("\n\n") {
        let mut uri = None;
        let mut suites = Vec::new();
        let mut enabled = true;
        let mut deb = true;
        for line in stanza.lines() {
            let line = line.trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "uris" => uri = value.split_whitespace().next().map(str::to_string),
                "suites" => suites = value.split_whitespace().map(str::to_string).collect(),
                "enabled" => enabled = value != "no",
                "types" => deb = value.split_whitespace().any(|t| t == "deb"),
                _ => {}
            }
        }
        let Some(uri) = uri.filter(|_| enabled && deb) else {
            continue;
        };
        if suites.iter().any(|s| !is_side_suite(s)) {
            return Some(uri);
        }
        first.get_or_insert(uri);
    }
    first
}

/// The first `deb URL` of a one-line sources file, preferring a main suite.
fn mirror_from_one_line(text: &str) -> Option<String> {
    let mut first = None;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut rest: Vec<&str> = words.collect();
        if rest.first().is_some_and(|w| w.starts_with('[')) {
            let end = rest.iter().position(|w| w.ends_with(']'))?;
            rest.drain(..=end);
        }
        let (Some(uri), suite) = (rest.first(), rest.get(1)) else {
            continue;
        };
        if suite.is_some_and(|s| !is_side_suite(s)) {
            return Some(uri.to_string());
        }
        first.get_or_insert(uri.to_string());
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The image's apt lists are emptied and dated 1970: on a VM made within the hour of the
    /// image, `apt: update_cache: true, cache_valid_time: 3600` found them "fresh" and
    /// installed nothing ("Package 'less' has no installation candidate"), which broke the
    /// reference job on a machine that had just built its image.
    #[test]
    fn the_image_s_emptied_apt_lists_count_as_stale() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        std::fs::create_dir_all(r.join("etc/ssh")).expect("etc/ssh");
        std::fs::write(r.join("etc/ssh/ssh_host_ed25519_key"), "k").expect("key");
        std::fs::create_dir_all(r.join("var/lib/apt/lists/partial")).expect("lists");
        std::fs::write(r.join("var/lib/apt/lists/deb_dists_bookworm_InRelease"), "x").expect("list");
        prepare_rootfs(r).expect("prepared");
        let lists = r.join("var/lib/apt/lists");
        let names: Vec<String> = std::fs::read_dir(&lists)
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["partial"]);
        let mtime = std::fs::metadata(&lists).and_then(|m| m.modified()).expect("mtime");
        assert_eq!(mtime, std::time::SystemTime::UNIX_EPOCH);
        assert!(!r.join("etc/ssh/ssh_host_ed25519_key").exists());
    }

    #[test]
    fn image_names() {
        assert_eq!(split_image("prov-node:bookworm"), ("prov-node".into(), "bookworm".into()));
        assert_eq!(split_image("localhost:5000/x"), ("localhost:5000/x".into(), "latest".into()));
        assert_eq!(split_image("a/b:c"), ("a/b".into(), "c".into()));
    }

    #[test]
    fn mirrors_from_sources() {
        let deb822 = "Types: deb\n# comment\nURIs: http://m.example/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://m.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n";
        assert_eq!(mirror_from_deb822(deb822).as_deref(), Some("http://m.example/debian"));
        assert_eq!(
            mirror_from_deb822("Types: deb\nURIs: http://s.example/x\nSuites: bookworm-security\n").as_deref(),
            Some("http://s.example/x")
        );
        assert_eq!(mirror_from_deb822("# nothing\n"), None);
        let one = "# x\ndeb-src http://a.example/d bookworm main\ndeb [arch=amd64 signed-by=/k] http://b.example/d bookworm main\n";
        assert_eq!(mirror_from_one_line(one).as_deref(), Some("http://b.example/d"));
    }

    #[test]
    fn this_machine_has_a_mirror() {
        // The build reads it at run time; a machine without apt sources cannot build.
        if std::path::Path::new("/etc/apt").exists() {
            let m = apt_mirror().expect("mirror");
            assert!(m.contains("://"), "{m}");
        }
    }
}
