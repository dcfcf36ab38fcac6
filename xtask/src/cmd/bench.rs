//! `cargo xtask bench`: time `validate` through wasm, like `kwctl bench`.
//!
//! ```text
//! cargo xtask bench [--settings-json J | --settings-path F] --request-path REQ... POLICY.wasm
//! cargo xtask bench --suite --baseline floor.wasm policy.wasm     # what `make bench` runs
//! ```
//!
//! Method, per request: one compiled module and one instance, reused for
//! every call as `kwctl bench` does; settings are validated once (invalid
//! settings fail as in `kwctl run`); the payload is serialized once; then a
//! warm-up of `--warm-up-time` seconds and `--num-samples` timed calls. A
//! sample is one waPC `validate` call: the payload copied in, the guest's
//! work, the answer copied out. (kwctl also times its own serialization of
//! the request, which is the same for every policy.) Printed: mean, median,
//! min and max.
//!
//! With `--baseline FLOOR.wasm` the floor module (a guest that parses the
//! payload into a `serde_json::Value` and accepts) runs on the same payload,
//! alternating call by call with the policy, and the ratio of the medians is
//! printed. `--suite` times the issue's requests (see [`workload`]) against
//! their budgets and the generated scaling requests in µs per KiB, then the
//! context-aware rules against generated clusters ([`context`]; alone with
//! `--context-aware`): fixed cost, marginal µs per listed object, peak memory.
//!
//! The peak linear memory of a fresh instance after one `validate` call is
//! printed too (in `--suite`, for the scaling requests). waPC hosts do not expose the
//! guest's memory, so it is found as the smallest memory cap (in 64 KiB wasm
//! pages) under which the call still succeeds: memory only grows, and the
//! guest's growth requests are the same under any cap until one is refused.

pub mod context;
/// The benchmark requests, in the host library so that the native criterion
/// benches (`benches/validate.rs`) share them without building xtask.
pub use selector_guard_host::workload;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::host::{Instance, KubernetesHost, Policy, admission_request};
use workload::{BenchRequest, Verdict};

#[derive(clap::Args)]
pub struct Args {
    /// Policy settings, as a JSON object.
    #[arg(long, value_name = "JSON", conflicts_with = "settings_path")]
    pub settings_json: Option<String>,
    /// Policy settings, from a YAML or JSON file.
    #[arg(long, value_name = "FILE")]
    pub settings_path: Option<PathBuf>,
    /// The AdmissionRequest (or AdmissionReview) to evaluate; repeat for several.
    #[arg(
        long,
        short = 'r',
        value_name = "FILE",
        required_unless_present_any = ["suite", "context_aware", "peak_memory_probe"]
    )]
    pub request_path: Vec<PathBuf>,
    /// Time the benchmark suite: the eight fixture requests against their
    /// budgets, then the generated scaling requests.
    #[arg(long, conflicts_with_all = ["request_path", "settings_json", "settings_path"])]
    pub suite: bool,
    /// Time only the suite's context-aware section: the Service UPDATE
    /// against 10, 1,000 and 10,000 listed pods, the overlap check against
    /// 10, 1,000 and 10,000 controllers, and both with the rules off.
    #[arg(long, conflicts_with_all = ["request_path", "settings_json", "settings_path", "suite"])]
    pub context_aware: bool,
    /// Also time this module (the floor) on the same requests, alternating
    /// call by call, and print the policy/floor ratio.
    #[arg(long, value_name = "FLOOR.wasm")]
    pub baseline: Option<String>,
    /// Seconds of warm-up before the samples are taken.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub warm_up_time: f64,
    /// Timed `validate` calls per module and request.
    #[arg(long, value_name = "N", default_value_t = 300)]
    pub num_samples: usize,
    /// Internal: print the peak memory of `validate` on the payload read
    /// from stdin, and nothing else (the guest's own messages about refused
    /// allocations go to this process's stderr, which the caller discards).
    #[arg(long, hide = true)]
    pub peak_memory_probe: bool,
    /// Internal, with `--peak-memory-probe`: answer the policy's Kubernetes
    /// calls from this recorded session, with the grants of policy-metadata.yml.
    #[arg(long, hide = true, value_name = "FILE", requires = "peak_memory_probe")]
    pub probe_session: Option<PathBuf>,
    /// The policy module: a path or a `file://` URI.
    #[arg(value_name = "POLICY.wasm")]
    pub policy: String,
}

