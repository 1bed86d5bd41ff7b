//! sea-orm entities, one module per table (schema in `migrations/`).

/// `stores`.
pub mod stores {
    use sea_orm::entity::prelude::*;

    /// One store row; JSON columns are text for SQLite/PostgreSQL portability.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "stores")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub tenant_id: String,
        pub engine: String,
        pub config: String,
        pub phase: String,
        pub conditions: String,
        pub storefront_url: String,
        pub admin_url: String,
        pub generation: i64,
        pub observed_generation: i64,
        pub resource_version: i64,
        pub failure_reason: String,
        pub failure_message: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub engine_version: String,
        pub provisioning_since: Option<DateTimeUtc>,
        pub attempts: i32,
        /// Replica working on the store, until `lease_until`.
        pub lease_holder: String,
        pub lease_until: Option<DateTimeUtc>,
        /// JSON of the configuration before the last upgrade; empty: none.
        pub previous_config: String,
        /// Secret with the admin credentials, as the engine reported it; empty: none.
        pub credentials_secret: String,
        /// The owner paused the store.
        pub suspended: bool,
        /// JSON array of custom domains, in the owner's order.
        pub custom_domains: String,
        /// JSON of the backup or restore in flight; empty: none.
        pub operation: String,
        /// JSON of the backup schedule; empty: none.
        pub backup_schedule: String,
        /// The backup a clone started from; empty: not a clone.
        pub cloned_from: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `store_domains`: one row per custom domain; the primary key makes a
/// domain one store's.
pub mod store_domains {
    use sea_orm::entity::prelude::*;

    /// A custom domain and the store it belongs to.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "store_domains")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub domain: String,
        pub store_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `backups`: one row per backup, kept after its store is gone.
pub mod backups {
    use sea_orm::entity::prelude::*;

    /// One backup.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "backups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub store_id: String,
        pub store_name: String,
        pub tenant_id: String,
        pub engine: String,
        pub engine_version: String,
        /// JSON of the store's configuration when it was taken.
        pub config: String,
        pub phase: String,
        pub trigger: String,
        pub size_bytes: Option<i64>,
        pub sha256: Option<String>,
        pub message: String,
        pub failure_reason: Option<String>,
        pub created_at: DateTimeUtc,
        pub completed_at: Option<DateTimeUtc>,
        /// A scheduled backup's slot (unique).
        pub slot: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `store_events`.
pub mod store_events {
    use sea_orm::entity::prelude::*;

    /// One timeline entry.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "store_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub store_id: String,
        pub tenant_id: String,
        pub reason: String,
        pub message: String,
        pub outcome: String,
        pub duration_ms: i64,
        pub created_at: DateTimeUtc,
        pub trace_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `store_changes`.
pub mod store_changes {
    use sea_orm::entity::prelude::*;

    /// One change-log entry.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "store_changes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub store_id: String,
        pub tenant_id: String,
        pub change_type: String,
        pub snapshot: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `idempotency_keys`.
pub mod idempotency_keys {
    use sea_orm::entity::prelude::*;

    /// A remembered `request_id`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        pub request_hash: String,
        pub store_id: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `tenants`.
pub mod tenants {
    use sea_orm::entity::prelude::*;

    /// One tenant with its quota (NULL limits: unlimited).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub display_name: String,
        pub created_at: DateTimeUtc,
        pub max_stores: Option<i32>,
        pub max_concurrent_provisions: Option<i32>,
        /// JSON array of engine ids; empty: all.
        pub allowed_engines: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `tokens`.
pub mod tokens {
    use sea_orm::entity::prelude::*;

    /// One API token; only the secret's hash is stored.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub role: String,
        pub secret_hash: String,
        pub description: String,
        pub created_at: DateTimeUtc,
        pub expires_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `audit_log`.
pub mod audit_log {
    use sea_orm::entity::prelude::*;

    /// One audited call.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub created_at: DateTimeUtc,
        pub tenant_id: String,
        pub token_id: String,
        pub client_address: String,
        pub method: String,
        pub resource: String,
        pub parameters: String,
        pub outcome: String,
        pub message: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `releases`.
pub mod releases {
    use sea_orm::entity::prelude::*;

    /// One revision of a chart release.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "releases")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub store_id: String,
        pub namespace: String,
        pub name: String,
        pub revision: i32,
        pub chart: String,
        pub chart_version: String,
        pub chart_dir: String,
        /// JSON: the user values the revision was rendered with.
        pub values: String,
        pub digest: String,
        /// JSON array of `{apiVersion, kind, name}` applied.
        pub objects: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `installation`.
pub mod installation {
    use sea_orm::entity::prelude::*;

    /// The installation's identity (one row, `singleton = 1`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "installation")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub singleton: i32,
        pub id: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
