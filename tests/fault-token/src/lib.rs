//! A PKCS#11 module for tests only: it forwards every call to a real module (SoftHSM2 by
//! default) and, on command, behaves like the hardware tokens SoftHSM cannot imitate.
//!
//! SoftHSM2 never locks a PIN, cannot be unplugged and never answers slowly, yet those are the
//! cases a signing agent must get right. Tests load this module through the same path as a real
//! driver and steer it with a control file named by `KYSO_FAULT_CONTROL`, read at every
//! intercepted call (`key=value` lines):
//!
//! - `present=0|1` — unplug / plug the token: slots with a token disappear, token info says
//!   `CKR_TOKEN_NOT_PRESENT`, session calls say `CKR_DEVICE_REMOVED`; sessions opened before a
//!   removal stay invalid (`CKR_SESSION_HANDLE_INVALID`) after it is plugged back.
//! - `pin_retries=N` — emulate a token that locks after N wrong PINs, with the
//!   `CKF_USER_PIN_COUNT_LOW / FINAL_TRY / LOCKED` flags; a locked token answers
//!   `CKR_PIN_LOCKED` to every login. `counter_epoch=K`: a new K resets the PIN counter and
//!   the login/logout statistics.
//! - `wrong_pin=incorrect|general` — how a wrong PIN is reported (`general` is the ePass2003
//!   under OpenSC quirk: `CKR_GENERAL_ERROR`, only the flags tell).
//! - `sign_delay_ms=N` — `C_Sign` sleeps first (a slow token); if the token is unplugged
//!   meanwhile, it answers `CKR_DEVICE_REMOVED` (removed mid-sign).
//! - `protected_auth_path=1` with `pinpad_pin=…` — a pin-pad reader: the flag is set, and a
//!   login with a NULL PIN uses `pinpad_pin` as if typed on the device.
//! - `login_delay_ms=N` — `C_Login` takes N ms (someone typing on the pin-pad).
//! - `always_authenticate=1` with `user_pin=…` — private keys report
//!   `CKA_ALWAYS_AUTHENTICATE`, and each `C_Sign` needs a `CKU_CONTEXT_SPECIFIC` login after
//!   `C_SignInit`.
//!
//! `KYSO_FAULT_STATS`, if set, names a file rewritten after each login/logout with
//! `logins=N logouts=M logged_in=0|1`, so tests can check that the agent logs out.
//! `KYSO_FAULT_TARGET` names the real module (default: Debian's SoftHSM2).

#![allow(non_snake_case, clippy::missing_safety_doc)]

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use cryptoki_sys::*;

struct Target {
    _lib: libloading::Library,
    list: CK_FUNCTION_LIST,
}

// SAFETY: the function table is immutable after load and the library stays loaded.
unsafe impl Send for Target {}
unsafe impl Sync for Target {}

#[derive(Default)]
struct State {
    epoch: String,
    failures: u32,
    locked: bool,
    generation: u64,
    was_present: bool,
    sessions: HashMap<CK_SESSION_HANDLE, u64>,
    context_authed: HashSet<CK_SESSION_HANDLE>,
    logins: u64,
    logouts: u64,
    logged_in: bool,
}