pub fn main(args: Args) -> Result<()> {
    if args.num_samples == 0 {
        bail!("--num-samples must be at least 1");
    }
    if !(args.warm_up_time >= 0.0 && args.warm_up_time.is_finite()) {
        bail!("--warm-up-time must be a number of seconds");
    }
    if args.peak_memory_probe {
        let path = args.policy.strip_prefix("file://").unwrap_or(&args.policy);
        let module = std::fs::read(path).with_context(|| format!("cannot read module {path}"))?;
        let mut payload = Vec::new();
        std::io::stdin().read_to_end(&mut payload)?;
        let kubernetes = args
            .probe_session
            .as_deref()
            .map(context::probe_host)
            .transpose()?;
        println!("{}", peak_memory(&module, &payload, kubernetes.as_ref())?);
        return Ok(());
    }
    let bench = Bench {
        policy: Module::load(&args.policy)?,
        baseline: args.baseline.as_deref().map(Module::load).transpose()?,
        warm_up: Duration::from_secs_f64(args.warm_up_time),
        samples: args.num_samples,
    };
    if args.suite {
        return suite(&bench);
    }
    if args.context_aware {
        let over = context::run(&bench)?;
        print_over(over);
        return Ok(());
    }
    let settings = settings(&args)?;
    for path in &args.request_path {
        let request = BenchRequest {
            name: path.display().to_string(),
            request: read_request(path)?,
            verdict: Verdict::Accept,
        };
        let row = bench.run(&request, &settings, false, true)?;
        print!("{}", row.report(&bench));
    }
    Ok(())
}

/// A module under test: its path, size and compiled form.
struct Module {
    path: PathBuf,
    name: String,
    bytes: Vec<u8>,
    policy: Policy,
}

impl Module {
    fn load(path: &str) -> Result<Module> {
        let path = path.strip_prefix("file://").unwrap_or(path);
        let bytes = std::fs::read(path).with_context(|| format!("cannot read module {path}"))?;
        let policy =
            Policy::from_bytes(&bytes).with_context(|| format!("cannot load module {path}"))?;
        let name = Path::new(path)
            .file_name()
            .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Module {
            path: PathBuf::from(path),
            name,
            bytes,
            policy,
        })
    }

    /// A fresh instance with `settings` validated, as kwctl prepares one.
    fn instance(&self, settings: &Value) -> Result<Instance> {
        self.prepare(self.policy.instantiate()?, settings)
    }

    /// `instance` with `settings` validated.
    fn prepare(&self, instance: Instance, settings: &Value) -> Result<Instance> {
        let verdict = instance.validate_settings(settings)?;
        if !verdict.valid {
            bail!(
                "{}: provided settings are not valid: {:?}",
                self.name,
                verdict.message.unwrap_or_default()
            );
        }
        Ok(instance)
    }
}

struct Bench {
    policy: Module,
    baseline: Option<Module>,
    warm_up: Duration,
    samples: usize,
}

/// One request's results.
struct Row {
    name: String,
    payload_len: usize,
    verdict: Verdict,
    policy: Stats,
    baseline: Option<Stats>,
    /// Peak linear memory of the policy and of the baseline, in bytes.
    peak: Option<(u64, Option<u64>)>,
}

impl Bench {
    /// Warms up, then takes the samples, alternating policy and baseline
    /// call by call (and which goes first), so that drift on a busy machine
    /// reaches both alike. With `check`, the policy's verdict must be the
    /// request's; with `memory`, peak memory is measured too.
    fn run(
        &self,
        request: &BenchRequest,
        settings: &Value,
        check: bool,
        memory: bool,
    ) -> Result<Row> {
        let payload = request.payload(settings);
        let policy = self.policy.instance(settings)?;
        let answer = policy.call("validate", &payload)?;
        let answer: Value = serde_json::from_slice(&answer).with_context(|| {
            format!(
                "{}: `validate` answered something else than JSON",
                self.policy.name
            )
        })?;
        let verdict = Verdict::of(&answer);
        if check && verdict != request.verdict {
            bail!(
                "{}: expected {}, {} answered {}: {answer}",
                request.name,
                request.verdict.name(),
                self.policy.name,
                verdict.name()
            );
        }
        let baseline = self
            .baseline
            .as_ref()
            .map(|module| module.instance(settings))
            .transpose()?;

        let instances: Vec<(&Instance, &[u8])> = std::iter::once(&policy)
            .chain(&baseline)
            .map(|instance| (instance, payload.as_slice()))
            .collect();
        let mut stats = self.interleaved(&instances)?.into_iter();
        let policy_stats = stats.next().context("no samples")?;
        let baseline_stats = stats.next();
        let peak = if memory {
            let policy = self.peak_memory(&self.policy, &payload, None)?;
            let baseline = self
                .baseline
                .as_ref()
                .map(|module| self.peak_memory(module, &payload, None))
                .transpose()?;
            Some((policy, baseline))
        } else {
            None
        };
        Ok(Row {
            name: request.name.clone(),
            payload_len: payload.len(),
            verdict,
            policy: policy_stats,
            baseline: baseline_stats,
            peak,
        })
    }

