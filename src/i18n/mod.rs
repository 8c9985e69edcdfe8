//! The one message catalogue: what a user reads, in Vietnamese (default) and English, as
//! Fluent files compiled into the binary (`vi.ftl`, `en.ftl`). The agent's API errors, the
//! CLI, the bridge, the dialogs and the tray take their words from here, and the web SDK's
//! messages are generated from the same files (`web-sdk/scripts/generate.mjs`). Code keys
//! messages by stable ids; a test keeps both languages carrying the same ids and variables.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

pub use fluent_bundle::FluentValue as Arg;

/// The Vietnamese catalogue.
pub const VI: &str = include_str!("vi.ftl");
/// The English catalogue.
pub const EN: &str = include_str!("en.ftl");

/// A language for what users read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Tiếng Việt (default).
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// Picks the language from an `Accept-Language`-like string; Vietnamese unless English
    /// comes first.
    pub fn from_accept_language(header: &str) -> Self {
        let first = header
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if first.starts_with("en") {
            Self::En
        } else {
            Self::Vi
        }
    }
}

impl Lang {
    /// The language of `KYSO_LANG` (`vi`, `en`), else of the system's locale (`LC_ALL`,
    /// `LC_MESSAGES`, `LANG`, then `LANGUAGE`): English when it is English, else Vietnamese.
    pub fn from_locale_env(get: impl Fn(&str) -> Option<String>) -> Self {
        let locale = ["KYSO_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"]
            .iter()
            .filter_map(|name| get(name))
            .find(|v| !v.is_empty() && v != "C" && v != "POSIX")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if locale.starts_with("en") {
            Self::En
        } else {
            Self::Vi
        }
    }

    /// `vi` / `en`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Vi => "vi",
            Self::En => "en",
        }
    }

    /// Parses `vi` / `en` (as saved by [`Lang::tag`]).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "vi" => Some(Self::Vi),
            "en" => Some(Self::En),
            _ => None,
        }
    }
}

static USER_LANG: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(u8::MAX);

/// The language the user reads dialogs and the tray in: the tray's choice once made
/// ([`set_user_lang`]), else the system locale's.
pub fn user_lang() -> Lang {
    match USER_LANG.load(std::sync::atomic::Ordering::Relaxed) {
        0 => Lang::Vi,
        1 => Lang::En,
        _ => Lang::from_locale_env(|name| std::env::var(name).ok()),
    }
}

/// Sets the user's language (the tray's language menu, or the saved choice at start).
pub fn set_user_lang(lang: Lang) {
    let value = match lang {
        Lang::Vi => 0,
        Lang::En => 1,
    };
    USER_LANG.store(value, std::sync::atomic::Ordering::Relaxed);
}

/// Vietnam's offset, used when the system's cannot be read.
const VIETNAM: time::UtcOffset = time::macros::offset!(+7);

static LOCAL_OFFSET: OnceLock<time::UtcOffset> = OnceLock::new();

/// Reads the system's UTC offset once, while the process has a single thread (the only time
/// the `time` crate may read it on Unix): call first thing in `main`.
pub fn init_local_offset() {
    let _ = LOCAL_OFFSET.set(time::UtcOffset::current_local_offset().unwrap_or(VIETNAM));
}

/// The offset dates are shown in: the system's ([`init_local_offset`]), else +07:00.
pub fn local_offset() -> time::UtcOffset {
    LOCAL_OFFSET.get().copied().unwrap_or(VIETNAM)
}

/// A date as Vietnamese users read it, in the local zone: `29/11/2028`.
pub fn local_date(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(local_offset());
    format!("{:02}/{:02}/{:04}", t.day(), u8::from(t.month()), t.year())
}

type Bundle = FluentBundle<FluentResource>;

fn bundle(lang: Lang) -> &'static Bundle {
    static BUNDLES: OnceLock<[Bundle; 2]> = OnceLock::new();
    let bundles = BUNDLES.get_or_init(|| [load("vi", VI), load("en", EN)]);
    match lang {
        Lang::Vi => &bundles[0],
        Lang::En => &bundles[1],
    }
}

fn load(tag: &str, source: &str) -> Bundle {
    let id: unic_langid::LanguageIdentifier = tag.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // No Unicode isolation marks: the texts go to terminals, logs and JSON as well as widgets.
    bundle.set_use_isolating(false);
    // A syntax error keeps the messages that parsed; the catalogue test fails on it first.
    let resource =
        FluentResource::try_new(source.to_string()).unwrap_or_else(|(partial, _)| partial);
    let _ = bundle.add_resource(resource);
    bundle
}

