//! The user's side of the [`crate::signing::Prompt`] port, in the user's one language
//! (Vietnamese by default; English from the tray's choice or the system locale). The native dialogs and the tray come in their own module; here are the
//! terminal prompt (`kyso sign` at a console) and the scripted prompt for tests.

#[cfg(feature = "desktop")]
pub mod dialog;
pub mod report;
pub mod scripted;
pub mod terminal;
pub mod tray;

use crate::api::Lang;
use crate::i18n::message;
use crate::signing::{BatchPrompt, PinPrompt, ShownDocument, SignerSummary, Standing};

/// Days before expiry from which the dialog warns.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// What a PIN or batch dialog shows, in one language, most important first: the documents,
/// then the certificate, then who asks. Built here for every prompt (window, terminal, test
/// script) so that they all show the same thing.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    /// The language of every text below and of the labels around them.
    pub lang: Lang,
    /// The documents.
    pub documents: Vec<DocumentView>,
    /// The certificate that signs.
    pub certificate: CertificateView,
    /// The requesting origin in full, or the command line.
    pub requester: String,
    /// How the origin was allowed: by the agency's policy or by the user.
    pub allowed_by: Option<String>,
    /// The token's label.
    pub token: String,
    /// A key that asks its PIN for every signature: which one this is.
    pub per_signature: Option<String>,
}

/// One document as shown.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView {
    /// What the signature does, as a verb ("Ký phê duyệt").
    pub action: String,
    /// The title.
    pub title: String,
    /// "Số 12/QĐ-UBND", when known.
    pub number: Option<String>,
    /// Vouched for by the DMS server (a verified ticket), not only stated by the page.
    pub attested: bool,
    /// Where the title and number come from, in words.
    pub source: String,
}

/// The certificate as shown.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateView {
    /// Its holder.
    pub holder: String,
    /// Personal or organisation, in words.
    pub kind: String,
    /// The organisation, when the certificate names one.
    pub organization: Option<String>,
    /// The issuing CA.
    pub issuer: String,
    /// Valid until, as users read dates (`29/11/2028`, local zone).
    pub valid_until: String,
    /// A warning when at most [`EXPIRY_WARNING_DAYS`] days remain.
    pub warning: Option<String>,
}

/// Text a web page controls, made safe to draw: control, format and bidirectional characters
/// (a line break, U+202E…) are shown escaped as `[U+202E]`, so a page can neither paint a
/// second, forged line nor reverse what follows, and the user sees that something was there;
/// spaces and tabs become single spaces; at most `max` characters, cut with "…".
pub fn clean(text: &str, max: usize) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c as u32, 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2069 | 0xFEFF)
    };
    let mut out = String::new();
    for c in text.trim().chars() {
        match c {
            ' ' | '\t' | '\u{a0}' => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c if hidden(c) => out.push_str(&format!("[U+{:04X}]", c as u32)),
            c => out.push(c),
        }
    }
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect::<String>() + "…";
    }
    out
}

