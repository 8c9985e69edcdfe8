//! The agent's TLS identity: a per-install local CA and a leaf for `localhost`, `127.0.0.1` and
//! `::1`, and the rustls server configuration.
//!
//! Design (see the README, "Local HTTPS"):
//! - The CA is generated on this machine, name-constrained to `localhost`, `127.0.0.1/32` and
//!   `::1/128` (Chromium enforces the constraints on local roots, so even a stolen leaf key
//!   cannot vouch for another site), and **its private key is never written anywhere**: it
//!   signs the leaf in memory and is dropped. No key is shipped or shared between installs.
//! - The leaf (ECDSA P-256, 397 days) and its key are kept in `DATA_DIR/tls/`, files 0600.
//! - Renewal: when the leaf has fewer than 30 days left (checked at start and daily), a new CA
//!   and leaf are made and the new CA replaces the old one in the trust stores it had been
//!   installed in (`trust.json`); the running server switches to the new leaf without restart.
//! - TLS 1.2 and 1.3 only, ring provider (no aws-lc), ALPN h2 and http/1.1.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose, NameConstraints,
    SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Days a leaf is valid.
const LEAF_DAYS: i64 = 397;
/// Renew when fewer days than this are left.
const RENEW_DAYS: i64 = 30;

/// Errors of the TLS identity.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file in the data folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// The stored files are unreadable.
    #[error("stored TLS files are invalid: {0}")]
    Invalid(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The files of the local identity.
#[derive(Clone, Debug)]
pub struct Paths {
    /// Folder (`DATA_DIR/tls`).
    pub dir: PathBuf,
    /// CA certificate (PEM): what the trust stores receive.
    pub ca: PathBuf,
    /// Leaf certificate (PEM).
    pub leaf: PathBuf,
    /// Leaf private key (PEM, 0600).
    pub key: PathBuf,
}

impl Paths {
    /// The files under `data_dir/tls`.
    pub fn new(data_dir: &Path) -> Self {
        let dir = data_dir.join("tls");
        Self {
            ca: dir.join("ca.pem"),
            leaf: dir.join("leaf.pem"),
            key: dir.join("leaf-key.pem"),
            dir,
        }
    }
}

/// The loaded identity.
pub struct Identity {
    /// Files.
    pub paths: Paths,
    /// CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// Leaf chain (leaf only), DER.
    pub leaf_der: Vec<u8>,
    /// Leaf key, PKCS#8 DER.
    key_der: Vec<u8>,
    /// A new CA was made by this call (trust stores need the new one).
    pub renewed: bool,
}

impl Identity {
    /// The CA's nickname in trust stores: unique per install (`Kyso Local CA 1a2b3c4d`).
    pub fn ca_nickname(&self) -> String {
        format!(
            "Kyso Local CA {}",
            &crate::certificate::id_of(&self.ca_der)[..8]
        )
    }

    /// The CA certificate as PEM.
    pub fn ca_pem(&self) -> String {
        pem_block("CERTIFICATE", &self.ca_der)
    }

    /// Days until the leaf expires.
    pub fn leaf_days_left(&self) -> i64 {
        crate::certificate::CertificateInfo::from_der(&self.leaf_der)
            .map(|c| c.days_left())
            .unwrap_or(-1)
    }

    fn certified_key(&self) -> Result<Arc<CertifiedKey>, Error> {
        let provider = rustls::crypto::ring::default_provider();
        let key = PrivateKeyDer::try_from(self.key_der.clone())
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let signing_key = provider
            .key_provider
            .load_private_key(key)
            .map_err(Error::Rustls)?;
        Ok(Arc::new(CertifiedKey::new(
            vec![CertificateDer::from(self.leaf_der.clone())],
            signing_key,
        )))
    }
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), Error> {
    crate::platform::files::write_private(path, data).map_err(io(path))
}

fn read_pem_der(path: &Path, label: &str) -> Result<Vec<u8>, Error> {
    let text = std::fs::read(path).map_err(io(path))?;
    let mut reader = std::io::BufReader::new(text.as_slice());
    for item in rustls_pemfile::read_all(&mut reader) {
        match (item.map_err(|e| Error::Invalid(e.to_string()))?, label) {
            (rustls_pemfile::Item::X509Certificate(der), "CERTIFICATE") => return Ok(der.to_vec()),
            (rustls_pemfile::Item::Pkcs8Key(der), "PRIVATE KEY") => {
                return Ok(der.secret_pkcs8_der().to_vec())
            }
            _ => {}
        }
    }
    Err(Error::Invalid(format!("{}: no {label}", path.display())))
}

/// Loads the identity from `data_dir`, creating it on first start and renewing it when the
/// leaf is close to expiry.
///
/// # Errors
/// Files that cannot be written or read.
pub fn ensure(data_dir: &Path) -> Result<Identity, Error> {
    let paths = Paths::new(data_dir);
    if let Ok(identity) = load(&paths) {
        if identity.leaf_days_left() >= RENEW_DAYS {
            return Ok(identity);
        }
        tracing::info!(
            days_left = identity.leaf_days_left(),
            "renewing the local TLS identity"
        );
    }
    create(&paths)
}

fn load(paths: &Paths) -> Result<Identity, Error> {
    Ok(Identity {
        ca_der: read_pem_der(&paths.ca, "CERTIFICATE")?,
        leaf_der: read_pem_der(&paths.leaf, "CERTIFICATE")?,
        key_der: read_pem_der(&paths.key, "PRIVATE KEY")?,
        paths: paths.clone(),
        renewed: false,
    })
}

fn create(paths: &Paths) -> Result<Identity, Error> {
    crate::platform::files::private_dir(&paths.dir).map_err(io(&paths.dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io(&paths.dir))?;
    }
    let now = time::OffsetDateTime::now_utc();
    let install_id = &crate::certificate::id_of(&now.unix_timestamp_nanos().to_le_bytes())[..8];

    let mut ca_params = CertificateParams::default();
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, format!("Kyso Local CA {install_id}"));
    ca_name.push(
        DnType::OrganizationName,
        "Kyso (chỉ dùng cho máy này / this computer only)",
    );
    ca_params.distinguished_name = ca_name;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".into()),
            GeneralSubtree::IpAddress(CidrSubnet::V4([127, 0, 0, 1], [255, 255, 255, 255])),
            GeneralSubtree::IpAddress(CidrSubnet::V6(
                std::net::Ipv6Addr::LOCALHOST.octets(),
                [0xff; 16],
            )),
        ],
        excluded_subtrees: Vec::new(),
    });
    ca_params.not_before = now - time::Duration::hours(1);
    ca_params.not_after = now + time::Duration::days(LEAF_DAYS + 1);
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut leaf_params = CertificateParams::default();
    let mut leaf_name = DistinguishedName::new();
    leaf_name.push(DnType::CommonName, "localhost");
    leaf_params.distinguished_name = leaf_name;
    leaf_params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)),
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.not_before = now - time::Duration::hours(1);
    leaf_params.not_after = now + time::Duration::days(LEAF_DAYS);
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer)?;
    // The CA key goes out of scope here, never having touched the disk.
    drop(issuer);

    write_private(&paths.key, leaf_key.serialize_pem().as_bytes())?;
    write_private(&paths.leaf, leaf_cert.pem().as_bytes())?;
    write_private(&paths.ca, ca_cert.pem().as_bytes())?;
    tracing::info!(dir = %paths.dir.display(), "created the local CA and TLS leaf");
    let mut identity = load(paths)?;
    identity.renewed = true;
    Ok(identity)
}