/// The message `id` in `lang`, with its variables; the English one when `lang` lacks it, the
/// id itself when neither has it (never a panic on a user path).
pub fn message(lang: Lang, id: &str, args: &[(&str, Arg<'_>)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, value.clone());
    }
    for candidate in [lang, Lang::En] {
        let bundle = bundle(candidate);
        if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
            return text.into_owned();
        }
    }
    id.to_string()
}

/// The message without variables.
pub fn text(lang: Lang, id: &str) -> String {
    message(lang, id, &[])
}

/// "Vietnamese / English", for texts read by both (command-line errors, dialogs, logs kept
/// with a document).
pub fn both(id: &str, args: &[(&str, Arg<'_>)]) -> String {
    format!(
        "{} / {}",
        message(Lang::Vi, id, args),
        message(Lang::En, id, args)
    )
}

/// The id of a stable code's message: `prefix-` and the code in kebab case
/// (`PIN_INCORRECT` → `error-pin-incorrect`).
pub fn code_id(prefix: &str, code: &str) -> String {
    format!("{prefix}-{}", code.to_ascii_lowercase().replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_syntax::ast;

    /// Every message id with the variables it uses.
    fn ids_and_variables(source: &str) -> Vec<(String, Vec<String>)> {
        let resource = fluent_syntax::parser::parse(source).expect("the catalogue parses");
        let mut out = Vec::new();
        for entry in resource.body {
            if let ast::Entry::Message(message) = entry {
                let mut variables = Vec::new();
                if let Some(pattern) = &message.value {
                    collect_variables(pattern, &mut variables);
                }
                variables.sort();
                variables.dedup();
                out.push((message.id.name.to_string(), variables));
            }
        }
        out.sort();
        out
    }

    fn collect_variables(pattern: &ast::Pattern<&str>, into: &mut Vec<String>) {
        for element in &pattern.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                collect_expression(expression, into);
            }
        }
    }

    fn collect_expression(expression: &ast::Expression<&str>, into: &mut Vec<String>) {
        match expression {
            ast::Expression::Select { selector, variants } => {
                if let ast::InlineExpression::VariableReference { id } = selector {
                    into.push(id.name.to_string());
                }
                for variant in variants {
                    collect_variables(&variant.value, into);
                }
            }
            ast::Expression::Inline(ast::InlineExpression::VariableReference { id }) => {
                into.push(id.name.to_string());
            }
            ast::Expression::Inline(_) => {}
        }
    }

    #[test]
    fn both_languages_carry_the_same_messages_and_variables() {
        let vi = ids_and_variables(VI);
        let en = ids_and_variables(EN);
        assert!(vi.len() > 50, "{}", vi.len());
        let vi_ids: Vec<&String> = vi.iter().map(|(id, _)| id).collect();
        let en_ids: Vec<&String> = en.iter().map(|(id, _)| id).collect();
        let only_vi: Vec<_> = vi_ids.iter().filter(|id| !en_ids.contains(id)).collect();
        let only_en: Vec<_> = en_ids.iter().filter(|id| !vi_ids.contains(id)).collect();
        assert!(
            only_vi.is_empty() && only_en.is_empty(),
            "only in vi: {only_vi:?}; only in en: {only_en:?}"
        );
        assert_eq!(vi, en, "the same variables in both languages");
    }

    #[test]
    fn messages_format_with_their_variables_and_fall_back_safely() {
        assert_eq!(
            message(Lang::Vi, "dialog-tries-left", &[("n", 2.into())]),
            "Còn 2 lần thử"
        );
        assert_eq!(
            message(Lang::En, "dialog-tries-left", &[("n", 2.into())]),
            "2 tries left"
        );
        assert_eq!(
            both("reason-modified-after-signing", &[("timestamp", "yes".into())]),
            "nội dung văn bản bị thay đổi sau dấu thời gian / the document content was changed after this document timestamp"
        );
        assert_eq!(text(Lang::Vi, "no-such-message"), "no-such-message");
        assert_eq!(code_id("error", "PIN_INCORRECT"), "error-pin-incorrect");
    }

    #[test]
    fn accept_language_prefers_vietnamese_unless_english_first() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_accept_language("vi-VN,en;q=0.5"), Lang::Vi);
        assert_eq!(Lang::from_accept_language(""), Lang::Vi);
    }
}
