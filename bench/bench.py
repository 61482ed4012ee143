#!/usr/bin/env python3
"""prov against ansible-core, pyinfra and a floor, on the same loopback hosts, in one run.

Started by bench/run (which prepares the venv and builds prov). For each N it starts N
local SSH hosts (prov-lab: one private sshd per 127.0.1.K), generates the same 10-task job
for every tool, runs each tool `--runs` times as a pair (a first run from a clean state,
then the no-change run), and writes medians and ratios to bench/RESULTS.md. Then prov
alone on `--scale-hosts` hosts (sshd processes of 16 addresses each) with its recap
checked, and `prov graph` on a generated 10,000-host inventory. Everything started is
stopped by pid; traffic goes only to 127.0.0.0/8.
"""

import argparse
import re
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

TEMPLATE = "# {{ inventory_hostname }}\nname=demo\nport=8080\n"

PLAYBOOK = """- hosts: lab
  gather_facts: false
  tasks:
    - name: directory
      file: {path: "{{ host_root }}/app", state: directory, mode: "0755"}
    - name: motd
      copy: {content: "managed by the benchmark\\n", dest: "{{ host_root }}/app/motd"}
    - name: config
      template: {src: app.conf.j2, dest: "{{ host_root }}/app/app.conf"}
      notify: restart
    - name: users
      lineinfile: {path: "{{ host_root }}/app/users", line: "user=alice", create: true}
    - name: initialise once
      command: touch {{ host_root }}/app/initialised
      args: {creates: "{{ host_root }}/app/initialised"}
    - name: count lines
      shell: wc -l < {{ host_root }}/app/motd
      changed_when: false
    - name: stat config
      stat: {path: "{{ host_root }}/app/app.conf"}
      register: st
    - name: remember size
      set_fact: {conf_size: "{{ st.stat.size }}"}
    - name: no scratch dir
      file: {path: "{{ host_root }}/app/scratch", state: absent}
    - name: report
      debug: {msg: "config is {{ conf_size }} bytes"}
  handlers:
    - name: restart
      command: touch {{ host_root }}/app/restarted
"""

PYINFRA_DEPLOY = '''
from io import StringIO
from pyinfra import host
from pyinfra.operations import files, server
from pyinfra.facts.files import File

root = host.data.host_root
files.directory(name="directory", path=f"{root}/app", mode="755")
files.put(name="motd", src=StringIO("managed by the benchmark\\n"), dest=f"{root}/app/motd")
conf = files.template(name="config", src="app.conf.j2", dest=f"{root}/app/app.conf", inventory_hostname=host.name)
files.line(name="users", path=f"{root}/app/users", line="user=alice")
server.shell(name="initialise once", commands=[f"test -e {root}/app/initialised || touch {root}/app/initialised"])
server.shell(name="count lines", commands=[f"wc -l < {root}/app/motd"])
size = (host.get_fact(File, path=f"{root}/app/app.conf") or {}).get("size")
files.directory(name="no scratch dir", path=f"{root}/app/scratch", present=False)
server.shell(name="restart", commands=[f"touch {root}/app/restarted"], _if=conf.did_change)
'''

