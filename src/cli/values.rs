//! The closed sets of values the command line takes, as clap value enums: a typo is a usage
//! error (exit 3) listing the accepted values, and each maps to the library's own type.

use clap::ValueEnum;

/// `--alg`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Alg {
    /// SHA-256.
    #[value(name = "SHA-256", alias = "sha256")]
    Sha256,
    /// SHA-384.
    #[value(name = "SHA-384", alias = "sha384")]
    Sha384,
    /// SHA-512.
    #[value(name = "SHA-512", alias = "sha512")]
    Sha512,
}

impl From<Alg> for kyso::digest::DigestAlgorithm {
    fn from(alg: Alg) -> Self {
        match alg {
            Alg::Sha256 => Self::Sha256,
            Alg::Sha384 => Self::Sha384,
            Alg::Sha512 => Self::Sha512,
        }
    }
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Detached CAdES-BES SignedData over a digest.
    Cms,
    /// The bare signature value over server-built signed attributes.
    Raw,
}

impl From<Format> for kyso::api::SignFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Cms => Self::Cms,
            Format::Raw => Self::Raw,
        }
    }
}

/// `--role`: what a signature is for (Decree 30), and so what the PIN dialog says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// The leader approves.
    Approve,
    /// The clerk issues with the seal.
    Issue,
    /// A separate attached file.
    Appendix,
    /// An electronic copy.
    Copy,
    /// An incoming document.
    Incoming,
}

impl From<Role> for kyso::api::Purpose {
    fn from(role: Role) -> Self {
        kyso::pades::roles::Role::from(role).into()
    }
}

impl From<Role> for kyso::pades::roles::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::Approve => Self::Approve,
            Role::Issue => Self::Issue,
            Role::Appendix => Self::Appendix,
            Role::Copy => Self::Copy,
            Role::Incoming => Self::Incoming,
        }
    }
}

/// `--kind`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    /// A person's certificate.
    Personal,
    /// An organisation's (the seal).
    Organization,
}

impl From<Kind> for kyso::certificate::Kind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Personal => Self::Personal,
            Kind::Organization => Self::Organization,
        }
    }
}

/// `--lang`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Tiếng Việt.
    #[default]
    Vi,
    /// English.
    En,
}

/// `--policy` of `kyso pdf verify`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Policy {
    /// A personal signature and, after it, the organisation's with its seal (letter 004).
    Issued,
    /// An organisation signature on a scanned paper document (letter 002, way 1).
    Scanned,
}

impl From<Policy> for kyso::pades::verify::Policy {
    fn from(policy: Policy) -> Self {
        match policy {
            Policy::Issued => Self::Issued,
            Policy::Scanned => Self::Scanned,
        }
    }
}

/// `--level`: a PAdES baseline level.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Level {
    /// The signature alone.
    #[value(name = "B-B")]
    B,
    /// With a signature timestamp.
    #[value(name = "B-T")]
    T,
    /// And the validation data of every signature.
    #[value(name = "B-LT")]
    Lt,
    /// And a document timestamp.
    #[value(name = "B-LTA")]
    Lta,
}

impl From<Level> for kyso::pades::archive::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::B => Self::B,
            Level::T => Self::T,
            Level::Lt => Self::Lt,
            Level::Lta => Self::Lta,
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for journald, Loki, Elasticsearch…).
    Json,
}
