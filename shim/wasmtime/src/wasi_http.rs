//! The wasi:http shim: `lumos-shim-wasmtime --spec JSON` (engine wasmtime-jit or
//! wasmtime-aot, `http_port: P` in the spec) hosts a component exporting
//! `wasi:http/incoming-handler` with wasmtime-wasi-http, as `wasmtime serve`
//! does: an HTTP/1.1 server on `127.0.0.1:P` (hyper, one task per
//! connection, keep-alive), a fresh instance of the component for every
//! request (from a pre-instantiated `ProxyPre`), the whole of WASI p2 for
//! the guest (Rust's wasip2 std imports `wasi:cli/environment`, `exit` and
//! `terminal-*` beside the `wasi:http/proxy` world) under the shim's
//! capability-free policy.
//!
//! `wasmtime-jit` compiles the component with Cranelift at start;
//! `wasmtime-aot` loads a `.cwasm` made by `Engine::precompile_component`
//! (`lumos-runner precompile`), mmapped.
//!
//! Instances come from wasmtime's pooling allocator, as in `wasmtime serve`
//! ([`pool`]).
//!
//! The port opens only once the component is loaded and linked, so the
//! runner's "ready" (port open) covers load + link, and its "first response"
//! covers instantiation + the handler. With `LUMOS_SHIM_TRACE` set the shim
//! prints each step on stderr (time since `main`), and for the first
//! requests the time to set up the store, instantiate and run the handler.
//!
//! Outgoing requests (`wasi:http/outgoing-handler`) are refused with
//! `HTTP-request-denied`: wasmtime-wasi-http is built without its default
//! client (rustls), and the sandbox grants no network unless asked.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::BodyExt;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder,
};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use lumos_shim::{ShimError, ShimOpts, Trace};
use lumos_wasm::binary::{detect_file, read_header, Binary, WasmKind};

/// The store of one request.
struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: DenyOutgoing,
    limits: StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// `wasi:http/outgoing-handler` refused: no client in this host.
struct DenyOutgoing;

type SendResult = wasmtime_wasi_http::Result<(
    hyper::Response<WasiBody>,
    Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for DenyOutgoing {
    fn send_request(
        &mut self,
        _request: hyper::Request<WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn std::future::Future<Output = SendResult> + Send> {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// Everything shared by the requests of one shim.
struct Server {
    pre: ProxyPre<State>,
    opts: ShimOpts,
    engine_name: &'static str,
    trace: Trace,
    served: AtomicU64,
}

impl Server {
    fn state(&self) -> State {
        let mut b = WasiCtxBuilder::new();
        b.inherit_stdout().inherit_stderr().arg(&self.opts.name);
        for (k, v) in &self.opts.policy.env {
            b.env(k, v);
        }
        if self.opts.policy.network {
            b.inherit_network();
        }
        let mut lb = StoreLimitsBuilder::new().trap_on_grow_failure(true);
        if let Some(m) = self.opts.memory_limit {
            lb = lb.memory_size(m as usize);
        }
        State {
            wasi: b.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: DenyOutgoing,
            limits: lb.build(),
        }
    }

    /// Serves one request; any failure becomes a 500 whose body says why.
    async fn handle(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, Infallible> {
        match self.clone().call(req).await {
            Ok(r) => Ok(r),
            Err(e) => {
                let msg = format!("{e:#}");
                eprintln!("lumos-shim[{}]: request failed: {msg}", self.engine_name);
                let body = http_body_util::Full::new(Bytes::from(msg))
                    .map_err(|never: Infallible| match never {})
                    .boxed_unsync();
                let mut r = hyper::Response::new(body);
                *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                Ok(r)
            }
        }
    }

    async fn call(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
        // With LUMOS_SHIM_TRACE, the first TRACED_REQUESTS requests print
        // their split: store set-up, instantiation, handler.
        let n = self.served.fetch_add(1, Ordering::Relaxed);
        let traced = self.trace.on() && n < TRACED_REQUESTS;
        let t0 = Instant::now();
        let mut store = Store::new(self.pre.engine(), self.state());
        store.limiter(|s| &mut s.limits);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(tx)?;
        let pre = self.pre.clone();
        let trace = self.trace;
        // The handler runs in its own task: it may go on writing the body
        // after it has set the response head.
        let task = tokio::task::spawn(async move {
            let t1 = Instant::now();
            let proxy = pre.instantiate_async(&mut store).await?;
            let t2 = Instant::now();
            let r = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await;
            if traced {
                let us = |d: std::time::Duration| d.as_secs_f64() * 1e6;
                trace.mark(&format!(
                    "request {n}: store {:.1} us, instantiate {:.1} us, handler {:.1} us",
                    us(t1 - t0),
                    us(t2 - t1),
                    us(t2.elapsed())
                ));
            }
            r
        });
        match rx.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => Err(wasmtime::format_err!(
                "the component answered with error {code:?}"
            )),
            // The sender was dropped with the store: the task says why.
            Err(_) => match task.await {
                Ok(Ok(())) => Err(wasmtime::format_err!(
                    "the component returned without setting a response"
                )),
                Ok(Err(e)) => Err(e.context("trap")),
                Err(e) => Err(wasmtime::format_err!("handler task: {e}")),
            },
        }
    }
}

/// Loads the component, links it, listens on `127.0.0.1:port` and serves
/// until killed.
pub fn run(opts: &ShimOpts, aot: bool, port: u16) -> Result<i32, ShimError> {
    let trace = Trace::new();
    let load = |msg: String| ShimError::Load {
        module: opts.module_shown(),
        msg,
    };
    let engine_name = if aot { "wasmtime-aot" } else { "wasmtime-jit" };
    // What the file is, to say so when it is not what this engine serves:
    // from the header (wasm) before loading, from the ELF flags (.cwasm) only
    // when loading fails, so a good start pays nothing for it.
    let wrong = |binary: Binary| {
        load(format!(
            "{engine_name} with http_port serves a wasi:http component{}; this is {}",
            if aot {
                " precompiled to a .cwasm (lumos-runner precompile)"
            } else {
                ""
            },
            describe(binary)
        ))
    };
    if !aot {
        let b = read_header(&opts.module).map_err(|e| load(e.to_string()))?;
        if b != Binary::Wasm(WasmKind::Component) {
            return Err(wrong(b));
        }
    }
    let mut config = lumos_wasm::wasmtime::config(None, lumos_wasm::wasmtime::OPT_LEVEL)
        .map_err(|e| load(lumos_model::error_chain(&e)))?;
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(opts.memory_limit)));
    let engine = Engine::new(&config).map_err(|e| load(format!("{e:#}")))?;
    trace.mark("engine ready");
    let component = if aot {
        // SAFETY: the file is a wasmtime artifact from the image we verified
        // by digest; wasmtime checks its header and engine compatibility.
        unsafe { Component::deserialize_file(&engine, &opts.module) }.map_err(
            |e| match detect_file(&opts.module) {
                Ok(b) if b != Binary::Cwasm(WasmKind::Component) => wrong(b),
                _ => load(format!("{e:#}")),
            },
        )?
    } else {
        jit(&engine, opts).map_err(load)?
    };
    trace.mark("component loaded");
    let mut linker: Linker<State> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| load(format!("{e:#}")))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|e| load(format!("{e:#}")))?;
    let pre = linker
        .instantiate_pre(&component)
        .and_then(ProxyPre::new)
        .map_err(|e| load(format!("not a wasi:http/proxy component: {e:#}")))?;
    trace.mark("linked");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| load(format!("tokio runtime: {e}")))?;
    let host = opts
        .http_host
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let listener = std::net::TcpListener::bind((host, port))
        .map_err(|e| load(format!("listen on {host}:{port}: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| load(e.to_string()))?;
    let server = Arc::new(Server {
        pre,
        opts: opts.clone(),
        engine_name,
        trace,
        served: AtomicU64::new(0),
    });
    let r: std::io::Result<()> = rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        trace.mark("listening");
        loop {
            let (stream, _) = listener.accept().await?;
            // Head and body go out as separate writes: no Nagle delay.
            let _ = stream.set_nodelay(true);
            let server = server.clone();
            tokio::task::spawn(async move {
                let service = hyper::service::service_fn(move |req| server.clone().handle(req));
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(wasmtime_wasi_http::io::TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("lumos-shim[{engine_name}]: connection: {e}");
                }
            });
        }
    });
    r.map(|()| 0)
        .map_err(|e| ShimError::Trap(format!("serve: {e}")))
}

