//! What the receiving clerk reads about a verified document: the terminal text of
//! `kyso pdf verify` and the printable HTML report (`--report FILE.html`) to file with the
//! document. Vietnamese first (English alone when asked), with the facts Thông tư 15/2025
//! Đ.6.4.b lists for every signature: issuing CA, signer, managing unit, signing time or
//! timestamp, integrity, validity at signing time, the certificate's validity period.

use std::fmt::Write as _;

use super::verify::{Policy, Report, SignatureReport, Verdict};
use crate::certificate::Kind;

pub use crate::i18n::Lang;

fn t(lang: Lang, id: &str) -> String {
    crate::i18n::text(lang, id)
}

fn kind_label(kind: Option<Kind>, lang: Lang) -> String {
    match kind {
        Some(Kind::Personal) => t(lang, "kind-personal"),
        Some(Kind::Organization) => t(lang, "kind-organization"),
        None => "?".to_string(),
    }
}

fn verdict_label(verdict: Verdict, lang: Lang) -> String {
    verdict.label(lang).to_uppercase()
}

fn yes_no(value: bool, lang: Lang) -> String {
    t(lang, if value { "report-yes" } else { "report-no" })
}

fn time_line(s: &SignatureReport, lang: Lang) -> String {
    match (&s.timestamp, &s.signing_time) {
        (Some(ts), _) => format!("{ts} ({})", t(lang, "report-time-verified")),
        (None, Some(claimed)) => format!("{claimed} ({})", t(lang, "report-time-claimed")),
        (None, None) => t(lang, "report-none").to_string(),
    }
}

fn policy_title(policy: Option<Policy>, met: bool, lang: Lang) -> String {
    match (policy, met) {
        (Some(Policy::Scanned), true) => t(lang, "report-policy-scanned-met"),
        (Some(Policy::Scanned), false) => t(lang, "report-policy-scanned-not-met"),
        (_, true) => t(lang, "report-policy-issued-met"),
        (_, false) => t(lang, "report-policy-issued-not-met"),
    }
}

/// The terminal text.
pub fn text(report: &Report, policy: Option<Policy>, lang: Lang) -> String {
    let mut out = String::new();
    if report.signatures.is_empty() {
        let _ = writeln!(out, "{}", t(lang, "report-no-signature"));
    }
    for (i, s) in report.signatures.iter().enumerate() {
        let _ = writeln!(
            out,
            "{} {}: {} — {} ({}){}",
            t(lang, "report-signature"),
            i + 1,
            s.field,
            s.signer.as_deref().unwrap_or("?"),
            kind_label(s.kind, lang),
            s.organization
                .as_deref()
                .map(|o| format!(", {o}"))
                .unwrap_or_default()
        );
        if let Some(c) = &s.certificate {
            let _ = writeln!(
                out,
                "  {}: {}",
                t(lang, "report-issuing-ca"),
                c.issuer_name.as_deref().unwrap_or(&c.issuer)
            );
            let _ = writeln!(
                out,
                "  {}: {} → {}",
                t(lang, "report-certificate-valid"),
                c.not_before,
                c.not_after
            );
        }
        let _ = writeln!(
            out,
            "  {}: {}",
            t(lang, "report-signed-at"),
            time_line(s, lang)
        );
        let _ = writeln!(
            out,
            "  {}: {} · {}: {} · {}: {}",
            t(lang, "report-intact"),
            yes_no(s.intact && s.signature_valid, lang),
            t(lang, "report-valid-at-signing-time"),
            yes_no(s.valid_at_signing_time, lang),
            t(lang, "report-valid-now"),
            yes_no(s.valid_now, lang)
        );
        let _ = writeln!(
            out,
            "  {}: {}",
            t(lang, "label-verdict"),
            verdict_label(s.verdict, lang)
        );
        // Reasons stay bilingual in Vietnamese (a clerk may forward them), English alone in
        // English.
        let reasons = s.reasons_in(match lang {
            Lang::Vi => None,
            Lang::En => Some(Lang::En),
        });
        for (code, reason) in &reasons {
            let _ = writeln!(out, "  - {reason} [{code}]");
        }
        if !s.covers_whole_file {
            for change in &s.later_changes {
                let _ = writeln!(
                    out,
                    "  {} {}: {}",
                    if change.allowed { "+" } else { "!" },
                    change.object,
                    change.what
                );
            }
        }
    }
    if let Some(p) = &report.policy {
        let _ = writeln!(out, "{}", policy_title(policy, p.met, lang));
        for m in &p.missing {
            let _ = writeln!(out, "  - {m}");
        }
    }
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the HTML report says about the file itself.
pub struct Document<'a> {
    /// The file name as received.
    pub name: &'a str,
    /// Its SHA-256, hex.
    pub sha256: &'a str,
    /// When the check ran (ISO 8601, +07:00).
    pub checked_at: &'a str,
}

