// The `storeplane_setup` table: one row per setup step that must happen only
// once (e.g. `seeded-base`), plus `migrated` = the Medusa version whose
// migrations ran. Also written by storeplane/db.mjs, with the same DDL.

import type { Knex } from "@medusajs/framework/mikro-orm/knex"

export const MARKER_TABLE_DDL = `CREATE TABLE IF NOT EXISTS storeplane_setup (
  key text PRIMARY KEY,
  value text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)`

export async function ensureMarkerTable(knex: Knex): Promise<void> {
  await knex.raw(MARKER_TABLE_DDL)
}

export async function getMarker(knex: Knex, key: string): Promise<string | undefined> {
  const row = await knex("storeplane_setup").where({ key }).first("value")
  return row?.value
}

export async function setMarker(knex: Knex, key: string, value: string): Promise<void> {
  await knex("storeplane_setup")
    .insert({ key, value, updated_at: knex.fn.now() })
    .onConflict("key")
    .merge()
}
