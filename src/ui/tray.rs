//! What the tray shows, computed from the agent's status alone: the icon's state, the tooltip,
//! the menu entries and the notifications worth raising. Pure data, so it is tested without a
//! desktop; `app::desktop` turns it into a real tray icon and menu.

use crate::api::PinState;
use crate::api::{CertificateDto, Lang, StatusResponse};
use crate::certificate::Validity;
use crate::i18n::message;
use crate::ui::report::kind_id;

/// The icon's state, most urgent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrayState {
    /// The agent could not start or stopped (port taken, TLS error).
    AgentError,
    /// A present token's PIN is locked.
    PinLocked,
    /// A signing certificate on a present token has expired.
    Expired,
    /// A signing certificate on a present token expires within 30 days.
    Expiring,
    /// A token is present and usable.
    Ready,
    /// No token plugged in.
    NoToken,
}

/// What a menu entry does when clicked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Forget a site the user allowed ("Luôn cho phép").
    RevokeSite(String),
    /// Switch the tray and dialogs' language.
    Language(Lang),
    /// Open the folder holding `kyso.log`.
    OpenLogs,
    /// Show what `kyso doctor` prints.
    Diagnostics,
    /// Show (and save) the renewal-list row of a certificate, by certificate id.
    ExportRenewal(String),
    /// Stop the agent and the tray.
    Quit,
}

/// One menu entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A line of information (disabled item).
    Info(String),
    /// A clickable item; `checked` for the language choice.
    Item {
        /// The text.
        label: String,
        /// What it does.
        action: Action,
        /// `Some` for a check item.
        checked: Option<bool>,
    },
    /// A submenu.
    Submenu {
        /// The text.
        label: String,
        /// Its entries.
        entries: Vec<Entry>,
    },
    /// A separator line.
    Separator,
}

/// Everything the tray shows at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrayModel {
    /// The icon.
    pub state: TrayState,
    /// The tooltip (one line).
    pub tooltip: String,
    /// The menu.
    pub entries: Vec<Entry>,
}

/// The sites listed in the menu.
#[derive(Clone, Debug, Default)]
pub struct Sites {
    /// From the administrator's policy: shown, not revocable.
    pub admin: Vec<String>,
    /// Allowed by the user: revocable.
    pub approved: Vec<String>,
}

fn t(lang: Lang, id: &str) -> String {
    crate::i18n::text(lang, id)
}

fn on_present_token<'a>(
    status: &'a StatusResponse,
) -> impl Iterator<Item = &'a CertificateDto> + 'a {
    status.certificates.iter().filter(|c| {
        status
            .tokens
            .iter()
            .any(|t| t.present && t.serial == c.token.serial)
    })
}

/// The most urgent state of the agent and its tokens.
pub fn state_of(status: &StatusResponse, agent_error: Option<&str>) -> TrayState {
    if agent_error.is_some() {
        return TrayState::AgentError;
    }
    let present: Vec<_> = status.tokens.iter().filter(|t| t.present).collect();
    if present.is_empty() {
        return TrayState::NoToken;
    }
    if present.iter().any(|t| t.pin_state == PinState::Locked) {
        return TrayState::PinLocked;
    }
    let certificates: Vec<_> = on_present_token(status).collect();
    if certificates.iter().any(|c| c.validity == Validity::Expired) {
        return TrayState::Expired;
    }
    if certificates.iter().any(|c| {
        c.validity == Validity::Valid && c.days_left <= crate::certificate::EXPIRY_WARNING_DAYS
    }) {
        return TrayState::Expiring;
    }
    TrayState::Ready
}

/// The state in words, for the tooltip and the menu's first line.
pub fn state_label(state: TrayState, lang: Lang) -> String {
    match state {
        TrayState::AgentError => t(lang, "tray-agent-error"),
        TrayState::PinLocked => t(lang, "tray-pin-locked-state"),
        TrayState::Expired => t(lang, "tray-expired"),
        TrayState::Expiring => t(lang, "tray-expiring"),
        TrayState::Ready => t(lang, "tray-ready"),
        TrayState::NoToken => t(lang, "tray-no-token"),
    }
}

fn certificate_line(cert: &CertificateDto, lang: Lang) -> String {
    let kind = t(lang, kind_id(cert.kind));
    let until = cert.not_after.get(..10).unwrap_or(&cert.not_after);
    let when = match cert.validity {
        Validity::Expired => t(lang, "tray-cert-expired"),
        Validity::NotYetValid => t(lang, "tray-cert-not-yet-valid"),
        Validity::Valid => message(
            lang,
            "tray-cert-until",
            &[("until", until.into()), ("days", cert.days_left.into())],
        ),
    };
    format!("{} ({kind}) — {when}", cert.holder)
}