FLOOR_SCRIPT = """set -e
R="$1"
mkdir -p "$R/app"; chmod 755 "$R/app"
printf 'managed by the benchmark\\n' > "$R/app/motd.tmp" && mv "$R/app/motd.tmp" "$R/app/motd"
printf '# h\\nname=demo\\nport=8080\\n' > "$R/app/app.conf.tmp" && mv "$R/app/app.conf.tmp" "$R/app/app.conf"
grep -qx 'user=alice' "$R/app/users" 2>/dev/null || echo user=alice >> "$R/app/users"
[ -e "$R/app/initialised" ] || touch "$R/app/initialised"
wc -l < "$R/app/motd" >/dev/null
stat -c %s "$R/app/app.conf" >/dev/null
rm -rf "$R/app/scratch"
"""


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """Fields of /proc/PID/stat after the command name (state is [0], ppid [1], utime [11])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


class Lab:
    """N hosts from prov-lab; stopped by closing its stdin, then its sshd processes by pid."""

    def __init__(self, n, prov_lab, workdir, per_sshd=1):
        self.dir = Path(workdir) / f"lab{n}"
        self.proc = subprocess.Popen([str(prov_lab), str(n), str(self.dir), "--per-sshd", str(per_sshd)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        if "hosts up" not in first:
            self.proc.kill()
            raise SystemExit(f"prov-lab failed: {first}{self.proc.stderr.read()}")
        self.sshd_pids = []
        try:
            self.sshd_pids = [int(p) for p in (self.dir / "sshd.pids").read_text().split()]
            self.inventory = self.dir / "hosts.ini"
            self.known_hosts = self.dir / "known_hosts"
            self.hosts = []
            for line in self.inventory.read_text().splitlines()[1:]:
                f = dict(kv.split("=", 1) for kv in line.split()[1:])
                self.hosts.append((line.split()[0], f))
        except BaseException:
            self.stop()
            raise

    def reset(self):
        for _, f in self.hosts:
            shutil.rmtree(Path(f["host_root"]) / "app", ignore_errors=True)

    def target_cpu(self):
        """CPU seconds of the sshd processes and every session they have reaped (the target side)."""
        total = 0
        for pid in self.sshd_pids:
            f = proc_stat(pid)
            if f:
                total += sum(int(x) for x in f[11:15])
        return total / CLK_TCK

    def wait_sessions_gone(self, timeout=10.0):
        """Waits until no sshd of the lab has a session process left (so their CPU is counted)."""
        pids = set(self.sshd_pids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = False
            for e in os.scandir("/proc"):
                if e.name.isdigit():
                    f = proc_stat(e.name)
                    if f and int(f[1]) in pids:
                        busy = True
                        break
            if not busy:
                return
            time.sleep(0.05)

    def stop(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        for pid in self.sshd_pids:
            # prov-lab stops them; this is for when it could not.
            if proc_stat(pid) is not None:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass


# Runs a command in a fresh process, so CPU and peak RSS are that command's (and its children's) alone.
WRAP = ("import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:]).returncode\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print('BENCH', u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr)\n"
        "sys.exit(r)\n")


class Sample:
    def __init__(self, wall, cpu, rss, target_cpu, out):
        self.wall, self.cpu, self.rss, self.target_cpu, self.out = wall, cpu, rss, target_cpu, out


def measure(cmd, cwd, env=None, lab=None, job=None):
    """Runs cmd: wall s, controller CPU s (it and its children), peak RSS MiB, target CPU s, output."""
    t_cpu = lab.target_cpu() if lab else 0.0
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", WRAP, *map(str, cmd)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-2000:]}")
    rss, cpu = 0.0, 0.0
    for line in p.stderr.splitlines():
        if line.startswith("BENCH "):
            _, r, c = line.split()
            rss, cpu = int(r) / 1024.0, float(c)
    target = 0.0
    if lab:
        if job:
            stop_control_masters(job)
        lab.wait_sessions_gone()
        target = lab.target_cpu() - t_cpu
    return Sample(wall, cpu, rss, target, p.stdout)


RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def check_recap(out, lab, phase):
    """prov's recap must list every host, none failed or unreachable, the same changes on every
    host, and none in the no-change run. Returns the changed count per host."""
    rows = {m[1]: (int(m[2]), int(m[3]), int(m[4]), int(m[5])) for m in RECAP.finditer(out)}
    names = [h for h, _ in lab.hosts]
    missing = [h for h in names if h not in rows]
    bad = [h for h in names if h in rows and (rows[h][2] or rows[h][3])]
    changed = {rows[h][1] for h in names if h in rows}
    if missing or bad or len(changed) != 1 or (phase == "again" and changed != {0}) or (phase == "first" and changed == {0}):
        raise SystemExit(f"prov's recap is wrong ({phase}): {len(missing)} hosts missing, {len(bad)} failed or "
                         f"unreachable, changed counts {sorted(changed)}\n{out[-2000:]}")
    return changed.pop()


def write_job(work, lab, n):
    job = Path(work) / f"job{n}"
    (job / "templates").mkdir(parents=True, exist_ok=True)
    (job / "site.yml").write_text(PLAYBOOK)
    (job / "app.conf.j2").write_text(TEMPLATE)
    (job / "templates" / "app.conf.j2").write_text(TEMPLATE)
    shutil.copy(lab.inventory, job / "hosts.ini")
    # Ansible: forks = N, pipelining, ControlPersist, host keys checked against the lab's file.
    (job / "ansible.cfg").write_text(
        "[defaults]\nforks = %d\nhost_key_checking = True\nretry_files_enabled = False\n"
        "interpreter_python = /usr/bin/python3\n[ssh_connection]\npipelining = True\n"
        "ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=%s\n"
        "control_path_dir = %s\n" % (n, lab.known_hosts, job / "cp"))
    (job / "deploy.py").write_text(PYINFRA_DEPLOY)
    rows = []
    for name, f in lab.hosts:
        rows.append(f"    ({name!r}, {{'ssh_hostname': {f['ansible_host']!r}, 'ssh_port': {int(f['ansible_port'])}, "
                    f"'ssh_user': {f['ansible_user']!r}, 'ssh_key': {f['ansible_ssh_private_key_file']!r}, "
                    f"'ssh_known_hosts_file': {str(lab.known_hosts)!r}, 'host_root': {f['host_root']!r}}}),")
    (job / "inventory.py").write_text("lab = [\n" + "\n".join(rows) + "\n]\n")
    (job / "floor.sh").write_text(FLOOR_SCRIPT)
    return job


# The floor's OpenSSH options: the fastest key exchange both sides have (curve25519; the
# post-quantum default costs ~110 ms more CPU per handshake here), the lab's ed25519 keys only.
FLOOR_SSH = ("-q -T -o BatchMode=yes -o KexAlgorithms=curve25519-sha256 -o HostKeyAlgorithms=ssh-ed25519 "
             "-o IdentitiesOnly=yes -o ControlMaster=no")


def floor_cmd(lab, job):
    """One OpenSSH connection per host, all at once, running the same shell steps as one script."""
    script = job / "floor-all.sh"
    lines = ["#!/bin/sh", "pids="]
    for _, f in lab.hosts:
        lines.append(
            f"ssh {FLOOR_SSH} -o UserKnownHostsFile={lab.known_hosts} -i {f['ansible_ssh_private_key_file']} "
            f"-p {f['ansible_port']} {f['ansible_user']}@{f['ansible_host']} sh -s -- {f['host_root']} < {job}/floor.sh & pids=\"$pids $!\"")
    lines.append('for p in $pids; do wait $p || exit 1; done')
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return [str(script)]


def stop_control_masters(job):
    cp = job / "cp"
    if cp.exists():
        for sock in cp.iterdir():
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


def prov_cmd(prov, lab, n):
    return [prov, "apply", "site.yml", "-i", "hosts.ini", "--known-hosts", str(lab.known_hosts), "-f", str(max(n, 1))]


def summarize(samples):
    return {
        "wall": statistics.median(s.wall for s in samples),
        "cpu": statistics.median(s.cpu for s in samples),
        "rss": max(s.rss for s in samples),
        "target": statistics.median(s.target_cpu for s in samples),
        "runs": len(samples),
    }


def show(n, tool, phase, r):
    print(f"N={n:<4} {tool:<8} {phase:<5} {r['wall']:8.2f} s  {1000 * r['wall'] / (n * 10):7.1f} ms/task-host  "
          f"cpu {r['cpu']:6.2f} s  target cpu {r['target']:6.2f} s  rss {r['rss']:5.0f} MiB  ({r['runs']} runs)",
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", default="10,50,200")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--slow-runs", type=int, default=None,
                    help="runs for ansible at N >= 200 (default: --runs; each takes minutes there)")
    ap.add_argument("--tools", default="prov,prov-dag,pyinfra,ansible,floor",
                    help="prov runs Ansible's default strategy (linear); prov-dag the same job under prov's "
                         "dataflow strategy (ANSIBLE_STRATEGY=dag)")
    ap.add_argument("--prov", required=True)
    ap.add_argument("--prov-lab", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--scale-hosts", type=int, default=1000, help="hosts for prov's scale run (0: skip)")
    ap.add_argument("--graph-hosts", type=int, default=10000, help="hosts for the `prov graph` compile-time run (0: skip)")
    a = ap.parse_args()
    a.prov = str(Path(a.prov).resolve())
    a.prov_lab = str(Path(a.prov_lab).resolve())
    venv = Path(a.venv).resolve()
    tools = a.tools.split(",")
    env = dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ['PATH']}", ANSIBLE_NOCOLOR="1", NO_COLOR="1")
    results, scale, graph = {}, None, None
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="prov-bench-")
    try:
        for n in [int(x) for x in a.hosts.split(",")]:
            lab = Lab(n, a.prov_lab, work)
            try:
                job = write_job(work, lab, n)
                cmds = {
                    "prov": prov_cmd(a.prov, lab, n),
                    "prov-dag": ["env", "ANSIBLE_STRATEGY=dag", *prov_cmd(a.prov, lab, n)],
                    "ansible": [str(venv / "bin" / "ansible-playbook"), "-i", "hosts.ini", "site.yml"],
                    "pyinfra": [str(venv / "bin" / "pyinfra"), "-y", "--parallel", str(n), "inventory.py", "deploy.py"],
                    "floor": floor_cmd(lab, job),
                }
                for tool in tools:
                    runs = a.slow_runs if (tool == "ansible" and n >= 200 and a.slow_runs) else a.runs
                    samples = {"first": [], "again": []}
                    for _ in range(runs):
                        # From a clean state, with no leftover OpenSSH masters (they would skip handshakes).
                        lab.reset()
                        stop_control_masters(job)
                        for phase in ("first", "again"):
                            s = measure(cmds[tool], job, env, lab, job)
                            if tool.startswith("prov"):
                                check_recap(s.out, lab, phase)
                            samples[phase].append(s)
                    for phase in ("first", "again"):
                        results[(n, tool, phase)] = summarize(samples[phase])
                        show(n, tool, phase, results[(n, tool, phase)])
            finally:
                lab.stop()
        if a.scale_hosts:
            scale = scale_run(a.prov, a.prov_lab, work, a.scale_hosts, env)
        graph = graph_time(a.prov, work, a.graph_hosts, 50) if a.graph_hosts else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results(a.out, results, tools, a, scale, graph, time.monotonic() - started)


def scale_run(prov, prov_lab, work, n, env):
    """prov alone on n hosts (16 addresses per sshd): one first run and one no-change run, recap checked."""
    lab = Lab(n, prov_lab, work, per_sshd=16)
    try:
        job = write_job(work, lab, n)
        out = {}
        for phase in ("first", "again"):
            s = measure(prov_cmd(prov, lab, n), job, env, lab)
            changed = check_recap(s.out, lab, phase)
            out[phase] = (s, changed)
            print(f"N={n:<4} prov     {phase:<5} {s.wall:8.2f} s  cpu {s.cpu:6.2f} s  target cpu {s.target_cpu:6.2f} s  "
                  f"rss {s.rss:5.0f} MiB  recap ok: {n} hosts, changed={changed} each", flush=True)
        return n, len(lab.sshd_pids), out
    finally:
        lab.stop()


def graph_time(prov, work, hosts, tasks):
    """`prov graph` (parse, compile, bind; no connection) for hosts x tasks: median of 3."""
    d = Path(work) / "graph"
    d.mkdir(exist_ok=True)
    (d / "hosts.ini").write_text("[lab]\n" + "".join(f"h{i} host_root=/srv/h{i}\n" for i in range(hosts)))
    steps = "".join(f"    - name: t{i}\n      file: {{path: \"{{{{ host_root }}}}/d{i}\", state: directory}}\n" for i in range(tasks))
    (d / "site.yml").write_text("- hosts: lab\n  gather_facts: false\n  tasks:\n" + steps)
    walls = []
    for _ in range(3):
        s = measure([prov, "graph", "site.yml", "-i", "hosts.ini"], d)
        walls.append((s.wall, s.rss))
    wall, rss = sorted(walls)[1]
    print(f"prov graph {hosts} hosts x {tasks} tasks: {wall:.2f} s, rss {rss:.0f} MiB", flush=True)
    return hosts, tasks, wall, rss


def machine_facts():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ssh = subprocess.run(["ssh", "-V"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True).stderr.strip()
    return cpu, ssh.split(",")[0]


def write_results(path, results, tools, a, scale, graph, elapsed):
    load = os.getloadavg()
    cpu, ssh = machine_facts()
    slow = f"; ansible at N >= 200: {a.slow_runs} run(s)" if a.slow_runs and a.slow_runs != a.runs else ""
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu}), load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the "
        f"end; {ssh}; the whole run took {elapsed / 60:.0f} min. Medians of {a.runs} run(s){slow}. The same 10-task job "
        "(plus a handler) on N loopback hosts, one private sshd each (`SetEnv SHLVL=1`: root's ~/.bashrc here runs "
        "`pyenv init`, ~250 ms per command started through bash, which would swamp every tool). `first` starts from a "
        "clean state, `again` is the no-change run right after it. CPU is the controller process and its children; "
        "target CPU is what the sshd processes and their sessions used (handshakes, shells, the commands); peak RSS "
        "is the largest single controller process (ansible's forks are separate processes, so its whole tree uses "
        "more). The floor is OpenSSH (`KexAlgorithms=curve25519-sha256`, ed25519 keys): one connection per host "
        "running the same steps as one script, with no decisions. `prov` runs Ansible's default strategy (linear: "
        "every host finishes a task before any starts the next), `prov-dag` the same job under prov's dataflow "
        "strategy (`ANSIBLE_STRATEGY=dag`: hosts wait only for data they read).",
        "",
        "| N | tool | run | wall s | ms/task-host | CPU s | target CPU s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = {t: i for i, t in enumerate(["prov", "prov-dag", "floor", "pyinfra", "ansible"])}
    for (n, tool, phase), r in sorted(results.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9), kv[0][2] != "first")):
        lines.append(f"| {n} | {tool} | {phase} | {r['wall']:.2f} | {1000 * r['wall'] / (n * 10):.1f} | {r['cpu']:.2f} | "
                     f"{r['target']:.2f} | {r['rss']:.0f} |")
    lines += ["", "Ratios of wall times in this run (below 1: prov is faster; the factor in brackets):", "",
              "| N | run | prov/ansible | prov/pyinfra | prov/floor | prov-dag/prov |", "|---|---|---|---|---|---|"]
    for (n, tool, phase), r in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][2] != "first")):
        if tool != "prov":
            continue
        def ratio(other):
            o = results.get((n, other, phase))
            return f"{r['wall'] / o['wall']:.3f} ({o['wall'] / r['wall']:.1f}x)" if o else "-"
        dag = results.get((n, "prov-dag", phase))
        dag_ratio = f"{dag['wall'] / r['wall']:.3f}" if dag else "-"
        lines.append(f"| {n} | {phase} | {ratio('ansible')} | {ratio('pyinfra')} | {ratio('floor')} | {dag_ratio} |")
    if scale:
        n, servers, out = scale
        lines += ["", f"Scale: prov alone on {n} hosts ({servers} sshd processes of up to 16 addresses each), one run "
                      "each, recap checked (every host listed, none failed or unreachable, the same changes on each, none "
                      "in the no-change run):", "",
                  "| N | run | wall s | ms/task-host | CPU s | target CPU s | peak RSS MiB | changed per host |",
                  "|---|---|---|---|---|---|---|---|"]
        for phase in ("first", "again"):
            s, changed = out[phase]
            lines.append(f"| {n} | {phase} | {s.wall:.2f} | {1000 * s.wall / (n * 10):.1f} | {s.cpu:.2f} | "
                         f"{s.target_cpu:.2f} | {s.rss:.0f} | {changed} |")
    if graph:
        h, t, w, r = graph
        lines += ["", f"`prov graph` for {h} hosts x {t} tasks (parse, compile, bind; no connection): {w:.2f} s, "
                      f"peak RSS {r:.0f} MiB (median of 3)."]
    lines += ["", "Targets (issue 6):", ""] + targets(results, scale, graph)
    Path(path).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def targets(results, scale, graph):
    def get(n, tool, phase):
        return results.get((n, tool, phase))

    rows = []
    for phase in ("first", "again"):
        p, an, py, fl = (get(50, t, phase) for t in ("prov", "ansible", "pyinfra", "floor"))
        if not p:
            continue
        if an:
            f = an["wall"] / p["wall"]
            rows.append(f"- N=50 {phase}: prov {f:.1f}x faster than ansible-core (target >= 40x): {'met' if f >= 40 else 'NOT met'}")
        if py:
            f = py["wall"] / p["wall"]
            rows.append(f"- N=50 {phase}: prov {f:.1f}x faster than pyinfra (target >= 3x): {'met' if f >= 3 else 'NOT met'}")
        if fl:
            f = p["wall"] / fl["wall"]
            rows.append(f"- N=50 {phase}: prov at {f:.2f}x the floor's time (target <= 2x): {'met' if f <= 2 else 'NOT met'}")
    rss = [r["rss"] for (n, t, _), r in results.items() if n == 200 and t == "prov"]
    if rss:
        rows.append(f"- controller peak RSS at N=200: {max(rss):.0f} MiB (target <= 60 MiB): {'met' if max(rss) <= 60 else 'NOT met'}")
    if scale:
        rows.append(f"- {scale[0]} hosts in one run with a correct recap: met ({scale[2]['first'][0].wall:.1f} s first, "
                    f"{scale[2]['again'][0].wall:.1f} s no-change)")
    if graph:
        rows.append(f"- `prov graph` {graph[0]} hosts x {graph[1]} tasks in {graph[2]:.2f} s (target < 1 s): "
                    f"{'met' if graph[2] < 1 else 'NOT met'}")
    return rows


if __name__ == "__main__":
    sys.exit(main())