static TARGET: OnceLock<Option<Target>> = OnceLock::new();
static STATE: OnceLock<Mutex<State>> = OnceLock::new();
struct Table(CK_FUNCTION_LIST);
// SAFETY: built once, never written after.
unsafe impl Send for Table {}
unsafe impl Sync for Table {}
static OUR_LIST: OnceLock<Table> = OnceLock::new();

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE
        .get_or_init(|| {
            Mutex::new(State {
                was_present: true,
                ..State::default()
            })
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn target() -> Option<&'static CK_FUNCTION_LIST> {
    TARGET
        .get_or_init(|| {
            let path = std::env::var("KYSO_FAULT_TARGET")
                .unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".to_string());
            // SAFETY: loading a PKCS#11 module runs its initialisers, which is what we want.
            let lib = unsafe { libloading::Library::new(&path) }.ok()?;
            let get: libloading::Symbol<
                '_,
                unsafe extern "C" fn(CK_FUNCTION_LIST_PTR_PTR) -> CK_RV,
            > = unsafe { lib.get(b"C_GetFunctionList\0") }.ok()?;
            let mut ptr: CK_FUNCTION_LIST_PTR = std::ptr::null_mut();
            // SAFETY: valid out-pointer.
            if unsafe { get(&mut ptr) } != CKR_OK || ptr.is_null() {
                return None;
            }
            // SAFETY: the module returned a valid table.
            let list = unsafe { *ptr };
            Some(Target { _lib: lib, list })
        })
        .as_ref()
        .map(|t| &t.list)
}

/// The control file's settings.
struct Control(HashMap<String, String>);

impl Control {
    fn read() -> Self {
        let mut map = HashMap::new();
        if let Ok(path) = std::env::var("KYSO_FAULT_CONTROL") {
            if let Ok(text) = std::fs::read_to_string(path) {
                for line in text.lines() {
                    if let Some((k, v)) = line.split_once('=') {
                        map.insert(k.trim().to_string(), v.trim().to_string());
                    }
                }
            }
        }
        Control(map)
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn flag(&self, key: &str) -> bool {
        self.get(key) == Some("1")
    }
    fn num(&self, key: &str) -> u64 {
        self.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
    fn present(&self) -> bool {
        self.get("present") != Some("0")
    }
}

/// Tracks plug/unplug transitions (a removal invalidates every open session) and the PIN
/// counter epoch.
fn observe(control: &Control, st: &mut State) {
    let present = control.present();
    if st.was_present && !present {
        st.generation += 1;
        st.logged_in = false;
    }
    st.was_present = present;
    let epoch = control.get("counter_epoch").unwrap_or("").to_string();
    if epoch != st.epoch {
        st.epoch = epoch;
        st.failures = 0;
        st.locked = false;
        st.logins = 0;
        st.logouts = 0;
    }
}

fn write_stats(st: &State) {
    if let Ok(path) = std::env::var("KYSO_FAULT_STATS") {
        let _ = std::fs::write(
            path,
            format!(
                "logins={} logouts={} logged_in={}\n",
                st.logins,
                st.logouts,
                u8::from(st.logged_in)
            ),
        );
    }
}

/// Checks a session against removal and staleness.
fn session_check(
    session: CK_SESSION_HANDLE,
) -> Result<(Control, std::sync::MutexGuard<'static, State>), CK_RV> {
    let control = Control::read();
    let mut st = state();
    observe(&control, &mut st);
    if !control.present() {
        return Err(CKR_DEVICE_REMOVED);
    }
    match st.sessions.get(&session) {
        Some(gen) if *gen != st.generation => Err(CKR_SESSION_HANDLE_INVALID),
        _ => Ok((control, st)),
    }
}

macro_rules! forward {
    ($name:ident ( $($arg:expr),* )) => {
        match target().and_then(|t| t.$name) {
            // SAFETY: forwarding the caller's arguments unchanged to the real module.
            Some(f) => unsafe { f($($arg),*) },
            None => CKR_GENERAL_ERROR,
        }
    };
}

unsafe extern "C" fn get_slot_list(
    present_only: CK_BBOOL,
    list: CK_SLOT_ID_PTR,
    count: CK_ULONG_PTR,
) -> CK_RV {
    let control = Control::read();
    observe(&control, &mut state());
    if present_only != 0 && !control.present() {
        if count.is_null() {
            return CKR_ARGUMENTS_BAD;
        }
        // SAFETY: caller-provided out-pointer.
        unsafe { *count = 0 };
        return CKR_OK;
    }
    forward!(C_GetSlotList(present_only, list, count))
}

unsafe extern "C" fn get_token_info(slot: CK_SLOT_ID, info: CK_TOKEN_INFO_PTR) -> CK_RV {
    let control = Control::read();
    let mut st = state();
    observe(&control, &mut st);
    if !control.present() {
        return CKR_TOKEN_NOT_PRESENT;
    }
    let rv = forward!(C_GetTokenInfo(slot, info));
    if rv != CKR_OK || info.is_null() {
        return rv;
    }
    // SAFETY: the real module filled `info`.
    let info = unsafe { &mut *info };
    let max = control.num("pin_retries") as u32;
    if max > 0 {
        info.flags &= !(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED);
        if st.locked {
            info.flags |= CKF_USER_PIN_LOCKED;
        } else if st.failures > 0 {
            info.flags |= CKF_USER_PIN_COUNT_LOW;
            if max.saturating_sub(st.failures) == 1 {
                info.flags |= CKF_USER_PIN_FINAL_TRY;
            }
        }
    }
    if control.flag("protected_auth_path") {
        info.flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
    }
    CKR_OK
}

unsafe extern "C" fn open_session(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    app: CK_VOID_PTR,
    notify: CK_NOTIFY,
    session: CK_SESSION_HANDLE_PTR,
) -> CK_RV {
    let control = Control::read();
    let mut st = state();
    observe(&control, &mut st);
    if !control.present() {
        return CKR_TOKEN_NOT_PRESENT;
    }
    let rv = forward!(C_OpenSession(slot, flags, app, notify, session));
    if rv == CKR_OK && !session.is_null() {
        let generation = st.generation;
        // SAFETY: filled by the real module.
        st.sessions.insert(unsafe { *session }, generation);
    }
    rv
}

unsafe extern "C" fn login(
    session: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    pin: CK_UTF8CHAR_PTR,
    len: CK_ULONG,
) -> CK_RV {
    let (control, mut st) = match session_check(session) {
        Ok(v) => v,
        Err(rv) => return rv,
    };
    let given: Option<Vec<u8>> = if pin.is_null() {
        None
    } else {
        // SAFETY: the caller passes `len` bytes at `pin`.
        Some(unsafe { std::slice::from_raw_parts(pin, len as usize) }.to_vec())
    };
    if user == CKU_CONTEXT_SPECIFIC && control.flag("always_authenticate") {
        let expected = control.get("user_pin").unwrap_or("").as_bytes().to_vec();
        return if given.as_deref() == Some(expected.as_slice()) {
            st.context_authed.insert(session);
            CKR_OK
        } else {
            CKR_PIN_INCORRECT
        };
    }
    let max = control.num("pin_retries") as u32;
    if user == CKU_USER && max > 0 && st.locked {
        return CKR_PIN_LOCKED;
    }
    let effective = match given {
        Some(bytes) => bytes,
        None if control.flag("protected_auth_path") => {
            control.get("pinpad_pin").unwrap_or("").as_bytes().to_vec()
        }
        None => return CKR_ARGUMENTS_BAD,
    };
    drop(st);
    // The person typing on the pin-pad (or a slow token): the login takes this long.
    let delay = control.num("login_delay_ms");
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay));
    }
    let mut buf = effective.clone();
    let rv = forward!(C_Login(
        session,
        user,
        buf.as_mut_ptr(),
        buf.len() as CK_ULONG
    ));
    let mut st = state();
    if user == CKU_USER && max > 0 && rv == CKR_PIN_INCORRECT {
        st.failures += 1;
        if st.failures >= max {
            st.locked = true;
        }
        return if control.get("wrong_pin") == Some("general") {
            CKR_GENERAL_ERROR
        } else {
            CKR_PIN_INCORRECT
        };
    }
    if rv == CKR_PIN_INCORRECT && control.get("wrong_pin") == Some("general") {
        return CKR_GENERAL_ERROR;
    }
    if rv == CKR_OK && user == CKU_USER {
        st.failures = 0;
        st.logins += 1;
        st.logged_in = true;
        write_stats(&st);
    }
    rv
}