/// The tray at this moment: icon state, tooltip and menu.
pub fn build(
    status: &StatusResponse,
    sites: &Sites,
    lang: Lang,
    agent_error: Option<&str>,
    port: Option<u16>,
) -> TrayModel {
    let state = state_of(status, agent_error);
    // The port tells users of a shared terminal server which agent is theirs.
    let port = port
        .map(|p| format!(" · 127.0.0.1:{p}"))
        .unwrap_or_default();
    let mut entries = vec![Entry::Info(format!(
        "Kyso — {}{port}",
        state_label(state, lang)
    ))];
    if let Some(error) = agent_error {
        entries.push(Entry::Info(error.to_string()));
    }
    entries.push(Entry::Separator);
    if status.tokens.is_empty() {
        entries.push(Entry::Info(state_label(TrayState::NoToken, lang)));
    }
    let mut renewals = Vec::new();
    for token in &status.tokens {
        let presence = match (token.present, token.pin_state) {
            (false, _) => t(lang, "tray-token-removed"),
            (true, PinState::Locked) => t(lang, "tray-pin-locked"),
            (true, _) => t(lang, "tray-token-present"),
        };
        entries.push(Entry::Info(format!("🔑 {} — {presence}", token.label)));
        for cert in status
            .certificates
            .iter()
            .filter(|c| c.token.serial == token.serial)
        {
            entries.push(Entry::Info(format!("    {}", certificate_line(cert, lang))));
            renewals.push(Entry::Item {
                label: format!("{} — {}", cert.holder, cert.serial),
                action: Action::ExportRenewal(cert.id.clone()),
                checked: None,
            });
        }
    }
    if !renewals.is_empty() {
        entries.push(Entry::Submenu {
            label: t(lang, "tray-export-renewal"),
            entries: renewals,
        });
    }
    entries.push(Entry::Separator);
    let mut site_entries: Vec<Entry> = sites
        .admin
        .iter()
        .map(|s| {
            Entry::Info(message(
                lang,
                "tray-site-by-policy",
                &[("site", s.as_str().into())],
            ))
        })
        .collect();
    site_entries.extend(sites.approved.iter().map(|s| Entry::Item {
        label: message(lang, "tray-revoke-site", &[("site", s.as_str().into())]),
        action: Action::RevokeSite(s.clone()),
        checked: None,
    }));
    if site_entries.is_empty() {
        site_entries.push(Entry::Info(t(lang, "tray-no-sites")));
    }
    entries.push(Entry::Submenu {
        label: t(lang, "tray-allowed-sites"),
        entries: site_entries,
    });
    entries.push(Entry::Submenu {
        label: "Ngôn ngữ / Language".to_string(),
        entries: vec![
            Entry::Item {
                label: "Tiếng Việt".to_string(),
                action: Action::Language(Lang::Vi),
                checked: Some(lang == Lang::Vi),
            },
            Entry::Item {
                label: "English".to_string(),
                action: Action::Language(Lang::En),
                checked: Some(lang == Lang::En),
            },
        ],
    });
    entries.push(Entry::Item {
        label: t(lang, "tray-open-logs"),
        action: Action::OpenLogs,
        checked: None,
    });
    entries.push(Entry::Item {
        label: t(lang, "tray-diagnostics"),
        action: Action::Diagnostics,
        checked: None,
    });
    entries.push(Entry::Separator);
    entries.push(Entry::Item {
        label: t(lang, "tray-quit"),
        action: Action::Quit,
        checked: None,
    });
    TrayModel {
        state,
        tooltip: format!("Kyso — {}", state_label(state, lang)),
        entries,
    }
}

/// Notifications for what changed between two looks at the status: a token plugged in or
/// pulled out, a PIN that became locked, a certificate that entered its last 30 days.
pub fn notices(before: &StatusResponse, after: &StatusResponse, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    for token in &after.tokens {
        let previous = before.tokens.iter().find(|t| t.serial == token.serial);
        let was_present = previous.is_some_and(|t| t.present);
        if token.present && !was_present {
            out.push(message(
                lang,
                "tray-notice-inserted",
                &[("label", token.label.as_str().into())],
            ));
        }
        if !token.present && was_present {
            out.push(message(
                lang,
                "tray-notice-removed",
                &[("label", token.label.as_str().into())],
            ));
        }
        let was_locked = previous.is_some_and(|t| t.pin_state == PinState::Locked);
        if token.pin_state == PinState::Locked && !was_locked {
            out.push(message(
                lang,
                "tray-notice-locked",
                &[("label", token.label.as_str().into())],
            ));
        }
    }
    let warned = |c: &CertificateDto| {
        c.validity == Validity::Valid && c.days_left <= crate::certificate::EXPIRY_WARNING_DAYS
    };
    for cert in after.certificates.iter().filter(|c| warned(c)) {
        let known = before
            .certificates
            .iter()
            .any(|c| c.id == cert.id && warned(c));
        if !known {
            out.push(message(
                lang,
                "tray-notice-expiring",
                &[
                    ("holder", cert.holder.as_str().into()),
                    ("days", cert.days_left.into()),
                ],
            ));
        }
    }
    out
}

