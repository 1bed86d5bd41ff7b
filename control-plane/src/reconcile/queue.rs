//! A work queue in the style of controller-runtime's: keyed by store id,
//! deduplicated (a key queued twice runs once), never running the same key
//! twice at once (a key requested while it runs runs again afterwards),
//! bounded concurrency, and delayed requeues that an earlier request
//! overrides. Once stopped it starts nothing more and says when the runs
//! in flight are over ([`Queue::drained`]), so a replica shutting down can
//! wait for them before it exits.

use prometheus_client::metrics::gauge::Gauge;
use std::{
    collections::{BTreeSet, HashMap, HashSet},
    future::Future,
    sync::Arc,
    time::Duration,
};

use futures::FutureExt as _;
use std::panic::AssertUnwindSafe;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::StreamExt as _;
use tokio_util::{sync::CancellationToken, time::DelayQueue, time::delay_queue};
use tracing::error;
use uuid::Uuid;

/// When a key whose run panicked runs again.
const PANIC_RETRY: Duration = Duration::from_secs(5);

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic")
}

/// What a finished reconcile asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing until an event arrives.
    Done,
    /// Run again after this long (retry with backoff, or a resync).
    After(Duration),
    /// Run again as soon as no key queued by an event or a timer is
    /// waiting: the rest of a step split so that what is urgent for other
    /// keys goes first (a new store's namespace before an older store's
    /// engine install).
    Yield,
}

enum Msg {
    Enqueue(Uuid),
    EnqueueYielded(Uuid),
    EnqueueAfter(Uuid, Duration),
    Finished(Uuid, Next),
}

/// Handle to enqueue work; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    tx: mpsc::UnboundedSender<Msg>,
    drained: CancellationToken,
}

impl Queue {
    /// Runs `work` for queued keys with at most `concurrency` at once, until
    /// `stop`: from then on it starts no run (what is queued or delayed is
    /// dropped) and lets the runs in flight finish.
    pub fn start<F, Fut>(concurrency: usize, stop: CancellationToken, work: F) -> Self
    where
        F: Fn(Uuid) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Next> + Send + 'static,
    {
        Self::start_with_gauge(concurrency, stop, Gauge::default(), work)
    }

    /// [`Queue::start`], keeping `depth` (a metric's gauge) at the number
    /// of keys waiting to run.
    pub fn start_with_gauge<F, Fut>(
        concurrency: usize,
        stop: CancellationToken,
        depth: Gauge,
        work: F,
    ) -> Self
    where
        F: Fn(Uuid) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Next> + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let drained = CancellationToken::new();
        let queue = Self {
            tx: tx.clone(),
            drained: drained.clone(),
        };
        tokio::spawn(run(
            rx,
            tx,
            concurrency.max(1),
            stop,
            Arc::new(work),
            depth,
            drained,
        ));
        queue
    }

    /// Completes once the queue is stopped and no run is in flight.
    pub async fn drained(&self) {
        self.drained.cancelled().await;
    }

    /// Queues `id` now.
    pub fn enqueue(&self, id: Uuid) {
        let _ = self.tx.send(Msg::Enqueue(id));
    }

    /// Queues `id` behind every key queued with [`Queue::enqueue`] (as a
    /// run returning [`Next::Yield`] is); a key queued already keeps its
    /// place.
    pub fn enqueue_yielded(&self, id: Uuid) {
        let _ = self.tx.send(Msg::EnqueueYielded(id));
    }

    /// Queues `id` after `delay` (unless it is queued earlier).
    pub fn enqueue_after(&self, id: Uuid, delay: Duration) {
        let _ = self.tx.send(Msg::EnqueueAfter(id, delay));
    }
}

