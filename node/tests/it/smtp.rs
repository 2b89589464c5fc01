//! A real SMTP server for the tests: aiosmtpd (Debian's `python3-aiosmtpd`) on loopback. It
//! requires STARTTLS with a certificate from a CA made for the test, and delivers into a
//! Maildir the test reads back.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A received mail, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// A running SMTP server.
pub struct SmtpServer {
    pub port: u16,
    pub ca: PathBuf,
    maildir: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

fn python() -> String {
    std::env::var("TRACENODE_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into())
}

impl SmtpServer {
    /// Starts the server and waits until it takes connections.
    pub async fn start() -> SmtpServer {
        let py = python();
        let has = Command::new(&py).args(["-c", "import aiosmtpd"]).status().map(|s| s.success()).unwrap_or(false);
        assert!(
            has,
            "the mail tests need a real SMTP server: {py} cannot import aiosmtpd. \
             Install Debian's python3-aiosmtpd (scripts/test.sh does), or point TRACENODE_TEST_PYTHON at a Python that has it"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = tracenode_federation::pki::make_development_pki(&dir.path().join("pki"), "330100").expect("pki");
        let maildir = dir.path().join("maildir");
        let port = crate::support::free_ports(1);
        let child = Command::new(&py)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .arg("--tlscert")
            .arg(&pki.server_cert)
            .arg("--tlskey")
            .arg(&pki.server_key)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        // From here the server is owned, and killed and waited for when dropped.
        let server = SmtpServer { port, ca: pki.ca_cert, maildir, child, _dir: dir };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not start on 127.0.0.1:{port}");
    }

    /// The node's `[mail]` section for this server.
    pub fn config(&self) -> String {
        format!(
            "[mail]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"starttls\"\nca_file = \"{}\"\nfrom = \"追溯平台 <trace@node.test>\"\n",
            self.port,
            self.ca.display()
        )
    }

    /// Every mail received so far, oldest first.
    pub fn received(&self) -> Vec<Mail> {
        let Ok(dir) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = dir
            .filter_map(Result::ok)
            .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| {
                use mailparse::MailHeaderMap;
                let raw = std::fs::read(&path).expect("mail");
                let m = mailparse::parse_mail(&raw).expect("parse mail");
                let h = |k: &str| m.headers.get_first_value(k).unwrap_or_default();
                Mail { from: h("From"), to: h("To"), subject: h("Subject"), body: m.get_body().expect("body") }
            })
            .collect()
    }

    /// Waits until `n` mails have arrived; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        for _ in 0..100 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} mails, got {:?}", self.received());
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
