//! `kyso bench`: how much the agent's CMS path adds over the token's own `C_Sign`, measured in
//! one run on one logged-in session (interleaved, so both see the same noise). Prints figures;
//! asserts nothing.

use std::time::Duration;

use kyso::signing::SignerCertificate;
use kyso::token::pkcs11::{BenchRequest, Pkcs11Tokens};

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

/// Digest → CAdES signed attributes → the token's signature → SignedData, as `/v1/sign` does.
fn cms_path(
    certificate: Vec<u8>,
    chain: Vec<Vec<u8>>,
    scheme: kyso::scheme::SignatureScheme,
) -> kyso::token::pkcs11::CmsPath {
    Box::new(move |digest, sign_hash| {
        let signer = kyso::cades::SignerCertificates {
            certificate: &certificate,
            chain: &chain,
        };
        kyso::cades::sign_detached(
            kyso::digest::DigestAlgorithm::Sha256,
            scheme,
            digest,
            &signer,
            |hash| sign_hash(hash).map_err(std::io::Error::other),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    })
}

/// Per-key figures of [`run`], for the agent benchmark to compare against.
pub struct KeyFigures {
    /// Raw `C_Sign`.
    pub raw: Stats,
    /// The token calls of one agent request (token info, session, login, key, `C_Sign`,
    /// logout, close), with nothing of Kyso's in between: the floor of `/v1/sign`.
    pub login_sign_logout: Stats,
}

/// Runs the benchmark for each certificate and prints one block per certificate.
///
/// # Errors
/// A token error (wrong PIN, token absent…).
pub fn run(
    tokens: &Pkcs11Tokens,
    certificates: &[SignerCertificate],
    iterations: usize,
    authenticator: impl Fn() -> Box<dyn kyso::token::Authenticator>,
) -> Result<Vec<KeyFigures>, kyso::token::Error> {
    let mut figures = Vec::new();
    println!("kyso bench: {iterations} interleaved pairs per key (raw C_Sign vs digest → CMS)");
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10} {:>12} {:>8}",
        "key", "raw p50µs", "cms p50µs", "raw min", "cms min", "overhead p50", "ratio"
    );
    for cert in certificates {
        let scheme = kyso::signing::scheme_for(&cert.info.key_algorithm, false)
            .map_err(|e| kyso::token::Error::UnsupportedKey(e.to_string()))?;
        let samples = tokens.bench(BenchRequest {
            certificate_id: cert.info.id.clone(),
            scheme,
            digest_algorithm: kyso::digest::DigestAlgorithm::Sha256,
            cms_path: cms_path(
                cert.info.der.clone(),
                cert.chain.iter().map(|c| c.der.clone()).collect(),
                scheme,
            ),
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
        let login = stats(&samples.login_sign_logout);
        println!(
            "{:<34} raw p99 {:.1}µs mean {:.1}µs | cms p99 {:.1}µs mean {:.1}µs | a request's token calls (login … logout) p50 {:.1}µs",
            "", raw.p99, raw.mean, cms.p99, cms.mean, login.p50
        );
        figures.push(KeyFigures {
            raw,
            login_sign_logout: login,
        });
    }
    println!("target: the CMS path adds <= 100 µs over raw C_Sign at p50");
    Ok(figures)
}

/// What the agent benchmark measured.
pub struct AgentFigures {
    /// From spawn to the `listening on` line.
    pub ready: Duration,
    /// Resident memory after start, idle.
    pub idle_rss_kib: u64,
    /// Of it, the pages of the kyso binary itself (code and read-only data): what the release
    /// link order (`src/link-order.txt`) keeps small.
    pub idle_binary_kib: u64,
    /// `/v1/sign` round trips on one kept-alive connection.
    pub round_trips: Vec<Duration>,
    /// Each round trip's `Server-Timing`, in the same order.
    pub server_timings: Vec<Option<ServerTiming>>,
    /// Round trips of a request the agent refuses at once (`GET` of an unknown path, 404) on
    /// the same connection, right after: the exchange alone, through the same TLS, HTTP and
    /// Host and Origin checks, with no handler behind it.
    pub bare_round_trips: Vec<Duration>,
    /// The same bare request, each sent right after a `/v1/sign` (its round trip alone): the
    /// exchange on a machine the token's work has just left (the agent's thread woken, caches
    /// cold, on the CPU that ran the token's calls), as every signing request meets it.
    pub bare_after_sign: Vec<Duration>,
    /// One `/v1/sign/batch` of `batch_size` digests.
    pub batch: Duration,
    /// Documents in the batch.
    pub batch_size: usize,
    /// What each document beyond `batch_size` added (a batch four times as long, less the
    /// first, over the difference in documents).
    pub marginal_per_item: Duration,
}

/// What the agent said of one `/v1/sign` in its `Server-Timing` header.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServerTiming {
    /// The token's calls on the module's worker.
    pub token: Duration,
    /// The PIN prompt.
    pub prompt: Duration,
    /// Kyso's own work in the handler.
    pub kyso: Duration,
}