/// How many requests print their split under `LUMOS_SHIM_TRACE`.
const TRACED_REQUESTS: u64 = 10;

/// Concurrent requests one shim can hold instances for.
const POOL_INSTANCES: u32 = 64;

/// The pooling allocator, as `wasmtime serve` uses by default: every request
/// instantiates the component anew, so its instances, memories, tables and
/// fiber stacks come from slots kept mapped between requests (reset with
/// madvise, the copy-on-write memory image kept) instead of fresh mmaps.
/// Sized for one component: at most [`POOL_INSTANCES`] requests at once
/// (about 64 x 4 GiB of address space reserved, nothing committed).
fn pool(memory_limit: Option<u64>) -> PoolingAllocationConfig {
    let mut p = PoolingAllocationConfig::default();
    p.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 8)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 8)
        .total_stacks(POOL_INSTANCES)
        .max_memories_per_module(2);
    if let Some(m) = memory_limit {
        p.max_memory_size(usize::try_from(m).unwrap_or(usize::MAX).min(1 << 32));
    }
    p
}

fn describe(b: Binary) -> &'static str {
    match b {
        Binary::Wasm(WasmKind::Module) => "a core wasm module",
        Binary::Wasm(WasmKind::Component) => "a component (not precompiled)",
        Binary::Cwasm(WasmKind::Module) => "a .cwasm of a core module",
        Binary::Cwasm(WasmKind::Component) => "a .cwasm of a component",
        Binary::Elf => "an ELF file that is no wasmtime .cwasm",
        Binary::Other => "neither wasm nor a .cwasm",
    }
}

/// Compiles the component with cranelift (`wasmtime-jit`).
#[cfg(feature = "jit")]
fn jit(engine: &Engine, opts: &ShimOpts) -> Result<Component, String> {
    Component::from_file(engine, &opts.module).map_err(|e| format!("{e:#}"))
}

/// Never called: main refuses `wasmtime-jit` without the `jit` feature.
#[cfg(not(feature = "jit"))]
fn jit(_: &Engine, _: &ShimOpts) -> Result<Component, String> {
    Err("built without the `jit` feature".into())
}
