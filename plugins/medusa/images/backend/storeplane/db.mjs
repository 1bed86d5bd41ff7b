#!/usr/bin/env node
// Small database checks for the chart's init Job (files/init.sh) and the
// backend's init container, without booting Medusa (seconds, not a minute).
//
//   node storeplane/db.mjs ping                  exit 0 when PostgreSQL answers
//   node storeplane/db.mjs mark-migrated VER     record that VER's migrations ran
//   node storeplane/db.mjs wait-migrated VER     block until they have
//   node storeplane/db.mjs admin-state EMAIL     print complete | absent | partial
//   node storeplane/db.mjs drop-orphan-admin EMAIL
//                                                soft-delete a user row left
//                                                without login (partial state)
//
// Connection: DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD.
import pg from "pg"

const MARKER_TABLE_DDL = `CREATE TABLE IF NOT EXISTS storeplane_setup (
  key text PRIMARY KEY,
  value text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)`

function client() {
  return new pg.Client({
    host: process.env.DB_HOST || "localhost",
    port: Number(process.env.DB_PORT || 5432),
    database: process.env.DB_NAME || "medusa",
    user: process.env.DB_USER || "medusa",
    password: process.env.DB_PASSWORD,
    connectionTimeoutMillis: 5000,
  })
}

async function withClient(work) {
  const db = client()
  await db.connect()
  try {
    return await work(db)
  } finally {
    await db.end()
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function migratedVersion(db) {
  const table = await db.query("SELECT to_regclass('storeplane_setup') AS t")
  if (!table.rows[0].t) {
    return undefined
  }
  const row = await db.query("SELECT value FROM storeplane_setup WHERE key = 'migrated'")
  return row.rows[0]?.value
}

async function adminState(db, email) {
  // Medusa's user module (table "user") and auth module (provider_identity):
  // `medusa user` creates the first, then registers the second.
  const user = await db.query(
    'SELECT 1 FROM "user" WHERE email = $1 AND deleted_at IS NULL',
    [email]
  )
  const identity = await db.query(
    "SELECT 1 FROM provider_identity WHERE provider = 'emailpass' AND entity_id = $1 AND deleted_at IS NULL",
    [email]
  )
  const hasUser = user.rowCount > 0
  const hasIdentity = identity.rowCount > 0
  if (hasUser && hasIdentity) return "complete"
  if (!hasUser && !hasIdentity) return "absent"
  return "partial"
}

// The administrator's address is tenant input: it comes from the
// environment, never from the command line, where it could pass for an option.
function adminEmail() {
  const email = process.env.ADMIN_EMAIL
  if (!email) throw new Error("ADMIN_EMAIL is not set")
  return email
}

const [command, argument] = process.argv.slice(2)
try {
  switch (command) {
    case "ping":
      await withClient((db) => db.query("SELECT 1"))
      break
    case "mark-migrated":
      if (!argument) throw new Error("mark-migrated needs a version")
      await withClient(async (db) => {
        await db.query(MARKER_TABLE_DDL)
        await db.query(
          `INSERT INTO storeplane_setup (key, value) VALUES ('migrated', $1)
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
          [argument]
        )
      })
      break
    case "wait-migrated": {
      if (!argument) throw new Error("wait-migrated needs a version")
      let said = false
      for (;;) {
        try {
          const version = await withClient(migratedVersion)
          if (version === argument) break
          if (!said) {
            console.log(`waiting for the init Job to migrate the database to ${argument} (now: ${version ?? "none"})`)
            said = true
          }
        } catch (error) {
          if (!said) {
            console.log(`waiting for PostgreSQL: ${error.message}`)
            said = true
          }
        }
        await sleep(5000)
      }
      console.log(`database migrated to ${argument}`)
      break
    }
    case "admin-state": {
      const email = adminEmail()
      console.log(await withClient((db) => adminState(db, email)))
      break
    }
    case "drop-orphan-admin": {
      const email = adminEmail()
      await withClient(async (db) => {
        if ((await adminState(db, email)) !== "partial") return
        await db.query('UPDATE "user" SET deleted_at = now() WHERE email = $1 AND deleted_at IS NULL', [email])
        await db.query(
          "UPDATE provider_identity SET deleted_at = now() WHERE provider = 'emailpass' AND entity_id = $1 AND deleted_at IS NULL",
          [email]
        )
      })
      break
    }
    default:
      throw new Error(`unknown command ${command ?? "(none)"}`)
  }
} catch (error) {
  console.error(`storeplane/db.mjs ${command}: ${error.message}`)
  process.exit(1)
}
