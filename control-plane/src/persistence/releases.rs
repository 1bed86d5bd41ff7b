//! Recorded chart revisions (the `releases` table), keyed by store id and
//! release name; a store's rows go with its record (`remove`).

use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};

use super::entities::releases;
use super::repo::{db, now};
pub use crate::domain::release::{ObjectRef, Revision};
use crate::domain::{Error, Result, ports::ReleaseStore};

/// Release revisions over sea-orm.
pub struct ReleaseRepository {
    db: DatabaseConnection,
}

fn decode(row: releases::Model) -> Result<Revision> {
    Ok(Revision {
        values: serde_json::from_str(&row.values)
            .map_err(|e| Error::internal("decode release values", e))?,
        objects: serde_json::from_str(&row.objects)
            .map_err(|e| Error::internal("decode release objects", e))?,
        store_id: row.store_id,
        namespace: row.namespace,
        name: row.name,
        revision: row.revision,
        chart: row.chart,
        chart_version: row.chart_version,
        chart_dir: row.chart_dir,
        digest: row.digest,
    })
}

impl ReleaseRepository {
    /// Releases over `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A store's release revisions, newest first.
fn newest_first(store_id: &str, name: &str) -> sea_orm::Select<releases::Entity> {
    releases::Entity::find()
        .filter(releases::Column::StoreId.eq(store_id))
        .filter(releases::Column::Name.eq(name))
        .order_by_desc(releases::Column::Revision)
}

#[async_trait::async_trait]
impl ReleaseStore for ReleaseRepository {
    /// Every revision of a store's release, newest first.
    async fn history(&self, store_id: &str, name: &str) -> Result<Vec<Revision>> {
        newest_first(store_id, name)
            .all(&self.db)
            .await
            .map_err(db("read release history"))?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// The newest revision of a store's release: one row, not the history
    /// (every provision reads it, and every re-apply adds a revision).
    async fn latest(&self, store_id: &str, name: &str) -> Result<Option<Revision>> {
        newest_first(store_id, name)
            .one(&self.db)
            .await
            .map_err(db("read latest release"))?
            .map(decode)
            .transpose()
    }

    /// Records a revision.
    async fn record(&self, revision: &Revision) -> Result<()> {
        let row = releases::ActiveModel {
            store_id: Set(revision.store_id.clone()),
            namespace: Set(revision.namespace.clone()),
            name: Set(revision.name.clone()),
            revision: Set(revision.revision),
            chart: Set(revision.chart.clone()),
            chart_version: Set(revision.chart_version.clone()),
            chart_dir: Set(revision.chart_dir.clone()),
            values: Set(revision.values.to_string()),
            digest: Set(revision.digest.clone()),
            objects: Set(serde_json::to_string(&revision.objects)
                .map_err(|e| Error::internal("encode objects", e))?),
            created_at: Set(now()),
            ..Default::default()
        };
        releases::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(db("record release"))?;
        Ok(())
    }

    /// Forgets a store's release (after uninstalling it).
    async fn forget(&self, store_id: &str, name: &str) -> Result<()> {
        releases::Entity::delete_many()
            .filter(releases::Column::StoreId.eq(store_id))
            .filter(releases::Column::Name.eq(name))
            .exec(&self.db)
            .await
            .map_err(db("delete release"))?;
        Ok(())
    }
}
