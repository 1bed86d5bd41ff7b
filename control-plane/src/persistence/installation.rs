//! The installation's identity (see the `installation` migration).

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::entities::installation;
use super::repo::{db, now};
use crate::domain::{Error, Result};

/// This installation's id: read from the database, or generated and stored
/// on the first start of an empty database. Concurrent first starts (several
/// replicas) agree: the row's primary key lets one insert win and everyone
/// reads that row.
pub async fn installation_id(conn: &DatabaseConnection) -> Result<Uuid> {
    let row = installation::ActiveModel {
        singleton: Set(1),
        id: Set(Uuid::new_v4().to_string()),
        created_at: Set(now()),
    };
    installation::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec(conn)
        .await
        .map_err(db("create installation id"))?;
    let stored = installation::Entity::find_by_id(1)
        .one(conn)
        .await
        .map_err(db("read installation id"))?
        .ok_or_else(|| Error::internal("read installation id", "the row is missing"))?;
    Uuid::parse_str(&stored.id).map_err(|e| Error::internal("parse installation id", e))
}
