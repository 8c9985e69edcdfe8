//! The texts people read about their tokens and certificates, shared by the command line
//! (`kyso certs`, `kyso doctor`) and the tray (diagnostics, renewal row): one wording per fact.

use crate::i18n::both;
use std::fmt::Write as _;

use crate::api::PinState;
use crate::api::{CertificateDto, StatusResponse};
use crate::certificate::{Kind, Validity};
use crate::token::ModuleStatus;

/// The catalogue id of a certificate kind.
pub fn kind_id(kind: Kind) -> &'static str {
    match kind {
        Kind::Personal => "kind-personal",
        Kind::Organization => "kind-organization",
    }
}

/// "cá nhân / personal" or "tổ chức / organization".
pub fn kind_label(kind: Kind) -> String {
    crate::i18n::both(kind_id(kind), &[])
}

/// Days left, expired or not yet valid, in both languages.
pub fn validity_label(cert: &CertificateDto) -> String {
    match cert.validity {
        Validity::Valid => both("doctor-days-left", &[("days", cert.days_left.into())]),
        Validity::Expired => both("doctor-expired", &[]),
        Validity::NotYetValid => both("doctor-not-yet-valid", &[]),
    }
}

/// A certificate as `kyso certs` lists it: holder and kind, subject, CA and validity, id.
pub fn certificate_lines(cert: &CertificateDto) -> Vec<String> {
    vec![
        format!(
            "  [{}] {} — {}",
            kind_label(cert.kind),
            cert.holder,
            cert.key_algorithm
        ),
        format!("      {}", cert.subject),
        format!(
            "      CA: {} — {} {} ({})",
            cert.issuer,
            both("doctor-until", &[]),
            cert.not_after,
            validity_label(cert)
        ),
        format!("      id: {}", cert.id),
    ]
}

