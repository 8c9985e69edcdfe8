//! CAdES-BES detached CMS SignedData (RFC 5652, ETSI EN 319 122-1) built from a digest and a
//! signer callback: bytes in, bytes out. Nothing here touches a token or a PDF.
//!
//! The signed attributes are exactly content-type (id-data), message-digest and
//! signing-certificate-v2 (RFC 5035), DER-sorted; no signing-time, because PAdES forbids it (the
//! time lives in the PDF's `/M`). The signer is identified by issuerAndSerialNumber, which every
//! PDF viewer understands.

use cms::cert::x509::attr::Attribute;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::CmsVersion;
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignerIdentifier,
};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::GeneralName;

use crate::digest::DigestAlgorithm;
use crate::scheme::SignatureScheme;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");

/// Errors while building or reading CMS structures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// DER encoding or decoding failed.
    #[error("DER: {0}")]
    Der(#[from] der::Error),
    /// The digest length does not match its algorithm.
    #[error("a {alg} digest has {expected} bytes, got {got}")]
    DigestLength {
        /// The algorithm.
        alg: DigestAlgorithm,
        /// Its digest length.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// Server-built signed attributes that the agent will not sign.
    #[error("signed attributes refused: {0}")]
    SignedAttributes(&'static str),
    /// The signer callback failed; its error is kept.
    #[error("signer failed")]
    Signer(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl SignatureScheme {
    /// The algorithm identifier that goes into SignerInfo.signatureAlgorithm.
    ///
    /// # Errors
    /// Only if DER encoding of the PSS parameters fails.
    pub fn algorithm_identifier(
        self,
        digest: DigestAlgorithm,
    ) -> Result<AlgorithmIdentifierOwned, Error> {
        let oid = |s: &str| ObjectIdentifier::new_unwrap(s);
        Ok(match self {
            Self::RsaPkcs1v15 => AlgorithmIdentifierOwned {
                oid: match digest {
                    DigestAlgorithm::Sha256 => oid("1.2.840.113549.1.1.11"),
                    DigestAlgorithm::Sha384 => oid("1.2.840.113549.1.1.12"),
                    DigestAlgorithm::Sha512 => oid("1.2.840.113549.1.1.13"),
                },
                parameters: Some(Any::null()),
            },
            Self::Ecdsa => AlgorithmIdentifierOwned {
                oid: match digest {
                    DigestAlgorithm::Sha256 => oid("1.2.840.10045.4.3.2"),
                    DigestAlgorithm::Sha384 => oid("1.2.840.10045.4.3.3"),
                    DigestAlgorithm::Sha512 => oid("1.2.840.10045.4.3.4"),
                },
                parameters: None,
            },
            Self::RsaPss => {
                let hash = digest_algorithm_identifier(digest);
                let params = RsaPssParams {
                    hash: Some(hash.clone()),
                    mask_gen: Some(AlgorithmIdentifierOwned {
                        oid: ID_MGF1,
                        parameters: Some(Any::encode_from(&hash)?),
                    }),
                    salt_length: Some(digest.len() as u32),
                };
                AlgorithmIdentifierOwned {
                    oid: ID_RSASSA_PSS,
                    parameters: Some(Any::encode_from(&params)?),
                }
            }
        })
    }
}

/// RFC 4055 RSASSA-PSS-params (trailerField left at its default).
#[derive(Clone, Debug, der::Sequence)]
struct RsaPssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_length: Option<u32>,
}

/// RFC 5035 ESSCertIDv2; hashAlgorithm is omitted because SHA-256 is its DER default.
#[derive(Clone, Debug, der::Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
    issuer_serial: IssuerSerial,
}

/// RFC 5035 IssuerSerial.
#[derive(Clone, Debug, der::Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: x509_cert::serial_number::SerialNumber,
}

/// RFC 5035 SigningCertificateV2 (no policies).
#[derive(Clone, Debug, der::Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// The signer's side of a CMS: its certificate and the chain to embed.
pub struct SignerCertificates<'a> {
    /// The signer certificate, DER.
    pub certificate: &'a [u8],
    /// Intermediates and root, DER, in any order.
    pub chain: &'a [Vec<u8>],
}

fn digest_algorithm_identifier(digest: DigestAlgorithm) -> AlgorithmIdentifierOwned {
    // RFC 5754 §2: the parameters of SHA-2 identifiers are absent.
    AlgorithmIdentifierOwned {
        oid: digest.oid(),
        parameters: None,
    }
}

