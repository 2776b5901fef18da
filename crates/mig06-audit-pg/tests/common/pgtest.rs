//! A PostgreSQL server for tests: `MIG06_TEST_DATABASE_URL` when it is set (a role that may
//! create databases and roles), otherwise a throwaway cluster started with the server's own
//! `initdb` and `pg_ctl` in a temporary directory. Each test gets a database of its own.
//!
//! The throwaway cluster is stopped and removed by a small watchdog shell process once the test
//! process exits (however it exits), since a static is never dropped.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mig06_rail::config::PostgresAudit;

/// The environment variable naming an existing server for the tests.
pub const URL_ENV: &str = "MIG06_TEST_DATABASE_URL";

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The admin connection string of the test server.
///
/// # Panics
/// When no server can be had: the message says why (no `initdb` on the machine, …).
pub fn admin_url() -> String {
    match SERVER.get_or_init(|| match std::env::var(URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Ok(url),
        _ => start_cluster(),
    }) {
        Ok(url) => url.clone(),
        Err(why) => panic!(
            "no PostgreSQL for the tests: set {URL_ENV} to a server's URL, or install the PostgreSQL server package (initdb, pg_ctl): {why}"
        ),
    }
}

/// Settings for a URL, with a short connect timeout.
pub fn settings(url: &str) -> PostgresAudit {
    PostgresAudit::new(url.to_owned(), Duration::from_secs(3))
}

/// A fresh, empty database on the test server; returns its connection string.
pub fn fresh_database() -> String {
    let admin = admin_url();
    let name = format!(
        "mig06_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("connect admin");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    with_dbname(&admin, &name)
}

/// The connection string `url` with another database name (and optionally another user).
pub fn with_dbname(url: &str, dbname: &str) -> String {
    let mut cfg: postgres::Config = url.parse().expect("test URL");
    cfg.dbname(dbname);
    to_kv(&cfg)
}

/// The connection string `url` as user `user` (trust auth, or the password in the URL).
pub fn with_user(url: &str, user: &str) -> String {
    let mut cfg: postgres::Config = url.parse().expect("test URL");
    cfg.user(user);
    to_kv(&cfg)
}

fn to_kv(cfg: &postgres::Config) -> String {
    let mut parts = Vec::new();
    for h in cfg.get_hosts() {
        match h {
            postgres::config::Host::Tcp(name) => parts.push(format!("host={name}")),
            postgres::config::Host::Unix(p) => parts.push(format!("host={}", p.display())),
        }
    }
    if let Some(port) = cfg.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(u) = cfg.get_user() {
        parts.push(format!("user={u}"));
    }
    if let Some(p) = cfg.get_password() {
        parts.push(format!("password={}", String::from_utf8_lossy(p)));
    }
    if let Some(d) = cfg.get_dbname() {
        parts.push(format!("dbname={d}"));
    }
    parts.join(" ")
}

fn find_bin(name: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    if let Ok(dirs) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = dirs.flatten().map(|d| d.path()).collect();
        versions.sort();
        versions.reverse();
        candidates.extend(versions.into_iter().map(|v| v.join("bin").join(name)));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a server program, as the `postgres` user when we are root (the server refuses root).
fn server_cmd(bin: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn start_cluster() -> Result<String, String> {
    // The shared cluster lives as long as the process: the watchdog removes it.
    start_cluster_in().map(|c| {
        let url = c.url.clone();
        std::mem::forget(c);
        url
    })
}

/// A throwaway cluster started for one test: its own directory, port and server processes, so
/// a test may stop and resume them (SIGSTOP / SIGCONT) without touching any other server.
pub struct Cluster {
    /// The admin connection string (`dbname=postgres`).
    pub url: String,
    data: PathBuf,
    dir: PathBuf,
    pg_ctl: PathBuf,
    root: bool,
}

/// Starts a throwaway cluster of this test's own (never `MIG06_TEST_DATABASE_URL`'s server:
/// its processes are the ones [`Cluster::stop`] stops).
///
/// # Panics
/// When no cluster can be started (no `initdb` on the machine, …).
pub fn own_cluster() -> Cluster {
    start_cluster_in().unwrap_or_else(|why| {
        panic!(
            "this test needs a PostgreSQL cluster of its own (initdb, pg_ctl), to stop and resume its processes: {why}"
        )
    })
}

impl Cluster {
    /// The postmaster's pid, from the first line of its data directory's `postmaster.pid`.
    pub fn postmaster_pid(&self) -> u32 {
        let text =
            std::fs::read_to_string(self.data.join("postmaster.pid")).expect("postmaster.pid");
        text.lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("a pid in postmaster.pid")
    }

    /// The postmaster and every process it started (its backends, checkpointer, WAL writer, …),
    /// from `/proc`: the processes whose parent is the postmaster.
    pub fn processes(&self) -> Vec<u32> {
        let postmaster = self.postmaster_pid();
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid …`: the command may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        pids
    }

    fn signal(&self, signal: &str, pids: &[u32]) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status()
            .expect("kill");
        // A process that ended meanwhile (a backend whose client left) is not an error.
        let _ = status;
    }

    /// Stops every process of the cluster (SIGSTOP): the postmaster first, so that it starts no
    /// new backend, then its children. Their kernel keeps the sockets: connections stay up,
    /// the TCP handshake of a new one completes from the listen backlog, and nothing answers.
    pub fn stop(&self) {
        let postmaster = self.postmaster_pid();
        self.signal("STOP", &[postmaster]);
        let children: Vec<u32> = self
            .processes()
            .into_iter()
            .filter(|p| *p != postmaster)
            .collect();
        if !children.is_empty() {
            self.signal("STOP", &children);
        }
    }

    /// Resumes every process of the cluster (SIGCONT).
    pub fn resume(&self) {
        let pids = self.processes();
        self.signal("CONT", &pids);
    }

    /// A fresh, empty database on this cluster; returns its connection string.
    pub fn fresh_database(&self) -> String {
        let name = format!("mig06_t_{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut client =
            postgres::Client::connect(&self.url, postgres::NoTls).expect("connect admin");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        with_dbname(&self.url, &name)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Never leave stopped processes behind, whatever the test did.
        self.resume();
        let _ = server_cmd(&self.pg_ctl, self.root)
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_cluster_in() -> Result<Cluster, String> {
    let initdb = find_bin("initdb").ok_or("initdb not found")?;
    let pg_ctl = find_bin("pg_ctl").ok_or("pg_ctl not found")?;
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("mig06-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    if root {
        let ok = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| e.to_string())?
            .success();
        if !ok {
            return Err("cannot hand the cluster directory to the postgres user".into());
        }
    }
    let data = dir.join("data");
    let out = server_cmd(&initdb, root)
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
        dir.display()
    );
    let out = server_cmd(&pg_ctl, root)
        .arg("-D")
        .arg(&data)
        .args(["-o", &opts, "-w", "-l"])
        .arg(dir.join("server.log"))
        .arg("start")
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("pg_ctl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Stop and remove the cluster once this process is gone.
    let stop = if root {
        format!("runuser -u postgres -- {}", pg_ctl.display())
    } else {
        pg_ctl.display().to_string()
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         pm=$(head -1 '{data}/postmaster.pid' 2>/dev/null); \
         if [ -n \"$pm\" ]; then kill -CONT $pm $(ps -o pid= --ppid $pm) 2>/dev/null; fi; \
         {stop} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        data = data.display(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("watchdog: {e}"))?;
    Ok(Cluster {
        url: format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
        data,
        dir,
        pg_ctl,
        root,
    })
}
