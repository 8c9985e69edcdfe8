//! `kyso run`: the agent on a background thread and the tray on the main thread (the platform
//! event loop on Windows and macOS, which insist on it; on Linux the StatusNotifierItem
//! backend talks D-Bus from its own thread, so no GTK is loaded). The tray shows [`crate::ui::tray::build`]'s model,
//! refreshed every two seconds from the same status `/v1/status` returns; menu clicks come back
//! as [`Action`]s. Dialogs (PIN, consent, diagnostics) are child processes (`ui::dialog`), so a
//! tray without a panel, or a dialog that fails, never takes the agent down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tray_icon::menu::{
    CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem, Submenu,
};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use super::App;
use crate::api::Lang;
use crate::signing::Origin;
use crate::ui::dialog::show_info;
use crate::ui::report;
use crate::ui::tray::{self, Action, Entry, Sites, TrayModel};

/// What reaches the event loop from other threads.
enum UserEvent {
    /// A fresh model to show.
    Model(TrayModel),
    /// A menu item was clicked.
    Menu(MenuId),
}

/// How often the tray looks at the tokens (the token layer polls slots every 1.5 s).
const REFRESH: Duration = Duration::from_secs(2);

/// Runs the agent and the tray until the user quits. `on_ready` gets the listening URLs, as
/// with `kyso serve`.
///
/// # Errors
/// The agent cannot start (port taken, TLS identity); the tray itself failing is only logged.
pub fn run(
    app: App,
    port: u16,
    ports: u16,
    on_ready: impl FnOnce(&[String]),
) -> Result<(), String> {
    if let Some(reports) = super::trust_on_first_run(&app.config.data_dir) {
        for report in reports {
            tracing::info!(store = %report.store, trusted = report.trusted, error = ?report.error, "first run: local CA");
        }
    }
    let app = Arc::new(app);
    let agent_error: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<Vec<String>, String>>();
    {
        let (app, agent_error) = (app.clone(), agent_error.clone());
        std::thread::Builder::new()
            .name("kyso-agent".into())
            .spawn(move || {
                let runtime = match crate::server::runtime() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let ready = ready_tx.clone();
                let result = runtime.block_on(app.serve(port, ports, move |urls: &[String]| {
                    let _ = ready.send(Ok(urls.to_vec()));
                }));
                if let Err(e) = result {
                    tracing::error!(error = %e, "the agent stopped");
                    if let Ok(mut slot) = agent_error.lock() {
                        *slot = Some(e.to_string());
                    }
                    let _ = ready_tx.send(Err(e.to_string()));
                }
            })
            .map_err(|e| e.to_string())?;
    }
    // Start-up errors (a taken port) end `kyso run` with the same message as `kyso serve`.
    let urls = ready_rx
        .recv()
        .map_err(|_| "the agent thread ended".to_string())??;
    on_ready(&urls);

    // The language chosen in the tray before (saved in the data folder), else the system's.
    let saved = std::fs::read_to_string(language_file(&app.config))
        .ok()
        .and_then(|text| Lang::parse(&text));
    if let Some(saved) = saved {
        crate::i18n::set_user_lang(saved);
    }
    let lang = Arc::new(Mutex::new(crate::i18n::user_lang()));
    let wake = Arc::new(AtomicBool::new(false));
    let tray = Tray {
        icon: None,
        shown: None,
        actions: Vec::new(),
        app: app.clone(),
        lang: lang.clone(),
        wake: wake.clone(),
    };
    event_loop(tray, move |send| {
        spawn_refresher(app, lang, agent_error, wake, send);
    })
}

/// Sends an event to the tray's loop; false once the loop is gone.
type EventSender = Box<dyn Fn(UserEvent) -> bool + Send + Sync>;

/// The tray icon and what its menu items do.
struct Tray {
    icon: Option<TrayIcon>,
    shown: Option<TrayModel>,
    actions: Vec<(MenuId, Action)>,
    app: Arc<App>,
    lang: Arc<Mutex<Lang>>,
    wake: Arc<AtomicBool>,
}

impl Tray {
    /// Creates the icon; without a panel (or a D-Bus session) the agent runs on without one.
    fn create(&mut self) {
        let mut builder = TrayIconBuilder::new().with_tooltip("Kyso");
        if let Some(icon) = icon(tray::TrayState::NoToken) {
            builder = builder.with_icon(icon);
        }
        match builder.build() {
            Ok(icon) => self.icon = Some(icon),
            Err(e) => tracing::warn!(error = %e, "no tray icon (no panel?); the agent runs on"),
        }
    }