async fn run<F, Fut>(
    mut rx: mpsc::UnboundedReceiver<Msg>,
    tx: mpsc::UnboundedSender<Msg>,
    concurrency: usize,
    stop: CancellationToken,
    work: Arc<F>,
    depth: Gauge,
    drained: CancellationToken,
) where
    F: Fn(Uuid) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Next> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut state = State::default();
    let mut stopping = false;
    loop {
        // Start what can start.
        while !stopping && state.due() > 0 {
            let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                break;
            };
            let Some(id) = state.pop() else {
                break;
            };
            state.running.insert(id);
            let work = Arc::clone(&work);
            let done = tx.clone();
            tokio::spawn(async move {
                // A panic in one run must not leave its key "running" (and
                // so never run again) until the process restarts.
                let next = match AssertUnwindSafe(work(id)).catch_unwind().await {
                    Ok(next) => next,
                    Err(panic) => {
                        error!(key = %id, panic = panic_text(&panic), "work panicked; retrying");
                        Next::After(PANIC_RETRY)
                    }
                };
                drop(permit);
                let _ = done.send(Msg::Finished(id, next));
            });
        }
        depth.set(if stopping {
            0
        } else {
            i64::try_from(state.due()).unwrap_or(i64::MAX)
        });
        if stopping && state.running.is_empty() {
            drained.cancel();
            return;
        }

        tokio::select! {
            () = stop.cancelled(), if !stopping => {
                // Nothing new starts; what was queued or delayed is left to
                // the other replicas (and to this one's next start).
                stopping = true;
            }
            msg = rx.recv() => match msg {
                None => {
                    drained.cancel();
                    return;
                }
                Some(Msg::Enqueue(id)) => if !stopping { state.schedule(id) },
                Some(Msg::EnqueueYielded(id)) => if !stopping { state.schedule_yielded(id) },
                Some(Msg::EnqueueAfter(id, after)) => if !stopping { state.schedule_after(id, after) },
                Some(Msg::Finished(id, next)) => state.finished(id, next),
            },
            Some(expired) = state.delayed.next(), if !stopping && !state.delayed.is_empty() => {
                let id = expired.into_inner();
                state.delay_keys.remove(&id);
                state.schedule(id);
            }
        }
    }
}

/// The queue's bookkeeping.
#[derive(Default)]
struct State {
    /// Keys due now, oldest store first: ids are UUIDv7, so their order is
    /// the order the stores were created in. In a burst of creates a store
    /// further along (its namespace is up, its workloads just became ready)
    /// goes before the first run of a store created after it, so stores
    /// become Ready in the order they were asked for rather than all
    /// together once every store's first run is done (first in, first out
    /// did that: a store's next step queued behind every younger store's
    /// first one).
    ///
    /// A store's next step can also wait behind every key in `ready`
    /// ([`Next::Yield`], in `yielded`): a new store's first run creates
    /// its namespace and yields, so in a burst every store gets its
    /// namespace while it is being created rather than after every older
    /// store's engine install.
    ready: BTreeSet<Uuid>,
    /// Due once `ready` is empty, oldest store first.
    yielded: BTreeSet<Uuid>,
    running: HashSet<Uuid>,
    /// Running keys queued meanwhile (`true`: with [`Queue::enqueue`]).
    dirty: HashMap<Uuid, bool>,
    delayed: DelayQueue<Uuid>,
    delay_keys: HashMap<Uuid, delay_queue::Key>,
}

impl State {
    /// How many keys are due.
    fn due(&self) -> usize {
        self.ready.len() + self.yielded.len()
    }

    /// The next key to run.
    fn pop(&mut self) -> Option<Uuid> {
        self.ready.pop_first().or_else(|| self.yielded.pop_first())
    }

    /// Forgets a delayed requeue of `id`.
    fn undelay(&mut self, id: Uuid) {
        if let Some(key) = self.delay_keys.remove(&id) {
            self.delayed.remove(&key);
        }
    }

    /// Queues `id` now (a running key runs again when it finishes).
    fn schedule(&mut self, id: Uuid) {
        self.undelay(id);
        if self.running.contains(&id) {
            self.dirty.insert(id, true);
        } else {
            self.yielded.remove(&id);
            self.ready.insert(id);
        }
    }