fn check_digest(alg: DigestAlgorithm, digest: &[u8]) -> Result<(), Error> {
    if digest.len() == alg.len() {
        Ok(())
    } else {
        Err(Error::DigestLength {
            alg,
            expected: alg.len(),
            got: digest.len(),
        })
    }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, Error> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

/// The PAdES-B-B signed attributes for `digest` (the ByteRange digest) and `certificate`, DER.
///
/// # Errors
/// [`Error::DigestLength`] for a digest of the wrong length; [`Error::Der`] for a certificate that
/// does not parse.
pub fn signed_attributes(
    alg: DigestAlgorithm,
    digest: &[u8],
    certificate: &[u8],
) -> Result<Vec<u8>, Error> {
    check_digest(alg, digest)?;
    ParsedSigner::new(&SignerCertificates {
        certificate,
        chain: &[],
    })?
    .signed_attributes(alg, digest)
}

/// A signer's certificates parsed and encoded once, for the signed attributes and the
/// SignedData of every document it signs: a batch of a hundred parses them once, not a hundred
/// times (issue 19: the CMS work per document).
pub struct ParsedSigner {
    /// The signer's issuer and serial number (a SignerIdentifier), encoded once: every
    /// SignerInfo splices these bytes in.
    sid: Vec<u8>,
    /// The signer's certificate and the distinct chain certificates (a DER SET OF), encoded once as SignedData's `[0] IMPLICIT` field: every SignedData of
    /// this signer splices these bytes in instead of encoding the certificates again.
    certificates_field: Vec<u8>,
    /// The encoded SigningCertificateV2 attribute value.
    ess: Any,
}

impl ParsedSigner {
    /// Parses the signer's certificate and chain.
    ///
    /// # Errors
    /// [`Error::Der`] when a certificate does not parse.
    pub fn new(signer: &SignerCertificates<'_>) -> Result<Self, Error> {
        let cert = x509_cert::Certificate::from_der(signer.certificate)?;
        let issuer = cert.tbs_certificate.issuer.clone();
        let serial_number = cert.tbs_certificate.serial_number.clone();
        let ess = Any::encode_from(&SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                cert_hash: OctetString::new(DigestAlgorithm::Sha256.digest(signer.certificate))?,
                issuer_serial: IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(issuer.clone())],
                    serial_number: serial_number.clone(),
                },
            }],
        })?;
        let mut certificates = vec![CertificateChoices::Certificate(cert)];
        for der in signer.chain {
            let extra = x509_cert::Certificate::from_der(der)?;
            if !certificates
                .iter()
                .any(|c| matches!(c, CertificateChoices::Certificate(x) if *x == extra))
            {
                certificates.push(CertificateChoices::Certificate(extra));
            }
        }
        let certificates = CertificateSet::try_from(certificates)?;
        // The SET OF's universal tag becomes the field's context tag [0], constructed.
        let mut certificates_field = certificates.to_der()?;
        if let Some(tag) = certificates_field.first_mut() {
            *tag = 0xa0;
        }
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer,
            serial_number,
        });
        Ok(Self {
            sid: sid.to_der()?,
            certificates_field,
            ess,
        })
    }

    /// The PAdES-B-B signed attributes for `digest`, DER: content type, message digest, signing
    /// certificate (no signing time: PAdES forbids it). What the key signs is their hash; the
    /// same bytes go into the SignerInfo ([`Self::assemble`]).
    ///
    /// # Errors
    /// [`Error::DigestLength`] for a digest of the wrong length.
    pub fn signed_attributes(&self, alg: DigestAlgorithm, digest: &[u8]) -> Result<Vec<u8>, Error> {
        check_digest(alg, digest)?;
        let attrs = vec![
            attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA)?)?,
            attribute(
                ID_MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(digest.to_vec())?)?,
            )?,
            attribute(ID_SIGNING_CERTIFICATE_V2, self.ess.clone())?,
        ];
        // try_from sorts the SET OF into DER order.
        Ok(SetOfVec::try_from(attrs)?.to_der()?)
    }

    /// The detached SignedData around `signed_attrs` (DER, as [`Self::signed_attributes`] made
    /// them) and the signature over them. Spliced together from ready-made encodings (the
    /// certificates, the signer's id, the attributes' own bytes) rather than encoded as one
    /// structure: the same bytes (a test holds them equal) without decoding or encoding any of
    /// them again, as this runs after the token has signed, while the DMS waits.
    ///
    /// # Errors
    /// [`Error::Der`] when `signed_attrs` is not a DER `SET` or a length overflows.
    pub fn assemble(
        &self,
        alg: DigestAlgorithm,
        scheme: SignatureScheme,
        signed_attrs: &[u8],
        signature: &[u8],
    ) -> Result<Vec<u8>, Error> {
        // The SET OF's content goes under SignerInfo's `[0] IMPLICIT` tag.
        let attrs_content = {
            use der::Reader;
            let mut reader = der::SliceReader::new(signed_attrs)?;
            let header = der::Header::decode(&mut reader)?;
            header.tag.assert_eq(der::Tag::Set)?;
            let content = reader.read_slice(header.length)?;
            reader.finish(content)?
        };
        let digest_algorithm = digest_algorithm_identifier(alg).to_der()?;
        let mut info = CmsVersion::V1.to_der()?;
        info.extend_from_slice(&self.sid);
        info.extend_from_slice(&digest_algorithm);
        info.extend(tlv(CONTEXT_0, attrs_content)?);
        info.extend(scheme.algorithm_identifier(alg)?.to_der()?);
        info.extend(tlv(der::Tag::OctetString, signature)?);
        let signer_infos = tlv(der::Tag::Set, &tlv(der::Tag::Sequence, &info)?)?;
        let mut body = CmsVersion::V1.to_der()?;
        body.extend(tlv(der::Tag::Set, &digest_algorithm)?);
        body.extend(
            EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: None,
            }
            .to_der()?,
        );
        body.extend_from_slice(&self.certificates_field);
        body.extend(signer_infos);
        let signed_data = tlv(der::Tag::Sequence, &body)?;
        let mut content_info = ID_SIGNED_DATA.to_der()?;
        content_info.extend(tlv(CONTEXT_0, &signed_data)?);
        tlv(der::Tag::Sequence, &content_info)
    }

    /// [`Self::assemble`] the plain way, encoding the whole structure: what the spliced
    /// encoding must equal.
    #[cfg(test)]
    fn assemble_whole(
        &self,
        alg: DigestAlgorithm,
        scheme: SignatureScheme,
        signed_attrs: &[u8],
        signature: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let signed_data = cms::signed_data::SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![digest_algorithm_identifier(alg)])?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: None,
            },
            certificates: Some({
                let mut set = self.certificates_field.clone();
                set[0] = 0x31;
                CertificateSet::from_der(&set)?
            }),
            crls: None,
            signer_infos: cms::signed_data::SignerInfos::try_from(vec![
                cms::signed_data::SignerInfo {
                    version: CmsVersion::V1,
                    sid: SignerIdentifier::from_der(&self.sid)?,
                    digest_alg: digest_algorithm_identifier(alg),
                    signed_attrs: Some(SignedAttributes::from_der(signed_attrs)?),
                    signature_algorithm: scheme.algorithm_identifier(alg)?,
                    signature: OctetString::new(signature)?,
                    unsigned_attrs: None,
                },
            ])?,
        };
        Ok(cms::content_info::ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data)?,
        }
        .to_der()?)
    }
}

