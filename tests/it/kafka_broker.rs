//! A real Apache Kafka 4.1 broker for the end-to-end tests: one KRaft node (broker and
//! controller) run from the jars scripts/kafka/fetch.sh puts in `~/.cache` (or
//! `$VBDA_TEST_KAFKA_JARS`), in its own JVM, on free 127.0.0.1 ports, stopped when dropped.
//!
//! Listeners: PLAINTEXT, SASL_PLAINTEXT and SASL_SSL, both SASL ones with the SCRAM-SHA-512
//! user [`USER`] / [`PASSWORD`] (created by `StorageTool format --add-scram`) and PLAIN. The
//! SASL_SSL listener's certificate is signed by a CA made for the test (openssl); a second CA
//! that signed nothing stands for "a certificate the client does not trust".
//!
//! The independent client (`tests/kafka/client.py`, confluent-kafka from PyPI in
//! `$VBDA_CONFLUENT_VENV`) creates topics, produces compressed batches and reads a group's
//! committed offsets.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "vbda";
pub const PASSWORD: &str = "pw-3f9a1c-secret";
const CLUSTER_ID: &str = "MkU3OEVBNTcwNTJENDM2Qk";
const STORE_PASSWORD: &str = "changeit";

pub struct Kafka {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub plaintext: u16,
    pub sasl_plaintext: u16,
    pub sasl_ssl: u16,
}

fn home() -> PathBuf {
    std::env::var_os("VBDA_TEST_KAFKA_JARS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/vbda-kafka-4.1.1"))
}

fn classpath() -> String {
    let libs = home().join("libs");
    assert!(
        libs.join(".complete").exists(),
        "Apache Kafka's jars are not in {}: run scripts/kafka/fetch.sh (scripts/test.sh does)",
        libs.display()
    );
    format!("{}/*", libs.display())
}

pub fn confluent_python() -> PathBuf {
    let venv = std::env::var_os("VBDA_CONFLUENT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/vbda-confluent-venv"));
    let python = venv.join("bin/python");
    assert!(python.exists(), "confluent-kafka is not installed in {}: run scripts/test.sh, which installs it", venv.display());
    python
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a broker certificate for 127.0.0.1 signed by it in a PKCS12 keystore, and an
/// unrelated CA.
fn make_certificates(dir: &Path) {
    openssl(dir, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-subj", "/CN=vbda test CA"]);
    openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=127.0.0.1"]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    openssl(dir, &[
        "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "broker.pem", "-days", "3",
        "-extfile", "san.ext",
    ]);
    let pass = format!("pass:{STORE_PASSWORD}");
    openssl(dir, &["pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-out", "broker.p12", "-passout", &pass, "-name", "broker"]);
    openssl(dir, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other-ca.pem", "-days", "3", "-subj", "/CN=another CA"]);
}

impl Kafka {
    /// Formats a new single-node cluster and starts it; returns once it answers. A free port
    /// can be taken by another test between choosing it and the broker binding it: then the
    /// broker is started again on new ports (up to three times).
    pub fn start() -> Kafka {
        for attempt in 1.. {
            match std::panic::catch_unwind(Self::start_once) {
                Ok(kafka) => return kafka,
                Err(panic) => {
                    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
                    let port_taken = ["BindException", "Address already in use", "ServerSocketAdaptor.bind"].iter().any(|t| text.contains(t));
                    if !port_taken || attempt == 3 {
                        std::panic::resume_unwind(panic);
                    }
                    eprintln!("the test broker's port was taken meanwhile; starting it on new ports");
                }
            }
        }
        unreachable!()
    }