/// A 32×32 RGBA icon: a disc in the state's colour (green ready, grey no token, amber expiring,
/// red locked/expired/error) around a white key hole, readable on light and dark panels.
pub fn icon_rgba(state: TrayState) -> (Vec<u8>, u32, u32) {
    const SIZE: u32 = 32;
    let colour: [u8; 3] = match state {
        TrayState::Ready => [0x1e, 0x8e, 0x3e],
        TrayState::NoToken => [0x80, 0x86, 0x8b],
        TrayState::Expiring => [0xf2, 0x99, 0x00],
        TrayState::Expired | TrayState::PinLocked | TrayState::AgentError => [0xd9, 0x30, 0x25],
    };
    let mut rgba = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    let centre = (SIZE as f32 - 1.0) / 2.0;
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (dx, dy) = (x as f32 - centre, y as f32 - centre);
            let distance = (dx * dx + dy * dy).sqrt();
            let hole = (dx * dx + (dy + 3.0) * (dy + 3.0)).sqrt() <= 4.5
                || (dx.abs() <= 2.0 && (-3.0..=8.0).contains(&dy));
            let pixel = if distance > 15.5 {
                [0, 0, 0, 0]
            } else if hole {
                [0xff, 0xff, 0xff, 0xff]
            } else {
                [colour[0], colour[1], colour[2], 0xff]
            };
            rgba.extend_from_slice(&pixel);
        }
    }
    (rgba, SIZE, SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{TokenDto, TokenRefDto};
    use crate::certificate::Kind;

    fn token(serial: &str, present: bool, pin_state: PinState) -> TokenDto {
        TokenDto {
            label: format!("Token {serial}"),
            model: "SoftHSM v2".into(),
            manufacturer: "SoftHSM project".into(),
            serial: serial.into(),
            present,
            pin_state,
            retries_left: None,
            protected_auth_path: false,
            module: "/usr/lib/softhsm/libsofthsm2.so".into(),
            certificates: Vec::new(),
        }
    }

    fn cert(serial: &str, days_left: i64) -> CertificateDto {
        CertificateDto {
            id: format!("id-{serial}-{days_left}"),
            subject: "UID=CCCD:001080000001, CN=Nguyễn Văn An, O=UBND Thành phố Thử Nghiệm, ST=Hà Nội, C=VN".into(),
            holder: "Nguyễn Văn An".into(),
            organization: Some("UBND Thành phố Thử Nghiệm".into()),
            email: Some("an@thunghiem.gov.vn".into()),
            issuer: "Kyso Test CA G2".into(),
            serial: "54010203".into(),
            not_before: "2025-01-01T00:00:00Z".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            validity: if days_left < 0 {
                Validity::Expired
            } else {
                Validity::Valid
            },
            days_left,
            key_algorithm: "RSA-2048".into(),
            kind: Kind::Personal,
            token: TokenRefDto {
                serial: serial.into(),
                label: format!("Token {serial}"),
                present: true,
            },
            certificate: String::new(),
            chain: Vec::new(),
        }
    }

    fn status(tokens: Vec<TokenDto>, certificates: Vec<CertificateDto>) -> StatusResponse {
        StatusResponse {
            agent_version: "0.1.0".into(),
            api_version: 1,
            tokens,
            certificates,
        }
    }

    fn items(entries: &[Entry]) -> Vec<(String, Action)> {
        let mut out = Vec::new();
        for entry in entries {
            match entry {
                Entry::Item { label, action, .. } => out.push((label.clone(), action.clone())),
                Entry::Submenu { entries, .. } => out.extend(items(entries)),
                _ => {}
            }
        }
        out
    }

    fn infos(entries: &[Entry]) -> String {
        entries
            .iter()
            .filter_map(|e| match e {
                Entry::Info(text) => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_present_token_with_a_valid_certificate_is_ready_and_listed() {
        let s = status(vec![token("A", true, PinState::Ok)], vec![cert("A", 400)]);
        let model = build(&s, &Sites::default(), Lang::Vi, None, None);
        assert_eq!(model.state, TrayState::Ready);
        assert_eq!(model.tooltip, "Kyso — Sẵn sàng ký số");
        let text = infos(&model.entries);
        assert!(text.contains("🔑 Token A — đã cắm"), "{text}");
        assert!(
            text.contains("Nguyễn Văn An (cá nhân) — đến 2027-01-01, còn 400 ngày"),
            "{text}"
        );
        let actions = items(&model.entries);
        assert!(actions.contains(&(
            "Nguyễn Văn An — 54010203".to_string(),
            Action::ExportRenewal("id-A-400".into())
        )));
        assert_eq!(actions.last().map(|a| &a.1), Some(&Action::Quit));
    }

    #[test]
    fn removed_locked_expiring_and_expired_tokens_each_change_the_icon() {
        let removed = status(vec![token("A", false, PinState::Ok)], vec![cert("A", 400)]);
        assert_eq!(state_of(&removed, None), TrayState::NoToken);
        assert!(
            infos(&build(&removed, &Sites::default(), Lang::Vi, None, None).entries)
                .contains("Token A — đã rút")
        );
        let locked = status(
            vec![token("A", true, PinState::Locked)],
            vec![cert("A", 400)],
        );
        let model = build(&locked, &Sites::default(), Lang::En, None, None);
        assert_eq!(model.state, TrayState::PinLocked);
        assert!(
            model.tooltip.contains("ask the CA to unlock"),
            "{}",
            model.tooltip
        );
        let expiring = status(vec![token("A", true, PinState::Ok)], vec![cert("A", 12)]);
        assert_eq!(state_of(&expiring, None), TrayState::Expiring);
        let expired = status(vec![token("A", true, PinState::Ok)], vec![cert("A", -3)]);
        assert_eq!(state_of(&expired, None), TrayState::Expired);
        // An expiring certificate on a token that is not plugged in does not colour the icon.
        let elsewhere = status(
            vec![
                token("A", true, PinState::Ok),
                token("B", false, PinState::Ok),
            ],
            vec![cert("A", 400), cert("B", 5)],
        );
        assert_eq!(state_of(&elsewhere, None), TrayState::Ready);
        assert_eq!(
            state_of(&elsewhere, Some("port 22715 taken")),
            TrayState::AgentError
        );
        let colours: std::collections::HashSet<Vec<u8>> = [
            TrayState::Ready,
            TrayState::NoToken,
            TrayState::Expiring,
            TrayState::PinLocked,
        ]
        .into_iter()
        .map(|s| icon_rgba(s).0[16 * 32 * 4 + 4 * 4..16 * 32 * 4 + 4 * 4 + 4].to_vec())
        .collect();
        assert_eq!(colours.len(), 4, "each state its own colour");
    }

    #[test]
    fn user_allowed_sites_can_be_revoked_and_policy_sites_cannot() {
        let s = status(Vec::new(), Vec::new());
        let sites = Sites {
            admin: vec!["https://dms.example.gov.vn".into()],
            approved: vec!["https://vanban.example.vn".into()],
        };
        let model = build(&s, &sites, Lang::Vi, None, Some(47401));
        let actions = items(&model.entries);
        assert!(actions.contains(&(
            "Thu hồi quyền của https://vanban.example.vn".into(),
            Action::RevokeSite("https://vanban.example.vn".into())
        )));
        assert!(!actions
            .iter()
            .any(|(_, a)| *a == Action::RevokeSite("https://dms.example.gov.vn".into())));
        let checked: Vec<_> = model
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Submenu { entries, .. } => Some(entries),
                _ => None,
            })
            .flatten()
            .filter_map(|e| match e {
                Entry::Item {
                    label,
                    checked: Some(true),
                    ..
                } => Some(label.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(checked, ["Tiếng Việt"]);
    }

    #[test]
    fn notices_follow_insertion_removal_locking_and_expiry() {
        let none = status(Vec::new(), Vec::new());
        let present = status(vec![token("A", true, PinState::Ok)], vec![cert("A", 20)]);
        let inserted = notices(&none, &present, Lang::Vi);
        assert_eq!(
            inserted,
            [
                "Đã cắm thiết bị ký số \"Token A\"",
                "Chứng thư số của Nguyễn Văn An còn 20 ngày: hãy đề nghị gia hạn"
            ]
        );
        // Nothing new: nothing said again.
        assert!(notices(&present, &present, Lang::Vi).is_empty());
        let removed = status(vec![token("A", false, PinState::Ok)], Vec::new());
        assert_eq!(
            notices(&present, &removed, Lang::En),
            ["Token \"Token A\" removed"]
        );
        let locked = status(
            vec![token("A", true, PinState::Locked)],
            vec![cert("A", 20)],
        );
        let said = notices(&present, &locked, Lang::Vi);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("đã bị khóa"), "{said:?}");
    }
}
