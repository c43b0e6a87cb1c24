//! The part of WasmEdge 0.14.1's C API (`wasmedge/wasmedge.h`) the shim
//! calls, declared by hand, with owning wrappers that free what they create.
//!
//! Why not `wasmedge-sdk`/`wasmedge-sys`: the shim needs nineteen functions
//! of a C API that is stable across 0.14.x, while wasmedge-sys 0.19 generates
//! its bindings with bindgen at build time (libclang on every build machine)
//! and has reqwest, hyper, tokio, rustls and ring as unconditional build
//! dependencies (for a download feature the shim never uses). Those were 82 s
//! of compile time in the workspace's test build, compiled again for the
//! aarch64 cross-build and for every release install. The declarations below
//! follow the header installed in the sysroot of scripts/install-wasmedge
//! (`usr/include/wasmedge/wasmedge.h`); every runtime test of
//! `wasmedge-interp` and `wasmedge-aot` (x86_64 and aarch64 under qemu)
//! exercises them.

use std::ffi::{c_char, CStr, CString};
use std::os::raw::c_void;

#[repr(C)]
struct ConfigureContext(c_void);
#[repr(C)]
struct ModuleInstanceContext(c_void);
#[repr(C)]
struct VmContext(c_void);
#[repr(C)]
struct StoreContext(c_void);

/// `WasmEdge_Result`: a code (category in the high bits).
#[repr(C)]
#[derive(Clone, Copy)]
struct WeResult {
    code: u32,
}

/// `WasmEdge_String` and `WasmEdge_Bytes`: a length and a borrowed buffer.
#[repr(C)]
#[derive(Clone, Copy)]
struct WeSlice {
    len: u32,
    buf: *const u8,
}

/// `WasmEdge_ErrCode_Terminated`: the guest called `proc_exit`.
const CODE_TERMINATED: u32 = 0x01;

#[link(name = "wasmedge")]
extern "C" {
    fn WasmEdge_ConfigureCreate() -> *mut ConfigureContext;
    fn WasmEdge_ConfigureSetForceInterpreter(cxt: *mut ConfigureContext, force: bool);
    fn WasmEdge_ConfigureSetMaxMemoryPage(cxt: *mut ConfigureContext, pages: u32);
    fn WasmEdge_ConfigureDelete(cxt: *mut ConfigureContext);
    fn WasmEdge_ModuleInstanceCreateWASI(
        args: *const *const c_char,
        arg_len: u32,
        envs: *const *const c_char,
        env_len: u32,
        preopens: *const *const c_char,
        preopen_len: u32,
    ) -> *mut ModuleInstanceContext;
    fn WasmEdge_ModuleInstanceWASIGetExitCode(cxt: *const ModuleInstanceContext) -> u32;
    fn WasmEdge_ModuleInstanceDelete(cxt: *mut ModuleInstanceContext);
    fn WasmEdge_VMCreate(conf: *const ConfigureContext, store: *mut StoreContext)
        -> *mut VmContext;
    fn WasmEdge_VMRegisterModuleFromImport(
        cxt: *mut VmContext,
        import: *const ModuleInstanceContext,
    ) -> WeResult;
    fn WasmEdge_VMLoadWasmFromBytes(cxt: *mut VmContext, bytes: WeSlice) -> WeResult;
    fn WasmEdge_VMValidate(cxt: *mut VmContext) -> WeResult;
    fn WasmEdge_VMInstantiate(cxt: *mut VmContext) -> WeResult;
    fn WasmEdge_VMExecute(
        cxt: *mut VmContext,
        func: WeSlice,
        params: *const c_void,
        param_len: u32,
        returns: *mut c_void,
        return_len: u32,
    ) -> WeResult;
    fn WasmEdge_VMDelete(cxt: *mut VmContext);
    fn WasmEdge_ResultOK(res: WeResult) -> bool;
    fn WasmEdge_ResultGetCode(res: WeResult) -> u32;
    fn WasmEdge_ResultGetMessage(res: WeResult) -> *const c_char;
    fn WasmEdge_LogSetDebugLevel();
    fn WasmEdge_LogOff();
}

/// Why a call failed: WasmEdge's message for its result code.
#[derive(Debug)]
pub struct WasmEdgeError {
    pub code: u32,
    pub message: String,
}

impl std::fmt::Display for WasmEdgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (WasmEdge error {:#x})", self.message, self.code)
    }
}

impl WasmEdgeError {
    /// The guest ended by `proc_exit`: not a failure, its code is the WASI module's.
    pub fn is_terminated(&self) -> bool {
        self.code == CODE_TERMINATED
    }
}

fn check(res: WeResult) -> Result<(), WasmEdgeError> {
    // SAFETY: plain value functions of the C API on a result it returned.
    unsafe {
        if WasmEdge_ResultOK(res) {
            return Ok(());
        }
        let msg = WasmEdge_ResultGetMessage(res);
        Err(WasmEdgeError {
            code: WasmEdge_ResultGetCode(res),
            message: if msg.is_null() {
                "unknown error".into()
            } else {
                CStr::from_ptr(msg).to_string_lossy().into_owned()
            },
        })
    }
}

fn created<T>(ptr: *mut T, what: &str) -> Result<*mut T, WasmEdgeError> {
    if ptr.is_null() {
        Err(WasmEdgeError {
            code: u32::MAX,
            message: format!("WasmEdge could not create its {what}"),
        })
    } else {
        Ok(ptr)
    }
}

/// WasmEdge's own log (to stdout): debug level while loading, to read a
/// fallback to the interpreter, and off while the guest runs.
pub fn log_debug() {
    // SAFETY: sets a global log level.
    unsafe { WasmEdge_LogSetDebugLevel() }
}