    fn start_once() -> Kafka {
        let dir = tempfile::tempdir().unwrap();
        make_certificates(dir.path());
        let (plaintext, sasl_plaintext, sasl_ssl, controller) = (free_port(), free_port(), free_port(), free_port());
        let d = dir.path().display();
        let scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
        let plain = format!(r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_{USER}="{PASSWORD}";"#);
        let properties = format!(
            "process.roles=broker,controller\n\
             node.id=1\n\
             controller.quorum.bootstrap.servers=127.0.0.1:{controller}\n\
             listeners=PLAINTEXT://127.0.0.1:{plaintext},SASL_PLAINTEXT://127.0.0.1:{sasl_plaintext},SASL_SSL://127.0.0.1:{sasl_ssl},CONTROLLER://127.0.0.1:{controller}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{plaintext},SASL_PLAINTEXT://127.0.0.1:{sasl_plaintext},SASL_SSL://127.0.0.1:{sasl_ssl}\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT\n\
             controller.listener.names=CONTROLLER\n\
             inter.broker.listener.name=PLAINTEXT\n\
             sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN\n\
             listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={scram}\n\
             listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram}\n\
             listener.name.sasl_plaintext.plain.sasl.jaas.config={plain}\n\
             listener.name.sasl_ssl.plain.sasl.jaas.config={plain}\n\
             ssl.keystore.type=PKCS12\n\
             ssl.keystore.location={d}/broker.p12\n\
             ssl.keystore.password={STORE_PASSWORD}\n\
             ssl.key.password={STORE_PASSWORD}\n\
             log.dirs={d}/data\n\
             num.partitions=1\n\
             auto.create.topics.enable=false\n\
             offsets.topic.replication.factor=1\n\
             offsets.topic.num.partitions=4\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             share.coordinator.state.topic.replication.factor=1\n\
             share.coordinator.state.topic.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n\
             log.message.timestamp.after.max.ms=9223372036854775807\n\
             log.message.timestamp.before.max.ms=9223372036854775807\n"
        );
        std::fs::write(dir.path().join("server.properties"), properties).unwrap();
        let scram_user = format!("SCRAM-SHA-512=[name={USER},password={PASSWORD}]");
        let out = Command::new("java")
            .args(["-Xmx256m", "-cp", &classpath(), "kafka.tools.StorageTool", "format", "--config"])
            .arg(dir.path().join("server.properties"))
            .args(["--cluster-id", CLUSTER_ID, "--standalone", "--add-scram", &scram_user])
            .output()
            .expect("java is installed");
        assert!(out.status.success(), "StorageTool format: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let mut kafka = Kafka { child: None, dir, plaintext, sasl_plaintext, sasl_ssl };
        kafka.run();
        kafka
    }

    /// Starts the JVM on the formatted storage and waits until it answers on every listener.
    fn run(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("broker.log")).unwrap();
        let child = Command::new("java")
            .args(["-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"])
            .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
            .args(["-cp", &classpath(), "kafka.Kafka"])
            .arg(self.dir.path().join("server.properties"))
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the Kafka broker exited ({status}):\n{}", self.log_tail());
            }
            let up = [self.plaintext, self.sasl_plaintext, self.sasl_ssl]
                .iter()
                .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok());
            if up && self.answers() {
                return;
            }
            assert!(Instant::now() < deadline, "the Kafka broker did not start in 90 s:\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Whether the broker serves metadata (its controller elected itself).
    fn answers(&self) -> bool {
        let out = Command::new(confluent_python())
            .args(["-c", "import sys; from confluent_kafka.admin import AdminClient; \
                   md = AdminClient({'bootstrap.servers': sys.argv[1]}).list_topics(timeout=5); \
                   sys.exit(0 if md.brokers else 1)"])
            .arg(self.bootstrap())
            .output()
            .unwrap();
        out.status.success()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SIGKILL, as a crash: nothing flushed, no controlled shutdown.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the killed broker again on the same storage and ports.
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }

    /// PLAINTEXT `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.plaintext)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn other_ca(&self) -> PathBuf {
        self.dir.path().join("other-ca.pem")
    }

    /// `-X` settings (without the password) for the SASL_SSL listener with SCRAM-SHA-512.
    pub fn sasl_ssl_settings(&self, ca: &Path) -> Vec<String> {
        vec![
            "security.protocol=SASL_SSL".into(),
            "sasl.mechanism=SCRAM-SHA-512".into(),
            format!("sasl.username={USER}"),
            format!("ssl.ca.location={}", ca.display()),
        ]
    }

    /// Runs the independent client (tests/kafka/client.py) on the PLAINTEXT listener.
    pub fn client(&self, args: &[&str]) -> std::process::Output {
        Command::new(confluent_python())
            .arg(crate::common::project_dir().join("tests/kafka/client.py"))
            .args(args)
            .env("VBDA_TEST_KAFKA", format!("bootstrap.servers={}", self.bootstrap()))
            .output()
            .unwrap()
    }

    /// The client's stdout; panics with its stderr when it fails.
    pub fn client_ok(&self, args: &[&str]) -> String {
        let out = self.client(args);
        assert!(out.status.success(), "client.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn create_topic(&self, topic: &str, partitions: u32) {
        self.client_ok(&["create", topic, &partitions.to_string()]);
    }

    pub fn delete_topic(&self, topic: &str) {
        self.client_ok(&["delete", topic]);
    }

    /// Produces events `prefix{first}..prefix{first+count}` with the independent client.
    pub fn produce(&self, topic: &str, first: u64, count: u64, extra: &[&str]) {
        let mut args = vec!["produce", topic];
        let (first, count) = (first.to_string(), count.to_string());
        args.extend([first.as_str(), count.as_str()]);
        args.extend(extra);
        assert_eq!(self.client_ok(&args), count);
    }

    /// Per partition, the offset `group` committed (None where none).
    pub fn committed(&self, group: &str, topic: &str) -> std::collections::BTreeMap<i32, Option<i64>> {
        let v: serde_json::Value = serde_json::from_str(&self.client_ok(&["committed", group, topic])).unwrap();
        v.as_object().unwrap().iter().map(|(p, o)| (p.parse().unwrap(), o.as_i64().filter(|o| *o >= 0))).collect()
    }

    /// Per partition, the end offset.
    pub fn ends(&self, topic: &str) -> std::collections::BTreeMap<i32, i64> {
        let v: serde_json::Value = serde_json::from_str(&self.client_ok(&["ends", topic])).unwrap();
        v.as_object().unwrap().iter().map(|(p, o)| (p.parse().unwrap(), o.as_i64().unwrap())).collect()
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        self.kill();
    }
}
