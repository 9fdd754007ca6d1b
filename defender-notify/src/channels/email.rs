//! Email over SMTP (lettre): implicit TLS, STARTTLS or plain.

use crate::markdown;
use crate::retry::{AttemptError, RetryPolicy};
use async_trait::async_trait;
use defender_core::{Message, Metric, Notifier, NotifyError};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Deserializer, Serialize};

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// TLS from the first byte ("SMTPS", port 465 by default).
    Tls,
    /// Plain connection upgraded with `STARTTLS`, required (port 587 by default).
    #[default]
    Starttls,
    /// No encryption at all (port 25 by default); for local relays and tests.
    None,
}

impl SmtpSecurity {
    /// The usual port.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::None => 25,
        }
    }
}

/// Email channel configuration: Defender's `{ emails }` and the SMTP server to send through.
///
/// `emails` is a list, or one string of addresses separated by commas or semicolons (as
/// Defender's form took them); each entry may be `Name <addr@host>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailConfig {
    /// Recipients.
    #[serde(deserialize_with = "recipients")]
    pub emails: Vec<String>,
    /// The sender (`Defender <alerts@example.com>`).
    pub from: String,
    /// SMTP host name or IP address.
    pub host: String,
    /// SMTP port; default from `security` (465, 587 or 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `tls`, `starttls` (default) or `none`.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// SMTP user, if the server wants authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// An extra trusted root certificate (PEM), for a server with a private or self-signed
    /// certificate. The web PKI roots stay trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_pem: Option<String>,
    /// DANGEROUS, for tests only: accept any server certificate. Prefer `caCertPem`.
    #[serde(default)]
    pub accept_invalid_certs: bool,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// Splits Defender's recipient list: commas or semicolons, blanks dropped.
pub fn split_recipients(list: &str) -> Vec<String> {
    list.split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn recipients<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::One(s) => split_recipients(&s),
        Raw::Many(v) => v.iter().flat_map(|s| split_recipients(s)).collect(),
    })
}

/// Sends each message as one email to every recipient: `multipart/alternative` with a plain text
/// part and an HTML part. A Markdown body is converted to HTML; a body that already holds basic
/// HTML (as actions may send) is sent as it is.
///
/// SMTP replies 4xx and connection failures are retried; 5xx replies are not.
#[derive(Debug, Clone)]
pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    retry: RetryPolicy,
}