/// The view of a request in `lang`.
pub fn request_view(
    lang: Lang,
    origin: Option<&str>,
    standing: Option<Standing>,
    documents: &[ShownDocument],
    signer: &SignerSummary,
    token: &str,
    per_signature: Option<usize>,
) -> RequestView {
    let t = |id: &str| crate::i18n::text(lang, id);
    RequestView {
        lang,
        documents: documents
            .iter()
            .map(|shown| {
                let doc = &shown.document;
                DocumentView {
                    action: t(&format!("action-{}", doc.purpose.name())),
                    title: clean(&doc.title, 300),
                    number: doc.number.as_deref().map(|n| {
                        message(
                            lang,
                            "dialog-document-number",
                            &[("number", clean(n, 80).into())],
                        )
                    }),
                    attested: shown.attested,
                    source: t(if shown.attested {
                        "dialog-attested"
                    } else if origin.is_some() {
                        "dialog-stated-by-page"
                    } else {
                        "dialog-stated-by-cli"
                    }),
                }
            })
            .collect(),
        certificate: CertificateView {
            holder: signer.holder.clone(),
            kind: t(match signer.kind {
                crate::certificate::Kind::Personal => "kind-personal",
                crate::certificate::Kind::Organization => "kind-organization",
            }),
            organization: signer.organization.clone(),
            issuer: signer.issuer.clone(),
            valid_until: crate::i18n::local_date(signer.not_after),
            warning: (signer.days_left <= EXPIRY_WARNING_DAYS).then(|| {
                message(
                    lang,
                    "dialog-expires-soon",
                    &[("days", signer.days_left.max(0).into())],
                )
            }),
        },
        requester: match origin {
            Some(origin) => clean(origin, 255),
            None => t("dialog-requester-cli"),
        },
        allowed_by: match standing {
            Some(Standing::Policy) => Some(t("dialog-allowed-by-agency")),
            Some(Standing::Approved) => Some(t("dialog-allowed-by-user")),
            _ => None,
        },
        token: clean(token, 80),
        per_signature: per_signature
            .map(|n| message(lang, "prompt-per-signature", &[("n", (n + 1).into())])),
    }
}

impl RequestView {
    /// The view as text lines (the terminal, the test script's record), in the same order
    /// as the window: documents, certificate, who asks.
    pub fn lines(&self) -> Vec<String> {
        let t = |id: &str| crate::i18n::text(self.lang, id);
        let mut lines = Vec::new();
        for (i, doc) in self.documents.iter().enumerate() {
            let prefix = if self.documents.len() > 1 {
                format!("{}. ", i + 1)
            } else {
                String::new()
            };
            let number = doc
                .number
                .as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default();
            lines.push(format!("{prefix}{}: {}{number}", doc.action, doc.title));
            lines.push(format!("   ({})", doc.source));
        }
        let c = &self.certificate;
        let organization = c
            .organization
            .as_deref()
            .map(|o| format!(", {o}"))
            .unwrap_or_default();
        lines.push(format!(
            "{}: {} ({}){organization}",
            t("label-certificate"),
            c.holder,
            c.kind
        ));
        lines.push(format!(
            "{}: {} — {}: {}",
            t("dialog-issuer"),
            c.issuer,
            t("dialog-valid-until"),
            c.valid_until
        ));
        lines.extend(c.warning.clone());
        let allowed = self
            .allowed_by
            .as_deref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        lines.push(format!(
            "{}: {}{allowed}",
            t("dialog-requester"),
            self.requester
        ));
        lines.push(format!("{}: {}", t("prompt-token"), self.token));
        lines.extend(self.per_signature.clone());
        lines
    }
}

/// The view of a PIN prompt in the user's language.
pub fn pin_view(request: &PinPrompt) -> RequestView {
    request_view(
        crate::i18n::user_lang(),
        request.origin.as_deref(),
        request.standing,
        &request.documents,
        &request.signer,
        &request.token_label,
        request.per_signature,
    )
}

/// The view of a batch confirmation in `lang`: every document, no token line yet.
pub fn batch_view(lang: Lang, batch: &BatchPrompt) -> RequestView {
    request_view(
        lang,
        batch.origin.as_deref(),
        batch.standing,
        &batch.documents,
        &batch.signer,
        "",
        None,
    )
}

/// The lines a prompt shows before asking for a PIN, retries and the certificate status
/// included. For prompts that cannot update what they showed (the terminal, the scripted
/// prompt), so it waits for the status check to end.
pub fn describe_pin_prompt(request: &PinPrompt) -> Vec<String> {
    let mut lines = pin_view(request).lines();
    lines.extend(
        request
            .status
            .as_ref()
            .map(|status| status.outcome().prompt_line()),
    );
    lines.extend(retries_line(request));
    lines
}

