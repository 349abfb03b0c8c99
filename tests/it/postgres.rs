//! A real PostgreSQL server for the publish tests: Debian's `postgresql` package (installed by
//! scripts/test.sh), a fresh cluster made by `initdb` in a temp folder and started by `pg_ctl`
//! on a free 127.0.0.1 port, with SCRAM passwords over TCP; stopped (immediate) when dropped.
//! As root, the server runs as the package's `postgres` user (PostgreSQL refuses root).

use std::path::PathBuf;
use std::process::Command;

pub const USER: &str = "vbda_test";
pub const PASSWORD: &str = "pg-Secret-7f3a";

pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VBDA_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().expect("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb): run scripts/test.sh, which installs it")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with(false)
    }

    /// A server that takes TCP connections over TLS only (`hostssl` in pg_hba.conf), with a
    /// certificate for 127.0.0.1 signed by a CA made for the test ([`Postgres::ca`]).
    pub fn start_tls() -> Postgres {
        Postgres::start_with(true)
    }

    /// The CA certificate that signed a TLS server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn start_with(tls: bool) -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("vbda-pg").tempdir_in("/tmp").unwrap();
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if is_root() {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
            assert!(status.success());
        }
        let pg = Postgres { dir, port: free_port(), bin };
        pg.run_tool("initdb", &[
            "-D", data.to_str().unwrap(), "-U", USER, "--pwfile", pwfile.to_str().unwrap(),
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync",
        ]);
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c max_connections=40",
            pg.port,
            pg.dir.path().display()
        );
        if tls {
            pg.make_certificates();
            let hba = data.join("pg_hba.conf");
            let text = std::fs::read_to_string(&hba).unwrap();
            let ssl_only: String = text.lines().map(|l| if l.starts_with("host ") { format!("hostssl{}\n", &l[4..]) } else { format!("{l}\n") }).collect();
            std::fs::write(&hba, ssl_only).unwrap();
            let d = pg.dir.path().display();
            options.push_str(&format!(" -c ssl=on -c ssl_cert_file={d}/server.pem -c ssl_key_file={d}/server.key"));
        }
        let log = pg.dir.path().join("server.log");
        pg.run_tool("pg_ctl", &["-D", data.to_str().unwrap(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "-t", "60", "start"]);
        pg
    }

    /// A CA and a server certificate for 127.0.0.1 (openssl), readable by the server only.
    fn make_certificates(&self) {
        let dir = self.dir.path();
        let ext = dir.join("server.ext");
        std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=vbda test CA"]);
        openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
        openssl(&["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"]);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        if is_root() {
            let status = Command::new("chown").args(["postgres:postgres", "server.key", "server.pem"]).current_dir(dir).status().unwrap();
            assert!(status.success());
        }
    }

    fn run_tool(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = cmd.args(args).current_dir(self.dir.path()).output().unwrap();
        assert!(out.status.success(), "{tool} failed: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }

    /// The target vbda publishes to: no password in it.
    pub fn target(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// One query through psql, rows as lines (`-At`, fields split by `|`).
    pub fn query(&self, sql: &str) -> Vec<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER, "-d", "postgres", "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
    }

    pub fn stop(&self) {
        let data = self.dir.path().join("data");
        let _ = std::panic::catch_unwind(|| self.run_tool("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]));
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