    /// Handles one event; false when the user quit.
    fn handle(&mut self, event: UserEvent) -> bool {
        match event {
            UserEvent::Model(model) => {
                if self.shown.as_ref() == Some(&model) {
                    return true;
                }
                if let Some(icon_handle) = &self.icon {
                    let (menu, ids) = menu_of(&model.entries);
                    self.actions = ids;
                    icon_handle.set_menu(Some(Box::new(menu)));
                    let _ = icon_handle.set_tooltip(Some(&model.tooltip));
                    if self.shown.as_ref().map(|m| m.state) != Some(model.state) {
                        let _ = icon_handle.set_icon(icon(model.state));
                    }
                }
                self.shown = Some(model);
                true
            }
            UserEvent::Menu(id) => {
                let Some(action) = self
                    .actions
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map(|(_, a)| a.clone())
                else {
                    return true;
                };
                if action == Action::Quit {
                    self.icon = None;
                    return false;
                }
                perform(&self.app, &self.lang, action);
                self.wake.store(true, Ordering::SeqCst);
                true
            }
        }
    }
}

/// Linux: events arrive on a channel; the SNI backend needs no loop of ours.
#[cfg(target_os = "linux")]
fn event_loop(mut tray: Tray, start: impl FnOnce(EventSender)) -> Result<(), String> {
    let (sender, events) = std::sync::mpsc::channel::<UserEvent>();
    let menu_sender = sender.clone();
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
        let _ = menu_sender.send(UserEvent::Menu(event.id));
    }));
    let sender = std::sync::Mutex::new(sender);
    start(Box::new(move |event| {
        sender
            .lock()
            .map(|s| s.send(event).is_ok())
            .unwrap_or(false)
    }));
    tray.create();
    for event in events {
        if !tray.handle(event) {
            break;
        }
    }
    std::process::exit(0);
}

/// Windows and macOS: the platform's event loop on the main thread.
#[cfg(not(target_os = "linux"))]
fn event_loop(mut tray: Tray, start: impl FnOnce(EventSender)) -> Result<(), String> {
    use tao::event::{Event, StartCause};
    use tao::event_loop::{ControlFlow, EventLoopBuilder};
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let proxy = event_loop.create_proxy();
    let menu_proxy = proxy.clone();
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
        let _ = menu_proxy.send_event(UserEvent::Menu(event.id));
    }));
    let proxy = std::sync::Mutex::new(proxy);
    start(Box::new(move |event| {
        proxy
            .lock()
            .map(|p| p.send_event(event).is_ok())
            .unwrap_or(false)
    }));
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        match event {
            // Created once the loop runs: AppKit (macOS) needs it started.
            Event::NewEvents(StartCause::Init) => tray.create(),
            Event::UserEvent(event) => {
                if !tray.handle(event) {
                    *control_flow = ControlFlow::Exit;
                    std::process::exit(0);
                }
            }
            _ => {}
        }
    })
}

fn icon(state: tray::TrayState) -> Option<Icon> {
    let (rgba, width, height) = tray::icon_rgba(state);
    Icon::from_rgba(rgba, width, height).ok()
}

/// Builds the platform menu and remembers which item does what.
fn menu_of(entries: &[Entry]) -> (Menu, Vec<(MenuId, Action)>) {
    let menu = Menu::new();
    let mut actions = Vec::new();
    for item in items_of(entries, &mut actions) {
        if let Err(e) = menu.append(item.as_ref()) {
            tracing::warn!(error = %e, "menu item not added");
        }
    }
    (menu, actions)
}

fn items_of(entries: &[Entry], actions: &mut Vec<(MenuId, Action)>) -> Vec<Box<dyn IsMenuItem>> {
    let mut out: Vec<Box<dyn IsMenuItem>> = Vec::new();
    for entry in entries {
        match entry {
            Entry::Info(text) => out.push(Box::new(MenuItem::new(text, false, None))),
            Entry::Separator => out.push(Box::new(PredefinedMenuItem::separator())),
            Entry::Item {
                label,
                action,
                checked: Some(checked),
            } => {
                let item = CheckMenuItem::new(label, true, *checked, None);
                actions.push((item.id().clone(), action.clone()));
                out.push(Box::new(item));
            }
            Entry::Item {
                label,
                action,
                checked: None,
            } => {
                let item = MenuItem::new(label, true, None);
                actions.push((item.id().clone(), action.clone()));
                out.push(Box::new(item));
            }
            Entry::Submenu { label, entries } => {
                let submenu = Submenu::new(label, true);
                for child in items_of(entries, actions) {
                    let _ = submenu.append(child.as_ref());
                }
                out.push(Box::new(submenu));
            }
        }
    }
    out
}

