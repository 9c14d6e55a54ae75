//! Follow benchmark: a file grows by N lines (default 1,000,000) over S seconds (default 5)
//! while the follower delivers them to a consumer that keeps a ring buffer, like the dashboard;
//! at the same time `tail -F > /dev/null` follows the same flood written to a second file.
//! Prints the lag from the end of the flood to the last line delivered, the follower thread's
//! CPU time (during the flood, and idle afterwards), the consumer's, the same flood's CPU time
//! under `tail -F > /dev/null`, and peak memory. CPU time is the scheduler's on-CPU nanoseconds
//! (`/proc/<pid>/task/<tid>/schedstat`, user plus system), read the same way for every thread and
//! for `tail`, so the comparison does not hinge on 10 ms clock ticks.
//!
//! `cargo run --release --example follow_flood -- [lines] [seconds]`

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gatewatch::logs::{FollowOptions, LogBook, LogFollower, RingLimits, SourceSpec};
use gatewatch::outbox::Outbox;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let lines: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let seconds: f64 = args.next().map_or(Ok(5.0), |a| a.parse())?;
    let dir = tempfile::tempdir()?;

    // gatewatch's follower, and `tail -F` on a file of its own: both floods run at the same
    // time, so both readers meet the same machine (other work on a shared host can change the
    // cost of the same reading by half between one minute and the next).
    let path = dir.path().join("access.log");
    let tail_path = dir.path().join("tail.log");
    File::create(&path)?;
    File::create(&tail_path)?;
    let tail = Command::new("tail")
        .args(["-F", "-n", "500"])
        .arg(&tail_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let specs = vec![SourceSpec::file(&path, None)];
    let mut book = LogBook::new(&specs, RingLimits::default());
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let follower = LogFollower::spawn(specs, FollowOptions::default(), Outbox::new(tx))?;
    // Only for its timer: the consumer waits for batches like the dashboard's loop does.
    let clock = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let mut recv_timeout = |within| {
        let batch = clock.block_on(async { tokio::time::timeout(within, rx.recv()).await });
        batch.ok().flatten().ok_or(())
    };
    let tid = thread_id("gatewatch-logs")?;
    // The follower must have the (empty) file open before the flood starts, or it would begin,
    // as it should, with only the last 500 lines of what was already written.
    if let Ok(batch) = recv_timeout(Duration::from_secs(5)) {
        book.apply(batch);
    }
    std::thread::sleep(Duration::from_millis(200)); // tail is watching too
    let (tail_before, follower_before) = (process_cpu(tail.id())?, thread_cpu(&tid)?);
    let writers = [path.clone(), tail_path.clone()]
        .map(|path| std::thread::spawn(move || flood(&path, lines, seconds)));
    let consumer_before = thread_cpu(&main_tid())?;
    let mut flood_end = None;
    let mut built = 0;
    while book.sources[0].total_lines() < lines {
        if let Ok(batch) = recv_timeout(Duration::from_millis(10)) {
            built += batch.lines.len();
            book.apply(batch);
        }
        if flood_end.is_none() && writers[0].is_finished() {
            flood_end = Some(Instant::now());
        }
    }
    let delivered = Instant::now();
    let flood_end = flood_end.unwrap_or(delivered);
    let follower_cpu = thread_cpu(&tid)? - follower_before;
    let consumer_cpu = thread_cpu(&main_tid())? - consumer_before;
    let [writer, tail_writer] = writers;
    let rate = writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer panicked"))??;
    tail_writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer panicked"))??;
    std::thread::sleep(Duration::from_secs(2)); // let tail drain (without inotify it polls every 1 s)
    let tail_cpu = process_cpu(tail.id())? - tail_before;
    let mut tail = tail;
    tail.kill()?;
    tail.wait()?;
    // Idle: the file no longer grows; the follower should cost next to nothing.
    let idle_from = thread_cpu(&tid)?;
    let idle_for = Duration::from_secs(5);
    std::thread::sleep(idle_for);
    let idle_cpu = thread_cpu(&tid)? - idle_from;
    drop(follower);
    let hwm = status_field("VmHWM")?;

    println!("flood: {lines} lines in {seconds} s ({rate:.0} lines/s written)");
    println!(
        "gatewatch follower: last line delivered {:.1} ms after the flood ended",
        delivered.saturating_duration_since(flood_end).as_secs_f64() * 1000.0
    );
    println!(
        "gatewatch follower thread CPU: {follower_cpu:.3} s ({:.1}x tail)",
        follower_cpu / tail_cpu
    );
    println!("tail -F > /dev/null CPU:       {tail_cpu:.3} s");
    println!("consumer thread CPU (LogBook):  {consumer_cpu:.3} s");
    println!(
        "gatewatch follower idle CPU: {:.4} s over {} s",
        idle_cpu,
        idle_for.as_secs()
    );
    println!("peak RSS of this process (follower + consumer ring + writers): {hwm}");
    println!(
        "ring: {} lines retained of {} counted; {built} built as lines, the rest only counted",
        book.sources[0].lines().len(),
        book.sources[0].total_lines()
    );
    // For scripts (benches/all.sh).
    println!(
        "RESULT follow lines={lines} seconds={seconds} lag_ms={:.1} follower_cpu_s={follower_cpu:.2} \
         tail_cpu_s={tail_cpu:.2} idle_cpu_s={idle_cpu:.3} peak_rss_kb={}",
        delivered.saturating_duration_since(flood_end).as_secs_f64() * 1000.0,
        hwm.trim_end_matches(" kB").trim()
    );
    Ok(())
}