unsafe extern "C" fn logout(session: CK_SESSION_HANDLE) -> CK_RV {
    if let Err(rv) = session_check(session) {
        return rv;
    }
    let rv = forward!(C_Logout(session));
    if rv == CKR_OK {
        let mut st = state();
        st.logouts += 1;
        st.logged_in = false;
        write_stats(&st);
    }
    rv
}

unsafe extern "C" fn sign_init(
    session: CK_SESSION_HANDLE,
    mechanism: CK_MECHANISM_PTR,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    if let Err(rv) = session_check(session) {
        return rv;
    }
    forward!(C_SignInit(session, mechanism, key))
}

unsafe extern "C" fn sign(
    session: CK_SESSION_HANDLE,
    data: CK_BYTE_PTR,
    data_len: CK_ULONG,
    signature: CK_BYTE_PTR,
    signature_len: CK_ULONG_PTR,
) -> CK_RV {
    let control = match session_check(session) {
        Ok((control, st)) => {
            if control.flag("always_authenticate")
                && !signature.is_null()
                && !st.context_authed.contains(&session)
            {
                return CKR_USER_NOT_LOGGED_IN;
            }
            control
        }
        Err(rv) => return rv,
    };
    if !signature.is_null() {
        let delay = control.num("sign_delay_ms");
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
            // Unplugged while the token was working: the card is gone mid-operation.
            if let Err(rv) = session_check(session) {
                return rv;
            }
        }
        state().context_authed.remove(&session);
    }
    forward!(C_Sign(session, data, data_len, signature, signature_len))
}