/// The context tag `[0]`, constructed: SignerInfo's signed attributes, ContentInfo's content.
const CONTEXT_0: der::Tag = der::Tag::ContextSpecific {
    constructed: true,
    number: der::TagNumber::N0,
};

/// A DER tag-length-value with `content`.
fn tlv(tag: der::Tag, content: &[u8]) -> Result<Vec<u8>, Error> {
    let header = der::Header::new(tag, der::Length::try_from(content.len())?)?;
    let mut out = header.to_der()?;
    out.extend_from_slice(content);
    Ok(out)
}

/// Checks server-built signed attributes (`raw` mode) before the token signs them: canonical
/// DER `SET OF`, content-type id-data, a message-digest of the right length, no signing-time.
/// Returns the message digest they carry, for the log and the prompt.
///
/// # Errors
/// [`Error::SignedAttributes`] naming the first rule broken.
pub fn check_signed_attributes(der: &[u8], alg: DigestAlgorithm) -> Result<Vec<u8>, Error> {
    let attrs = SignedAttributes::from_der(der)
        .map_err(|_| Error::SignedAttributes("not a DER SET OF Attribute"))?;
    if attrs.to_der()? != der {
        return Err(Error::SignedAttributes("not canonical DER"));
    }
    let single = |oid: ObjectIdentifier| -> Result<Option<&Any>, Error> {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        match (found.next(), found.next()) {
            (None, _) => Ok(None),
            (Some(a), None) if a.values.len() == 1 => Ok(a.values.iter().next()),
            _ => Err(Error::SignedAttributes(
                "attribute repeated or multi-valued",
            )),
        }
    };
    let content_type = single(ID_CONTENT_TYPE)?
        .ok_or(Error::SignedAttributes("content-type missing"))?
        .decode_as::<ObjectIdentifier>()
        .map_err(|_| Error::SignedAttributes("content-type is not an OID"))?;
    if content_type != ID_DATA {
        return Err(Error::SignedAttributes("content-type is not id-data"));
    }
    let digest = single(ID_MESSAGE_DIGEST)?
        .ok_or(Error::SignedAttributes("message-digest missing"))?
        .decode_as::<OctetString>()
        .map_err(|_| Error::SignedAttributes("message-digest is not an OCTET STRING"))?
        .into_bytes();
    check_digest(alg, &digest)?;
    if single(ID_SIGNING_TIME)?.is_some() {
        return Err(Error::SignedAttributes(
            "signing-time is not allowed in PAdES",
        ));
    }
    Ok(digest)
}

