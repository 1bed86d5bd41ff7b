//! Cross-process notification on PostgreSQL (`LISTEN`): committed store
//! changes, and replicas that shut down and hand their work back.

use std::{sync::Arc, time::Duration};

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::persistence::{Availability, CHANGES_CHANNEL};

/// Pause before connecting the listener again after an error.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// Where a replica that shuts down says so (the payload is its id), after
/// it has released its leases: the others queue every store that needs
/// work again and so take its stores over at once.
pub const HANDOFF_CHANNEL: &str = "storeplane_handoff";

/// Tells the other replicas that `replica` has stopped and released its
/// leases (see [`HANDOFF_CHANNEL`]).
pub async fn hand_back(pool: &PgPool, replica: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(HANDOFF_CHANNEL)
        .bind(replica)
        .execute(pool)
        .await?;
    Ok(())
}

/// Listens for changes committed by any process on `pool`'s database and
/// signals `wake` for each, and `handed_back` for each replica that hands
/// its work back, until `cancel`. The listener reconnects by itself; after
/// a reconnection it signals `wake` too, because notifications sent
/// meanwhile are lost and the hub must re-read the log (a lost hand-back
/// costs only time: those stores are taken over when their leases lapse).
/// A lost connection is also the first sign of a database outage: it is
/// reported to `availability` (health turns NOT_SERVING) even when no call
/// is being made.
pub fn spawn_listener(
    pool: PgPool,
    wake: Arc<Notify>,
    handed_back: Arc<Notify>,
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
            if let Err(err) = listener
                .listen_all([CHANGES_CHANNEL, HANDOFF_CHANNEL])
                .await
            {
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
                        Ok(Some(notification)) if notification.channel() == HANDOFF_CHANNEL => {
                            handed_back.notify_one();
                        }
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