impl ServerTiming {
    /// Reads `token;dur=…, prompt;dur=…, kyso;dur=…` (milliseconds); `None` unless all three
    /// are there.
    pub fn parse(header: Option<&str>) -> Option<Self> {
        let duration_of = |name: &str| {
            header?.split(',').find_map(|metric| {
                let mut parts = metric.trim().split(';');
                (parts.next()? == name).then_some(())?;
                let ms: f64 = parts
                    .find_map(|p| p.trim().strip_prefix("dur="))?
                    .parse()
                    .ok()?;
                (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0))
            })
        };
        Some(Self {
            token: duration_of("token")?,
            prompt: duration_of("prompt")?,
            kyso: duration_of("kyso")?,
        })
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resident KiB of the mappings of `exe` (the binary's own code and data) in process `pid`.
fn binary_rss_kib(pid: u32, exe: &std::path::Path) -> u64 {
    let exe = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut in_exe = false;
    let mut kib = 0;
    for line in smaps.lines() {
        if let Some(value) = line.strip_prefix("Rss:") {
            if in_exe {
                kib += value
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        } else if line
            .split_whitespace()
            .next()
            .is_some_and(|f| f.contains('-'))
        {
            // A mapping's header: "start-end perms offset dev inode [path]".
            in_exe = line.split_whitespace().nth(5) == exe.to_str();
        }
    }
    kib
}

/// Starts `exe ARGS serve --port 0` and waits for its `listening on` line: the child, its port
/// and how long it took.
fn spawn_agent(
    exe: &std::path::Path,
    args: &[std::ffi::OsString],
) -> Result<(std::process::Child, u16, Duration), String> {
    use std::io::BufRead as _;
    // Memory is measured in the worst case: the binary's file read through just before, as a
    // copy or a checksum leaves it (in large page-cache folios; see `platform::memory`).
    std::fs::File::open(exe)
        .and_then(|mut file| std::io::copy(&mut file, &mut std::io::sink()))
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let started = std::time::Instant::now();
    let mut child = std::process::Command::new(exe)
        .args(args)
        .args(["serve", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let line = lines.next().and_then(Result::ok).unwrap_or_default();
    let ready = started.elapsed();
    let Some(port) = line
        .strip_prefix("listening on https://127.0.0.1:")
        .and_then(|p| p.trim().parse().ok())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("agent did not start: {line:?}"));
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((child, port, ready))
}

/// Idle memory of the agent as a workstation runs it by default: module discovery on (every
/// installed vendor module known to the registry, OpenSC among them), the given data folder,
/// the environment's SoftHSM2 token. Modules whose token cannot be connected stay unloaded.
///
/// # Errors
/// A message when the agent does not start.
pub fn idle_rss_with_discovery(
    exe: &std::path::Path,
    data_dir: &std::path::Path,
) -> Result<(u64, Vec<String>), String> {
    let config = data_dir.join("bench-discovery.toml");
    std::fs::write(&config, "discover_modules = true\n").map_err(|e| e.to_string())?;
    let args: Vec<std::ffi::OsString> = vec![
        "--config".into(),
        config.into_os_string(),
        "--data-dir".into(),
        data_dir.as_os_str().to_owned(),
    ];
    let (mut child, _, _) = spawn_agent(exe, &args)?;
    std::thread::sleep(Duration::from_millis(2500));
    let rss = rss_kib(child.id());
    // Which PKCS#11 modules the idle agent has mapped.
    let mut loaded: Vec<String> = std::fs::read_to_string(format!("/proc/{}/maps", child.id()))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|path| kyso::token::registry::is_known(std::path::Path::new(path)))
        .map(|path| path.rsplit('/').next().unwrap_or(path).to_string())
        .collect();
    loaded.sort();
    loaded.dedup();
    let _ = child.kill();
    let _ = child.wait();
    Ok((rss, loaded))
}

/// Starts `exe serve --port 0` with `args`, then measures readiness, idle memory, `/v1/sign`
/// round trips over HTTPS and one batch, and stops it.
///
/// # Errors
/// A message when the agent does not start or a request fails.
pub fn agent(
    exe: &std::path::Path,
    args: &[std::ffi::OsString],
    data_dir: &std::path::Path,
    origin: &str,
    certificate_id: &str,
    iterations: usize,
    batch_size: usize,
) -> Result<AgentFigures, String> {
    let (mut child, port, ready) = spawn_agent(exe, args)?;
    std::thread::sleep(Duration::from_millis(1500));
    let idle_rss_kib = rss_kib(child.id());
    let idle_binary_kib = binary_rss_kib(child.id(), exe);
    let ca = kyso::tls::read_ca(data_dir).map_err(|e| e.to_string())?;
    let body = |i: usize| {
        let digest = kyso::digest::DigestAlgorithm::Sha256.digest(&i.to_le_bytes());
        serde_json::json!({
            "certificateId": certificate_id,
            "digest": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest),
            "digestAlgorithm": "SHA-256",
            "document": {"title": format!("bench {i}"), "purpose": "approve"}
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = runtime.block_on(async {
        let mut connection = super::client::AgentConnection::connect(port, &ca)
            .await
            .map_err(|e| e.to_string())?;
        let mut round_trips = Vec::with_capacity(iterations);
        let mut server_timings = Vec::with_capacity(iterations);
        for i in 0..iterations + 20 {
            let payload = serde_json::to_vec(&body(i)).map_err(|e| e.to_string())?;
            let start = std::time::Instant::now();
            let reply = sign_once(&mut connection, origin, payload).await?;
            if i >= 20 {
                round_trips.push(start.elapsed());
                server_timings.push(ServerTiming::parse(reply.server_timing.as_deref()));
            }
        }
        // The bare request, each right after a signature (the signature not timed): what an
        // exchange costs on a machine the token's work has just left, as each `/v1/sign`'s does.
        let mut bare_after_sign = Vec::with_capacity(iterations / 2);
        for i in 0..(iterations / 2).max(1) {
            let payload = serde_json::to_vec(&body(i)).map_err(|e| e.to_string())?;
            sign_once(&mut connection, origin, payload).await?;
            let start = std::time::Instant::now();
            refused_at_once(&mut connection, origin).await?;
            bare_after_sign.push(start.elapsed());
        }
        let mut bare_round_trips = Vec::with_capacity(iterations);
        for i in 0..iterations + 20 {
            let start = std::time::Instant::now();
            refused_at_once(&mut connection, origin).await?;
            if i >= 20 {
                bare_round_trips.push(start.elapsed());
            }
        }
        // A batch of `batch_size` and one four times as long, taken in turn five times each
        // (so that both see the same noise), medians: the difference is what each further
        // document costs, the one login and the exchange left out.
        let sizes = [batch_size, 4 * batch_size];
        let mut payloads = Vec::new();
        for size in sizes {
            let items: Vec<serde_json::Value> = (0..size)
                .map(|i| {
                    let one = body(i);
                    serde_json::json!({"digest": one["digest"], "document": one["document"]})
                })
                .collect();
            payloads.push(
                serde_json::to_vec(&serde_json::json!({
                    "certificateId": certificate_id,
                    "digestAlgorithm": "SHA-256",
                    "items": items,
                }))
                .map_err(|e| e.to_string())?,
            );
        }
        let mut times = vec![Vec::new(); sizes.len()];
        for _ in 0..5 {
            for (payload, taken) in payloads.iter().zip(times.iter_mut()) {
                let start = std::time::Instant::now();
                let reply = connection
                    .request(
                        "POST",
                        "/v1/sign/batch",
                        Some(origin),
                        Some(payload.clone()),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                taken.push(start.elapsed());
                if reply.status != 200 {
                    return Err(format!("batch answered {}", reply.status));
                }
            }
        }
        let medians: Vec<Duration> = times
            .into_iter()
            .map(|mut taken| {
                taken.sort();
                taken[taken.len() / 2]
            })
            .collect();
        let (one, two) = (medians[0], medians[1]);
        Ok((
            round_trips,
            server_timings,
            bare_round_trips,
            bare_after_sign,
            one,
            two.saturating_sub(one) / u32::try_from(3 * batch_size.max(1)).unwrap_or(1),
        ))
    });
    let _ = child.kill();
    let _ = child.wait();
    let (round_trips, server_timings, bare_round_trips, bare_after_sign, batch, marginal_per_item) =
        result?;
    Ok(AgentFigures {
        ready,
        idle_rss_kib,
        idle_binary_kib,
        round_trips,
        server_timings,
        bare_round_trips,
        bare_after_sign,
        batch,
        batch_size,
        marginal_per_item,
    })
}

/// One `/v1/sign` on the bench's connection; anything but 200 is an error.
async fn sign_once(
    connection: &mut super::client::AgentConnection,
    origin: &str,
    payload: Vec<u8>,
) -> Result<super::client::Reply, String> {
    let reply = connection
        .request("POST", "/v1/sign", Some(origin), Some(payload))
        .await
        .map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(format!(
            "sign answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        ));
    }
    Ok(reply)
}

/// The bare request: a path the agent refuses at once (404) after its TLS, HTTP, Host and
/// Origin checks, with no handler behind it.
async fn refused_at_once(
    connection: &mut super::client::AgentConnection,
    origin: &str,
) -> Result<(), String> {
    let reply = connection
        .request("GET", "/v1/bench-no-such-endpoint", Some(origin), None)
        .await
        .map_err(|e| e.to_string())?;
    if reply.status != 404 {
        return Err(format!("an unknown path answered {}", reply.status));
    }
    Ok(())
}

/// How long a thread asleep on a loopback socket for `asleep` takes to run once a byte reaches
/// it, `samples` times: the wake-up any client pays when the answer it waits for comes that
/// long after its request, whoever answers. On a VM whose idle vCPUs halt it is tens of
/// microseconds, and it is part of every `/v1/sign` round trip; measured in process, with no
/// agent running, so that the exchange's figure can be read against it.
///
/// # Errors
/// A socket that cannot be opened or written.
pub fn wake_after(asleep: Duration, samples: usize) -> Result<Vec<Duration>, String> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let mut writer = std::net::TcpStream::connect(address).map_err(|e| e.to_string())?;
    writer.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut reader, _) = listener.accept().map_err(|e| e.to_string())?;
    let base = std::time::Instant::now();
    let sleeper = std::thread::spawn(move || {
        let mut woken = Vec::with_capacity(samples);
        let mut sent = [0u8; 8];
        while reader.read_exact(&mut sent).is_ok() {
            let at = base.elapsed();
            woken.push(at.saturating_sub(Duration::from_nanos(u64::from_le_bytes(sent))));
        }
        woken
    });
    for _ in 0..samples {
        // The writer stays busy meanwhile, as the agent is while it signs.
        let start = std::time::Instant::now();
        while start.elapsed() < asleep {
            std::hint::spin_loop();
        }
        let at = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        writer
            .write_all(&at.to_le_bytes())
            .map_err(|e| e.to_string())?;
    }
    drop(writer);
    sleeper
        .join()
        .map_err(|_| "the sleeping thread failed".to_string())
}

/// Prints the agent figures against the in-process ones of the same key: each as a ratio to
/// its floor measured in the same run. `wake` is [`wake_after`] the request's token calls.
pub fn print_agent(figures: &AgentFigures, key: &KeyFigures, binary_bytes: u64, wake: &[Duration]) {
    let rt = stats(&figures.round_trips);
    // Measured back to back before the agent starts, not in turn with its requests: each login
    // in this process writes SoftHSM2's token files, and the agent's SoftHSM2 then reloads the
    // token (and meets the writeback) inside its next request: +0.15–0.2 ms per request and
    // +17–25 ms per batch of 100 in a trial, neither Kyso's work nor a real token's.
    let floor = key.login_sign_logout.p50;
    // Throughput against throughput: the raw signatures' mean.
    let raw = key.raw.mean;
    let per_item_us = figures.batch.as_secs_f64() * 1e6 / figures.batch_size as f64;
    let marginal_us = figures.marginal_per_item.as_secs_f64() * 1e6;
    println!(
        "agent (kyso serve, HTTPS keep-alive, {} round trips):",
        figures.round_trips.len()
    );
    println!(
        "  ready in {:.0} ms; idle RSS {:.1} MiB (its file read through just before), of it the binary's own pages {:.1} MiB; release binary {:.2} MiB (symbol table kept, the packages strip it)",
        figures.ready.as_secs_f64() * 1e3,
        figures.idle_rss_kib as f64 / 1024.0,
        figures.idle_binary_kib as f64 / 1024.0,
        binary_bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "  /v1/sign p50 {:.0}µs p99 {:.0}µs | the same token calls in-process p50 {floor:.0}µs | Kyso's own work {:+.0}µs (target <= 150) | ratio {:.2}x (target <= 1.15x)",
        rt.p50,
        rt.p99,
        rt.p50 - floor,
        if floor > 0.0 { rt.p50 / floor } else { 0.0 },
    );
    print_split(figures, floor, wake);
    println!(
        "  batch of {}: {:.1} ms = {:.0}µs per document all in (one login, the HTTPS exchange): {:.0}% of raw C_Sign throughput ({raw:.0}µs per signature, mean) | each further document {:.0}µs: {:.0}% (target >= 90%)",
        figures.batch_size,
        figures.batch.as_secs_f64() * 1e3,
        per_item_us,
        100.0 * raw / per_item_us,
        marginal_us,
        if marginal_us > 0.0 { 100.0 * raw / marginal_us } else { 0.0 },
    );
}

/// Where a `/v1/sign` round trip's time went, from the agent's `Server-Timing`: Kyso's code
/// in the handler, the PIN prompt, the token's calls (against the same calls in process) and,
/// the rest, the exchange around the handler (TLS, HTTP, both sides' thread wake-ups), next to
/// what any exchange costs here: a bare request's round trip and a sleeping client's wake-up.
fn print_split(figures: &AgentFigures, floor_us: f64, wake: &[Duration]) {
    let timed: Vec<(Duration, ServerTiming)> = figures
        .round_trips
        .iter()
        .zip(&figures.server_timings)
        .filter_map(|(round_trip, timing)| Some((*round_trip, (*timing)?)))
        .collect();
    if timed.len() < figures.round_trips.len() {
        println!(
            "  (the agent sent no Server-Timing for {} of {} requests: no split)",
            figures.round_trips.len() - timed.len(),
            figures.round_trips.len()
        );
        return;
    }
    let p50 = |pick: &dyn Fn(&(Duration, ServerTiming)) -> Duration| {
        stats(&timed.iter().map(pick).collect::<Vec<_>>()).p50
    };
    let kyso = p50(&|(_, t)| t.kyso);
    let prompt = p50(&|(_, t)| t.prompt);
    let token = p50(&|(_, t)| t.token);
    let exchange = p50(&|(rt, t)| rt.saturating_sub(t.kyso + t.prompt + t.token));
    println!(
        "  split (p50s, the agent's Server-Timing): Kyso's code in the agent {kyso:.0}µs | the PIN prompt (scripted: a file read) {prompt:.0}µs | the token's calls in the agent {token:.0}µs ({:+.0}µs over the same calls in process) | the exchange around the handler (TLS, HTTP, both sides' thread wake-ups) {exchange:.0}µs",
        token - floor_us
    );
    let bare = stats(&figures.bare_round_trips).p50;
    let woken = stats(wake).p50;
    println!(
        "  the exchange's floor on this machine: a request refused at once (404) on the same connection {bare:.0}µs + a client's wake-up after {floor_us:.0}µs asleep on a loopback socket {woken:.0}µs (in process, no agent) = {:.0}µs; the exchange above less it: {:+.0}µs",
        bare + woken,
        exchange - bare - woken
    );
    let after_sign = stats(&figures.bare_after_sign).p50;
    println!(
        "  the same 404 sent right after a /v1/sign {after_sign:.0}µs ({:+.0}µs over the 404 after a 404): the exchange on a machine the token's work has just left (the agent's thread woken, caches cold, on the CPU that ran the token's calls), as each /v1/sign meets it",
        after_sign - bare
    );
}

/// `kyso bench`: raw `C_Sign` against the CMS path on each key, and with `--agent` the agent over
/// HTTPS (`child_args` are the global options for the child `kyso serve`).
///
/// # Errors
/// No usable certificate, a token error, an agent that does not start.
pub fn command(
    app: &kyso::app::App,
    cert: &[String],
    iterations: usize,
    agent: bool,
    child_args: &[std::ffi::OsString],
) -> Result<std::process::ExitCode, String> {
    let mut certs = app.signing.certificates(None);
    certs.retain(|c| {
        c.token.present
            && c.info.validity() == kyso::certificate::Validity::Valid
            && (cert.is_empty()
                || cert
                    .iter()
                    .any(|p| c.info.id.starts_with(&p.to_ascii_lowercase())))
    });
    if certs.is_empty() {
        return Err("no signing certificate on a present token".into());
    }
    let documents = vec![kyso::api::Document {
        title: "kyso bench".into(),
        number: None,
        purpose: kyso::api::Purpose::Approve,
    }];
    let first = certs[0].clone();
    let figures = run(&app.tokens, &certs, iterations.max(1), || {
        app.signing.authenticator(&first, None, documents.clone())
    })
    .map_err(|e| e.to_string())?;
    if agent {
        let origin = app
            .config
            .allowed_origins
            .first()
            .ok_or("the agent benchmark needs an allowed_origins entry")?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let binary = std::fs::metadata(&exe).map(|m| m.len()).unwrap_or(0);
        let measured = self::agent(
            &exe,
            child_args,
            &app.config.data_dir,
            origin,
            &first.info.id,
            iterations.max(1),
            100,
        )?;
        let wake = wake_after(
            Duration::from_secs_f64(figures[0].login_sign_logout.p50 / 1e6),
            200,
        )?;
        print_agent(&measured, &figures[0], binary, &wake);
        let discovery_dir = app.config.data_dir.join("bench-discovery");
        std::fs::create_dir_all(&discovery_dir).map_err(|e| e.to_string())?;
        let (rss, loaded) = idle_rss_with_discovery(&exe, &discovery_dir)?;
        println!(
            "  idle RSS as installed (module discovery on, no hardware token connected): {:.1} MiB; modules loaded: {} (target <= 16 MiB headless)",
            rss as f64 / 1024.0,
            if loaded.is_empty() { "none".to_string() } else { loaded.join(", ") }
        );
        println!("targets: idle RSS <= 16 MiB headless; ready <= 300 ms");
    }
    Ok(std::process::ExitCode::SUCCESS)
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

    #[test]
    fn server_timing_is_read_whole_or_not_at_all() {
        let read = ServerTiming::parse(Some(
            "token;dur=0.950;desc=\"PKCS#11\", prompt;dur=0.015;desc=\"PIN\", kyso;dur=0.101",
        ))
        .expect("all three metrics");
        assert_eq!(read.token, Duration::from_micros(950));
        assert_eq!(read.prompt, Duration::from_micros(15));
        assert_eq!(read.kyso, Duration::from_micros(101));
        // A metric missing, unreadable or negative: no split rather than a wrong one.
        for bad in [
            "token;dur=0.950, kyso;dur=0.101",
            "token;dur=x, prompt;dur=0.015, kyso;dur=0.101",
            "token;dur=-1, prompt;dur=0.015, kyso;dur=0.101",
            "",
        ] {
            assert_eq!(ServerTiming::parse(Some(bad)), None, "{bad}");
        }
        assert_eq!(ServerTiming::parse(None), None);
    }
}
