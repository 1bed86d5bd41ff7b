//! The threads renders run on.
//!
//! A render runs on a thread of its own with a large stack: deep `include`
//! nesting is real recursion, kept off the caller's (possibly async) stack,
//! and the engine's thread-local state stays private to one render. Starting
//! such a thread took about a tenth of a millisecond, more than a third of a
//! small chart's render, so a finished render thread waits for the next
//! render instead of exiting (a few of them at most). A render never waits
//! for a busy one: without an idle thread it starts a new one.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Sender, channel, sync_channel};
use std::sync::{Mutex, PoisonError};

/// The stack of a render thread. Reserved, not committed, so generous.
const STACK_BYTES: usize = 256 << 20;
/// How many finished render threads wait for work.
const MAX_IDLE: usize = 8;

type Job = Box<dyn FnOnce() + Send>;

/// A render thread waiting for its next job. Dropping it ends the thread.
struct Worker {
    jobs: Sender<Job>,
}

static IDLE: Mutex<Vec<Worker>> = Mutex::new(Vec::new());

/// Runs `work` on a render thread and returns its result, or `None` if it
/// panicked. The error is a thread that could not be started.
pub(super) fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<Option<T>> {
    let (done, outcome) = sync_channel(1);
    let mut job: Job = Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(work));
        // The caller waits for this; it cannot have gone away.
        let _ = done.send(result.ok());
    });
    let idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner).pop();
    let mut worker = match idle {
        Some(worker) => worker,
        None => start()?,
    };
    // An idle thread that has gone (it cannot, short of a bug) hands the
    // job back; a new thread takes it.
    while let Err(returned) = worker.jobs.send(job) {
        job = returned.0;
        worker = start()?;
    }
    match outcome.recv().ok().flatten() {
        Some(result) => {
            let mut idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push(worker);
            }
            Ok(Some(result))
        }
        // A thread whose render panicked is not reused: its thread-local
        // state may be half-way. Dropping it ends it.
        None => Ok(None),
    }
}

fn start() -> std::io::Result<Worker> {
    let (jobs, queue) = channel::<Job>();
    std::thread::Builder::new()
        .name("storeplane-chart-render".to_owned())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            for job in queue {
                job();
            }
        })?;
    Ok(Worker { jobs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_a_render_thread_and_a_panic_is_reported() {
        let name = || std::thread::current().name().map(str::to_owned);
        for _ in 0..3 {
            assert_eq!(
                run(name).unwrap(),
                Some(Some("storeplane-chart-render".to_owned()))
            );
        }
        assert!(run(|| -> u8 { panic!("a render bug") }).unwrap().is_none());
        assert_eq!(run(|| 7).unwrap(), Some(7));
    }
}