/// The retries left, when the token has seen a wrong PIN: a warning on the final try.
pub fn retries_line(request: &PinPrompt) -> Option<String> {
    let lang = crate::i18n::user_lang();
    match (request.retries_left, request.pin_state) {
        (Some(1), _) | (_, crate::token::PinState::FinalTry) => {
            Some(crate::i18n::text(lang, "prompt-final-try"))
        }
        (Some(n), state) if state != crate::token::PinState::Ok => {
            Some(message(lang, "dialog-tries-left", &[("n", n.into())]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Document, Purpose};

    fn signer(days_left: i64) -> SignerSummary {
        SignerSummary {
            holder: "Nguyễn Văn An".into(),
            organization: Some("UBND Thành phố Thử Nghiệm".into()),
            issuer: "Kyso Test CA G2".into(),
            valid_until: "2028-11-29T13:11:27Z".into(),
            // 2028-11-29T13:11:27Z is 29/11/2028 20:11 in Vietnam.
            not_after: 1_859_116_287,
            days_left,
            kind: crate::certificate::Kind::Personal,
            serial: "2001".into(),
        }
    }

    fn shown(title: &str, attested: bool) -> ShownDocument {
        ShownDocument {
            document: Document {
                title: title.into(),
                number: Some("12/QĐ-UBND".into()),
                purpose: Purpose::Issue,
            },
            attested,
        }
    }

    #[test]
    fn the_view_speaks_one_language_with_dates_as_users_read_them() {
        let docs = [shown("Quyết định 12", true)];
        let vi = request_view(
            Lang::Vi,
            Some("https://qlvb.example.gov.vn"),
            Some(Standing::Policy),
            &docs,
            &signer(700),
            "VGCA",
            None,
        );
        assert_eq!(vi.documents[0].action, "Ký phát hành");
        assert_eq!(vi.documents[0].number.as_deref(), Some("Số 12/QĐ-UBND"));
        assert_eq!(
            vi.documents[0].source,
            "xác nhận bởi hệ thống quản lý văn bản"
        );
        assert_eq!(vi.allowed_by.as_deref(), Some("được cơ quan cho phép"));
        assert_eq!(vi.certificate.valid_until, "29/11/2028");
        assert_eq!(vi.certificate.warning, None);
        let en = request_view(
            Lang::En,
            Some("https://qlvb.example.gov.vn"),
            Some(Standing::Approved),
            &[shown("Decision 12", false)],
            &signer(12),
            "VGCA",
            None,
        );
        assert_eq!(en.documents[0].source, "as stated by the web page");
        assert_eq!(en.allowed_by.as_deref(), Some("allowed by you earlier"));
        assert!(en
            .certificate
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("12 days")));
        // Never the other language on a line.
        for line in vi.lines() {
            for english in ["Requested by", "Certificate", "valid until", "Sign"] {
                assert!(!line.contains(english), "{line}");
            }
        }
        for line in en.lines() {
            for vietnamese in ["Yêu cầu", "Chứng thư", "hiệu lực", "Ký "] {
                assert!(!line.contains(vietnamese), "{line}");
            }
        }
    }

    #[test]
    fn a_page_cannot_paint_a_second_line_or_reverse_the_text() {
        let title = "Thư mời\nYêu cầu từ: https://dms.gov.vn\u{202e}nv.vog\u{2066}\u{200b}\r\tx";
        let view = request_view(
            Lang::Vi,
            Some("https://evil.example\n"),
            None,
            &[shown(title, false)],
            &signer(700),
            "T",
            None,
        );
        let drawn = &view.documents[0].title;
        assert!(
            !drawn.contains(['\n', '\r', '\t', '\u{202e}', '\u{2066}', '\u{200b}']),
            "{drawn:?}"
        );
        assert_eq!(
            drawn,
            "Thư mời[U+000A]Yêu cầu từ: https://dms.gov.vn[U+202E]nv.vog[U+2066][U+200B][U+000D] x"
        );
        assert_eq!(view.requester, "https://evil.example");
        assert_eq!(clean(&"a".repeat(500), 300).chars().count(), 300);
    }
}
