//! `kyso bench`: how much the agent's CMS path adds over the token's own `C_Sign`, measured in
//! one run on one logged-in session (interleaved, so both see the same noise). Prints figures;
//! asserts nothing.

use std::time::Duration;

use crate::signing::SignerCertificate;
use crate::token::pkcs11::{BenchRequest, Pkcs11Tokens};

/// Summary statistics of one series, in microseconds.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Minimum.
    pub min: f64,
    /// Mean.
    pub mean: f64,
}

/// Computes [`Stats`] (µs) of a series.
pub fn stats(samples: &[Duration]) -> Stats {
    let mut us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if us.is_empty() {
            0.0
        } else {
            us[((us.len() - 1) as f64 * q).round() as usize]
        }
    };
    Stats {
        p50: at(0.5),
        p99: at(0.99),
        min: at(0.0),
        mean: if us.is_empty() {
            0.0
        } else {
            us.iter().sum::<f64>() / us.len() as f64
        },
    }
}

/// Runs the benchmark for each certificate and prints one block per certificate.
///
/// # Errors
/// A token error (wrong PIN, token absent…).
pub fn run(
    tokens: &Pkcs11Tokens,
    certificates: &[SignerCertificate],
    iterations: usize,
    authenticator: impl Fn() -> Box<dyn crate::token::Authenticator>,
) -> Result<(), crate::token::Error> {
    println!("kyso bench: {iterations} interleaved pairs per key (raw C_Sign vs digest → CMS)");
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10} {:>12} {:>8}",
        "key", "raw p50µs", "cms p50µs", "raw min", "cms min", "overhead p50", "ratio"
    );
    for cert in certificates {
        let scheme = crate::signing::scheme_for(&cert.info.key_algorithm, false)
            .map_err(|e| crate::token::Error::UnsupportedKey(e.to_string()))?;
        let samples = tokens.bench(BenchRequest {
            certificate_id: cert.info.id.clone(),
            scheme,
            digest_algorithm: crate::digest::DigestAlgorithm::Sha256,
            chain: cert.chain.iter().map(|c| c.der.clone()).collect(),
            iterations,
            authenticator: authenticator(),
        })?;
        let raw = stats(&samples.raw_sign);
        let cms = stats(&samples.cms_path);
        let label = format!("{} ({})", cert.info.holder(), cert.info.key_algorithm);
        println!(
            "{:<34} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>+10.1}µs {:>7.3}x",
            label.chars().take(34).collect::<String>(),
            raw.p50,
            cms.p50,
            raw.min,
            cms.min,
            cms.p50 - raw.p50,
            if raw.p50 > 0.0 {
                cms.p50 / raw.p50
            } else {
                0.0
            },
        );
        println!(
            "{:<34} raw p99 {:.1}µs mean {:.1}µs | cms p99 {:.1}µs mean {:.1}µs",
            "", raw.p99, raw.mean, cms.p99, cms.mean
        );
    }
    println!("target: the CMS path adds <= 100 µs over raw C_Sign at p50");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_known_series() {
        let samples: Vec<Duration> = (1..=101).map(Duration::from_micros).collect();
        let s = stats(&samples);
        assert_eq!(s.p50, 51.0);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.p99, 100.0);
        assert!((s.mean - 51.0).abs() < 1e-9);
    }
}
