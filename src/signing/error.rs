//! The one user-facing classification of everything that can go wrong while signing, and its
//! single mapping to the stable API codes.

use crate::api::{ErrorCode, Lang};
use crate::certificate::Validity;
use crate::token::{self, PinState};

/// What the user (or the calling page) is told. Every lower-level error becomes one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The user cancelled a prompt.
    #[error("cancelled by the user")]
    UserCancelled,
    /// The user or the token did not answer in time.
    #[error("timed out")]
    Timeout,
    /// The token holding the certificate is not plugged in.
    #[error("token not present")]
    TokenNotPresent,
    /// Wrong PIN.
    #[error("PIN incorrect")]
    PinIncorrect {
        /// PIN state after the attempt.
        pin_state: PinState,
        /// Retries left when known.
        retries_left: Option<u32>,
    },
    /// PIN of a length the token refuses (the attempt did not count).
    #[error("PIN length out of range")]
    PinLength,
    /// PIN locked.
    #[error("PIN locked")]
    PinLocked,
    /// No signing certificate with that id.
    #[error("certificate not found")]
    CertificateNotFound,
    /// Expired or not yet valid.
    #[error("certificate not valid now ({0:?})")]
    CertificateNotValid(Validity),
    /// A malformed request; the text says what, without internal detail.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Another operation holds the token.
    #[error("busy")]
    Busy,
    /// The origin may not use the agent.
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// The signer certificate or a CA certificate above it is revoked: nothing is signed.
    #[error("certificate revoked: {0}")]
    CertificateRevoked(String),
    /// The policy requires a status check and the status could not be established.
    #[error("revocation status unavailable: {0}")]
    RevocationUnavailable(String),
    /// The DMS ticket was refused (before any dialog).
    #[error(transparent)]
    Ticket(#[from] super::ticket::TicketError),
    /// Anything else; the detail goes to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable code: the only place codes are chosen.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UserCancelled => ErrorCode::UserCancelled,
            Self::Timeout => ErrorCode::Timeout,
            Self::TokenNotPresent => ErrorCode::TokenNotPresent,
            Self::PinIncorrect { .. } | Self::PinLength => ErrorCode::PinIncorrect,
            Self::PinLocked => ErrorCode::PinLocked,
            Self::CertificateNotFound => ErrorCode::CertificateNotFound,
            Self::CertificateNotValid(_) => ErrorCode::CertificateNotValid,
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::Busy => ErrorCode::Busy,
            Self::OriginNotAllowed => ErrorCode::OriginNotAllowed,
            Self::Ticket(e) => match e {
                super::ticket::TicketError::Invalid(_) => ErrorCode::TicketInvalid,
                super::ticket::TicketError::Expired => ErrorCode::TicketExpired,
                super::ticket::TicketError::Replayed => ErrorCode::TicketReplayed,
                super::ticket::TicketError::Required => ErrorCode::TicketRequired,
            },
            Self::CertificateRevoked(_) => ErrorCode::CertificateRevoked,
            Self::RevocationUnavailable(_) => ErrorCode::RevocationUnavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Retries left, for `PIN_INCORRECT`.
    pub fn retries_left(&self) -> Option<u32> {
        match self {
            Self::PinIncorrect { retries_left, .. } => *retries_left,
            _ => None,
        }
    }

    /// The message for the user: the code's message plus what this instance adds (retries
    /// left, which rule a request broke). Never internal detail.
    pub fn user_message(&self, lang: Lang) -> String {
        use crate::i18n::{message, text};
        let base = self.code().message(lang);
        let more = match self {
            Self::PinIncorrect {
                retries_left: Some(n),
                ..
            } => message(lang, "detail-tries-left", &[("n", (*n).into())]),
            Self::PinIncorrect {
                pin_state: PinState::CountLow,
                ..
            } => text(lang, "detail-few-tries"),
            Self::PinLength => text(lang, "detail-pin-length"),
            Self::CertificateNotValid(Validity::Expired) => {
                return text(lang, "detail-certificate-expired")
            }
            Self::BadRequest(detail)
            | Self::Ticket(super::ticket::TicketError::Invalid(detail)) => {
                return format!("{base} ({detail})")
            }
            _ => return base,
        };
        format!("{base} {more}")
    }
}

impl Error {
    /// The same failure again, for every document a batch did not reach (errors carry no
    /// clone: the cause is kept where it matters to the user, else told as internal).
    pub fn again(&self) -> Self {
        match self {
            Error::UserCancelled => Error::UserCancelled,
            Error::Timeout => Error::Timeout,
            Error::TokenNotPresent => Error::TokenNotPresent,
            Error::PinLocked => Error::PinLocked,
            Error::Busy => Error::Busy,
            other => Error::Internal(other.to_string()),
        }
    }

    /// The wire form in `lang`.
    pub fn to_response(&self, lang: Lang) -> crate::api::ErrorResponse {
        crate::api::ErrorResponse {
            error: crate::api::ErrorBody {
                code: self.code(),
                message: self.user_message(lang),
                retries_left: self.retries_left(),
            },
        }
    }
}

impl From<token::Error> for Error {
    fn from(error: token::Error) -> Self {
        use token::Error as T;
        match error {
            T::TokenNotPresent => Self::TokenNotPresent,
            T::CertificateNotFound(_) | T::KeyNotFound => Self::CertificateNotFound,
            T::PinIncorrect {
                state,
                retries_left,
            } => Self::PinIncorrect {
                pin_state: state,
                retries_left,
            },
            T::PinLength => Self::PinLength,
            T::PinLocked => Self::PinLocked,
            T::Cancelled => Self::UserCancelled,
            T::Timeout => Self::Timeout,
            T::Busy => Self::Busy,
            T::DigestLength { alg, expected, got } => {
                Self::BadRequest(format!("a {alg} digest has {expected} bytes, got {got}"))
            }
            other
            @ (T::UnsupportedKey(_) | T::Module { .. } | T::Pkcs11 { .. } | T::WorkerGone) => {
                Self::Internal(other.to_string())
            }
        }
    }
}

impl From<crate::cades::Error> for Error {
    fn from(error: crate::cades::Error) -> Self {
        use crate::cades::Error as C;
        match error {
            C::DigestLength { alg, expected, got } => {
                Self::BadRequest(format!("a {alg} digest has {expected} bytes, got {got}"))
            }
            C::SignedAttributes(rule) => Self::BadRequest(format!("signed attributes: {rule}")),
            C::Signer(inner) => match inner.downcast::<token::Error>() {
                Ok(token_error) => Self::from(*token_error),
                Err(other) => Self::Internal(other.to_string()),
            },
            other => Self::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_pin_message_shows_retries_in_both_languages() {
        let error = Error::from(token::Error::PinIncorrect {
            state: PinState::FinalTry,
            retries_left: Some(1),
        });
        assert_eq!(error.code(), ErrorCode::PinIncorrect);
        assert_eq!(error.retries_left(), Some(1));
        assert!(error.user_message(Lang::Vi).contains("Còn 1 lần thử"));
        assert!(error.user_message(Lang::En).contains("1 tries left"));
    }

    #[test]
    fn internal_detail_never_reaches_the_message() {
        let error = Error::from(token::Error::Pkcs11 {
            rv: "DeviceError".into(),
            function: "Sign".into(),
        });
        assert_eq!(error.code(), ErrorCode::Internal);
        assert!(!error.user_message(Lang::En).contains("DeviceError"));
    }
}