/// A printable, self-contained HTML report (Vietnamese, A4), to file with the document.
pub fn html(report: &Report, policy: Option<Policy>, document: &Document<'_>) -> String {
    let lang = Lang::Vi;
    let overall = report.overall();
    let (overall_text, overall_class) = match overall {
        Some(Verdict::Valid) => ("HỢP LỆ", "valid"),
        Some(Verdict::Unknown) => ("CHƯA XÁC ĐỊNH (chưa kiểm tra được tính hợp lệ)", "unknown"),
        Some(Verdict::Invalid) => ("KHÔNG HỢP LỆ", "invalid"),
        None => ("KHÔNG CÓ CHỮ KÝ SỐ", "invalid"),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>Kết quả kiểm tra chữ ký số — {name}</title>
<style>
@page {{ size: A4; margin: 18mm; }}
body {{ font-family: "Times New Roman", "Liberation Serif", serif; font-size: 13pt; color: #111; }}
h1 {{ font-size: 16pt; text-align: center; text-transform: uppercase; margin-bottom: 4pt; }}
.sub {{ text-align: center; font-style: italic; margin-top: 0; }}
table {{ border-collapse: collapse; width: 100%; margin: 6pt 0 12pt; }}
th, td {{ border: 1px solid #555; padding: 4pt 6pt; vertical-align: top; text-align: left; }}
th {{ width: 38%; font-weight: normal; background: #f2f2f2; }}
.verdict {{ font-weight: bold; font-size: 14pt; }}
.valid {{ color: #0a6b2d; }} .unknown {{ color: #8a5a00; }} .invalid {{ color: #b00020; }}
.small {{ font-size: 10pt; color: #444; }}
</style></head><body>
<h1>Kết quả kiểm tra chữ ký số</h1>
<p class="sub">Theo Thông tư 15/2025/TT-BKHCN, Điều 6</p>
<table>
<tr><th>Tệp văn bản</th><td>{name}</td></tr>
<tr><th>Mã băm SHA-256 của tệp</th><td class="small">{sha}</td></tr>
<tr><th>Thời điểm kiểm tra</th><td>{checked}</td></tr>
<tr><th>Số chữ ký số</th><td>{count}</td></tr>
<tr><th>Kết luận</th><td class="verdict {overall_class}">{overall_text}</td></tr>
</table>
"#,
        name = escape(document.name),
        sha = escape(document.sha256),
        checked = escape(document.checked_at),
        count = report.signatures.len(),
    );
    for (i, s) in report.signatures.iter().enumerate() {
        let (issuer, validity) = match &s.certificate {
            Some(c) => (
                c.issuer_name.clone().unwrap_or_else(|| c.issuer.clone()),
                format!("từ {} đến {}", c.not_before, c.not_after),
            ),
            None => ("?".into(), "?".into()),
        };
        let verdict_class = match s.verdict {
            Verdict::Valid => "valid",
            Verdict::Unknown => "unknown",
            Verdict::Invalid => "invalid",
        };
        let _ = write!(
            out,
            r#"<h2>Chữ ký số {n}: {field}</h2>
<table>
<tr><th>Tổ chức cung cấp dịch vụ chứng thực (cấp chứng thư)</th><td>{issuer}</td></tr>
<tr><th>Người ký</th><td>{signer} ({kind})</td></tr>
<tr><th>Cơ quan, tổ chức quản lý</th><td>{org}</td></tr>
<tr><th>Thời gian ký / dấu thời gian</th><td>{time}</td></tr>
<tr><th>Tính toàn vẹn của văn bản</th><td>{intact}</td></tr>
<tr><th>Hiệu lực của chứng thư tại thời điểm ký</th><td>{at_signing}</td></tr>
<tr><th>Thời hạn hiệu lực của chứng thư số</th><td>{validity}</td></tr>
<tr><th>Hiệu lực hiện nay</th><td>{now}</td></tr>
<tr><th>Kết quả</th><td class="verdict {verdict_class}">{verdict}</td></tr>
"#,
            n = i + 1,
            field = escape(&s.field),
            issuer = escape(&issuer),
            signer = escape(s.signer.as_deref().unwrap_or("?")),
            kind = kind_label(s.kind, lang),
            org = escape(s.organization.as_deref().unwrap_or("—")),
            time = escape(&time_line(s, lang)),
            intact = if s.intact && s.signature_valid {
                "Văn bản không bị thay đổi sau khi ký"
            } else {
                "Văn bản đã bị thay đổi hoặc chữ ký không đúng"
            },
            at_signing = if s.valid_at_signing_time {
                "Còn hiệu lực, không bị thu hồi"
            } else {
                "Không xác nhận được"
            },
            validity = escape(&validity),
            now = yes_no(s.valid_now, lang),
            verdict = verdict_label(s.verdict, lang),
        );
        if !s.reasons.is_empty() {
            let items: Vec<String> = s
                .reason_codes
                .iter()
                .zip(&s.reasons)
                .map(|(c, r)| format!("{} <span class=\"small\">[{}]</span>", escape(r), escape(c)))
                .collect();
            let _ = writeln!(
                out,
                "<tr><th>Lý do</th><td>{}</td></tr>",
                items.join("<br>")
            );
        }
        if !s.path.is_empty() {
            let items: Vec<String> = s
                .path
                .iter()
                .map(|p| {
                    format!(
                        "{} <span class=\"small\">({})</span>",
                        escape(&p.subject),
                        p.status
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "<tr><th>Chuỗi chứng thư</th><td class=\"small\">{}</td></tr>",
                items.join("<br>")
            );
        }
        out.push_str("</table>\n");
    }
    if let Some(p) = &report.policy {
        let _ = writeln!(
            out,
            "<p class=\"verdict {}\">{}</p>",
            if p.met { "valid" } else { "invalid" },
            policy_title(policy, p.met, lang)
        );
        if !p.missing.is_empty() {
            out.push_str("<ul>\n");
            for m in &p.missing {
                let _ = writeln!(out, "<li>{}</li>", escape(m));
            }
            out.push_str("</ul>\n");
        }
    }
    out.push_str(
        "<p class=\"small\">Lập bởi Kyso. Hợp lệ: đã chứng minh được; chưa xác định: chưa kiểm tra được tính hợp lệ (không tới được chứng thư gốc tin cậy hoặc không kiểm tra được trạng thái thu hồi); không hợp lệ: đã chứng minh là sai.</p>\n</body></html>\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
