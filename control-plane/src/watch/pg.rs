//! Cross-process change notification on PostgreSQL (`LISTEN`).

use std::{sync::Arc, time::Duration};

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::persistence::{Availability, CHANGES_CHANNEL};

/// Pause before connecting the listener again after an error.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Listens for changes committed by any process on `pool`'s database and
/// signals `wake` for each, until `cancel`. The listener reconnects by
/// itself; after a reconnection it signals `wake` too, because
/// notifications sent meanwhile are lost and the hub must re-read the log.
/// A lost connection is also the first sign of a database outage: it is
/// reported to `availability` (health turns NOT_SERVING) even when no call
/// is being made.
pub fn spawn_listener(
    pool: PgPool,
    wake: Arc<Notify>,
    availability: Availability,
    cancel: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(err) => {
                    warn!(error = %err, "cannot connect change listener; retrying");
                    availability.mark_down(&err);
                    tokio::select! {
                        () = tokio::time::sleep(RECONNECT_AFTER) => continue,
                        () = cancel.cancelled() => return,
                    }
                }
            };
            if let Err(err) = listener.listen(CHANGES_CHANNEL).await {
                warn!(error = %err, "cannot LISTEN for changes; retrying");
                tokio::select! {
                    () = tokio::time::sleep(RECONNECT_AFTER) => continue,
                    () = cancel.cancelled() => return,
                }
            }
            info!(
                channel = CHANGES_CHANNEL,
                "listening for changes from other replicas"
            );
            // Anything committed before LISTEN took effect is read now.
            wake.notify_one();
            loop {
                tokio::select! {
                    received = listener.try_recv() => match received {
                        Ok(Some(_)) => wake.notify_one(),
                        Ok(None) => {
                            warn!("change listener lost its connection; reconnecting");
                            wake.notify_one();
                        }
                        Err(err) => {
                            warn!(error = %err, "change listener failed; reconnecting");
                            availability.mark_down(&err);
                            wake.notify_one();
                            break;
                        }
                    },
                    () = cancel.cancelled() => return,
                }
            }
        }
    });
}
