// Seeds a storeplane store ONCE (guarded by rows in `storeplane_setup`):
//
// - `seeded-base`: store currency, the region (with the manual payment
//   provider `pp_system_default`), tax regions, a stock location linked to
//   the manual fulfillment provider, a fulfillment set with free standard
//   and paid express shipping, and the default sales channel. Always: an
//   order cannot be completed without them.
// - `seeded-demo`: demo categories and products, when SEED_DEMO_DATA=true.
//
// Each part looks before it creates, so a run that died half way converges
// when the init Job retries; the markers stop a later run from re-creating
// what a merchant deliberately deleted.
//
// Environment: REGION_NAME, REGION_CURRENCY (e.g. eur), REGION_COUNTRIES
// (comma-separated ISO 3166-1 alpha-2, lower case), SEED_DEMO_DATA.
//
//   npx medusa exec ./src/scripts/storeplane-seed.js

import type { ExecArgs } from "@medusajs/framework/types"
import {
  ContainerRegistrationKeys,
  Modules,
  ProductStatus,
} from "@medusajs/framework/utils"
import {
  createProductCategoriesWorkflow,
  createProductsWorkflow,
  createRegionsWorkflow,
  createSalesChannelsWorkflow,
  createShippingOptionsWorkflow,
  createShippingProfilesWorkflow,
  createStockLocationsWorkflow,
  createTaxRegionsWorkflow,
  linkSalesChannelsToStockLocationWorkflow,
  updateStoresWorkflow,
} from "@medusajs/medusa/core-flows"

import { ensureMarkerTable, getMarker, setMarker } from "./lib/markers"

const SALES_CHANNEL = "Default Sales Channel"
const STOCK_LOCATION = "Main Warehouse"
const SHIPPING_PROFILE = "Default Shipping Profile"

type Region = { name: string; currency: string; countries: string[] }