    /// Queues `id` behind the keys in `ready`, unless it is due already.
    fn schedule_yielded(&mut self, id: Uuid) {
        if self.running.contains(&id) {
            self.dirty.entry(id).or_insert(false);
        } else if !self.ready.contains(&id) {
            self.undelay(id);
            self.yielded.insert(id);
        }
    }

    /// Queues `id` after `after`, unless it is queued or running already.
    fn schedule_after(&mut self, id: Uuid, after: Duration) {
        if self.ready.contains(&id) || self.yielded.contains(&id) || self.running.contains(&id) {
            return;
        }
        match self.delay_keys.get(&id) {
            Some(key) => self.delayed.reset(key, after),
            None => {
                let key = self.delayed.insert(id, after);
                self.delay_keys.insert(id, key);
            }
        }
    }

    fn finished(&mut self, id: Uuid, next: Next) {
        self.running.remove(&id);
        match (self.dirty.remove(&id), next) {
            (Some(true), _) => self.schedule(id),
            (Some(false), _) | (None, Next::Yield) => self.schedule_yielded(id),
            (None, Next::After(after)) => self.schedule_after(id, after),
            (None, Next::Done) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    type Log = Arc<Mutex<Vec<(Uuid, &'static str)>>>;

    /// Lets `runs` gated runs end, one after the other.
    async fn let_run(
        gate: &tokio::sync::Notify,
        done_rx: &mut mpsc::UnboundedReceiver<Uuid>,
        runs: usize,
    ) {
        for _ in 0..runs {
            gate.notify_one();
            done_rx.recv().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The keys in the order their runs started.
    fn starts(log: &Log) -> Vec<Uuid> {
        log.lock()
            .map(|l| {
                l.iter()
                    .filter(|(_, e)| *e == "start")
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A queue whose runs log their start, wait for `gate`, log their end
    /// and report on the returned receiver.
    fn gated_queue(
        concurrency: usize,
    ) -> (
        Queue,
        Log,
        Arc<tokio::sync::Notify>,
        mpsc::UnboundedReceiver<Uuid>,
    ) {
        let log: Log = Arc::default();
        let gate = Arc::new(tokio::sync::Notify::new());
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let queue = {
            let log = Arc::clone(&log);
            let gate = Arc::clone(&gate);
            Queue::start(concurrency, CancellationToken::new(), move |id| {
                let log = Arc::clone(&log);
                let gate = Arc::clone(&gate);
                let done = done_tx.clone();
                async move {
                    log.lock().map(|mut l| l.push((id, "start"))).ok();
                    gate.notified().await;
                    log.lock().map(|mut l| l.push((id, "end"))).ok();
                    let _ = done.send(id);
                    Next::Done
                }
            })
        };
        (queue, log, gate, done_rx)
    }

    #[tokio::test]
    async fn a_key_queued_while_running_runs_again_but_never_concurrently() {
        let (queue, log, gate, mut done_rx) = gated_queue(4);
        let id = Uuid::now_v7();
        queue.enqueue(id);
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Three requests while it runs collapse into one more run.
        queue.enqueue(id);
        queue.enqueue(id);
        queue.enqueue(id);
        gate.notify_one();
        done_rx.recv().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        gate.notify_one();
        done_rx.recv().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let events: Vec<&str> = log
            .lock()
            .map(|l| l.iter().map(|(_, e)| *e).collect())
            .unwrap_or_default();
        assert_eq!(events, ["start", "end", "start", "end"]);
    }

    #[tokio::test]
    async fn the_oldest_store_due_runs_first() {
        let (queue, log, gate, mut done_rx) = gated_queue(1);
        // Created in this order (UUIDv7 ids grow with time).
        let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
        // The youngest occupies the one slot; the others come due youngest
        // first, as a store's next step is queued after younger stores'
        // first ones in a burst.
        queue.enqueue(ids[3]);
        tokio::time::sleep(Duration::from_millis(20)).await;
        for id in [ids[2], ids[1], ids[0]] {
            queue.enqueue(id);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let_run(&gate, &mut done_rx, 4).await;
        let ran = starts(&log);
        assert_eq!(ran, [ids[3], ids[0], ids[1], ids[2]]);
    }

    #[tokio::test]
    async fn a_yielded_key_waits_behind_every_key_queued_by_an_event() {
        let (queue, log, gate, mut done_rx) = gated_queue(1);
        let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
        // The oldest two continue a step (yielded), the youngest two are
        // new; one more request for a yielded key does not move it ahead.
        queue.enqueue(ids[3]);
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.enqueue_yielded(ids[0]);
        queue.enqueue_yielded(ids[1]);
        queue.enqueue(ids[2]);
        queue.enqueue_yielded(ids[0]);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let_run(&gate, &mut done_rx, 4).await;
        let ran = starts(&log);
        assert_eq!(ran, [ids[3], ids[2], ids[0], ids[1]]);
    }

    #[tokio::test]
    async fn an_event_moves_a_yielded_key_ahead() {
        let (queue, log, gate, mut done_rx) = gated_queue(1);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        queue.enqueue(ids[2]);
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.enqueue_yielded(ids[0]);
        queue.enqueue(ids[1]);
        queue.enqueue(ids[0]);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let_run(&gate, &mut done_rx, 3).await;
        let ran = starts(&log);
        assert_eq!(ran, [ids[2], ids[0], ids[1]]);
    }

    #[tokio::test]
    async fn concurrency_is_bounded() {
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let queue = {
            let running = Arc::clone(&running);
            let peak = Arc::clone(&peak);
            Queue::start(2, CancellationToken::new(), move |_| {
                let running = Arc::clone(&running);
                let peak = Arc::clone(&peak);
                let done = done_tx.clone();
                async move {
                    let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = done.send(());
                    Next::Done
                }
            })
        };
        for _ in 0..10 {
            queue.enqueue(Uuid::new_v4());
        }
        for _ in 0..10 {
            done_rx.recv().await;
        }
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_run_that_panics_is_retried() {
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let queue = {
            let runs = Arc::clone(&runs);
            Queue::start(1, CancellationToken::new(), move |_| {
                let runs = Arc::clone(&runs);
                let done = done_tx.clone();
                async move {
                    if runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                        panic!("first run panics");
                    }
                    let _ = done.send(());
                    Next::Done
                }
            })
        };
        queue.enqueue(Uuid::new_v4());
        let second = tokio::time::timeout(Duration::from_secs(60), done_rx.recv()).await;
        assert!(second.is_ok(), "the key never ran again after its panic");
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_stopped_queue_starts_nothing_and_is_drained_when_its_runs_end() {
        let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let stop = CancellationToken::new();
        let queue = {
            let started = Arc::clone(&started);
            let gate = Arc::clone(&gate);
            Queue::start(1, stop.clone(), move |_| {
                let started = Arc::clone(&started);
                let gate = Arc::clone(&gate);
                async move {
                    started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    gate.notified().await;
                    Next::Done
                }
            })
        };
        queue.enqueue(Uuid::new_v4());
        // Waiting for the one permit.
        queue.enqueue(Uuid::new_v4());
        tokio::time::sleep(Duration::from_millis(20)).await;
        stop.cancel();
        queue.enqueue(Uuid::new_v4());
        tokio::time::sleep(Duration::from_millis(20)).await;
        let drained = tokio::time::timeout(Duration::from_millis(50), queue.drained()).await;
        assert!(drained.is_err(), "drained while a run was in flight");
        gate.notify_one();
        tokio::time::timeout(Duration::from_secs(5), queue.drained())
            .await
            .expect("never drained after its last run ended");
        assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn delayed_requeue_runs_after_the_delay() {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let queue = Queue::start(1, CancellationToken::new(), move |id| {
            let done = done_tx.clone();
            async move {
                let _ = done.send(id);
                Next::Done
            }
        });
        let id = Uuid::new_v4();
        queue.enqueue_after(id, Duration::from_millis(30));
        let got = tokio::time::timeout(Duration::from_secs(5), done_rx.recv()).await;
        assert_eq!(got.ok().flatten(), Some(id));
    }
}