    /// Warms up, then times `validate` on each `(instance, payload)` in
    /// turn, call by call, rotating which goes first every round, so that
    /// drift on a busy machine reaches all alike. Each instance's
    /// Kubernetes host is reset before each call (a replay starts over).
    /// One [`Stats`] per case, in order.
    fn interleaved(&self, cases: &[(&Instance, &[u8])]) -> Result<Vec<Stats>> {
        let call = |(instance, payload): &(&Instance, &[u8])| {
            instance.kubernetes().reset();
            instance.call("validate", payload)
        };
        let start = Instant::now();
        while start.elapsed() < self.warm_up {
            for case in cases {
                call(case)?;
            }
        }
        let mut times = vec![Vec::with_capacity(self.samples); cases.len()];
        let mut order: Vec<usize> = (0..cases.len()).collect();
        for _ in 0..self.samples {
            for &index in &order {
                let (Some(case), Some(times)) = (cases.get(index), times.get_mut(index)) else {
                    continue;
                };
                case.0.kubernetes().reset();
                let started = Instant::now();
                let answer = case.0.call("validate", case.1)?;
                times.push(started.elapsed());
                drop(answer);
            }
            // Rotate which case goes first.
            order.rotate_left(1);
        }
        Ok(times.into_iter().map(Stats::new).collect())
    }

    /// Peak linear memory of `module` for `payload`, in bytes, measured by
    /// this program in a child process (`--peak-memory-probe`) whose stderr
    /// is discarded: each refused cap makes the guest print "memory
    /// allocation of N bytes failed" on the stderr it inherits. With
    /// `session`, the policy's Kubernetes calls are answered from that
    /// recorded session (else refused).
    fn peak_memory(&self, module: &Module, payload: &[u8], session: Option<&Path>) -> Result<u64> {
        use std::process::{Command, Stdio};
        let mut command = Command::new(std::env::current_exe()?);
        command.args(["bench", "--peak-memory-probe"]);
        if let Some(session) = session {
            command.arg("--probe-session").arg(session);
        }
        let mut child = command
            .arg(&module.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(payload)?;
        }
        let output = child.wait_with_output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!("cannot measure the peak memory of {}", module.name);
        }
        text.trim()
            .parse()
            .with_context(|| format!("the peak memory probe printed {text:?}"))
    }
}

impl Row {
    /// The kwctl-style report of one request.
    fn report(&self, bench: &Bench) -> String {
        let mut out = format!(
            "{} ({} payload): {}\n",
            self.name,
            kib(self.payload_len),
            self.verdict.name()
        );
        let (peak, baseline_peak) = match self.peak {
            Some((policy, baseline)) => (Some(policy), baseline),
            None => (None, None),
        };
        let mut line = |name: &str, stats: &Stats, peak: Option<u64>| {
            let _ = write!(
                out,
                "  {name:<20} validate  mean {}  median {}  min {}  max {}  ({} samples after {:.1} s warm-up)",
                duration(stats.mean),
                duration(stats.median),
                duration(stats.min),
                duration(stats.max),
                stats.count,
                bench.warm_up.as_secs_f64()
            );
            if let Some(peak) = peak {
                let _ = write!(out, "  peak memory {}", kib(peak as usize));
            }
            out.push('\n');
        };
        line(&bench.policy.name, &self.policy, peak);
        if let (Some(module), Some(stats)) = (&bench.baseline, &self.baseline) {
            line(&module.name, stats, baseline_peak);
            let _ = writeln!(
                out,
                "  ratio {:.2} (median {} / median {})",
                self.ratio().unwrap_or(f64::NAN),
                bench.policy.name,
                module.name
            );
        }
        out
    }

    fn ratio(&self) -> Option<f64> {
        let baseline = self.baseline.as_ref()?;
        Some(self.policy.median.as_secs_f64() / baseline.median.as_secs_f64())
    }
}

