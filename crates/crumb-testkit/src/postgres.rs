//! A fresh PostgreSQL database per test.
//!
//! With `CRUMB_TEST_POSTGRES` set to an admin URL (`postgres://postgres@127.0.0.1:5432/postgres`,
//! as CI does), each [`database`] call creates a new database on that server. Otherwise, when
//! `initdb` and `pg_ctl` are installed, one throwaway cluster is started per test process in
//! a temporary directory on a free loopback port, and removed when the process exits.
//! Neither available: the test fails (it does not skip).
//!
//! [`Cluster`] is also public for tests that must stop and start the server themselves.
//! Databases are created with `psql`. A test process does not drop its databases (a server
//! task may still hold a connection when a test returns); instead, the first [`database`]
//! call of each process drops those that earlier, finished test processes left on the
//! shared server ([`sweep_stale_databases`]), so runs do not pile databases up.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A database made for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Connection URL (`postgres://postgres@127.0.0.1:PORT/NAME`).
    pub url: String,
    /// Database name.
    pub name: String,
}

static SHARED: OnceLock<Result<String, String>> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("crumb_test_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000_000)
}

/// The admin URL tests use: `CRUMB_TEST_POSTGRES`, or this process's throwaway cluster.
pub fn admin_url() -> String {
    let r = SHARED.get_or_init(|| {
        if let Ok(url) = std::env::var("CRUMB_TEST_POSTGRES")
            && !url.trim().is_empty()
        {
            let url = url.trim().to_string();
            sweep_stale_databases(&url);
            return Ok(url);
        }
        let c = Cluster::start()?;
        let url = c.admin_url();
        c.stop_when_process_exits();
        std::mem::forget(c);
        Ok(url)
    });
    match r {
        Ok(u) => u.clone(),
        Err(e) => panic!(
            "PostgreSQL tests need CRUMB_TEST_POSTGRES (an admin URL such as \
             postgres://postgres@127.0.0.1:5432/postgres) or initdb and pg_ctl (on PATH or in /usr/lib/postgresql/*/bin): {e}"
        ),
    }
}

/// Create a fresh database on the test server.
pub fn database() -> TestDb {
    create_database(&admin_url())
}

/// Create a fresh database on the server at `admin`.
pub fn create_database(admin: &str) -> TestDb {
    let name = unique_name();
    let out = Command::new("psql")
        .arg(admin)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("CREATE DATABASE \"{name}\""))
        .output()
        .expect("psql runs (install postgresql-client)");
    assert!(out.status.success(), "CREATE DATABASE failed: {}", String::from_utf8_lossy(&out.stderr));
    let url = replace_db(admin, &name);
    TestDb { url, name }
}

/// The process that made a test database, from its name (`crumb_test_{pid}_...`).
fn creator_pid(name: &str) -> Option<u32> {
    name.strip_prefix("crumb_test_")?.split('_').next()?.parse().ok()
}