impl EmailChannel {
    /// A channel from its configuration (nothing is connected until a send).
    pub fn new(config: &EmailConfig) -> Result<Self, NotifyError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| NotifyError::Config(format!("email from `{}`: {e}", config.from)))?;
        let to = config
            .emails
            .iter()
            .flat_map(|e| split_recipients(e))
            .map(|e| {
                e.parse::<Mailbox>()
                    .map_err(|err| NotifyError::Config(format!("email recipient `{e}`: {err}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(NotifyError::Config("email channel has no recipient".into()));
        }
        let host = config.host.trim();
        if host.is_empty() {
            return Err(NotifyError::Config("email host is missing".into()));
        }
        let tls = match config.security {
            SmtpSecurity::None => Tls::None,
            security => {
                let mut params = TlsParameters::builder(host.to_owned())
                    .dangerous_accept_invalid_certs(config.accept_invalid_certs);
                if let Some(pem) = &config.ca_cert_pem {
                    let cert = Certificate::from_pem(pem.as_bytes())
                        .map_err(|e| NotifyError::Config(format!("email caCertPem: {e}")))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params
                    .build_rustls()
                    .map_err(|e| NotifyError::Config(format!("email TLS: {e}")))?;
                if security == SmtpSecurity::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(config.port.unwrap_or(config.security.default_port()))
            .tls(tls)
            .timeout(Some(config.retry.attempt_timeout()));
        if let Some(user) = &config.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                config.password.clone().unwrap_or_default(),
            ));
        }
        Ok(EmailChannel {
            transport: builder.build(),
            from,
            to,
            retry: config.retry.clone(),
        })
    }

    /// The email for `message`.
    pub fn email(&self, message: &Message) -> Result<lettre::Message, NotifyError> {
        let (plain, html) = bodies(&message.body);
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(message.subject.replace(['\r', '\n'], " "));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(plain, html))
            .map_err(|e| NotifyError::Config(format!("cannot build the email: {e}")))
    }
}

/// The plain-text and HTML bodies of a Markdown or HTML message body.
pub fn bodies(body: &str) -> (String, String) {
    if markdown::looks_like_html(body) {
        let plain = strip_tags(body);
        (plain, wrap_html(body))
    } else {
        (
            markdown::to_plain(body),
            wrap_html(&markdown::to_html(body)),
        )
    }
}

fn wrap_html(fragment: &str) -> String {
    if fragment.to_ascii_lowercase().contains("<html") {
        fragment.to_owned()
    } else {
        format!("<!DOCTYPE html>\n<html><body>\n{fragment}\n</body></html>\n")
    }
}

/// A rough text version of basic HTML: tags dropped, block ends and `<br>` as line breaks.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => {
                let tag = rest[start + 1..start + end].trim().to_ascii_lowercase();
                let name = tag.trim_start_matches('/');
                if name.starts_with("br")
                    || (tag.starts_with('/')
                        && ["p", "h1", "h2", "h3", "h4", "div", "li", "tr"].contains(&name))
                {
                    out.push('\n');
                }
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

#[async_trait]
impl Notifier for EmailChannel {
    fn kind(&self) -> &str {
        "email"
    }

    async fn send(&self, message: &Message) -> Result<(), NotifyError> {
        let email = self.email(message)?;
        self.retry
            .run("email", |_| {
                let email = email.clone();
                async move {
                    match self.transport.send(email).await {
                        Ok(_) => Ok(()),
                        Err(e) if e.is_permanent() => Err(AttemptError::Permanent(e.to_string())),
                        Err(e) => Err(AttemptError::transient(describe(&e))),
                    }
                }
            })
            .await
    }

    async fn send_metric(&self, _metric: &Metric) -> Result<(), NotifyError> {
        Err(super::no_metrics(self.kind()))
    }
}

fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_split_on_commas_and_semicolons() {
        let c: EmailConfig = serde_json::from_value(serde_json::json!({
            "emails": "a@x.io, b@x.io;c@x.io ;; ",
            "from": "Defender <d@x.io>", "host": "127.0.0.1"
        }))
        .expect("config");
        assert_eq!(c.emails, ["a@x.io", "b@x.io", "c@x.io"]);
        assert_eq!(c.security, SmtpSecurity::Starttls);
        let c: EmailConfig = serde_json::from_value(serde_json::json!({
            "emails": ["a@x.io;b@x.io", "Ops <c@x.io>"],
            "from": "d@x.io", "host": "h", "security": "tls"
        }))
        .expect("config");
        assert_eq!(c.emails, ["a@x.io", "b@x.io", "Ops <c@x.io>"]);
        assert!(EmailChannel::new(&c).is_ok());
    }

    #[test]
    fn bad_addresses_are_config_errors() {
        let c: EmailConfig = serde_json::from_value(serde_json::json!({
            "emails": "not an address", "from": "d@x.io", "host": "h", "security": "none"
        }))
        .expect("config");
        assert!(matches!(EmailChannel::new(&c), Err(NotifyError::Config(_))));
        let c = EmailConfig {
            emails: vec![],
            ..c
        };
        assert!(matches!(EmailChannel::new(&c), Err(NotifyError::Config(_))));
    }

    #[test]
    fn html_bodies_pass_through_and_markdown_is_converted() {
        let (plain, html) = bodies("<h1>Sent</h1><p>Hash <i>0xab</i> &amp; more</p>");
        assert_eq!(plain, "Sent\nHash 0xab & more");
        assert!(html.contains("<h1>Sent</h1><p>Hash <i>0xab</i> &amp; more</p>"));
        let (plain, html) = bodies("**Network**\nmainnet & <co>");
        assert_eq!(plain, "Network\nmainnet & <co>");
        assert!(
            html.contains("<strong>Network</strong><br>\nmainnet &amp; &lt;co&gt;"),
            "{html}"
        );
    }
}