/// `make bench`: the issue's requests against their budgets, then scaling.
fn suite(bench: &Bench) -> Result<()> {
    let settings = serde_json::json!({});
    let floor = bench.baseline.as_ref();
    println!(
        "{} ({}){}: {} samples per module and request after {:.1} s warm-up; median µs per `validate` call",
        bench.policy.name,
        kib(bench.policy.bytes.len()),
        floor.map_or(String::new(), |f| format!(
            " vs {} ({})",
            f.name,
            kib(f.bytes.len())
        )),
        bench.samples,
        bench.warm_up.as_secs_f64()
    );
    println!();
    println!(
        "{:<28} {:>7} {:>9} {:>11} {:>10} {:>6} {:>7}",
        "request", "verdict", "payload", "policy µs", "floor µs", "ratio", "budget"
    );
    let mut over = 0;
    for request in workload::fixtures()? {
        let row = bench.run(&request, &settings, true, false)?;
        let ratio = row.ratio();
        let status = match ratio {
            Some(r) if r <= request.verdict.budget() => "ok",
            Some(_) => {
                over += 1;
                "OVER"
            }
            None => "",
        };
        println!(
            "{:<28} {:>7} {:>9} {:>11.1} {:>10} {:>6} {:>4.2} {status}",
            row.name,
            row.verdict.name(),
            kib(row.payload_len),
            micros(row.policy.median),
            row.baseline
                .as_ref()
                .map_or("-".into(), |b| format!("{:.1}", micros(b.median))),
            ratio.map_or("-".into(), |r| format!("{r:.2}")),
            request.verdict.budget(),
        );
    }

    println!();
    println!(
        "{:<28} {:>9} {:>11} {:>10} {:>6} {:>11} {:>11} {:>12}",
        "scaling (accepted)",
        "payload",
        "policy µs",
        "µs/KiB",
        "ratio",
        "floor µs/KiB",
        "peak memory",
        "floor memory"
    );
    let mut families = Vec::new();
    for (family, requests) in workload::scaling_families() {
        let mut per_kib = Vec::new();
        for request in requests {
            let row = bench.run(&request, &settings, true, true)?;
            let kibs = row.payload_len as f64 / 1024.0;
            let policy_per_kib = micros(row.policy.median) / kibs;
            per_kib.push(policy_per_kib);
            let (peak, floor_peak) = row.peak.unwrap_or_default();
            println!(
                "{:<28} {:>9} {:>11.1} {:>10.3} {:>6} {:>11} {:>11} {:>12}",
                row.name,
                kib(row.payload_len),
                micros(row.policy.median),
                policy_per_kib,
                row.ratio().map_or("-".into(), |r| format!("{r:.2}")),
                row.baseline
                    .as_ref()
                    .map_or("-".into(), |b| format!("{:.3}", micros(b.median) / kibs)),
                format!(
                    "{} ({:.1}x)",
                    kib(peak as usize),
                    peak as f64 / row.payload_len as f64
                ),
                floor_peak.map_or("-".into(), |p| kib(p as usize)),
            );
        }
        if let (Some(first), Some(last)) = (per_kib.first(), per_kib.last()) {
            families.push((family, last / first));
        }
    }
    println!();
    for (family, growth) in families {
        let status = if growth <= 1.5 {
            "ok"
        } else {
            over += 1;
            "OVER"
        };
        println!(
            "{family}: µs per KiB at the largest size is {growth:.2}x the smallest's (budget 1.50) {status}"
        );
    }
    println!();
    over += context::run(bench)?;
    print_over(over);
    Ok(())
}

fn print_over(over: usize) {
    if over > 0 {
        println!();
        println!(
            "{over} figure(s) over budget (a benchmark: rerun on an idle machine before acting on it)"
        );
    }
}

/// Sample statistics.
struct Stats {
    count: usize,
    mean: Duration,
    median: Duration,
    min: Duration,
    max: Duration,
}

impl Stats {
    fn new(mut samples: Vec<Duration>) -> Stats {
        samples.sort_unstable();
        let count = samples.len();
        let total: Duration = samples.iter().sum();
        let at = |i: usize| samples.get(i).copied().unwrap_or_default();
        let median = if count % 2 == 1 {
            at(count / 2)
        } else {
            (at(count / 2 - 1) + at(count / 2)) / 2
        };
        Stats {
            count,
            mean: total / u32::try_from(count.max(1)).unwrap_or(u32::MAX),
            median,
            min: at(0),
            max: at(count.saturating_sub(1)),
        }
    }
}

