// GET /api/storeplane/health: the storefront's Next.js server is up.
// Outside the region middleware, so probes get a 200, never a redirect.
export const dynamic = "force-dynamic"

export function GET() {
  return new Response("ok\n", { headers: { "content-type": "text/plain" } })
}
