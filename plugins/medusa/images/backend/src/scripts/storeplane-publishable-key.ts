// Makes the storefront's publishable API key exist with the token the
// storefront was given (PUBLISHABLE_KEY, "pk_" + a value the platform
// generated into a Kubernetes Secret), linked to the default sales channel.
//
// Why a token we choose: the storefront reads it from the same Secret at
// start, so nothing has to carry a key from this Job to the storefront (no
// RBAC, no admin credentials in the storefront). Medusa generates tokens
// itself and offers no API to set one, so after creating the key through
// the workflow we write the token column of `api_key` directly; publishable
// tokens are stored in clear (secret keys are hashed), exactly as
// create-medusa-app reads them.
//
// Idempotent: run on every init; converges title, link and token.
//
//   npx medusa exec ./src/scripts/storeplane-publishable-key.js

import type { ExecArgs } from "@medusajs/framework/types"
import { ContainerRegistrationKeys, Modules } from "@medusajs/framework/utils"
import {
  createApiKeysWorkflow,
  linkSalesChannelsToApiKeyWorkflow,
} from "@medusajs/medusa/core-flows"

const TITLE = "Storefront (storeplane)"

/** How Medusa shows a key it does not reveal: first 6 and last 3 characters. */
function redact(token: string): string {
  return [token.slice(0, 6), token.slice(-3)].join("***")
}

export default async function storeplanePublishableKey({ container }: ExecArgs) {
  const token = process.env.PUBLISHABLE_KEY
  if (!token || !token.startsWith("pk_") || token.length < 20) {
    throw new Error("PUBLISHABLE_KEY must be set to pk_ and at least 17 more characters")
  }
  const logger = container.resolve(ContainerRegistrationKeys.LOGGER)
  const query = container.resolve(ContainerRegistrationKeys.QUERY)
  const knex = container.resolve(ContainerRegistrationKeys.PG_CONNECTION)
  const apiKeyModule = container.resolve(Modules.API_KEY)
  const storeModule = container.resolve(Modules.STORE)

  const [store] = await storeModule.listStores()
  const salesChannelId = store.default_sales_channel_id
  if (!salesChannelId) {
    throw new Error("the store has no default sales channel; run storeplane-seed first")
  }

  let [key] = await apiKeyModule.listApiKeys({ title: TITLE, type: "publishable" })
  if (!key) {
    const { result } = await createApiKeysWorkflow(container).run({
      input: { api_keys: [{ title: TITLE, type: "publishable", created_by: "storeplane" }] },
    })
    key = result[0]
    logger.info(`storeplane: created publishable key ${key.id}`)
  }

  const {
    data: [linked],
  } = await query.graph({
    entity: "api_key",
    fields: ["id", "revoked_at", "sales_channels_link.sales_channel_id"],
    filters: { id: key.id },
  })
  const links: ({ sales_channel_id?: string | null } | null | undefined)[] =
    linked?.sales_channels_link ?? []
  if (!links.some((l) => l?.sales_channel_id === salesChannelId)) {
    await linkSalesChannelsToApiKeyWorkflow(container).run({
      input: { id: key.id, add: [salesChannelId] },
    })
    logger.info("storeplane: publishable key linked to the default sales channel")
  }
  if (linked?.revoked_at) {
    // Revoked by hand in the admin: un-revoke, the storefront depends on it.
    await knex("api_key").where({ id: key.id }).update({ revoked_at: null, revoked_by: null })
    logger.warn("storeplane: the storefront's publishable key was revoked; restored")
  }

  const row = await knex("api_key").where({ id: key.id }).first("token")
  if (row?.token !== token) {
    await knex("api_key").where({ id: key.id }).update({ token, redacted: redact(token) })
    logger.info("storeplane: publishable key token set from the store's Secret")
  } else {
    logger.info("storeplane: publishable key up to date")
  }
}