/// Looks at the status every [`REFRESH`] (or at once after a click) and sends the model and
/// the notifications it calls for.
fn spawn_refresher(
    app: Arc<App>,
    lang: Arc<Mutex<Lang>>,
    agent_error: Arc<Mutex<Option<String>>>,
    wake: Arc<AtomicBool>,
    send: EventSender,
) {
    let spawned = std::thread::Builder::new()
        .name("kyso-tray".into())
        .spawn(move || {
            let mut previous = None;
            loop {
                let lang = lang.lock().map(|l| *l).unwrap_or_default();
                let status = app.signing.status();
                let sites = Sites {
                    admin: app.policy.admin_origins(),
                    approved: app.policy.approved_origins(),
                };
                let error = agent_error.lock().ok().and_then(|e| e.clone());
                if let Some(before) = &previous {
                    for notice in tray::notices(before, &status, lang) {
                        notify(&notice);
                    }
                }
                let port = Some(crate::config::running_port(&app.config));
                let model = tray::build(&status, &sites, lang, error.as_deref(), port);
                if !send(UserEvent::Model(model)) {
                    return;
                }
                previous = Some(status);
                for _ in 0..(REFRESH.as_millis() / 100) {
                    if wake.swap(false, Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "tray refresher not started");
    }
}

/// Where the tray's language choice is kept.
fn language_file(config: &crate::config::Config) -> std::path::PathBuf {
    config.data_dir.join("language")
}

fn perform(app: &App, lang: &Mutex<Lang>, action: Action) {
    let current = lang.lock().map(|l| *l).unwrap_or_default();
    match action {
        Action::Language(chosen) => {
            if let Ok(mut l) = lang.lock() {
                *l = chosen;
            }
            // The dialogs follow the tray, now and after a restart.
            crate::i18n::set_user_lang(chosen);
            if let Err(e) = crate::platform::files::write_private(
                &language_file(&app.config),
                chosen.tag().as_bytes(),
            ) {
                tracing::warn!(error = %e, "language choice not saved");
            }
        }
        Action::RevokeSite(site) => match Origin::parse(&site).map(|o| app.policy.revoke(&o)) {
            Ok(Ok(_)) => tracing::info!(%site, "site revoked from the tray"),
            Ok(Err(e)) | Err(e) => tracing::error!(%site, error = %e, "revoke failed"),
        },
        Action::OpenLogs => open_folder(&app.config.log_dir()),
        Action::Diagnostics => {
            let text = report::diagnostics(
                &app.signing.status(),
                &crate::token::TokenProvider::modules(app.tokens.as_ref()),
                &report::Sources {
                    user_file: (&app.config.user_file, app.config.user_file.exists()),
                    policy_file: (&app.config.policy_file, app.config.policy_present),
                    trust_anchors: &app.config.trust_anchors,
                    port: crate::config::running_port(&app.config),
                },
            );
            show_info(&crate::i18n::text(current, "tray-diagnostics"), &text);
        }
        Action::ExportRenewal(id) => {
            let status = app.signing.status();
            let Some(cert) = status.certificates.iter().find(|c| c.id == id) else {
                return;
            };
            let row = report::renewal_row(cert);
            let file = app
                .config
                .data_dir
                .join(format!("gia-han-{}.tsv", cert.serial));
            let saved = std::fs::write(&file, &row).is_ok();
            let text = if saved {
                let saved = crate::i18n::both("renewal-saved", &[]);
                let paste = crate::i18n::text(Lang::Vi, "renewal-paste");
                let paste_en = crate::i18n::text(Lang::En, "renewal-paste");
                format!("{row}\n{saved}: {}\n{paste}\n{paste_en}", file.display())
            } else {
                row
            };
            show_info(&crate::i18n::text(current, "renewal-heading"), &text);
        }
        Action::Quit => {}
    }
}

fn open_folder(path: &std::path::Path) {
    let _ = std::fs::create_dir_all(path);
    let opener = if cfg!(windows) {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener).arg(path).spawn() {
        tracing::warn!(error = %e, folder = %path.display(), "cannot open the folder");
    }
}

/// A desktop notification: `notify-send` on Linux desktops; elsewhere (and where it is
/// missing) the log and the tray's tooltip carry the news.
fn notify(text: &str) {
    tracing::info!(notice = text, "notification");
    if cfg!(all(unix, not(target_os = "macos"))) {
        let _ = std::process::Command::new("notify-send")
            .args(["--app-name=Kyso", "Kyso", text])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
}