/// Serves the current leaf and lets a renewal swap it while the server runs.
#[derive(Debug)]
pub struct LeafResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl LeafResolver {
    /// A resolver serving `identity`'s leaf.
    ///
    /// # Errors
    /// A leaf key rustls cannot use.
    pub fn new(identity: &Identity) -> Result<Arc<Self>, Error> {
        Ok(Arc::new(Self {
            current: RwLock::new(identity.certified_key()?),
        }))
    }

    /// Switches to a renewed leaf.
    ///
    /// # Errors
    /// A leaf key rustls cannot use.
    pub fn replace(&self, identity: &Identity) -> Result<(), Error> {
        let key = identity.certified_key()?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = key;
        Ok(())
    }
}

impl ResolvesServerCert for LeafResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The rustls server configuration: TLS 1.2+, ring, h2 and http/1.1.
///
/// # Errors
/// rustls refusing the protocol versions (never with the ring provider).
pub fn server_config(resolver: Arc<LeafResolver>) -> Result<rustls::ServerConfig, Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
    .with_no_client_auth()
    .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A client configuration that trusts only the agent's CA (for `kyso status` and the bench).
///
/// # Errors
/// A CA certificate rustls cannot parse.
pub fn client_config(ca_der: &[u8]) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(Error::Rustls)?;
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// Reads the CA certificate of an existing identity (without creating one).
///
/// # Errors
/// No identity yet, or an unreadable file.
pub fn read_ca(data_dir: &Path) -> Result<Vec<u8>, Error> {
    read_pem_der(&Paths::new(data_dir).ca, "CERTIFICATE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_writes_private_files_and_no_ca_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let identity = ensure(dir.path()).expect("identity");
        assert!(identity.renewed);
        let names: Vec<String> = std::fs::read_dir(&identity.paths.dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        for name in &names {
            let text = std::fs::read_to_string(identity.paths.dir.join(name)).expect("read");
            if name != "leaf-key.pem" {
                assert!(!text.contains("PRIVATE KEY"), "{name} holds a key");
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(identity.paths.dir.join(name))
                    .expect("meta")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{name}");
            }
        }
        // A second start reuses the identity.
        let again = ensure(dir.path()).expect("again");
        assert!(!again.renewed);
        assert_eq!(again.ca_der, identity.ca_der);
        assert!(again.leaf_days_left() > 390);
    }

    #[test]
    fn a_leaf_close_to_expiry_is_renewed_with_a_new_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ensure(dir.path()).expect("identity");
        // Replace the leaf by one that expires in 10 days.
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(380);
        params.not_after = now + time::Duration::days(10);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
        let short = params.self_signed(&key).expect("cert");
        write_private(&first.paths.leaf, short.pem().as_bytes()).expect("write");
        assert!(load(&first.paths).expect("load").leaf_days_left() < RENEW_DAYS);
        let renewed = ensure(dir.path()).expect("renewed");
        assert!(renewed.renewed);
        assert_ne!(renewed.ca_der, first.ca_der, "a renewal makes a new CA");
        assert!(renewed.leaf_days_left() > 390);
    }
}