/// Drop the test databases on the server at `admin` whose creating process no longer runs
/// on this machine; returns how many were dropped. Databases of running test processes (a
/// parallel test binary) are left alone.
pub fn sweep_stale_databases(admin: &str) -> usize {
    // Whether a process runs is read from /proc; without it, sweep nothing.
    if !Path::new("/proc/self").exists() {
        return 0;
    }
    let Ok(out) = Command::new("psql")
        .arg(admin)
        .args(["-At", "-c", r"SELECT datname FROM pg_database WHERE datname LIKE 'crumb\_test\_%'"])
        .output()
    else {
        return 0;
    };
    let mut dropped = 0;
    for name in String::from_utf8_lossy(&out.stdout).lines().map(str::trim) {
        let Some(pid) = creator_pid(name) else { continue };
        if Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let ok = Command::new("psql")
            .arg(admin)
            .args(["-q", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        dropped += usize::from(ok);
    }
    dropped
}

/// `admin` with its database name replaced.
fn replace_db(admin: &str, db: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{base}/{db}{query}")
}

/// A throwaway PostgreSQL cluster in a temporary directory, listening on 127.0.0.1.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    as_postgres: bool,
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// A PostgreSQL server program: on `PATH`, else the newest `/usr/lib/postgresql/*/bin/` (Debian).
pub fn pg_bin(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path().join("bin").join(name)).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        p.components().nth(4).and_then(|c| c.as_os_str().to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    versions.pop().unwrap_or_else(|| PathBuf::from(name))
}

impl Cluster {
    fn cmd(&self, program: &str) -> Command {
        let program = pg_bin(program);
        if self.as_postgres {
            let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
                .unwrap_or_else(|| PathBuf::from("runuser"));
            let mut c = Command::new(runuser);
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// `initdb` and start a new cluster (as the `postgres` user when running as root).
    pub fn start() -> Result<Cluster, String> {
        let as_postgres = is_root();
        let base = tempfile::Builder::new().prefix("crumb-pg-").tempdir().map_err(|e| e.to_string())?.keep();
        let dir = base.join("data");
        if as_postgres {
            let ok = Command::new("chown").args(["-R", "postgres:"]).arg(&base).status().map_err(|e| e.to_string())?;
            if !ok.success() {
                return Err("cannot chown the cluster directory to postgres".into());
            }
        }
        let c = Cluster { dir, port: free_port()?, as_postgres };
        let out = c
            .cmd("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"])
            .arg(&c.dir)
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        c.start_again()?;
        Ok(c)
    }

    /// Start the (stopped) cluster and wait until it accepts connections.
    pub fn start_again(&self) -> Result<(), String> {
        let opts =
            format!("-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=on", self.port, self.sock_dir().display());
        let log = self.dir.parent().unwrap_or(Path::new("/tmp")).join("postgres.log");
        let out = self
            .cmd("pg_ctl")
            .args(["-w", "-t", "30", "-D"])
            .arg(&self.dir)
            .args(["-o", &opts, "-l"])
            .arg(&log)
            .arg("start")
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if !out.status.success() {
            return Err(format!("pg_ctl start failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("the cluster did not start listening".into())
    }

    fn sock_dir(&self) -> PathBuf {
        self.dir.parent().unwrap_or(Path::new("/tmp")).to_path_buf()
    }

    /// Stop the cluster (`fast`: connections are closed, committed data kept).
    pub fn stop(&self) {
        let _ = self
            .cmd("pg_ctl")
            .args(["-w", "-D"])
            .arg(&self.dir)
            .args(["-m", "fast", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Admin URL (database `postgres`).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Leave a watcher behind that stops the cluster and removes its files once this
    /// process has exited.
    fn stop_when_process_exits(&self) {
        let base = self.sock_dir();
        let bin = pg_bin("pg_ctl").display().to_string();
        let pg_ctl = if self.as_postgres {
            format!("PATH=\"$PATH:/usr/sbin:/sbin\" runuser -u postgres -- '{bin}'")
        } else {
            format!("'{bin}'")
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {pg_ctl} -D '{dir}' -m immediate stop >/dev/null 2>&1; rm -rf '{base}'",
            pid = std::process::id(),
            dir = self.dir.display(),
            base = base.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .args(["-w", "-D"])
            .arg(&self.dir)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(self.sock_dir());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_database_name() {
        assert_eq!(
            replace_db("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(replace_db("postgres://h:1/p?sslmode=disable", "x"), "postgres://h:1/x?sslmode=disable");
        assert_eq!(replace_db("postgres://h:1", "x"), "postgres://h:1/x");
    }

    #[test]
    fn stale_test_databases_are_swept() {
        let c = Cluster::start().expect("cluster starts");
        let live = create_database(&c.admin_url());
        // A pid above the kernel's limit: no process can have it.
        let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4_194_304);
        let stale = format!("crumb_test_{}_0_1", pid_max + 1);
        assert_eq!(creator_pid(&stale), Some((pid_max + 1) as u32));
        let made = Command::new("psql")
            .arg(c.admin_url())
            .args(["-q", "-c"])
            .arg(format!("CREATE DATABASE \"{stale}\""))
            .status()
            .expect("psql");
        assert!(made.success());
        assert_eq!(sweep_stale_databases(&c.admin_url()), 1);
        let out = Command::new("psql")
            .arg(c.admin_url())
            .args(["-At", "-c", "SELECT datname FROM pg_database WHERE datname LIKE 'crumb%' ORDER BY 1"])
            .output()
            .expect("psql");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), live.name, "the live process's database stays");
    }

    #[test]
    fn throwaway_cluster_starts_and_makes_databases() {
        let c = Cluster::start().expect("cluster starts");
        let a = create_database(&c.admin_url());
        let b = create_database(&c.admin_url());
        assert_ne!(a.name, b.name);
        let out = Command::new("psql").arg(&a.url).args(["-tAc", "SELECT current_database()"]).output().expect("psql");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), a.name);
        c.stop();
        assert!(std::net::TcpStream::connect(("127.0.0.1", c.port)).is_err(), "stopped");
        c.start_again().expect("restarts");
        let out = Command::new("psql").arg(&b.url).args(["-tAc", "SELECT 1"]).output().expect("psql");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    }
}
