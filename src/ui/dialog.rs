//! The native dialogs (PIN, origin consent, batch confirmation), drawn with egui in a child
//! process of the agent: winit allows one event loop per process and the tray owns the main
//! one, and a dialog that crashes must not take the agent down. The agent writes the request
//! as JSON on the child's standard input and reads the answer on its standard output.
//!
//! What a user can rely on: the origin in full, the document, the certificate, the retries left
//! (final try in red); Enter signs, Esc cancels; the window takes focus and stays on top; the
//! confirm button ignores input for 600 ms after the dialog appears (a keystroke meant for
//! another window cannot confirm it); a visible countdown ends in a timeout. The window title
//! carries the state ("còn 2 lần thử") so assistive tools and tests can read it.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::i18n::{message, text, user_lang, Lang};
use crate::signing::{BatchPrompt, OriginDecision, PinPrompt, Prompt};
use crate::token::{PinEntry, PinRefusal, PinState};

/// What the child shows.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum DialogRequest {
    /// Ask the PIN.
    #[serde(rename_all = "camelCase")]
    Pin {
        /// The documents, the certificate and who asks, in the user's language.
        view: super::RequestView,
        /// Retries left when known.
        retries_left: Option<u32>,
        /// The next wrong PIN locks the token.
        final_try: bool,
        /// Pin-pad: no field, a countdown.
        pinpad: bool,
        /// Seconds before the dialog gives up.
        timeout_secs: u64,
        /// The certificate status line, when the check has ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<StatusUpdate>,
        /// The status check is still running: show "checking", keep Sign disabled, and read
        /// one [`StatusUpdate`] line on standard input when it ends.
        #[serde(default)]
        checking: bool,
    },
    /// Approve an origin.
    #[serde(rename_all = "camelCase")]
    Consent {
        /// The origin in full.
        origin: String,
        /// The user's language.
        #[serde(default)]
        lang: Lang,
        /// Seconds before the dialog gives up (a denial).
        timeout_secs: u64,
    },
    /// Show text the user may read and copy (diagnostics, renewal row).
    #[serde(rename_all = "camelCase")]
    Info {
        /// The user's language (for the buttons).
        #[serde(default)]
        lang: Lang,
        /// The window's heading.
        heading: String,
        /// The text, shown in a fixed-width font.
        text: String,
    },
    /// A batch being signed: the agent writes the number signed so far, one line each time;
    /// closing standard input closes the window.
    #[serde(rename_all = "camelCase")]
    Progress {
        /// Documents in the batch.
        total: usize,
        /// The user's language.
        #[serde(default)]
        lang: Lang,
    },
    /// Confirm a batch.
    #[serde(rename_all = "camelCase")]
    Batch {
        /// The documents, the certificate and who asks.
        view: super::RequestView,
        /// Seconds before the dialog gives up.
        timeout_secs: u64,
    },
}

impl DialogRequest {
    /// The language the dialog speaks.
    fn lang(&self) -> Lang {
        match self {
            Self::Pin { view, .. } | Self::Batch { view, .. } => view.lang,
            Self::Consent { lang, .. } | Self::Info { lang, .. } | Self::Progress { lang, .. } => {
                *lang
            }
        }
    }
}

/// The end of the certificate status check, as the PIN dialog shows it.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct StatusUpdate {
    /// The line to show.
    pub line: String,
    /// Shown as a warning (the status could not be established).
    #[serde(default)]
    pub warning: bool,
    /// The certificate is revoked: the dialog closes without an answer.
    #[serde(default)]
    pub close: bool,
}

impl StatusUpdate {
    fn of(checked: &crate::signing::Checked) -> Self {
        Self {
            line: checked.prompt_line(),
            warning: matches!(checked, crate::signing::Checked::Unknown(..)),
            close: matches!(checked, crate::signing::Checked::Revoked(_)),
        }
    }
}

