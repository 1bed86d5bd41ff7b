// Pins the starter's @medusajs/* dependencies to one Medusa version, as
// create-medusa-app's updatePackageVersions does (@medusajs/ui follows its
// own versioning and is left alone), and drops the packageManager field so
// npm installs it.
//
//   node pin-medusa-version.mjs package.json 2.21.2
import { readFileSync, writeFileSync } from "node:fs"

const [file, version] = process.argv.slice(2)
if (!file || !/^\d+\.\d+\.\d+$/.test(version ?? "")) {
  console.error("usage: pin-medusa-version.mjs PACKAGE_JSON X.Y.Z")
  process.exit(2)
}
const pkg = JSON.parse(readFileSync(file, "utf8"))
for (const section of ["dependencies", "devDependencies"]) {
  for (const name of Object.keys(pkg[section] ?? {})) {
    if (name.startsWith("@medusajs/") && name !== "@medusajs/ui") {
      pkg[section][name] = version
    }
  }
}
delete pkg.packageManager
writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n")
console.log(`pinned @medusajs/* to ${version} in ${file}`)
