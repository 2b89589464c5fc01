//! Outgoing mail through the SMTP server of `[mail]` (lettre). With `starttls` or `tls` the
//! server's certificate is verified against the system's trusted authorities and those of
//! `mail.ca_file`; a password is never sent over a plain connection (the configuration
//! refuses it).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Config, MailTls};
use crate::error::{AppError, AppResult};

/// The node's mail transport.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

fn refused(field: &str, zh: String, en: String) -> AppError {
    AppError::invalid(field, zh, en)
}

impl Mailer {
    /// The transport `[mail]` describes, or `None` when it names no server.
    pub fn from_config(config: &Config) -> AppResult<Option<Mailer>> {
        let m = &config.mail;
        if m.smtp_host.is_empty() {
            return Ok(None);
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&m.smtp_host)
            .port(m.smtp_port)
            .timeout(Some(Duration::from_secs(m.timeout_seconds.max(1))));
        if m.tls != MailTls::None {
            let mut tls = TlsParameters::builder(m.smtp_host.clone());
            let bad = |e: lettre::transport::smtp::Error| {
                refused("mail.ca_file", format!("CA 文件无效：{e}"), format!("the CA file is not usable: {e}"))
            };
            if let Some(file) = &m.ca_file {
                let path = config.resolve(file);
                let pem = std::fs::read(&path).map_err(|e| {
                    refused(
                        "mail.ca_file",
                        format!("无法读取 CA 文件 {}：{e}", path.display()),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                tls = tls.add_root_certificate(Certificate::from_pem(&pem).map_err(bad)?);
            }
            let params = tls.build_rustls().map_err(bad)?;
            builder = builder.tls(if m.tls == MailTls::Tls { Tls::Wrapper(params) } else { Tls::Required(params) });
        }
        if !m.username.is_empty() {
            // The password may be written sealed (`tracenode seal`), so the file holds no secret.
            let password = config.sealer()?.open(&m.password).map_err(|_| {
                refused(
                    "mail.password",
                    "mail.password 无法用本节点的密钥解密（是否由其他节点加密？）".into(),
                    "mail.password does not open with this node's key (sealed by another node?)".into(),
                )
            })?;
            builder = builder.credentials(Credentials::new(m.username.clone(), password));
        }
        let from = m.from.parse().map_err(|_| {
            refused("mail.from", format!("发件人地址“{}”无效", m.from), format!("{:?} is not a sender address", m.from))
        })?;
        Ok(Some(Mailer { transport: builder.build(), from }))
    }

    /// Sends a plain-text mail to `to`; the error says why it was not delivered.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("收件地址无效 / bad recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| format!("邮件无法组装 / cannot build the message: {e}"))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| format!("邮件服务器拒绝或不可达 / SMTP: {e}"))
    }
}