/// The smallest linear-memory cap under which a fresh instance of `module`
/// answers `validate(payload)`: the instance's peak memory through
/// `wapc_init` and that call, in bytes (a multiple of the 64 KiB wasm page).
/// With `kubernetes`, each instance answers its Kubernetes calls with a
/// fresh [`KubernetesHost::fork`] of it (a replay starts at its first
/// exchange); without, they are refused.
pub fn peak_memory(
    module: &[u8],
    payload: &[u8],
    kubernetes: Option<&KubernetesHost>,
) -> Result<u64> {
    use wasmtime_provider::wasmtime;
    use wasmtime_provider::{ResourceLimits, WasmtimeEngineProviderBuilder};

    const PAGE: u64 = 64 << 10;
    let engine = wasmtime::Engine::new(&wasmtime::Config::default())
        .map_err(|e| anyhow!("cannot create the engine: {e}"))?;
    let module = wasmtime::Module::new(&engine, module)
        .map_err(|e| anyhow!("cannot compile the module: {e}"))?;
    let succeeds = |pages: Option<u64>| -> Result<bool> {
        let limits = ResourceLimits {
            max_memory_size: pages.map(|p| usize::try_from(p * PAGE).unwrap_or(usize::MAX)),
            max_table_elements: None,
        };
        let pre = WasmtimeEngineProviderBuilder::new()
            .engine(engine.clone())
            .module(module.clone())
            .wasi_params(wapc::WasiParams::default())
            .enable_resource_limits(limits)
            .build_pre()?;
        let callback = kubernetes.map(|k| kubernetes_callback(k.fork()));
        let host = match wapc::WapcHost::new(Box::new(pre.rehydrate(None)?), callback) {
            Ok(host) => host,
            // The cap is below the module's initial memory.
            Err(_) => return Ok(false),
        };
        Ok(host.call("validate", payload).is_ok())
    };
    if !succeeds(None)? {
        bail!("`validate` fails even without a memory cap");
    }
    // wasm32 has at most 65,536 pages (4 GiB).
    let (mut low, mut high) = (0u64, 16u64);
    while !succeeds(Some(high))? {
        low = high;
        high *= 2;
        if high > 65_536 {
            bail!("`validate` needs more than 4 GiB");
        }
    }
    // Invariant: `low` pages fail (0 always does), `high` pages succeed.
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if succeeds(Some(middle))? {
            high = middle;
        } else {
            low = middle;
        }
    }
    Ok(high * PAGE)
}

/// A waPC host callback for the peak-memory probe: `kubewarden/kubernetes/*`
/// answered by `kubernetes`, log records dropped, anything else refused.
fn kubernetes_callback(kubernetes: KubernetesHost) -> Box<wapc::HostCallback> {
    Box::new(
        move |_id: u64, binding: &str, namespace: &str, operation: &str, payload: &[u8]| match (
            binding, namespace,
        ) {
            ("kubewarden", "kubernetes") => kubernetes
                .answer(operation, payload)
                .map_err(|message| message.into()),
            ("kubewarden", "tracing") => Ok(Vec::new()),
            _ => Err(format!("refused {binding}/{namespace}/{operation}").into()),
        },
    )
}

/// The settings map (`{}` when none is given), as `cargo xtask run` reads it.
fn settings(args: &Args) -> Result<Value> {
    super::run::load_settings(args.settings_json.as_deref(), args.settings_path.as_deref())
}

fn read_request(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read request file {}", path.display()))?;
    let input: Value = serde_json::from_str(&text)
        .with_context(|| format!("request file {} is not valid JSON", path.display()))?;
    admission_request(&input).with_context(|| format!("request file {}", path.display()))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// `850 ns`, `12.3 µs`, `4.56 ms`.
fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.2} ms", ns as f64 / 1e6)
    }
}

/// `1.4 KiB`, `1024.0 KiB`.
fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_samples() {
        let ms = Duration::from_millis;
        let stats = Stats::new(vec![ms(4), ms(1), ms(3), ms(2)]);
        assert_eq!(stats.count, 4);
        assert_eq!(stats.min, ms(1));
        assert_eq!(stats.max, ms(4));
        assert_eq!(stats.median, Duration::from_micros(2_500));
        assert_eq!(stats.mean, Duration::from_micros(2_500));
        assert_eq!(Stats::new(vec![ms(5), ms(1), ms(3)]).median, ms(3));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(Duration::from_nanos(850)), "850 ns");
        assert_eq!(duration(Duration::from_nanos(12_345)), "12.3 µs");
        assert_eq!(duration(Duration::from_micros(4_560)), "4.56 ms");
    }
}
