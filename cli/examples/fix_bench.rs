//! `make fix-bench`: the time and memory `fix` takes on the two inputs of
//! its budget, against reading the same text (the baseline, measured in
//! the same run): one Service with 60,000 labels that are not strings
//! (budget 2 s), and a file of 10,000 documents, about 10 MB, each with a
//! few YAML 1.1 traps in its label maps (budget 5 s and 300 MB). Best of
//! three runs each, natively, in this process; peak memory (`VmHWM`) of
//! one fix of the 10 MB file in a process of its own.

use anyhow::{Result, bail};
use selector_guard_cli::fix::{Fixed, fix_text};
use selector_guard_cli::inputs;
use std::time::Instant;

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

fn best_of_3(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let started = Instant::now();
        f()?;
        best = best.min(started.elapsed().as_secs_f64());
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

fn main() -> Result<()> {
    // `fix_bench memory`: the peak of one fix of the 10 MB file alone, in a
    // fresh process (what the 300 MB budget is about).
    if std::env::args().nth(1).as_deref() == Some("read") {
        let text = many_documents(10_000);
        let objects = inputs::objects("bench.yaml", &text)?;
        println!(
            "read: {} objects, peak {:.0} MiB",
            objects.objects.len(),
            peak_mib()
        );
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("memory") {
        let text = many_documents(10_000);
        let before = peak_mib();
        match fix_text("bench.yaml", &text) {
            Fixed::Done(..) => {}
            Fixed::Refused(why) | Fixed::Unreadable(why) => bail!("{why}"),
        }
        let peak = peak_mib();
        println!(
            "peak memory fixing 10,000 documents ({:.1} MB): {peak:.0} MiB (the text alone: {before:.0} MiB before the fix; budget 300 MB) {}",
            text.len() as f64 / 1e6,
            if peak <= 300.0 { "PASS" } else { "FAIL" }
        );
        if peak > 300.0 {
            bail!("over budget");
        }
        return Ok(());
    }
    let mut over = 0;
    for (what, text, budget) in [
        (
            "one Service, 60,000 labels that are not strings",
            many_labels(60_000),
            2.0,
        ),
        ("10,000 documents", many_documents(10_000), 5.0),
    ] {
        let read = best_of_3(|| {
            inputs::objects("bench.yaml", &text)?;
            Ok(())
        })?;
        let fixed = best_of_3(|| match fix_text("bench.yaml", &text) {
            Fixed::Done(out, fixes) if out != text && !fixes.edits.is_empty() => Ok(()),
            Fixed::Done(..) => bail!("nothing was fixed"),
            Fixed::Refused(why) | Fixed::Unreadable(why) => bail!("{why}"),
        })?;
        let pass = fixed <= budget;
        if !pass {
            over += 1;
        }
        println!(
            "{what} ({:.1} MB): read {read:.3} s, fix {fixed:.3} s ({:.2}x the read; budget {budget:.0} s) {}",
            text.len() as f64 / 1e6,
            fixed / read,
            if pass { "PASS" } else { "FAIL" }
        );
    }
    let memory = std::process::Command::new(std::env::current_exe()?)
        .arg("memory")
        .status()?;
    if !memory.success() {
        over += 1;
    }
    if over > 0 {
        bail!("{over} figure(s) over budget");
    }
    Ok(())
}