function regionFromEnv(): Region {
  const name = process.env.REGION_NAME
  const currency = process.env.REGION_CURRENCY?.toLowerCase()
  const countries = (process.env.REGION_COUNTRIES || "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter(Boolean)
  if (!name || !currency || countries.length === 0) {
    throw new Error("REGION_NAME, REGION_CURRENCY and REGION_COUNTRIES must be set")
  }
  return { name, currency, countries }
}

export default async function storeplaneSeed({ container }: ExecArgs) {
  const logger = container.resolve(ContainerRegistrationKeys.LOGGER)
  const knex = container.resolve(ContainerRegistrationKeys.PG_CONNECTION)
  const region = regionFromEnv()
  await ensureMarkerTable(knex)

  if (await getMarker(knex, "seeded-base")) {
    logger.info("storeplane: base data already seeded, skipping")
  } else {
    const regionId = await seedBase(container, region)
    await setMarker(knex, "seeded-base", regionId)
    logger.info(`storeplane: base data seeded (region ${region.name})`)
  }

  if (process.env.SEED_DEMO_DATA !== "true") {
    logger.info("storeplane: demo products not requested")
  } else if (await getMarker(knex, "seeded-demo")) {
    logger.info("storeplane: demo products already seeded, skipping")
  } else {
    const count = await seedDemo(container, region)
    await setMarker(knex, "seeded-demo", String(count))
    logger.info(`storeplane: ${count} demo products seeded`)
  }
}

type Container = ExecArgs["container"]

async function seedBase(container: Container, region: Region): Promise<string> {
  const logger = container.resolve(ContainerRegistrationKeys.LOGGER)
  const query = container.resolve(ContainerRegistrationKeys.QUERY)
  const link = container.resolve(ContainerRegistrationKeys.LINK)
  const storeModule = container.resolve(Modules.STORE)
  const salesChannelModule = container.resolve(Modules.SALES_CHANNEL)
  const regionModule = container.resolve(Modules.REGION)
  const taxModule = container.resolve(Modules.TAX)
  const stockLocationModule = container.resolve(Modules.STOCK_LOCATION)
  const fulfillmentModule = container.resolve(Modules.FULFILLMENT)

  const [store] = await storeModule.listStores()

  logger.info("storeplane: sales channel")
  let [salesChannel] = await salesChannelModule.listSalesChannels({ name: SALES_CHANNEL })
  if (!salesChannel) {
    const { result } = await createSalesChannelsWorkflow(container).run({
      input: { salesChannelsData: [{ name: SALES_CHANNEL }] },
    })
    salesChannel = result[0]
  }

  logger.info(`storeplane: region ${region.name} (${region.currency})`)
  let [medusaRegion] = await regionModule.listRegions({ name: region.name })
  if (!medusaRegion) {
    const { result } = await createRegionsWorkflow(container).run({
      input: {
        regions: [
          {
            name: region.name,
            currency_code: region.currency,
            countries: region.countries,
            // The manual payment provider: orders complete without a PSP.
            payment_providers: ["pp_system_default"],
          },
        ],
      },
    })
    medusaRegion = result[0]
  }

  await updateStoresWorkflow(container).run({
    input: {
      selector: { id: store.id },
      update: {
        supported_currencies: [{ currency_code: region.currency, is_default: true }],
        default_sales_channel_id: salesChannel.id,
        default_region_id: medusaRegion.id,
      },
    },
  })

  logger.info("storeplane: tax regions")
  const existingTax = await taxModule.listTaxRegions({ country_code: region.countries })
  const missingTax = region.countries.filter(
    (c) => !existingTax.some((t) => t.country_code === c && !t.parent_id)
  )
  if (missingTax.length) {
    await createTaxRegionsWorkflow(container).run({
      input: missingTax.map((country_code) => ({ country_code, provider_id: "tp_system" })),
    })
  }

  logger.info("storeplane: stock location")
  let [location] = await stockLocationModule.listStockLocations({ name: STOCK_LOCATION })
  if (!location) {
    const { result } = await createStockLocationsWorkflow(container).run({
      input: {
        locations: [
          {
            name: STOCK_LOCATION,
            address: { address_1: "", city: "", country_code: region.countries[0].toUpperCase() },
          },
        ],
      },
    })
    location = result[0]
  }
  await updateStoresWorkflow(container).run({
    input: { selector: { id: store.id }, update: { default_location_id: location.id } },
  })

  logger.info("storeplane: shipping")
  let [profile] = await fulfillmentModule.listShippingProfiles({ type: "default" })
  if (!profile) {
    const { result } = await createShippingProfilesWorkflow(container).run({
      input: { data: [{ name: SHIPPING_PROFILE, type: "default" }] },
    })
    profile = result[0]
  }

  const setName = `${region.name} delivery`
  let [fulfillmentSet] = await fulfillmentModule.listFulfillmentSets(
    { name: setName },
    { relations: ["service_zones"] }
  )
  if (!fulfillmentSet) {
    fulfillmentSet = await fulfillmentModule.createFulfillmentSets({
      name: setName,
      type: "shipping",
      service_zones: [
        {
          name: region.name,
          geo_zones: region.countries.map((country_code) => ({
            country_code,
            type: "country" as const,
          })),
        },
      ],
    })
  }
  const serviceZoneId = fulfillmentSet.service_zones[0].id

  // Links of the stock location: fulfillment provider, fulfillment set,
  // sales channel. Read first, create what is missing.
  const {
    data: [linked],
  } = await query.graph({
    entity: "stock_location",
    fields: ["id", "fulfillment_providers.id", "fulfillment_sets.id", "sales_channels.id"],
    filters: { id: location.id },
  })
  const has = (list: unknown, id: string) =>
    Array.isArray(list) && list.some((item: { id?: string } | null) => item?.id === id)
  if (!has(linked?.fulfillment_providers, "manual_manual")) {
    await link.create({
      [Modules.STOCK_LOCATION]: { stock_location_id: location.id },
      [Modules.FULFILLMENT]: { fulfillment_provider_id: "manual_manual" },
    })
  }
  if (!has(linked?.fulfillment_sets, fulfillmentSet.id)) {
    await link.create({
      [Modules.STOCK_LOCATION]: { stock_location_id: location.id },
      [Modules.FULFILLMENT]: { fulfillment_set_id: fulfillmentSet.id },
    })
  }
  if (!has(linked?.sales_channels, salesChannel.id)) {
    await linkSalesChannelsToStockLocationWorkflow(container).run({
      input: { id: location.id, add: [salesChannel.id] },
    })
  }

  const options = await fulfillmentModule.listShippingOptions({ service_zone: { id: serviceZoneId } })
  if (options.length === 0) {
    const storeRules = [
      { attribute: "enabled_in_store", value: "true", operator: "eq" as const },
      { attribute: "is_return", value: "false", operator: "eq" as const },
    ]
    const shippingOption = (name: string, code: string, description: string, amount: number) => ({
      name,
      price_type: "flat" as const,
      provider_id: "manual_manual",
      service_zone_id: serviceZoneId,
      shipping_profile_id: profile.id,
      type: { label: name, description, code },
      prices: [
        { currency_code: region.currency, amount },
        { region_id: medusaRegion.id, amount },
      ],
      rules: storeRules,
    })
    await createShippingOptionsWorkflow(container).run({
      input: [
        shippingOption("Standard Shipping", "standard", "Free, in 3-5 days.", 0),
        shippingOption("Express Shipping", "express", "In 24 hours.", 10),
      ],
    })
  }

  return medusaRegion.id
}

const DEMO_CATEGORIES = ["Shirts", "Sweatshirts", "Pants", "Merch"]

const DEMO_PRODUCTS = [
  { title: "Medusa T-Shirt", handle: "t-shirt", category: "Shirts", price: 15, sizes: ["S", "M", "L", "XL"] },
  { title: "Medusa Sweatshirt", handle: "sweatshirt", category: "Sweatshirts", price: 30, sizes: ["S", "M", "L", "XL"] },
  { title: "Medusa Sweatpants", handle: "sweatpants", category: "Pants", price: 25, sizes: ["S", "M", "L", "XL"] },
  { title: "Medusa Shorts", handle: "shorts", category: "Merch", price: 20, sizes: ["S", "M", "L", "XL"] },
]

// Prices are in major units (Medusa v2); rupees are scaled to a realistic level.
function priceIn(currency: string, base: number): number {
  return currency === "inr" ? base * 80 : base
}

async function seedDemo(container: Container, region: Region): Promise<number> {
  const productModule = container.resolve(Modules.PRODUCT)
  const fulfillmentModule = container.resolve(Modules.FULFILLMENT)
  const storeModule = container.resolve(Modules.STORE)
  const [store] = await storeModule.listStores()
  const [profile] = await fulfillmentModule.listShippingProfiles({ type: "default" })

  const categories = await productModule.listProductCategories({ name: DEMO_CATEGORIES })
  const missingCategories = DEMO_CATEGORIES.filter((n) => !categories.some((c) => c.name === n))
  if (missingCategories.length) {
    const { result } = await createProductCategoriesWorkflow(container).run({
      input: {
        product_categories: missingCategories.map((name) => ({ name, is_active: true })),
      },
    })
    categories.push(...result)
  }

  const existing = await productModule.listProducts({ handle: DEMO_PRODUCTS.map((p) => p.handle) })
  const missing = DEMO_PRODUCTS.filter((p) => !existing.some((e) => e.handle === p.handle))
  if (missing.length) {
    await createProductsWorkflow(container).run({
      input: {
        products: missing.map((p) => ({
          title: p.title,
          handle: p.handle,
          description: `${p.title}, a demo product seeded by storeplane.`,
          status: ProductStatus.PUBLISHED,
          category_ids: categories.filter((c) => c.name === p.category).map((c) => c.id),
          shipping_profile_id: profile?.id,
          weight: 400,
          options: [{ title: "Size", values: p.sizes }],
          variants: p.sizes.map((size) => ({
            title: size,
            sku: `${p.handle.toUpperCase()}-${size}`,
            options: { Size: size },
            // Demo stock is not tracked, so no inventory levels are needed.
            manage_inventory: false,
            prices: [{ amount: priceIn(region.currency, p.price), currency_code: region.currency }],
          })),
          sales_channels: store.default_sales_channel_id
            ? [{ id: store.default_sales_channel_id }]
            : [],
        })),
      },
    })
  }
  return DEMO_PRODUCTS.length
}