/// The whole CAdES-BES path: signed attributes for `digest`, their hash handed to `sign_hash`
/// (the token), and the SignedData around the result.
///
/// # Errors
/// As [`signed_attributes`] and [`ParsedSigner::assemble`]; [`Error::Signer`] when `sign_hash` fails.
pub fn sign_detached<E>(
    alg: DigestAlgorithm,
    scheme: SignatureScheme,
    digest: &[u8],
    signer: &SignerCertificates<'_>,
    sign_hash: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, Error>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let parsed = ParsedSigner::new(signer)?;
    let attrs = parsed.signed_attributes(alg, digest)?;
    let signature = sign_hash(&alg.digest(&attrs)).map_err(|e| Error::Signer(Box::new(e)))?;
    parsed.assemble(alg, scheme, &attrs, &signature)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;

    #[test]
    fn check_signed_attributes_refuses_wrong_digest_length_and_junk() {
        assert!(check_signed_attributes(&[0x31, 0x00], DigestAlgorithm::Sha256).is_err());
        assert!(check_signed_attributes(b"junk", DigestAlgorithm::Sha256).is_err());
    }

    /// A self-signed certificate (DER) from rcgen.
    #[cfg(feature = "agent")]
    pub(crate) fn certificate(name: &str) -> Vec<u8> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        rcgen::CertificateParams::new(vec![name.into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert")
            .der()
            .to_vec()
    }

    #[cfg(feature = "agent")]
    #[test]
    fn the_spliced_signed_data_is_the_whole_encoding_byte_for_byte() {
        let leaf = certificate("leaf.example");
        let chain = vec![
            certificate("ca.example"),
            leaf.clone(),
            certificate("root.example"),
        ];
        let parsed = ParsedSigner::new(&SignerCertificates {
            certificate: &leaf,
            chain: &chain,
        })
        .expect("parse");
        for (alg, scheme) in [
            (DigestAlgorithm::Sha256, SignatureScheme::Ecdsa),
            (DigestAlgorithm::Sha384, SignatureScheme::RsaPss),
            (DigestAlgorithm::Sha512, SignatureScheme::RsaPkcs1v15),
        ] {
            let digest = alg.digest(b"document");
            let attrs = parsed.signed_attributes(alg, &digest).expect("attrs");
            // Short and long DER lengths of the signature's OCTET STRING.
            for signature in [vec![0x5a; 71], vec![0x5a; 300]] {
                let spliced = parsed
                    .assemble(alg, scheme, &attrs, &signature)
                    .expect("spliced");
                let whole = parsed
                    .assemble_whole(alg, scheme, &attrs, &signature)
                    .expect("whole");
                assert_eq!(spliced, whole, "{alg:?} {scheme:?} {}", signature.len());
            }
            // Anything but one whole DER SET is refused, not spliced.
            let mut trailing = attrs.clone();
            trailing.push(0);
            let mut sequence = attrs.clone();
            sequence[0] = 0x30;
            for bad in [&trailing[..], &sequence[..], &attrs[..attrs.len() - 1], &[]] {
                assert!(parsed.assemble(alg, scheme, bad, &[0x5a; 64]).is_err());
            }
            let spliced = parsed
                .assemble(alg, scheme, &attrs, &[0x5a; 64])
                .expect("spliced");
            // And it reads back: the leaf appears once among three certificates.
            let info = ContentInfo::from_der(&spliced).expect("ContentInfo");
            let signed: SignedData = info.content.decode_as().expect("SignedData");
            assert_eq!(signed.certificates.expect("certificates").0.len(), 3);
        }
    }

    #[test]
    fn signed_attributes_refuse_digest_of_wrong_length() {
        let err = signed_attributes(DigestAlgorithm::Sha256, &[0u8; 31], &[]).unwrap_err();
        assert!(matches!(
            err,
            Error::DigestLength {
                expected: 32,
                got: 31,
                ..
            }
        ));
    }

    #[test]
    fn pss_identifier_carries_salt_of_hash_length() {
        let id = SignatureScheme::RsaPss
            .algorithm_identifier(DigestAlgorithm::Sha384)
            .expect("pss");
        assert_eq!(id.oid, ID_RSASSA_PSS);
        let der = id.parameters.expect("params").to_der().expect("der");
        // [2] EXPLICIT INTEGER 48 appears at the end of the parameters.
        assert_eq!(&der[der.len() - 5..], &[0xa2, 0x03, 0x02, 0x01, 48]);
    }
}
