//! The native dialogs driven like a user would, on a real X server: Xvfb with the openbox window
//! manager (a desktop has one; it is what gives the dialog focus), the agent started with
//! `--prompter gui`, requests sent over TLS, and the windows found, read, typed into and
//! photographed with xdotool and ImageMagick. Every CMS the dialogs let through is checked by
//! OpenSSL. Screenshots land in `target/screenshots/` (the README shows copies).
#![cfg(feature = "desktop")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::agent::*;
use common::*;

/// A window found on screen. X recycles window ids between the short-lived dialog processes,
/// so a window is known by its id and its title together.
struct Window {
    id: String,
    title: String,
}

/// Xvfb and openbox on a display of their own, stopped on drop.
struct Desktop {
    display: String,
    server: Child,
    window_manager: Child,
    /// One desktop at a time: on two cores, dialogs racing for the CPU miss their keystrokes.
    _serial: std::sync::MutexGuard<'static, ()>,
}

static ONE_DESKTOP_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Drop for Desktop {
    fn drop(&mut self) {
        let _ = self.window_manager.kill();
        let _ = self.window_manager.wait();
        // SIGTERM, not SIGKILL: Xvfb then removes its lock file and socket.
        let _ = Command::new("kill")
            .arg(self.server.id().to_string())
            .status();
        let _ = self.server.wait();
    }
}