/// What the child answers.
#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct DialogAnswer {
    /// The PIN typed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// Pin-pad acknowledged.
    #[serde(default)]
    pub pinpad: bool,
    /// Confirmed (batch).
    #[serde(default)]
    pub confirmed: bool,
    /// "once" | "always" | "deny" (consent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// Timed out.
    #[serde(default)]
    pub timed_out: bool,
    /// The user stopped a batch.
    #[serde(default)]
    pub stopped: bool,
}

/// The prompt that opens the native dialogs.
pub struct GuiPrompt {
    /// Seconds a dialog stays open.
    timeout: Duration,
    /// The pin-pad window, open while the token waits for the PIN on its keypad.
    pinpad: std::sync::Mutex<Option<std::process::Child>>,
}

/// Starts a `kyso dialog` child showing `request` (one JSON line on its standard input). Its
/// standard input stays open in the returned child (the progress window reads counts from it);
/// its answer comes on standard output.
fn spawn_dialog(request: &DialogRequest) -> Result<std::process::Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("dialog")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let line = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    if let Some(stdin) = child.stdin.as_mut() {
        stdin
            .write_all(&line)
            .and_then(|_| stdin.write_all(b"\n"))
            .map_err(|e| e.to_string())?;
    }
    Ok(child)
}

impl GuiPrompt {
    /// A prompt whose dialogs close by themselves after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            pinpad: std::sync::Mutex::new(None),
        }
    }

    /// Opens the pin-pad window and returns at once: the login that follows blocks on the
    /// device, and [`Prompt::pin_used`] closes the window when it returns.
    fn show_pinpad(&self, request: &DialogRequest) -> Result<(), PinRefusal> {
        let mut child = spawn_dialog(request).map_err(|e| {
            tracing::error!(error = %e, "cannot open the pin-pad window");
            PinRefusal::Cancelled
        })?;
        drop(child.stdin.take());
        if let Ok(mut slot) = self.pinpad.lock() {
            if let Some(mut old) = slot.replace(child) {
                let _ = old.kill();
                let _ = old.wait();
            }
        }
        Ok(())
    }

    fn ask(&self, request: &DialogRequest) -> Result<DialogAnswer, PinRefusal> {
        self.ask_with(request, None)
    }

    /// The PIN dialog opened before the status check ended: the check's end is written to
    /// the dialog as it comes (a revoked certificate closes it).
    fn ask_while_checking(
        &self,
        request: &DialogRequest,
        status: crate::signing::PendingCheck,
    ) -> Result<DialogAnswer, PinRefusal> {
        self.ask_with(request, Some(status))
    }

    fn ask_with(
        &self,
        request: &DialogRequest,
        status: Option<crate::signing::PendingCheck>,
    ) -> Result<DialogAnswer, PinRefusal> {
        let mut child = spawn_dialog(request).map_err(|e| {
            tracing::error!(error = %e, "cannot open the dialog");
            PinRefusal::Cancelled
        })?;
        let stdin = child.stdin.take();
        if let (Some(status), Some(mut stdin)) = (status, stdin) {
            std::thread::spawn(move || {
                let update = StatusUpdate::of(&status.outcome());
                if let Ok(line) = serde_json::to_vec(&update) {
                    // The dialog may be gone already: nothing to tell then.
                    let _ = stdin.write_all(&line).and_then(|_| stdin.write_all(b"\n"));
                }
            });
        }
        let mut output = Vec::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_end(&mut output);
        }
        let _ = child.wait();
        let answer: DialogAnswer = serde_json::from_slice(&output).map_err(|_| {
            tracing::error!("the dialog closed without an answer");
            PinRefusal::Cancelled
        })?;
        output.iter_mut().for_each(|b| *b = 0);
        if answer.timed_out {
            return Err(PinRefusal::TimedOut);
        }
        Ok(answer)
    }
}

/// The progress window of a batch: a `kyso dialog` child that reads the count on its standard
/// input and answers `stopped` when the user presses Stop.
struct GuiProgress {
    stdin: std::sync::Mutex<Option<std::process::ChildStdin>>,
}

