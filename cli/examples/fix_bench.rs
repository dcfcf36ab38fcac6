//! `make fix-bench`: the time and memory `selector-guard fix` takes on the
//! two inputs of its budget, against reading the same text (the baseline,
//! measured in the same run): one Service with 60,000 labels that are not
//! strings (budget 2 s), and a file of 10,000 documents, about 10 MB, each
//! with a few YAML 1.1 traps in its label maps (budget 5 s and 300 MB).
//!
//! Each command runs as a user runs it: in a process of its own (this
//! example, re-run as `fix_bench run ARGS`, calls the CLI's `fix::main`
//! or `check::main` with the binary's allocator), on a fresh copy of the
//! file; the figure is the process's wall time (best of three) and its
//! peak memory (`VmHWM`). The read is `inputs::objects` in this process.

use anyhow::{Context, Result, bail};
use clap::Parser;
use selector_guard_cli::{check, fix, inputs};
use std::path::Path;
use std::time::Instant;

// The allocator of the `selector-guard` binary (cli/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `selector-guard fix ARGS` or `selector-guard check ARGS`.
#[derive(Parser)]
enum Command {
    Fix(fix::Args),
    Check(check::Args),
}

fn many_labels(n: usize) -> String {
    let mut text =
        String::from("apiVersion: v1\nkind: Service\nmetadata:\n  name: big\n  labels:\n");
    for i in 0..n {
        text.push_str(&format!("    k{i}: {i}\n"));
    }
    text.push_str("spec:\n  selector: {app: big, active: yes}\n");
    text
}

fn many_documents(n: usize) -> String {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "---\n# document {i}: a Deployment with traps in its label maps\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  labels: {{app: web-{i}, active: yes, version: 1.10}}\n  annotations:\n    note: on\n    owner: team-{i}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: web-{i}}}\n  template:\n    metadata:\n      labels:\n        app: web-{i}\n        active: yes\n        build: 0x2A\n    spec:\n      nodeSelector: {{gpu: true}}\n      containers:\n      - name: web\n        image: registry.example.com/team/web:1.0.{i}\n        env:\n        - {{name: MODE, value: \"production\"}}\n        - {{name: WORKERS, value: \"4\"}}\n        ports:\n        - {{containerPort: 8080, name: http}}\n        resources:\n          requests: {{cpu: 100m, memory: 128Mi}}\n          limits: {{cpu: 500m, memory: 512Mi}}\n        readinessProbe:\n          httpGet: {{path: /healthz, port: http}}\n          periodSeconds: 10\n"
        ));
    }
    text
}

fn best_of_3(mut f: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        best = best.min(f()?);
    }
    Ok(best)
}

fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Runs `selector-guard ARGS` on a fresh copy of `text` in a process of
/// its own: its wall time, peak memory (MiB) and exit status.
fn command(args: &[&str], text: &str, dir: &Path) -> Result<(f64, f64, i32)> {
    let file = dir.join("bench.yaml");
    std::fs::write(&file, text)?;
    let started = Instant::now();
    let output = std::process::Command::new(std::env::current_exe()?)
        .arg("run")
        .args(args)
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .output()?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak = stderr
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("peak "))
        .and_then(|mib| mib.parse().ok())
        .context("no peak printed")?;
    Ok((seconds, peak, output.status.code().unwrap_or(-1)))
}

fn main() -> Result<()> {
    let mut argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("run") {
        argv.remove(1);
        let status = match Command::parse_from(argv) {
            Command::Fix(args) => fix::main(&args),
            Command::Check(args) => check::main(&args),
        };
        eprintln!("peak {:.1}", peak_mib());
        std::process::exit(status);
    }
    let dir = std::env::temp_dir().join(format!("fix-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut over = 0;
    let mut report = |what: &str, seconds: f64, budget: f64, unit: &str| {
        let pass = seconds <= budget;
        if !pass {
            over += 1;
        }
        println!(
            "  {what}: {seconds:.3}{unit} (budget {budget:.0}{unit}) {}",
            if pass { "PASS" } else { "FAIL" }
        );
    };
    for (what, text, budget) in [
        (
            "one Service, 60,000 labels that are not strings",
            many_labels(60_000),
            2.0,
        ),
        ("10,000 documents", many_documents(10_000), 5.0),
    ] {
        let read = best_of_3(|| {
            let started = Instant::now();
            inputs::objects("bench.yaml", &text)?;
            Ok(started.elapsed().as_secs_f64())
        })?;
        println!(
            "{what} ({:.1} MB): read {read:.3} s",
            text.len() as f64 / 1e6
        );
        let mut peak = 0.0f64;
        let fixed = best_of_3(|| {
            let (seconds, mib, status) = command(&["fix"], &text, &dir)?;
            // 1: what no fix can mend remains (the Service selects no pod).
            if !(0..=1).contains(&status) {
                bail!("fix exited {status}");
            }
            peak = peak.max(mib);
            Ok(seconds)
        })?;
        report(
            &format!("fix ({:.2}x the read)", fixed / read),
            fixed,
            budget,
            " s",
        );
        report(
            "fix, peak memory (budget 300 MB)",
            peak,
            300.0 / 1.048_576,
            " MiB",
        );
        let mut peaks = Vec::new();
        for args in [&["fix", "--check"][..], &["check"][..]] {
            let mut peak = 0.0f64;
            let seconds = best_of_3(|| {
                let (seconds, mib, status) = command(args, &text, &dir)?;
                if status != 1 {
                    bail!("{} exited {status}, not 1", args.join(" "));
                }
                peak = peak.max(mib);
                Ok(seconds)
            })?;
            peaks.push(format!(
                "{}: {seconds:.3} s ({:.2}x the read), {peak:.0} MiB",
                args.join(" "),
                seconds / read
            ));
        }
        println!("  (not budgeted) {}", peaks.join("; "));
    }
    let _ = std::fs::remove_dir_all(&dir);
    if over > 0 {
        bail!("{over} figure(s) over budget");
    }
    Ok(())
}
