//! A private, throwaway PostgreSQL server for `demo` on a machine where none answers: a
//! cluster made by `initdb` in a temporary directory, listening on a socket there only (no
//! TCP port), stopped and removed when the demo ends — unless kept.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::db::ConnectTarget;

/// What to install when PostgreSQL's server programs are missing.
const INSTALL_HINT: &str = "PostgreSQL's server programs (initdb, pg_ctl) were not found either, \
so the demo cannot start a private server. Install them, e.g.
    sudo apt-get install postgresql           (Debian/Ubuntu)
    sudo dnf install postgresql-server        (Fedora/RHEL)
    brew install postgresql                   (macOS)
or point Airlock at a running server with DATABASE_URL.";

/// A running private server; stopped and removed when dropped, unless kept.
pub struct Sandbox {
    dir: PathBuf,
    bin: PathBuf,
    /// Who runs the server: `initdb` and `postgres` refuse to run as root.
    run_as: Option<(String, u32, u32)>,
    keep: bool,
    pub target: ConnectTarget,
}

impl Sandbox {
    /// Makes and starts a private server. Says on stderr what it does: the demo does not
    /// use the server the person asked for.
    pub fn start(asked: &str, keep: bool) -> anyhow::Result<Self> {
        let bin = server_programs().with_context(|| {
            format!("no PostgreSQL server answers at {asked}.\n\n{INSTALL_HINT}")
        })?;
        let run_as = if is_root() {
            Some(unprivileged()?)
        } else {
            None
        };
        // A server run as another user must reach its directory: a temporary directory
        // closed to others (TMPDIR of a private kind) will not do then.
        let mut base = std::env::temp_dir();
        let open = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o001 != 0)
                .unwrap_or(false)
        };
        if run_as.is_some() && !open(&base) {
            base = PathBuf::from("/tmp");
        }
        let dir = tempfile::Builder::new()
            .prefix("airlock-demo-server-")
            .tempdir_in(&base)
            .context("making a directory for the private server")?
            .keep();
        let role = "airlock";
        let url = format!("host='{}' user={role} dbname=postgres", dir.display());
        let target = match ConnectTarget::resolve(Some(&url)) {
            Ok(target) => target,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e.into());
            }
        };
        let mut sandbox = Self {
            target,
            dir,
            bin,
            run_as,
            keep: false,
        };
        eprintln!(
            "No PostgreSQL server answers at {asked}: starting a private one in {} (socket only){}.",
            sandbox.dir.display(),
            if keep {
                ", kept after the demo"
            } else {
                ", removed when the demo ends"
            }
        );
        if let Some((_, uid, gid)) = sandbox.run_as {
            std::os::unix::fs::chown(&sandbox.dir, Some(uid), Some(gid))
                .context("handing the private server's directory to its user")?;
        }
        let data = sandbox.dir.join("data");
        sandbox.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                role.as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
                "--no-instructions".as_ref(),
            ],
        )?;
        let options = format!(
            "-k {} -c listen_addresses='' -c fsync=off",
            sandbox.dir.display()
        );
        let log = sandbox.dir.join("server.log");
        sandbox.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        )?;
        sandbox.keep = keep;
        Ok(sandbox)
    }

    /// How to stop and remove a kept server, for a person.
    pub fn stop_hint(&self) -> String {
        let user = match &self.run_as {
            Some((name, _, _)) => format!("runuser -u {name} -- "),
            None => String::new(),
        };
        format!(
            "{user}{} -D '{}' stop && rm -rf '{}'",
            self.bin.join("pg_ctl").display(),
            self.dir.join("data").display(),
            self.dir.display()
        )
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
        let path = self.bin.join(program);
        let mut command = Command::new(&path);
        command.args(args).current_dir(&self.dir);
        if let Some((_, uid, gid)) = &self.run_as {
            use std::os::unix::process::CommandExt;
            command.uid(*uid).gid(*gid);
        }
        let out = command
            .output()
            .with_context(|| format!("running {}", path.display()))?;
        if !out.status.success() {
            bail!(
                "{} failed for the private server ({}): {}{}",
                path.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                read_log(&self.dir.join("server.log"))
            );
        }
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let data = self.dir.join("data");
        if data.join("postmaster.pid").exists() {
            let _ = self.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-m".as_ref(),
                    "immediate".as_ref(),
                    "-w".as_ref(),
                    "stop".as_ref(),
                ],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server log's last lines, when there is one.
fn read_log(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(log) => {
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("\n{}", tail.join("\n"))
        }
        Err(_) => String::new(),
    }
}

/// Where `initdb` and `pg_ctl` are: beside `pg_config --bindir`, in Debian's versioned
/// directories (newest first), or on the PATH.
fn server_programs() -> Option<PathBuf> {
    let has = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has(&dir) {
            return Some(dir);
        }
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has(dir))
        .collect();
    versioned.sort();
    if let Some((_, dir)) = versioned.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| has(dir))
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// The user a root-started server runs as: `postgres`, else `nobody`.
fn unprivileged() -> anyhow::Result<(String, u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    for name in ["postgres", "nobody"] {
        let found = passwd.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.first() == Some(&name) && f.len() > 3)
                .then(|| Some((name.to_string(), f[2].parse().ok()?, f[3].parse().ok()?)))
                .flatten()
        });
        if let Some(ids) = found {
            return Ok(ids);
        }
    }
    bail!("the private server cannot run as root, and there is no postgres or nobody user")
}
