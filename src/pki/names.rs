//! RFC 5280 §4.2.1.10 name constraints: directory names (on the subject and on directoryName
//! alternative names), DNS names, e-mail addresses (alternative names and the subject's
//! emailAddress) and IP addresses. A constraint on any other name form is applied fail-closed:
//! a certificate that carries a name of that form is refused.

use der::Decode;
use x509_cert::ext::pkix::constraints::name::GeneralSubtrees;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{NameConstraints, SubjectAltName};
use x509_cert::name::Name;
use x509_cert::Certificate;

use super::{Finding, Reason};

const OID_SAN: &str = "2.5.29.17";
const OID_EMAIL_ADDRESS: &str = "1.2.840.113549.1.9.1";

/// The most name comparisons one path may cost: 2,048 constraints against 2,048 names is a
/// known denial of service (x509-limbo `pathological::nc-dos-*`); honest paths need a few dozen.
pub const COMPARISON_BUDGET: usize = 65_536;

/// The names of a certificate that name constraints apply to.
struct Names {
    directory: Vec<Name>,
    dns: Vec<String>,
    email: Vec<String>,
    ip: Vec<Vec<u8>>,
    other_kinds: Vec<u8>,
}

fn names_of(cert: &Certificate) -> Result<Names, Finding> {
    let tbs = &cert.tbs_certificate;
    let mut names = Names {
        directory: Vec::new(),
        dns: Vec::new(),
        email: Vec::new(),
        ip: Vec::new(),
        other_kinds: Vec::new(),
    };
    if !tbs.subject.0.is_empty() {
        names.directory.push(tbs.subject.clone());
    }
    for rdn in &tbs.subject.0 {
        for atv in rdn.0.iter() {
            if atv.oid.to_string() == OID_EMAIL_ADDRESS {
                if let Ok(text) = atv.value.decode_as::<der::asn1::Ia5String>() {
                    names.email.push(text.to_string());
                }
            }
        }
    }
    for ext in tbs.extensions.iter().flatten() {
        if ext.extn_id.to_string() != OID_SAN {
            continue;
        }
        let san = SubjectAltName::from_der(ext.extn_value.as_bytes()).map_err(|e| {
            Finding::new(Reason::MalformedCertificate, format!("subjectAltName: {e}"))
        })?;
        for name in san.0 {
            match name {
                GeneralName::DirectoryName(n) => names.directory.push(n),
                GeneralName::DnsName(d) => names.dns.push(d.to_string()),
                GeneralName::Rfc822Name(m) => names.email.push(m.to_string()),
                GeneralName::IpAddress(ip) => names.ip.push(ip.as_bytes().to_vec()),
                other => names.other_kinds.push(kind_of(&other)),
            }
        }
    }
    Ok(names)
}

fn kind_of(name: &GeneralName) -> u8 {
    match name {
        GeneralName::OtherName(_) => 0,
        GeneralName::Rfc822Name(_) => 1,
        GeneralName::DnsName(_) => 2,
        GeneralName::DirectoryName(_) => 4,
        GeneralName::EdiPartyName(_) => 5,
        GeneralName::UniformResourceIdentifier(_) => 6,
        GeneralName::IpAddress(_) => 7,
        GeneralName::RegisteredId(_) => 8,
    }
}

/// Decodes a name constraints extension, refusing the forms RFC 5280 forbids (neither
/// permitted nor excluded subtrees, an empty list, minimum or maximum set).
///
/// # Errors
/// [`Reason::MalformedCertificate`].
pub fn decode(value: &[u8]) -> Result<NameConstraints, Finding> {
    let nc = NameConstraints::from_der(value).map_err(|e| {
        Finding::new(
            Reason::MalformedCertificate,
            format!("nameConstraints: {e}"),
        )
    })?;
    let empty = |s: &Option<GeneralSubtrees>| s.as_ref().is_none_or(|v| v.is_empty());
    if empty(&nc.permitted_subtrees) && empty(&nc.excluded_subtrees) {
        return Err(Finding::new(
            Reason::MalformedCertificate,
            "nameConstraints without subtrees",
        ));
    }
    let all = nc
        .permitted_subtrees
        .iter()
        .flatten()
        .chain(nc.excluded_subtrees.iter().flatten());
    for subtree in all {
        if subtree.minimum != 0 || subtree.maximum.is_some() {
            return Err(Finding::new(
                Reason::MalformedCertificate,
                "nameConstraints with minimum or maximum",
            ));
        }
    }
    Ok(nc)
}

