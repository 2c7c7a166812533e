//! The store's own threads that work beside the requests (the request audit writer, the
//! write-ahead log checkpointers) run under Linux's `SCHED_BATCH` policy, at niceness 0 (the
//! default).
//!
//! A thread under the default policy (`SCHED_OTHER`) that wakes up may preempt the thread
//! running on its core at once. The audit writer wakes for every group of records: under
//! the default policy it took the core from an HTTP worker in the middle of building a
//! summary, committed one or two records, woke the workers it had answered, and slept again;
//! the worker it had interrupted finished late, and its other requests with it. Under
//! `SCHED_BATCH` a waking thread does not preempt: it runs when a core is free or the running
//! thread's slice ends. It gets the same share of the processor as before (same weight), and
//! a request still waits until its audit record is committed (H8), but the writer now finds
//! more records waiting each time it runs, so it commits larger groups, rewrites fewer pages
//! and wakes less often. Measured with the load harness, alternating with the build before
//! (BENCHMARKS.md, nineteenth round): summaries paced at 5,000 a second on 10,000 plans had a
//! p99 of 5.88 to 6.46 ms against 9.37 to 86.59, and the closed loop served 12 to 23% more
//! (10,000 and 1,000,000 plans). The checkpointers copy pages no request waits for.
//!
//! Unprivileged threads may make this change (it lowers no priority a user could not lower
//! themselves). Where it is refused (a sandbox that forbids it, a process started niced) the
//! thread says so once and runs on as the system lets it: slower at worst, never wrong.

/// Starts a thread called `name` that runs `work` under `SCHED_BATCH` (see the module's
/// notes). Returns once the policy is in place, so that nothing the thread does runs under
/// the default policy and nobody who looks at it afterwards sees the default.
pub(super) fn spawn<F>(name: &str, work: F) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    let (ready, started) = std::sync::mpsc::sync_channel::<()>(1);
    let thread_name = name.to_owned();
    let thread = std::thread::Builder::new()
        .name(thread_name.clone())
        .spawn(move || {
            run_as_batch(&thread_name);
            let _ = ready.send(());
            work();
        })?;
    // Microseconds: the thread's first steps. An error means the thread is already gone.
    let _ = started.recv();
    Ok(thread)
}

/// Puts the calling thread under `SCHED_BATCH`; a failure is logged and otherwise ignored.
fn run_as_batch(thread: &str) {
    if let Err(error) = batch_policy() {
        tracing::warn!(
            thread,
            error = %error,
            "could not give the thread the batch scheduling policy at niceness 0"
        );
    }
}

#[cfg(target_os = "linux")]
fn batch_policy() -> Result<(), String> {
    use thread_priority::unix::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadSchedulePolicy,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityOsValue};
    // For the normal policies the value is the niceness the thread is given: 0, the default,
    // which is what the service's threads run at unless the whole process was started niced
    // (then this part is refused without privilege, after the policy itself has changed).
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Os(ThreadPriorityOsValue::default()),
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
    )
    .map_err(|error| format!("{error:?}"))
}

#[cfg(not(target_os = "linux"))]
fn batch_policy() -> Result<(), String> {
    Ok(())
}