/// Where the settings come from, for the diagnostics header.
pub struct Sources<'a> {
    /// The user's settings file and whether it exists.
    pub user_file: (&'a std::path::Path, bool),
    /// The system policy file and whether it exists.
    pub policy_file: (&'a std::path::Path, bool),
    /// Files and folders of root certificates for verifying received PDFs.
    pub trust_anchors: &'a [std::path::PathBuf],
    /// The port this user's agent listens on (or the first of its range when not running).
    pub port: u16,
}

/// What `kyso doctor` prints and the tray's "Chẩn đoán" shows: settings, modules, tokens (with
/// what to do about a locked PIN) and certificates (with what to do before they expire).
pub fn diagnostics(status: &StatusResponse, modules: &[ModuleStatus], sources: &Sources) -> String {
    let mut out = String::new();
    let label = |id: &str| both(id, &[]);
    let absent = |present: bool| {
        if present {
            String::new()
        } else {
            format!(" ({})", label("doctor-absent"))
        }
    };
    let _ = writeln!(
        out,
        "Kyso {} — {}",
        status.agent_version,
        label("doctor-heading")
    );
    let _ = writeln!(
        out,
        "{}: {}{}",
        label("doctor-config"),
        sources.user_file.0.display(),
        absent(sources.user_file.1)
    );
    let _ = writeln!(
        out,
        "{}: {}{}",
        label("doctor-policy"),
        sources.policy_file.0.display(),
        absent(sources.policy_file.1)
    );
    let _ = writeln!(
        out,
        "{}: https://127.0.0.1:{}",
        label("doctor-port"),
        sources.port
    );
    if !sources.trust_anchors.is_empty() {
        let places = sources
            .trust_anchors
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let _ = match crate::certificate::read_certificate_files(sources.trust_anchors) {
            Ok(anchors) => writeln!(
                out,
                "{}: {} ({places})",
                label("doctor-trust-anchors"),
                both("doctor-certificate-count", &[("n", anchors.len().into())])
            ),
            Err(e) => writeln!(
                out,
                "{}: {} {e}",
                label("doctor-trust-anchors"),
                label("doctor-failed")
            ),
        };
    }
    let _ = writeln!(out, "{} ({}):", label("doctor-modules"), modules.len());
    if modules.is_empty() {
        let _ = writeln!(out, "  {}", label("doctor-no-module"));
    }
    for module in modules {
        let _ = match (&module.error, &module.library) {
            (Some(error), _) => writeln!(
                out,
                "  {}  {} [{}]: {error}",
                label("doctor-failed"),
                module.path,
                module.source
            ),
            (None, Some(lib)) => {
                writeln!(out, "  OK  {} [{}] — {lib}", module.path, module.source)
            }
            (None, None) if module.waiting_for_device => writeln!(
                out,
                "  --  {} [{}]: {}",
                module.path,
                module.source,
                label("doctor-module-waiting")
            ),
            (None, None) => writeln!(out, "  ?   {} [{}]", module.path, module.source),
        };
    }
    let _ = writeln!(out, "{} ({}):", label("doctor-tokens"), status.tokens.len());
    for token in &status.tokens {
        let _ = writeln!(
            out,
            "  \"{}\" serial {} — {} — PIN {:?}{}{}",
            token.label,
            token.serial,
            if token.present { "present" } else { "removed" },
            token.pin_state,
            if token.protected_auth_path {
                " — pin-pad"
            } else {
                ""
            },
            if token.pin_state == PinState::Locked {
                format!(" — {}", label("doctor-pin-locked"))
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(
        out,
        "{} ({}):",
        label("doctor-certificates"),
        status.certificates.len()
    );
    for cert in &status.certificates {
        for line in certificate_lines(cert) {
            let _ = writeln!(out, "{line}");
        }
        if cert.validity == Validity::Valid
            && cert.days_left <= crate::certificate::EXPIRY_WARNING_DAYS
        {
            let _ = writeln!(out, "      {}", label("doctor-expires-soon"));
        }
    }
    out
}

/// One attribute of an RFC 4514 subject (`CN=…, O=…`), as Kyso prints subjects.
fn subject_attribute<'a>(subject: &'a str, name: &str) -> Option<&'a str> {
    subject.split(", ").find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

/// The identity number in the subject (`CCCD:…`, `CMND:…`, `MST:…`), from UID or serialNumber.
fn identifier(subject: &str) -> String {
    ["UID", "serialNumber", "2.5.4.5"]
        .iter()
        .find_map(|name| subject_attribute(subject, name))
        .unwrap_or_default()
        .to_string()
}

/// The row an agency pastes into the renewal list it sends to the CA (letter 003: "Đề nghị cấp
/// mới (hoặc gia hạn) chứng thư số", personal form 01 or organisation form 02): a header line
/// and a tab-separated row in the form's column order. What a certificate does not hold (birth
/// date, position) stays empty for the clerk to fill in.
pub fn renewal_row(cert: &CertificateDto) -> String {
    let place = subject_attribute(&cert.subject, "ST")
        .or_else(|| subject_attribute(&cert.subject, "L"))
        .unwrap_or_default();
    let organization = cert.organization.as_deref().unwrap_or_default();
    let email = cert.email.as_deref().unwrap_or_default();
    let (header, row) = match cert.kind {
        Kind::Personal => (
            [
                "Stt",
                "Họ tên",
                "Ngày sinh",
                "Số CMTND/CCCD/Hộ chiếu",
                "Tên cơ quan, đơn vị",
                "Tên địa phương",
                "Chức vụ, Chức danh",
                "Địa chỉ thư điện tử",
                "Số chứng thư số cũ",
            ]
            .join("\t"),
            [
                "1",
                &cert.holder,
                "",
                &identifier(&cert.subject),
                organization,
                place,
                "",
                email,
                &cert.serial,
            ]
            .join("\t"),
        ),
        Kind::Organization => (
            [
                "Stt",
                "Tên cơ quan, tổ chức",
                "Mã số thuế / mã định danh",
                "Tên địa phương",
                "Địa chỉ thư điện tử",
                "Số chứng thư số cũ",
            ]
            .join("\t"),
            [
                "1",
                &cert.holder,
                &identifier(&cert.subject),
                place,
                email,
                &cert.serial,
            ]
            .join("\t"),
        ),
    };
    format!("{header}\n{row}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TokenRefDto;

    fn cert(kind: Kind, subject: &str, holder: &str) -> CertificateDto {
        CertificateDto {
            id: "id".into(),
            subject: subject.into(),
            holder: holder.into(),
            organization: Some("UBND Thành phố Thử Nghiệm".into()),
            email: Some("vanthu@thunghiem.gov.vn".into()),
            issuer: "Kyso Test CA G2".into(),
            serial: "2002".into(),
            not_before: "2025-01-01T00:00:00Z".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            validity: Validity::Valid,
            days_left: 20,
            key_algorithm: "RSA-2048".into(),
            kind,
            token: TokenRefDto {
                label: "Van thu".into(),
                serial: "s".into(),
                present: true,
            },
            certificate: String::new(),
            chain: Vec::new(),
        }
    }

    #[test]
    fn renewal_rows_follow_the_columns_of_the_letter_003_forms() {
        let personal = renewal_row(&cert(
            Kind::Personal,
            "UID=CCCD:001080000001, CN=Nguyễn Văn An, O=UBND Thành phố Thử Nghiệm, ST=Hà Nội, C=VN",
            "Nguyễn Văn An",
        ));
        let lines: Vec<Vec<&str>> = personal.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), lines[1].len());
        let column = |name: &str| {
            let i = lines[0].iter().position(|h| *h == name).expect(name);
            lines[1][i]
        };
        assert_eq!(column("Họ tên"), "Nguyễn Văn An");
        assert_eq!(column("Số CMTND/CCCD/Hộ chiếu"), "CCCD:001080000001");
        assert_eq!(column("Tên cơ quan, đơn vị"), "UBND Thành phố Thử Nghiệm");
        assert_eq!(column("Tên địa phương"), "Hà Nội");
        assert_eq!(column("Địa chỉ thư điện tử"), "vanthu@thunghiem.gov.vn");
        assert_eq!(column("Số chứng thư số cũ"), "2002");
        assert_eq!(
            column("Ngày sinh"),
            "",
            "not in a certificate: left for the clerk"
        );

        let organization = renewal_row(&cert(
            Kind::Organization,
            "C=VN, ST=Hà Nội, O=UBND Thành phố Thử Nghiệm, CN=UBND Thành phố Thử Nghiệm, UID=MST:0101234567",
            "UBND Thành phố Thử Nghiệm",
        ));
        assert!(
            organization.contains("\tMST:0101234567\tHà Nội\tvanthu@thunghiem.gov.vn\t2002"),
            "{organization}"
        );
    }
}