unsafe extern "C" fn get_attribute_value(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    template: CK_ATTRIBUTE_PTR,
    count: CK_ULONG,
) -> CK_RV {
    let control = match session_check(session) {
        Ok((control, _)) => control,
        Err(rv) => return rv,
    };
    let rv = forward!(C_GetAttributeValue(session, object, template, count));
    if control.flag("always_authenticate") && !template.is_null() {
        // SAFETY: the caller's template has `count` entries.
        let attrs = unsafe { std::slice::from_raw_parts_mut(template, count as usize) };
        for attr in attrs {
            if attr.type_ == CKA_ALWAYS_AUTHENTICATE
                && attr.ulValueLen == std::mem::size_of::<CK_BBOOL>() as CK_ULONG
                && !attr.pValue.is_null()
            {
                // SAFETY: one CK_BBOOL at pValue, as its length says.
                unsafe { *(attr.pValue as *mut CK_BBOOL) = CK_TRUE };
            }
        }
    }
    rv
}

unsafe extern "C" fn find_objects_init(
    session: CK_SESSION_HANDLE,
    template: CK_ATTRIBUTE_PTR,
    count: CK_ULONG,
) -> CK_RV {
    if let Err(rv) = session_check(session) {
        return rv;
    }
    forward!(C_FindObjectsInit(session, template, count))
}

unsafe extern "C" fn close_session(session: CK_SESSION_HANDLE) -> CK_RV {
    let rv = forward!(C_CloseSession(session));
    let mut st = state();
    st.sessions.remove(&session);
    st.context_authed.remove(&session);
    rv
}

/// The PKCS#11 entry point: the real module's table with our overrides.
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(list: CK_FUNCTION_LIST_PTR_PTR) -> CK_RV {
    if list.is_null() {
        return CKR_ARGUMENTS_BAD;
    }
    let Some(real) = target() else {
        return CKR_GENERAL_ERROR;
    };
    let table = OUR_LIST.get_or_init(|| {
        let mut ours = *real;
        ours.C_GetSlotList = Some(get_slot_list);
        ours.C_GetTokenInfo = Some(get_token_info);
        ours.C_OpenSession = Some(open_session);
        ours.C_CloseSession = Some(close_session);
        ours.C_Login = Some(login);
        ours.C_Logout = Some(logout);
        ours.C_SignInit = Some(sign_init);
        ours.C_Sign = Some(sign);
        ours.C_GetAttributeValue = Some(get_attribute_value);
        ours.C_FindObjectsInit = Some(find_objects_init);
        Table(ours)
    });
    // SAFETY: caller-provided out-pointer; PKCS#11 callers never write through the table.
    unsafe { *list = &table.0 as *const CK_FUNCTION_LIST as CK_FUNCTION_LIST_PTR };
    CKR_OK
}