/// Appends `lines` access-log lines to `path` at an even pace over `seconds`.
fn flood(path: &Path, lines: u64, seconds: f64) -> anyhow::Result<f64> {
    let mut w = BufWriter::with_capacity(64 * 1024, OpenOptions::new().append(true).open(path)?);
    let started = Instant::now();
    let step = 10_000;
    for i in 0..lines {
        let status = if i % 50 == 0 { 502 } else { 200 };
        writeln!(
            w,
            "10.0.{}.{} - - [01/May/2024:12:00:00 +0000] \"GET /api/items/{i} HTTP/1.1\" {status} 512 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" us={status} ua=127.0.0.1:8080",
            (i / 250) % 250,
            i % 250
        )?;
        if i % step == step - 1 {
            w.flush()?;
            let due = Duration::from_secs_f64(seconds * (i + 1) as f64 / lines as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    w.flush()?;
    Ok(lines as f64 / started.elapsed().as_secs_f64())
}

fn thread_id(name: &str) -> anyhow::Result<String> {
    for _ in 0..100 {
        for task in fs::read_dir("/proc/self/task")? {
            let task = task?;
            if fs::read_to_string(task.path().join("comm"))?.trim() == name {
                return Ok(task.file_name().to_string_lossy().into_owned());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    anyhow::bail!("no thread named {name}")
}

/// The main thread, which runs the consumer loop.
fn main_tid() -> String {
    std::process::id().to_string()
}

/// The first field of a schedstat file: nanoseconds spent on a CPU.
fn cpu_of(schedstat: &str) -> anyhow::Result<f64> {
    let ns: u64 = schedstat
        .split_whitespace()
        .next()
        .ok_or_else(|| anyhow::anyhow!("empty schedstat"))?
        .parse()?;
    Ok(ns as f64 / 1e9)
}

fn thread_cpu(tid: &str) -> anyhow::Result<f64> {
    cpu_of(&fs::read_to_string(format!(
        "/proc/self/task/{tid}/schedstat"
    ))?)
}

/// `tail` is single-threaded: its only task is the process.
fn process_cpu(pid: u32) -> anyhow::Result<f64> {
    cpu_of(&fs::read_to_string(format!(
        "/proc/{pid}/task/{pid}/schedstat"
    ))?)
}

fn status_field(name: &str) -> anyhow::Result<String> {
    let status = fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .map(|v| v.trim_start_matches(':').trim().to_string())
        })
        .ok_or_else(|| anyhow::anyhow!("no {name}"))
}