/// Checks `cert`'s names against `constraints`, spending from `budget` one unit per comparison.
///
/// # Errors
/// [`Reason::NameConstraints`] for a name outside the constraints,
/// [`Reason::PathBuildingLimit`] when the budget runs out.
pub fn check(
    cert: &Certificate,
    constraints: &NameConstraints,
    budget: &mut usize,
) -> Result<(), Finding> {
    let names = names_of(cert)?;
    let mut spend = |n: usize| -> Result<(), Finding> {
        *budget = budget.checked_sub(n).ok_or_else(|| {
            Finding::new(
                Reason::PathBuildingLimit,
                "too many name-constraint comparisons",
            )
        })?;
        Ok(())
    };
    let permitted = constraints.permitted_subtrees.as_deref().unwrap_or(&[]);
    let excluded = constraints.excluded_subtrees.as_deref().unwrap_or(&[]);
    let total_names = names.directory.len() + names.dns.len() + names.email.len() + names.ip.len();
    spend(total_names.saturating_mul(permitted.len() + excluded.len()))?;
    let subject = subject_of(cert);
    for subtree in excluded {
        if let Some(hit) = first_match(&names, &subtree.base) {
            return Err(Finding::new(
                Reason::NameConstraints,
                format!("{hit} is excluded ({subject})"),
            ));
        }
        if names.other_kinds.contains(&kind_of(&subtree.base)) {
            return Err(Finding::new(
                Reason::NameConstraints,
                format!("an unsupported name form is constrained ({subject})"),
            ));
        }
    }
    // Permitted: for each name form that has permitted subtrees, every name of that form must
    // fall inside one of them.
    let of_kind = |k: u8| permitted.iter().filter(move |s| kind_of(&s.base) == k);
    for (kind, count) in [
        (4u8, names.directory.len()),
        (2, names.dns.len()),
        (1, names.email.len()),
        (7, names.ip.len()),
    ] {
        if count == 0 || of_kind(kind).next().is_none() {
            continue;
        }
        let all_inside = match kind {
            4 => names
                .directory
                .iter()
                .all(|n| of_kind(4).any(|s| matches!(&s.base, GeneralName::DirectoryName(b) if dn_within(n, b)))),
            2 => names
                .dns
                .iter()
                .all(|n| of_kind(2).any(|s| matches!(&s.base, GeneralName::DnsName(b) if dns_within(n, b.as_ref())))),
            1 => names
                .email
                .iter()
                .all(|n| of_kind(1).any(|s| matches!(&s.base, GeneralName::Rfc822Name(b) if email_within(n, b.as_ref())))),
            _ => names
                .ip
                .iter()
                .all(|n| of_kind(7).any(|s| matches!(&s.base, GeneralName::IpAddress(b) if ip_within(n, b.as_bytes())))),
        };
        if !all_inside {
            return Err(Finding::new(
                Reason::NameConstraints,
                format!("a name is outside the permitted subtrees ({subject})"),
            ));
        }
    }
    for kind in &names.other_kinds {
        if of_kind(*kind).next().is_some() {
            return Err(Finding::new(
                Reason::NameConstraints,
                format!("an unsupported name form is constrained ({subject})"),
            ));
        }
    }
    Ok(())
}

fn subject_of(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

fn first_match(names: &Names, base: &GeneralName) -> Option<String> {
    match base {
        GeneralName::DirectoryName(b) => names
            .directory
            .iter()
            .find(|n| dn_within(n, b))
            .map(|n| n.to_string()),
        GeneralName::DnsName(b) => names
            .dns
            .iter()
            .find(|n| dns_within(n, b.as_ref()))
            .cloned(),
        GeneralName::Rfc822Name(b) => names
            .email
            .iter()
            .find(|n| email_within(n, b.as_ref()))
            .cloned(),
        GeneralName::IpAddress(b) => names
            .ip
            .iter()
            .find(|n| ip_within(n, b.as_bytes()))
            .map(hex::encode),
        _ => None,
    }
}

/// A directory name is within a subtree when the subtree's RDNs are its first RDNs.
fn dn_within(name: &Name, base: &Name) -> bool {
    base.0.len() <= name.0.len() && base.0.iter().zip(name.0.iter()).all(|(b, n)| b == n)
}

/// `host.example.com` is within `example.com`; `.example.com` admits only subdomains.
fn dns_within(name: &str, base: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let base = base.trim_end_matches('.').to_ascii_lowercase();
    if base.is_empty() {
        return true;
    }
    if let Some(domain) = base.strip_prefix('.') {
        return name.ends_with(&format!(".{domain}"));
    }
    name == base || name.ends_with(&format!(".{base}"))
}

/// RFC 5280: a mailbox (`a@b`), all mailboxes on a host (`b`), or on any subdomain (`.b`).
fn email_within(name: &str, base: &str) -> bool {
    let Some((local, host)) = name.rsplit_once('@') else {
        return false;
    };
    if base.contains('@') {
        return base
            .rsplit_once('@')
            .is_some_and(|(bl, bh)| bl == local && bh.eq_ignore_ascii_case(host));
    }
    let host = host.to_ascii_lowercase();
    let base = base.to_ascii_lowercase();
    match base.strip_prefix('.') {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => host == base,
    }
}

/// An address within an `address ‖ mask` constraint of the same family.
fn ip_within(address: &[u8], constraint: &[u8]) -> bool {
    if constraint.len() != address.len() * 2 || address.is_empty() {
        return false;
    }
    let (net, mask) = constraint.split_at(address.len());
    address
        .iter()
        .zip(net)
        .zip(mask)
        .all(|((a, n), m)| a & m == n & m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_subtree_admits_subdomains_not_lookalikes() {
        assert!(dns_within("a.gov.vn", "gov.vn"));
        assert!(dns_within("gov.vn", "gov.vn"));
        assert!(!dns_within("evilgov.vn", "gov.vn"));
        assert!(!dns_within("gov.vn", ".gov.vn"));
    }

    #[test]
    fn email_subtree_forms() {
        assert!(email_within("vt@hanoi.gov.vn", "hanoi.gov.vn"));
        assert!(!email_within("vt@x.hanoi.gov.vn", "hanoi.gov.vn"));
        assert!(email_within("vt@x.hanoi.gov.vn", ".hanoi.gov.vn"));
        assert!(email_within("vt@hanoi.gov.vn", "vt@hanoi.gov.vn"));
        assert!(!email_within("other@hanoi.gov.vn", "vt@hanoi.gov.vn"));
    }

    #[test]
    fn ip_subtree_masks() {
        assert!(ip_within(&[10, 1, 2, 3], &[10, 0, 0, 0, 255, 0, 0, 0]));
        assert!(!ip_within(&[11, 1, 2, 3], &[10, 0, 0, 0, 255, 0, 0, 0]));
        assert!(!ip_within(&[10, 1, 2, 3], &[10, 0, 0, 0]));
    }
}