/// See [`log_debug`].
pub fn log_off() {
    // SAFETY: sets a global log level.
    unsafe { WasmEdge_LogOff() }
}

/// A `WasmEdge_ConfigureContext`.
pub struct Config(*mut ConfigureContext);

impl Config {
    /// WasmEdge's default proposals; `interpreter` forces the interpreter
    /// even for a module with AoT code; `max_pages` caps each memory.
    pub fn new(interpreter: bool, max_pages: Option<u32>) -> Result<Config, WasmEdgeError> {
        // SAFETY: the context is created here and only used through `self`.
        unsafe {
            let cxt = created(WasmEdge_ConfigureCreate(), "configuration")?;
            WasmEdge_ConfigureSetForceInterpreter(cxt, interpreter);
            if let Some(p) = max_pages {
                WasmEdge_ConfigureSetMaxMemoryPage(cxt, p);
            }
            Ok(Config(cxt))
        }
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: created by WasmEdge_ConfigureCreate, deleted once.
        unsafe { WasmEdge_ConfigureDelete(self.0) }
    }
}

fn c_strings(items: &[String]) -> Result<Vec<CString>, WasmEdgeError> {
    items
        .iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| WasmEdgeError {
                code: u32::MAX,
                message: format!("{s:?} holds a NUL byte"),
            })
        })
        .collect()
}

/// WasmEdge's WASI module instance (`wasi_snapshot_preview1`).
pub struct Wasi(*mut ModuleInstanceContext);

impl Wasi {
    /// `preopens` are `guest:host` pairs, as WasmEdge takes them.
    pub fn new(
        args: &[String],
        envs: &[String],
        preopens: &[String],
    ) -> Result<Wasi, WasmEdgeError> {
        let (a, e, p) = (c_strings(args)?, c_strings(envs)?, c_strings(preopens)?);
        let ptrs = |v: &[CString]| v.iter().map(|s| s.as_ptr()).collect::<Vec<_>>();
        let (ap, ep, pp) = (ptrs(&a), ptrs(&e), ptrs(&p));
        // SAFETY: the pointer arrays and strings outlive the call; WasmEdge copies them.
        let cxt = unsafe {
            WasmEdge_ModuleInstanceCreateWASI(
                ap.as_ptr(),
                ap.len() as u32,
                ep.as_ptr(),
                ep.len() as u32,
                pp.as_ptr(),
                pp.len() as u32,
            )
        };
        Ok(Wasi(created(cxt, "WASI module")?))
    }

    /// The code the guest passed to `proc_exit` (0 when it returned).
    pub fn exit_code(&self) -> u32 {
        // SAFETY: a live WASI module instance.
        unsafe { WasmEdge_ModuleInstanceWASIGetExitCode(self.0) }
    }
}

impl Drop for Wasi {
    fn drop(&mut self) {
        // SAFETY: created by WasmEdge_ModuleInstanceCreateWASI, deleted once,
        // after every VM it was registered in (`Vm` borrows it).
        unsafe { WasmEdge_ModuleInstanceDelete(self.0) }
    }
}

/// A `WasmEdge_VMContext` with its own store, the WASI module registered;
/// it borrows the configuration and the WASI module, which outlive it.
pub struct Vm<'a> {
    cxt: *mut VmContext,
    _borrows: std::marker::PhantomData<(&'a Config, &'a Wasi)>,
}

impl<'a> Vm<'a> {
    pub fn new(config: &'a Config, wasi: &'a Wasi) -> Result<Vm<'a>, WasmEdgeError> {
        // SAFETY: a null store makes the VM create its own; `config` is live.
        let cxt = created(
            unsafe { WasmEdge_VMCreate(config.0, std::ptr::null_mut()) },
            "VM",
        )?;
        let vm = Vm {
            cxt,
            _borrows: std::marker::PhantomData,
        };
        // SAFETY: both contexts are live; the VM keeps a reference to the
        // WASI module, which `'a` keeps alive past the VM.
        check(unsafe { WasmEdge_VMRegisterModuleFromImport(vm.cxt, wasi.0) })?;
        Ok(vm)
    }

    /// Loads (parsing a universal module's AoT section) and validates `bytes`.
    pub fn load(&mut self, bytes: &[u8]) -> Result<(), WasmEdgeError> {
        let len = u32::try_from(bytes.len()).map_err(|_| WasmEdgeError {
            code: u32::MAX,
            message: "the module is larger than 4 GiB".into(),
        })?;
        let b = WeSlice {
            len,
            buf: bytes.as_ptr(),
        };
        // SAFETY: the loader copies what it keeps from the borrowed bytes.
        check(unsafe { WasmEdge_VMLoadWasmFromBytes(self.cxt, b) })?;
        check(unsafe { WasmEdge_VMValidate(self.cxt) })
    }

    /// Instantiates the loaded module and calls its export `func` (no
    /// parameters, no results: `_start`).
    pub fn run(&mut self, func: &str) -> Result<(), WasmEdgeError> {
        // SAFETY: a loaded and validated module.
        check(unsafe { WasmEdge_VMInstantiate(self.cxt) })?;
        let name = WeSlice {
            len: func.len() as u32,
            buf: func.as_ptr(),
        };
        // SAFETY: no parameters and no results, so null buffers of length 0.
        check(unsafe {
            WasmEdge_VMExecute(self.cxt, name, std::ptr::null(), 0, std::ptr::null_mut(), 0)
        })
    }
}

impl Drop for Vm<'_> {
    fn drop(&mut self) {
        // SAFETY: created by WasmEdge_VMCreate, deleted once.
        unsafe { WasmEdge_VMDelete(self.cxt) }
    }
}