impl crate::signing::BatchProgress for GuiProgress {
    fn signed(&self, done: usize) {
        if let Ok(mut stdin) = self.stdin.lock() {
            if let Some(pipe) = stdin.as_mut() {
                if writeln!(pipe, "{done}").and_then(|_| pipe.flush()).is_err() {
                    *stdin = None;
                }
            }
        }
    }
}

impl GuiPrompt {
    fn open_progress(
        &self,
        total: usize,
        abort: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Option<GuiProgress> {
        let mut child = spawn_dialog(&DialogRequest::Progress {
            total,
            lang: user_lang(),
        })
        .map_err(|e| tracing::warn!(error = %e, "no progress window"))
        .ok()?;
        let stdin = child.stdin.take()?;
        let mut stdout = child.stdout.take()?;
        std::thread::spawn(move || {
            let mut output = Vec::new();
            let _ = stdout.read_to_end(&mut output);
            let _ = child.wait();
            if serde_json::from_slice::<DialogAnswer>(&output).is_ok_and(|a| a.stopped) {
                tracing::info!("batch stopped by the user");
                abort.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        });
        Some(GuiProgress {
            stdin: std::sync::Mutex::new(Some(stdin)),
        })
    }
}

impl Prompt for GuiPrompt {
    fn batch_progress(
        &self,
        total: usize,
        abort: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Option<Box<dyn crate::signing::BatchProgress>> {
        self.open_progress(total, abort)
            .map(|p| Box::new(p) as Box<dyn crate::signing::BatchProgress>)
    }

    fn ask_pin(&self, request: &PinPrompt) -> Result<PinEntry, PinRefusal> {
        let warned = super::retries_line(request).is_some();
        let known = request.status.as_ref().map(|s| s.result());
        let dialog = DialogRequest::Pin {
            view: super::pin_view(request),
            retries_left: request.retries_left.filter(|_| warned),
            final_try: request.pin_state == PinState::FinalTry || request.retries_left == Some(1),
            pinpad: request.protected_auth_path,
            timeout_secs: self.timeout.as_secs(),
            status: known
                .as_ref()
                .and_then(|k| k.as_ref().map(StatusUpdate::of)),
            checking: matches!(known, Some(None)),
        };
        if request.protected_auth_path {
            self.show_pinpad(&dialog)?;
            return Ok(PinEntry::PinPad);
        }
        let answer = match (&request.status, known) {
            (Some(status), Some(None)) => self.ask_while_checking(&dialog, status.clone())?,
            _ => self.ask(&dialog)?,
        };
        match (answer.pin, answer.pinpad) {
            (_, true) => Ok(PinEntry::PinPad),
            (Some(pin), _) if !pin.is_empty() => Ok(PinEntry::Pin(SecretString::from(pin))),
            _ => Err(PinRefusal::Cancelled),
        }
    }

    fn pin_used(&self) {
        if let Ok(mut slot) = self.pinpad.lock() {
            if let Some(mut window) = slot.take() {
                let _ = window.kill();
                let _ = window.wait();
            }
        }
    }

    fn approve_origin(&self, origin: &str) -> Result<OriginDecision, PinRefusal> {
        let answer = self.ask(&DialogRequest::Consent {
            origin: super::clean(origin, 255),
            lang: user_lang(),
            timeout_secs: self.timeout.as_secs(),
        })?;
        Ok(match answer.decision.as_deref() {
            Some("once") => OriginDecision::AllowOnce,
            Some("always") => OriginDecision::AlwaysAllow,
            _ => OriginDecision::Deny,
        })
    }

    fn confirm_batch(&self, batch: &BatchPrompt) -> Result<(), PinRefusal> {
        let view = super::batch_view(user_lang(), batch);
        let answer = self.ask(&DialogRequest::Batch {
            view,
            timeout_secs: self.timeout.as_secs(),
        })?;
        if answer.confirmed {
            Ok(())
        } else {
            Err(PinRefusal::Cancelled)
        }
    }
}

/// Opens an information window and returns at once: the tray must not wait on the user.
pub fn show_info(heading: &str, text: &str) {
    let request = DialogRequest::Info {
        lang: user_lang(),
        heading: heading.to_string(),
        text: text.to_string(),
    };
    std::thread::spawn(move || {
        let prompt = GuiPrompt::new(Duration::from_secs(600));
        let _ = prompt.ask(&request);
    });
}

/// Milliseconds the confirm action ignores input after the dialog appears.
const GUARD: Duration = Duration::from_millis(600);

struct DialogApp {
    request: DialogRequest,
    pin: SecretString,
    typed: String,
    opened: Instant,
    answer: Option<DialogAnswer>,
    focus_requested: bool,
    /// Progress: documents signed so far, and whether the agent closed the pipe.
    done: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// PIN: the status check's end, written by the agent while the dialog is open.
    status: std::sync::Arc<std::sync::Mutex<Option<StatusUpdate>>>,
    /// Kyso's icon, drawn in the header.
    icon: Option<eframe::egui::TextureHandle>,
}

fn vietnamese_fonts(ctx: &eframe::egui::Context) {
    let candidates = [
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        "C:\\Windows\\Fonts\\arial.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "/Library/Fonts/Arial.ttf",
    ];
    let Some(bytes) = candidates.iter().find_map(|p| std::fs::read(p).ok()) else {
        return;
    };
    let mut fonts = eframe::egui::FontDefinitions::default();
    fonts.font_data.insert(
        "vi".into(),
        std::sync::Arc::new(eframe::egui::FontData::from_owned(bytes)),
    );
    for family in [
        eframe::egui::FontFamily::Proportional,
        eframe::egui::FontFamily::Monospace,
    ] {
        fonts
            .families
            .entry(family)
            .or_default()
            .insert(0, "vi".into());
    }
    ctx.set_fonts(fonts);
}

/// Light, roomy and readable at a glance: the look of the office software clerks use all day.
fn office_style(ctx: &eframe::egui::Context) {
    use eframe::egui::{FontId, TextStyle, Visuals};
    ctx.set_theme(eframe::egui::Theme::Light);
    ctx.set_visuals(Visuals::light());
    ctx.all_styles_mut(|style| {
        style
            .text_styles
            .insert(TextStyle::Body, FontId::proportional(15.0));
        style
            .text_styles
            .insert(TextStyle::Button, FontId::proportional(15.0));
        style
            .text_styles
            .insert(TextStyle::Heading, FontId::proportional(20.0));
        style
            .text_styles
            .insert(TextStyle::Monospace, FontId::monospace(13.0));
        style.spacing.item_spacing = eframe::egui::vec2(8.0, 6.0);
        style.spacing.button_padding = eframe::egui::vec2(12.0, 5.0);
    });
}

/// The button that signs or goes on: filled, so it is the obvious one.
fn primary(text: &str) -> eframe::egui::Button<'static> {
    use eframe::egui::{Color32, RichText};
    eframe::egui::Button::new(
        RichText::new(text.to_string())
            .strong()
            .color(Color32::WHITE),
    )
    .fill(Color32::from_rgb(0x1a, 0x56, 0xa8))
}

impl DialogApp {
    fn timeout(&self) -> u64 {
        match &self.request {
            DialogRequest::Pin { timeout_secs, .. }
            | DialogRequest::Consent { timeout_secs, .. }
            | DialogRequest::Batch { timeout_secs, .. } => *timeout_secs,
            DialogRequest::Info { .. } | DialogRequest::Progress { .. } => 600,
        }
    }

    fn finish(&mut self, ctx: &eframe::egui::Context, answer: DialogAnswer) {
        self.answer = Some(answer);
        ctx.send_viewport_cmd(eframe::egui::ViewportCommand::Close);
    }
}

impl DialogApp {
    fn draw(&mut self, root: &mut eframe::egui::Ui) {
        use eframe::egui::{self, Color32, Key, RichText};
        let ctx = &root.ctx().clone();
        let armed = self.opened.elapsed() >= GUARD;
        let left = self
            .timeout()
            .saturating_sub(self.opened.elapsed().as_secs());
        if left == 0 {
            self.finish(
                ctx,
                DialogAnswer {
                    timed_out: true,
                    ..DialogAnswer::default()
                },
            );
            return;
        }
        if !self.focus_requested {
            // Raise and focus once; the window manager decides, the title tells tests.
            ctx.send_viewport_cmd(eframe::egui::ViewportCommand::Focus);
        }
        // Once per 200 ms for the countdown. Never repaint every frame: a repaint loop starves
        // winit's X11 event processing and the dialog stops seeing keys and clicks.
        ctx.request_repaint_after(Duration::from_millis(200));
        let escape = ctx.input(|i| i.key_pressed(Key::Escape));
        let enter = ctx.input(|i| i.key_pressed(Key::Enter));
        let request = self.request.clone();
        let first_frame = !self.focus_requested;
        self.focus_requested = true;
        egui::CentralPanel::default().show(root, |ui| match &request {
            DialogRequest::Pin {
                view,
                retries_left,
                final_try,
                pinpad,
                status,
                checking,
                ..
            } => {
                let lang = view.lang;
                header(ui, lang, self.icon.as_ref());
                request_block(ui, view);
                let update = self
                    .status
                    .lock()
                    .ok()
                    .and_then(|s| s.clone())
                    .or_else(|| status.clone());
                if update.as_ref().is_some_and(|u| u.close) {
                    self.finish(ctx, DialogAnswer::default());
                    return;
                }
                let still_checking = *checking && update.is_none();
                match &update {
                    Some(u) if u.warning => {
                        ui.label(
                            RichText::new(&u.line)
                                .color(Color32::from_rgb(0xb4, 0x3c, 0x00))
                                .strong(),
                        );
                    }
                    Some(u) => {
                        ui.label(RichText::new(&u.line).color(Color32::from_rgb(0x1b, 0x6e, 0x20)));
                    }
                    None if still_checking => {
                        ui.label(RichText::new(text(lang, "status-checking")).italics());
                    }
                    None => {}
                }
                let armed = armed && !still_checking;
                ui.separator();
                if *final_try {
                    ui.label(
                        RichText::new(text(lang, "dialog-final-try"))
                            .color(Color32::RED)
                            .strong(),
                    );
                } else if let Some(n) = retries_left {
                    ui.label(
                        RichText::new(message(lang, "dialog-tries-left", &[("n", (*n).into())]))
                            .strong(),
                    );
                }
                if *pinpad {
                    // The token waits for its keypad; the agent closes this window when it answers.
                    ui.label(
                        RichText::new(text(lang, "dialog-pinpad"))
                            .strong()
                            .size(18.0),
                    );
                    ui.label(message(
                        lang,
                        "dialog-pinpad-waits",
                        &[("seconds", left.into())],
                    ));
                    return;
                } else {
                    ui.label(text(lang, "dialog-pin"));
                    let field = ui.add(
                        egui::TextEdit::singleline(&mut self.typed)
                            .password(true)
                            .desired_width(220.0),
                    );
                    if first_frame {
                        field.request_focus();
                    }
                }
                ui.label(message(
                    lang,
                    "dialog-closes-in",
                    &[("seconds", left.into())],
                ));
                ui.horizontal(|ui| {
                    let sign = ui.add_enabled(armed, primary(&text(lang, "dialog-sign")));
                    let cancel = ui.button(text(lang, "dialog-cancel"));
                    if (sign.clicked() || (armed && enter)) && (*pinpad || !self.typed.is_empty()) {
                        let pin = std::mem::take(&mut self.typed);
                        self.pin = SecretString::from(pin);
                        let answer = DialogAnswer {
                            pin: Some(self.pin.expose_secret().to_string()),
                            pinpad: *pinpad,
                            ..DialogAnswer::default()
                        };
                        self.finish(ctx, answer);
                    } else if cancel.clicked() || escape {
                        self.finish(ctx, DialogAnswer::default());
                    }
                });
            }
            DialogRequest::Consent { origin, lang, .. } => {
                let lang = *lang;
                header(ui, lang, self.icon.as_ref());
                ui.heading(text(lang, "dialog-origin-heading"));
                ui.label(RichText::new(origin).strong().size(17.0));
                ui.label(message(
                    lang,
                    "dialog-closes-in",
                    &[("seconds", left.into())],
                ));
                ui.horizontal(|ui| {
                    let once = ui.add_enabled(armed, primary(&text(lang, "dialog-allow-once")));
                    let always =
                        ui.add_enabled(armed, egui::Button::new(text(lang, "dialog-allow-always")));
                    let deny = ui.button(text(lang, "dialog-deny"));
                    let decision = if once.clicked() {
                        Some("once")
                    } else if always.clicked() {
                        Some("always")
                    } else if deny.clicked() || escape {
                        Some("deny")
                    } else {
                        None
                    };
                    if let Some(d) = decision {
                        self.finish(
                            ctx,
                            DialogAnswer {
                                decision: Some(d.into()),
                                ..DialogAnswer::default()
                            },
                        );
                    }
                });
            }
            DialogRequest::Progress { total, lang } => {
                let lang = *lang;
                let done = self.done.load(std::sync::atomic::Ordering::SeqCst);
                header(ui, lang, self.icon.as_ref());
                ui.heading(message(
                    lang,
                    "dialog-signing-progress",
                    &[("done", done.into()), ("total", (*total).into())],
                ));
                ui.add(
                    egui::ProgressBar::new(done as f32 / (*total).max(1) as f32).show_percentage(),
                );
                ui.label(text(lang, "dialog-keep-token"));
                if ui.button(text(lang, "dialog-stop")).clicked() || escape {
                    self.finish(
                        ctx,
                        DialogAnswer {
                            stopped: true,
                            ..DialogAnswer::default()
                        },
                    );
                }
                if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
                    self.finish(ctx, DialogAnswer::default());
                }
            }
            DialogRequest::Info {
                heading,
                text: shown_text,
                lang,
            } => {
                let lang = *lang;
                ui.heading(heading);
                egui::ScrollArea::vertical()
                    .max_height(360.0)
                    .show(ui, |ui| {
                        let mut shown = shown_text.as_str();
                        ui.add(
                            egui::TextEdit::multiline(&mut shown)
                                .font(egui::TextStyle::Monospace)
                                .desired_width(f32::INFINITY),
                        );
                    });
                ui.horizontal(|ui| {
                    if ui.button(text(lang, "dialog-copy")).clicked() {
                        ctx.copy_text(shown_text.clone());
                    }
                    if ui.button(text(lang, "dialog-close")).clicked() || escape {
                        self.finish(ctx, DialogAnswer::default());
                    }
                });
            }
            DialogRequest::Batch { view, .. } => {
                let lang = view.lang;
                header(ui, lang, self.icon.as_ref());
                ui.heading(message(
                    lang,
                    "dialog-batch-heading",
                    &[("count", view.documents.len().into())],
                ));
                request_block(ui, view);
                ui.label(message(
                    lang,
                    "dialog-closes-in",
                    &[("seconds", left.into())],
                ));
                ui.horizontal(|ui| {
                    let go = ui.add_enabled(armed, primary(&text(lang, "dialog-continue")));
                    let cancel = ui.button(text(lang, "dialog-cancel"));
                    if go.clicked() || (armed && enter) {
                        self.finish(
                            ctx,
                            DialogAnswer {
                                confirmed: true,
                                ..DialogAnswer::default()
                            },
                        );
                    } else if cancel.clicked() || escape {
                        self.finish(ctx, DialogAnswer::default());
                    }
                });
            }
        });
    }
}

/// The window title: readable by tests and assistive tools.
fn title(request: &DialogRequest) -> String {
    let lang = request.lang();
    match request {
        DialogRequest::Pin {
            retries_left: Some(n),
            final_try,
            ..
        } => {
            if *final_try {
                text(lang, "dialog-title-pin-final")
            } else {
                message(lang, "dialog-title-pin-tries", &[("n", (*n).into())])
            }
        }
        DialogRequest::Pin { pinpad: true, .. } => text(lang, "dialog-title-pinpad"),
        DialogRequest::Pin { .. } => text(lang, "dialog-title-pin"),
        DialogRequest::Consent { .. } => text(lang, "dialog-title-consent"),
        DialogRequest::Batch { view, .. } => message(
            lang,
            "dialog-title-batch",
            &[("count", view.documents.len().into())],
        ),
        DialogRequest::Info { heading, .. } => format!("Kyso — {heading}"),
        DialogRequest::Progress { total, .. } => {
            message(lang, "dialog-title-progress", &[("total", (*total).into())])
        }
    }
}

/// The top of every Kyso window: its icon and name, always the same, so that users learn what
/// the real dialog looks like.
fn header(ui: &mut eframe::egui::Ui, lang: Lang, icon: Option<&eframe::egui::TextureHandle>) {
    use eframe::egui::{Color32, RichText};
    ui.horizontal(|ui| {
        if let Some(icon) = icon {
            ui.image((icon.id(), eframe::egui::vec2(24.0, 24.0)));
        }
        ui.label(
            RichText::new(text(lang, "dialog-app-name"))
                .strong()
                .color(Color32::from_rgb(0x1a, 0x56, 0xa8)),
        );
    });
    ui.separator();
}

/// What is signed (first and largest), with which certificate, for whom.
fn request_block(ui: &mut eframe::egui::Ui, view: &super::RequestView) {
    use eframe::egui::{Color32, RichText};
    let t = |id: &str| text(view.lang, id);
    let grey = Color32::from_gray(95);
    let green = Color32::from_rgb(0x1b, 0x6e, 0x20);
    let blue = Color32::from_rgb(0x1a, 0x56, 0xa8);
    eframe::egui::ScrollArea::vertical()
        .max_height(230.0)
        .show(ui, |ui| {
            for (i, doc) in view.documents.iter().enumerate() {
                if i > 0 {
                    ui.add_space(4.0);
                }
                ui.label(RichText::new(&doc.action).strong().color(blue));
                ui.label(RichText::new(&doc.title).strong().size(19.0));
                if let Some(number) = &doc.number {
                    ui.label(RichText::new(number).size(16.0));
                }
                let source = if doc.attested {
                    RichText::new(format!("✔ {}", doc.source))
                        .color(green)
                        .strong()
                } else {
                    RichText::new(&doc.source).italics().color(grey)
                };
                ui.label(source);
            }
        });
    ui.separator();
    let c = &view.certificate;
    ui.label(
        RichText::new(t("dialog-section-certificate"))
            .size(13.5)
            .strong()
            .color(grey),
    );
    ui.label(RichText::new(format!("{} ({})", c.holder, c.kind)).strong());
    if let Some(organization) = &c.organization {
        ui.label(organization);
    }
    ui.label(format!(
        "{}: {} — {} {}",
        t("dialog-issuer"),
        c.issuer,
        t("dialog-valid-until"),
        c.valid_until
    ));
    if let Some(warning) = &c.warning {
        ui.label(
            RichText::new(warning)
                .strong()
                .color(Color32::from_rgb(0xb4, 0x3c, 0x00)),
        );
    }
    ui.separator();
    ui.label(
        RichText::new(t("dialog-section-requester"))
            .size(13.5)
            .strong()
            .color(grey),
    );
    ui.label(RichText::new(&view.requester).strong());
    if let Some(allowed) = &view.allowed_by {
        ui.label(RichText::new(allowed).italics());
    }
    if !view.token.is_empty() {
        ui.label(format!("{}: {}", t("prompt-token"), view.token));
    }
    if let Some(per_signature) = &view.per_signature {
        ui.label(per_signature);
    }
    ui.separator();
}

/// Runs the dialog in this process (the `kyso dialog` child): reads the request on standard
/// input, shows it, writes the answer on standard output.
///
/// # Errors
/// A request that does not parse or a window that cannot open.
pub fn run_child() -> Result<(), String> {
    use std::io::BufRead as _;
    let mut lines = std::io::stdin().lock().lines();
    let first = lines
        .next()
        .ok_or("no request on standard input")?
        .map_err(|e| e.to_string())?;
    drop(lines); // releases the stdin lock for the progress reader
    let request: DialogRequest = serde_json::from_str(&first).map_err(|e| e.to_string())?;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let status = std::sync::Arc::new(std::sync::Mutex::new(None));
    let answer = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = answer.clone();
    let height = match &request {
        DialogRequest::Pin { view, .. } => 530.0 + 70.0 * view.documents.len().min(3) as f32,
        DialogRequest::Batch { view, .. } => 400.0 + 70.0 * view.documents.len().min(3) as f32,
        DialogRequest::Consent { .. } => 230.0,
        DialogRequest::Info { text, .. } => 180.0 + 16.0 * text.lines().count().min(24) as f32,
        DialogRequest::Progress { .. } => 210.0,
    };
    let (rgba, width, icon_height) = super::tray::icon_rgba(super::tray::TrayState::Ready);
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title(title(&request))
            .with_inner_size([680.0, height])
            .with_icon(eframe::egui::IconData {
                rgba: rgba.clone(),
                width,
                height: icon_height,
            })
            .with_always_on_top(),
        ..Default::default()
    };
    let window_title = title(&request);
    eframe::run_native(
        &window_title,
        options,
        Box::new(move |cc| {
            vietnamese_fonts(&cc.egui_ctx);
            office_style(&cc.egui_ctx);
            let icon = cc.egui_ctx.load_texture(
                "kyso",
                eframe::egui::ColorImage::from_rgba_unmultiplied(
                    [width as usize, icon_height as usize],
                    &rgba,
                ),
                eframe::egui::TextureOptions::LINEAR,
            );
            if let DialogRequest::Pin { checking: true, .. } = request {
                // The status check's end, when the agent has it.
                let (slot, ctx) = (status.clone(), cc.egui_ctx.clone());
                std::thread::spawn(move || {
                    let mut line = String::new();
                    if std::io::stdin().lock().read_line(&mut line).is_ok() {
                        if let Ok(update) = serde_json::from_str::<StatusUpdate>(&line) {
                            if let Ok(mut slot) = slot.lock() {
                                *slot = Some(update);
                            }
                            ctx.request_repaint();
                        }
                    }
                });
            }
            if let DialogRequest::Progress { .. } = request {
                // The agent's counts, as they come; end of input = the batch is over.
                let (done, closed, ctx) = (done.clone(), closed.clone(), cc.egui_ctx.clone());
                std::thread::spawn(move || {
                    for line in std::io::stdin().lock().lines() {
                        let Ok(line) = line else { break };
                        if let Ok(n) = line.trim().parse() {
                            done.store(n, std::sync::atomic::Ordering::SeqCst);
                            ctx.request_repaint();
                        }
                    }
                    closed.store(true, std::sync::atomic::Ordering::SeqCst);
                    ctx.request_repaint();
                });
            }
            Ok(Box::new(Guarded {
                app: DialogApp {
                    request,
                    pin: SecretString::from(String::new()),
                    typed: String::new(),
                    opened: Instant::now(),
                    answer: None,
                    focus_requested: false,
                    done,
                    closed,
                    status,
                    icon: Some(icon),
                },
                slot,
            }))
        }),
    )
    .map_err(|e| e.to_string())?;
    let answer = answer
        .lock()
        .map_err(|_| "poisoned".to_string())?
        .take()
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&serde_json::to_vec(&answer).unwrap_or_default());
    let _ = out.flush();
    Ok(())
}

/// Hands the answer out of the event loop when the window closes.
struct Guarded {
    app: DialogApp,
    slot: std::sync::Arc<std::sync::Mutex<Option<DialogAnswer>>>,
}

impl eframe::App for Guarded {
    fn ui(&mut self, ui: &mut eframe::egui::Ui, _frame: &mut eframe::Frame) {
        self.app.draw(ui);
        if let Some(answer) = self.app.answer.take() {
            if let Ok(mut slot) = self.slot.lock() {
                *slot = Some(answer);
            }
        }
    }
}
