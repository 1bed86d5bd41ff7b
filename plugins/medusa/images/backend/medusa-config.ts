import { defineConfig, loadEnv } from "@medusajs/framework/utils"

loadEnv(process.env.NODE_ENV || "development", process.cwd())

// Configuration comes from the environment the chart sets: passwords arrive
// in their own variables (from Kubernetes Secrets) and URLs are assembled
// here, so no Secret ever holds a whole connection string.

const production = process.env.NODE_ENV === "production"

/** A variable that must be set in production (the build runs without it). */
function setting(name: string, developmentDefault: string): string {
  const value = process.env[name]
  if (value) {
    return value
  }
  if (production) {
    throw new Error(`${name} must be set`)
  }
  return developmentDefault
}

function databaseUrl(): string {
  if (process.env.DATABASE_URL) {
    return process.env.DATABASE_URL
  }
  const user = encodeURIComponent(process.env.DB_USER || "medusa")
  const password = encodeURIComponent(setting("DB_PASSWORD", "medusa"))
  const host = process.env.DB_HOST || "localhost"
  const port = process.env.DB_PORT || "5432"
  const name = process.env.DB_NAME || "medusa"
  // In-cluster PostgreSQL without TLS; the NetworkPolicy keeps it private.
  return `postgres://${user}:${password}@${host}:${port}/${name}?sslmode=disable`
}

function redisUrl(): string | undefined {
  if (process.env.REDIS_URL) {
    return process.env.REDIS_URL
  }
  if (!process.env.REDIS_HOST) {
    return undefined
  }
  const password = process.env.REDIS_PASSWORD
    ? `:${encodeURIComponent(process.env.REDIS_PASSWORD)}@`
    : ""
  return `redis://${password}${process.env.REDIS_HOST}:${process.env.REDIS_PORT || "6379"}`
}

const REDIS_URL = redisUrl()

// With Redis: the production modules (cache, event bus, workflow engine,
// locking). Without (a local `medusa develop`): Medusa's in-memory defaults.
const redisModules = REDIS_URL
  ? [
      {
        resolve: "@medusajs/medusa/cache-redis",
        options: { redisUrl: REDIS_URL },
      },
      {
        resolve: "@medusajs/medusa/event-bus-redis",
        options: { redisUrl: REDIS_URL },
      },
      {
        resolve: "@medusajs/medusa/workflow-engine-redis",
        options: { redis: { redisUrl: REDIS_URL } },
      },
      {
        resolve: "@medusajs/medusa/locking",
        options: {
          providers: [
            {
              resolve: "@medusajs/medusa/locking-redis",
              id: "locking-redis",
              is_default: true,
              options: { redisUrl: REDIS_URL },
            },
          ],
        },
      },
    ]
  : []

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: databaseUrl(),
    redisUrl: REDIS_URL,
    workerMode:
      (process.env.MEDUSA_WORKER_MODE as "shared" | "worker" | "server") ||
      "shared",
    http: {
      storeCors: setting("STORE_CORS", "http://localhost:8000"),
      adminCors: setting("ADMIN_CORS", "http://localhost:9000"),
      authCors: setting("AUTH_CORS", "http://localhost:8000,http://localhost:9000"),
      jwtSecret: setting("JWT_SECRET", "supersecret"),
      cookieSecret: setting("COOKIE_SECRET", "supersecret"),
    },
    // Secure session cookies need HTTPS end to end; a local store without
    // TLS sets COOKIE_SECURE=false so the admin can log in over HTTP.
    cookieOptions: {
      secure: production && process.env.COOKIE_SECURE !== "false",
    },
  },
  admin: {
    // Served by the backend at /app; API calls go to the same origin.
    disable: process.env.DISABLE_MEDUSA_ADMIN === "true",
    path: "/app",
  },
  modules: redisModules,
})