impl Desktop {
    fn start() -> Self {
        let serial = ONE_DESKTOP_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A display number no other test (or session) holds: X's own lock files tell.
        for n in 40..200 {
            if std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let display = format!(":{n}");
            let Ok(mut server) = Command::new("Xvfb")
                .args([
                    &display,
                    "-screen",
                    "0",
                    "1280x900x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ])
                .stdout(Stdio::null())
                .stderr(
                    std::fs::File::create(target_dir().join(format!("xvfb-{n}.log")))
                        .map_or_else(|_| Stdio::null(), Stdio::from),
                )
                .spawn()
            else {
                panic!("Xvfb is not installed (tests/install-deps.sh installs it)");
            };
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
            let started = Instant::now();
            while !socket.exists() && started.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = server.try_wait() {
                    break; // lost the race for this number
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !socket.exists() || matches!(server.try_wait(), Ok(Some(_))) {
                let _ = server.kill();
                continue;
            }
            let window_manager = Command::new("openbox")
                .env("DISPLAY", &display)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("openbox (tests/install-deps.sh installs it)");
            std::thread::sleep(Duration::from_millis(500));
            return Self {
                display,
                server,
                window_manager,
                _serial: serial,
            };
        }
        panic!("no free X display");
    }

    fn xdotool(&self, args: &[&str]) -> String {
        // A UTF-8 locale, or xdotool cannot match nor print the Vietnamese titles.
        let out = Command::new("xdotool")
            .env("DISPLAY", &self.display)
            .env("LC_ALL", "C.UTF-8")
            .args(args)
            .output()
            .expect("xdotool");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The first window whose title contains `title`, with its full title.
    fn wait_window(&self, title: &str) -> Window {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            // xdotool's own pattern match misses non-ASCII titles: search the ASCII prefix and
            // compare the full titles here.
            let ids = self.xdotool(&["search", "--onlyvisible", "--name", "^Kyso"]);
            for id in ids.lines() {
                let name = self.xdotool(&["getwindowname", id]);
                if name.contains(title) {
                    return Window {
                        id: id.to_string(),
                        title: name,
                    };
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no window titled {title:?} within 20 s");
    }

    fn wait_gone(&self, window: &Window) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            let visible = self.xdotool(&["search", "--onlyvisible", "--name", "^Kyso"]);
            let still = visible
                .lines()
                .any(|id| id == window.id && self.xdotool(&["getwindowname", id]) == window.title);
            if !still {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("window {:?} still open", window.title);
    }

    fn active_window(&self) -> String {
        self.xdotool(&["getactivewindow"])
    }

    /// Types text into whatever has the keyboard focus (XTEST, as a real keyboard would).
    fn type_text(&self, text: &str) {
        self.xdotool(&["type", "--delay", "40", text]);
    }

    fn key(&self, key: &str) {
        self.xdotool(&["key", key]);
    }

    /// A PNG of one window, for the README: written to `docs/screenshots/` on every run, so the
    /// README always shows the dialogs as they are.
    fn screenshot(&self, window: &Window, name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        let path = dir.join(format!("{name}.png"));
        // import waits for ever on a window that closes under it: bound it.
        let status = Command::new("timeout")
            .args(["15", "import"])
            .env("DISPLAY", &self.display)
            .args(["-window", &window.id])
            .arg(&path)
            .status()
            .expect("import (imagemagick)");
        assert!(status.success(), "screenshot {name}");
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 2000, "{name}.png is only {size} bytes");
        path
    }
}

/// The guard that keeps a stray keystroke from confirming: what the dialog ignores for 600 ms.
const PAST_GUARD: Duration = Duration::from_millis(800);

fn gui_agent(desktop: &Desktop, name: &str, options: Options<'_>) -> Agent {
    let mut env = options.env;
    env.push(("DISPLAY", PathBuf::from(&desktop.display)));
    start(
        name,
        Options {
            prompter: Some("gui"),
            env,
            ..options
        },
    )
    .expect("agent starts")
}

fn verify_reply(fx: &Fixture, reply: &Reply, content: &std::path::Path) {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cms = content.with_extension("p7s");
    std::fs::write(&cms, b64(reply.json()["cms"].as_str().expect("cms"))).expect("write");
    openssl_verify(fx, &cms, content).expect("the CMS verifies");
}

#[test]
fn the_pin_dialog_signs_on_enter_ignores_early_keys_and_cancels_on_escape() {
    let fx = fixture("agent");
    let desktop = Desktop::start();
    let agent = gui_agent(&desktop, "pin", Options::default());
    let (content, digest) = document(&agent.dir, "pin.bin", "SHA-256");
    let body = sign_body(fx, "personal", &digest);

    let pending = agent.post_in_background("/v1/sign", DMS, &body);
    let id = desktop.wait_window("Kyso — Nhập mã PIN");
    // A keystroke meant for another window, arriving as the dialog appears, confirms nothing.
    desktop.type_text(LEADER_PIN);
    desktop.key("Return");
    assert_eq!(
        id.title, "Kyso — Nhập mã PIN",
        "no retries shown before a wrong PIN"
    );
    std::thread::sleep(PAST_GUARD);
    assert!(
        !pending.is_finished(),
        "an early Enter confirmed the dialog"
    );
    assert_eq!(desktop.active_window(), id.id, "the dialog took the focus");
    desktop.screenshot(&id, "pin");
    desktop.key("Return");
    let reply = pending.join().expect("request");
    verify_reply(fx, &reply, &content);
    desktop.wait_gone(&id);

    let pending = agent.post_in_background("/v1/sign", DMS, &body);
    let id = desktop.wait_window("Kyso — Nhập mã PIN");
    std::thread::sleep(PAST_GUARD);
    desktop.type_text("12");
    desktop.key("Escape");
    let reply = pending.join().expect("request");
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (409, "USER_CANCELLED"),
        "{}",
        reply.body
    );
    desktop.wait_gone(&id);
}

#[test]
fn a_wrong_pin_shows_the_retries_left_in_the_next_dialog() {
    let fx = fixture("agent");
    let desktop = Desktop::start();
    let control = fx.dir.join("desktop-fault.ctl");
    std::fs::write(&control, "pin_retries=3\ncounter_epoch=desktop\n").expect("control");
    let agent = gui_agent(
        &desktop,
        "retries",
        Options {
            modules: vec![fault_module()],
            env: vec![("KYSO_FAULT_CONTROL", control)],
            ..Options::default()
        },
    );
    let (content, digest) = document(&agent.dir, "r.bin", "SHA-256");
    let body = sign_body(fx, "personal", &digest);

    let pending = agent.post_in_background("/v1/sign", DMS, &body);
    let id = desktop.wait_window("Kyso — Nhập mã PIN");
    std::thread::sleep(PAST_GUARD);
    desktop.type_text("000000");
    desktop.key("Return");
    let reply = pending.join().expect("request");
    assert_eq!(reply.code(), "PIN_INCORRECT", "{}", reply.body);
    assert_eq!(reply.json()["error"]["retriesLeft"], 2);
    desktop.wait_gone(&id);

    let pending = agent.post_in_background("/v1/sign", DMS, &body);
    let id = desktop.wait_window("Kyso — Nhập mã PIN");
    assert_eq!(id.title, "Kyso — Nhập mã PIN (còn 2 lần thử)");
    std::thread::sleep(PAST_GUARD);
    desktop.screenshot(&id, "pin-retries");
    desktop.type_text(LEADER_PIN);
    desktop.key("Return");
    let reply = pending.join().expect("request");
    verify_reply(fx, &reply, &content);
}

#[test]
fn consent_and_batch_dialogs_ask_before_anything_is_signed() {
    let fx = fixture("agent");
    let desktop = Desktop::start();
    let agent = gui_agent(&desktop, "batch", Options::default());
    let (_, digest) = document(&agent.dir, "c.bin", "SHA-256");

    // An origin outside the policy: the user is asked, and a denial is an ORIGIN_NOT_ALLOWED.
    let site = "https://vanban.sonoivu.example.vn";
    let pending = agent.post_in_background("/v1/sign", site, &sign_body(fx, "personal", &digest));
    let id = desktop.wait_window("Kyso — Cho phép");
    assert_eq!(id.title, "Kyso — Cho phép trang web");
    std::thread::sleep(PAST_GUARD);
    desktop.screenshot(&id, "consent");
    desktop.key("Escape");
    let reply = pending.join().expect("request");
    assert_eq!(reply.code(), "ORIGIN_NOT_ALLOWED", "{}", reply.body);
    desktop.wait_gone(&id);

    // A batch: one dialog listing every document, then one PIN for all.
    let docs: Vec<(PathBuf, String)> = (0..3)
        .map(|i| document(&agent.dir, &format!("batch-{i}.bin"), "SHA-256"))
        .collect();
    let titles = [
        "Quyết định ban hành quy chế văn thư",
        "Công văn về việc tổng kết năm 2026",
        "Kế hoạch chuyển đổi số năm 2027",
    ];
    let body = batch_body(
        fx,
        "organization",
        docs.iter().zip(titles).enumerate().map(|(i, ((_, d), t))| {
            let number = format!("{}/UBND-VP", 40 + i);
            (
                d.as_str(),
                serde_json::json!({"title": t, "number": number, "purpose": "issue"}),
            )
        }),
    );
    let pending = agent.post_in_background("/v1/sign/batch", DMS, &body);
    let id = desktop.wait_window("Kyso — Ký");
    assert_eq!(id.title, "Kyso — Ký 3 văn bản");
    std::thread::sleep(PAST_GUARD);
    desktop.screenshot(&id, "batch");
    desktop.key("Return");
    desktop.wait_gone(&id);
    let id = desktop.wait_window("Kyso — Nhập mã PIN");
    std::thread::sleep(PAST_GUARD);
    desktop.type_text(CLERK_PIN);
    desktop.key("Return");
    let reply = pending.join().expect("request");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.json()["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), 3);
    for ((content, _), result) in docs.iter().zip(results) {
        let cms = content.with_extension("p7s");
        std::fs::write(&cms, b64(result["cms"].as_str().expect("cms"))).expect("write");
        openssl_verify(fx, &cms, content).expect("batch item verifies");
    }
    desktop.wait_gone(&id);
}

#[test]
fn kyso_run_starts_the_tray_without_a_panel_and_signs_through_its_dialog() {
    let fx = fixture("agent");
    let desktop = Desktop::start();
    // A user's first run: a HOME of its own, where the browser's NSS store will be.
    let home = fx.dir.join("run-home");
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).expect("home");
    let agent = gui_agent(
        &desktop,
        "run",
        Options {
            subcommand: "run",
            env: vec![("HOME", home.clone())],
            ..Options::default()
        },
    );
    // No panel and no D-Bus session here: the tray has nowhere to show, the agent runs on.
    std::thread::sleep(Duration::from_secs(3));
    let mut agent = agent;
    assert!(
        matches!(agent.child.try_wait(), Ok(None)),
        "kyso run exited without a panel"
    );
    let status = agent.curl("/v1/status", &["-H", &format!("Origin: {DMS}")]);
    assert_eq!(status.status, 200, "{}", status.body);
    let log = agent.data.join("logs/kyso.log");
    assert!(
        log.exists(),
        "kyso run keeps a log file for the tray to open"
    );

    let (content, digest) = document(&agent.dir, "run.bin", "SHA-256");
    let pending = agent.post_in_background("/v1/sign", DMS, &sign_body(fx, "personal", &digest));
    let id = desktop.wait_window("Kyso — Nhập mã PIN");
    std::thread::sleep(PAST_GUARD);
    desktop.type_text(LEADER_PIN);
    desktop.key("Return");
    verify_reply(fx, &pending.join().expect("request"), &content);
    desktop.wait_gone(&id);

    // A second `kyso run` on the same port says so and exits, like `kyso serve`.
    let second = start(
        "run-twice",
        Options {
            subcommand: "run",
            prompter: Some("gui"),
            port: agent.port,
            env: vec![("DISPLAY", PathBuf::from(&desktop.display))],
            ..Options::default()
        },
    );
    let message = second
        .err()
        .expect("a second agent on a taken port must fail");
    assert!(message.contains(&agent.port.to_string()), "{message}");
}

#[test]
fn a_batch_shows_its_progress_and_stop_cancels_the_rest() {
    let fx = fixture("agent");
    let desktop = Desktop::start();
    // A slow token (3 s a signature) so the progress window is there long enough to use.
    let control = fx.dir.join("desktop-slow.ctl");
    std::fs::write(&control, "sign_delay_ms=3000\n").expect("control");
    let agent = gui_agent(
        &desktop,
        "progress",
        Options {
            modules: vec![fault_module()],
            env: vec![("KYSO_FAULT_CONTROL", control)],
            ..Options::default()
        },
    );
    let docs: Vec<(PathBuf, String)> = (0..6)
        .map(|i| document(&agent.dir, &format!("slow-{i}.bin"), "SHA-256"))
        .collect();
    let body = batch_body(
        fx,
        "personal",
        docs.iter().enumerate().map(|(i, (_, d))| {
            let title = format!("Tờ trình {}", i + 1);
            (
                d.as_str(),
                serde_json::json!({"title": title, "purpose": "approve"}),
            )
        }),
    );
    let pending = agent.post_in_background("/v1/sign/batch", DMS, &body);
    let id = desktop.wait_window("Kyso — Ký 6 văn bản");
    std::thread::sleep(PAST_GUARD);
    desktop.key("Return");
    desktop.wait_gone(&id);
    let id = desktop.wait_window("Kyso — Nhập mã PIN");
    std::thread::sleep(PAST_GUARD);
    desktop.type_text(LEADER_PIN);
    desktop.key("Return");
    let id_progress = desktop.wait_window("Kyso — Đang ký");
    assert_eq!(id_progress.title, "Kyso — Đang ký 6 văn bản");
    desktop.wait_gone(&id);
    if pending.is_finished() {
        let early = pending.join().expect("request");
        panic!(
            "the batch ended before Stop could be pressed (status {}, {} bytes)",
            early.status,
            early.body.len()
        );
    }
    desktop.screenshot(&id_progress, "batch-progress");
    desktop.key("Escape");
    let reply = pending.join().expect("request");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.json()["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), 6);
    // What was signed before Stop is kept (and verifies); the rest is cancelled.
    let signed = results.iter().take_while(|r| r["cms"].is_string()).count();
    assert!((1..6).contains(&signed), "{signed} signed before Stop");
    for ((content, _), result) in docs.iter().zip(&results).take(signed) {
        let cms = content.with_extension("p7s");
        std::fs::write(&cms, b64(result["cms"].as_str().expect("cms"))).expect("write");
        openssl_verify(fx, &cms, content).expect("signed before Stop verifies");
    }
    assert_eq!(results[5]["error"]["code"], "USER_CANCELLED");
    desktop.wait_gone(&id_progress);
}

/// A private D-Bus session bus, as a desktop session has: where the tray publishes itself.
struct SessionBus {
    daemon: Child,
    address: String,
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

impl SessionBus {
    fn start() -> Self {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon");
        let mut line = String::new();
        let stdout = daemon.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("bus address");
        Self {
            daemon,
            address: line.trim().to_string(),
        }
    }

    fn send(&self, args: &[&str]) -> String {
        let out = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["--session", "--print-reply"])
            .args(args)
            .output()
            .expect("dbus-send");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The tray's StatusNotifierItem bus name, once it is there.
    fn tray_item(&self) -> String {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            let names = self.send(&[
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.ListNames",
            ]);
            if let Some(name) = names
                .split('"')
                .find(|n| n.starts_with("org.kde.StatusNotifierItem-"))
            {
                return name.to_string();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no StatusNotifierItem on the session bus");
    }

    /// The tray menu as (dbusmenu id, label) pairs, from `com.canonical.dbusmenu.GetLayout`.
    fn menu(&self, item: &str) -> Vec<(i32, String)> {
        let layout = self.send(&[
            &format!("--dest={item}"),
            "/MenuBar",
            "com.canonical.dbusmenu.GetLayout",
            "int32:0",
            "int32:-1",
            "array:string:label",
        ]);
        let mut entries = Vec::new();
        let mut id = 0;
        let mut label_next = false;
        for line in layout.lines().map(str::trim) {
            if let Some(n) = line.strip_prefix("int32 ") {
                id = n.parse().unwrap_or(id);
            }
            if let Some(text) = line
                .strip_prefix("variant")
                .map(str::trim)
                .and_then(|l| l.strip_prefix("string \""))
                .and_then(|l| l.strip_suffix(')').unwrap_or(l).trim().strip_suffix('"'))
            {
                if label_next {
                    entries.push((id, text.to_string()));
                }
            }
            label_next = line.contains("string \"label\"");
        }
        entries
    }

    fn click(&self, item: &str, id: i32) {
        self.send(&[
            &format!("--dest={item}"),
            "/MenuBar",
            "com.canonical.dbusmenu.Event",
            &format!("int32:{id}"),
            "string:clicked",
            "variant:int32:0",
            "uint32:0",
        ]);
    }
}

#[test]
fn the_tray_menu_on_the_session_bus_shows_tokens_and_switches_language() {
    let desktop = Desktop::start();
    let bus = SessionBus::start();
    let agent = gui_agent(
        &desktop,
        "tray-menu",
        Options {
            subcommand: "run",
            env: vec![("DBUS_SESSION_BUS_ADDRESS", PathBuf::from(&bus.address))],
            ..Options::default()
        },
    );
    let item = bus.tray_item();
    // The first model arrives within one refresh (2 s).
    let started = Instant::now();
    let mut menu = bus.menu(&item);
    while !menu.iter().any(|(_, l)| l.starts_with("🔑"))
        && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(200));
        menu = bus.menu(&item);
    }
    let labels: Vec<&str> = menu.iter().map(|(_, l)| l.as_str()).collect();
    // The test tokens: the leader's holds an expired certificate, so the state says so; the
    // header names the agent's port (on a terminal server, which agent is this user's).
    let header = format!("Kyso — Chứng thư số đã hết hạn · 127.0.0.1:{}", agent.port);
    assert!(labels.contains(&header.as_str()), "{labels:?}");
    assert!(labels.contains(&"🔑 Lanh dao — đã cắm"), "{labels:?}");
    assert!(labels.contains(&"🔑 Van thu — đã cắm"), "{labels:?}");
    assert!(
        labels
            .iter()
            .any(|l| l.contains("UBND Thành phố Thử Nghiệm (tổ chức) — đến")),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"Xuất thông tin gia hạn chứng thư số"),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"https://dms.example.vn (quản trị cho phép)"),
        "{labels:?}"
    );
    assert!(labels.contains(&"Thoát Kyso"), "{labels:?}");

    // "Xuất thông tin gia hạn" for the organisation certificate: the row is saved and shown.
    let renewal = menu
        .iter()
        .find(|(_, l)| l.starts_with("UBND Thành phố Thử Nghiệm — "))
        .map(|(id, _)| *id)
        .expect("a renewal item for the organisation certificate");
    bus.click(&item, renewal);
    let shown = desktop.wait_window("Kyso — Thông tin gia hạn chứng thư số");
    let saved = std::fs::read_dir(&agent.data)
        .expect("data dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("gia-han-"))
        })
        .expect("the renewal row saved as gia-han-<serial>.tsv");
    let row = std::fs::read_to_string(&saved).expect("row");
    assert!(row.starts_with("Stt\tTên cơ quan, tổ chức\t"), "{row}");
    assert!(row.contains("\tMST:0101234567\t"), "{row}");
    desktop.key("Escape");
    desktop.wait_gone(&shown);

    // Clicking "English" goes through the agent's menu handler and rebuilds the menu.
    let english = menu
        .iter()
        .find(|(_, l)| l == "English")
        .map(|(id, _)| *id)
        .expect("an English item");
    bus.click(&item, english);
    let started = Instant::now();
    while !bus.menu(&item).iter().any(|(_, l)| l == "Quit Kyso") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the menu did not switch to English: {:?}",
            bus.menu(&item)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Diagnostics: the `kyso doctor` text in a window.
    let diagnostics = bus
        .menu(&item)
        .into_iter()
        .find(|(_, l)| l == "Diagnostics")
        .map(|(id, _)| id)
        .expect("a Diagnostics item");
    bus.click(&item, diagnostics);
    let shown = desktop.wait_window("Kyso — Diagnostics");
    desktop.screenshot(&shown, "diagnostics");
    drop(agent);
}

#[test]
fn a_pin_pad_token_shows_type_on_the_device_until_the_device_answers() {
    let fx = fixture("agent");
    let desktop = Desktop::start();
    // A pin-pad reader where the user takes 3 s to type the PIN on the device.
    let control = fx.dir.join("desktop-pinpad.ctl");
    std::fs::write(
        &control,
        format!("protected_auth_path=1\npinpad_pin={LEADER_PIN}\nlogin_delay_ms=3000\n"),
    )
    .expect("control");
    let agent = gui_agent(
        &desktop,
        "pinpad",
        Options {
            modules: vec![fault_module()],
            env: vec![("KYSO_FAULT_CONTROL", control)],
            ..Options::default()
        },
    );
    let (content, digest) = document(&agent.dir, "pad.bin", "SHA-256");
    let pending = agent.post_in_background("/v1/sign", DMS, &sign_body(fx, "personal", &digest));
    let window = desktop.wait_window("Kyso — Nhập mã PIN");
    assert_eq!(window.title, "Kyso — Nhập mã PIN trên thiết bị");
    std::thread::sleep(Duration::from_millis(700));
    assert!(!pending.is_finished(), "signed before the device answered");
    desktop.screenshot(&window, "pinpad");
    // Nobody touches the dialog: the device answers, the agent signs and closes the window.
    verify_reply(fx, &pending.join().expect("request"), &content);
    desktop.wait_gone(&window);
}
