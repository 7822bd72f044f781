/**
 * The rooms of docs/ARCHITECTURE.md as rules: `npm run check:deps` (CI runs it). A new
 * import across a wall fails here before it lands; move the code to the right room instead.
 */

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "core-is-pure",
      comment: "src/core is runtime-neutral (the edge and the bridge share it): it imports only itself and Web-standard libraries.",
      severity: "error",
      from: { path: "^src/core/" },
      to: { pathNot: "^src/core/|^node_modules/(zod|jose|postal-mime|mustache)/" },
    },
    {
      name: "core-no-platform",
      comment: "No Node, Workers or framework module in src/core.",
      severity: "error",
      from: { path: "^src/core/" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "core-no-platform-packages",
      severity: "error",
      from: { path: "^src/core/" },
      to: { path: "^node_modules/(@cloudflare/|hono|wrangler|miniflare)" },
    },
    {
      name: "webhooks-verify-and-normalize",
      comment: "src/webhooks verifies and normalizes: no state, no queues, no sending.",
      severity: "error",
      from: { path: "^src/webhooks/" },
      to: { path: "^src/", pathNot: "^src/(core|webhooks)/" },
    },
    {
      name: "state-owns-state",
      comment:
        "Durable Objects import core only (and each other's types), and the edge's one bridge client (channels/bridge.ts: a signed POST, no state) for the report mail an object sends.",
      severity: "error",
      from: { path: "^src/state/" },
      to: { path: "^src/", pathNot: "^src/(core|state)/|^src/channels/bridge\\.ts$" },
    },
    {
      name: "channels-send",
      comment: "Channel senders build, send and map outcomes: core only.",
      severity: "error",
      from: { path: "^src/channels/" },
      to: { path: "^src/", pathNot: "^src/(core|channels)/" },
    },
    {
      name: "api-not-channels",
      comment: "Routes accept and enqueue; sending is the queue consumers' job.",
      severity: "error",
      from: { path: "^src/api/", pathNot: "^src/api/bridge-health\\.ts$" },
      to: { path: "^src/(channels|queues|containers)/" },
    },
    {
      name: "api-bridge-health-reads-only",
      comment: "GET /v1/bridge/health reads the bridge's health through its one client, and nothing else of channels.",
      severity: "error",
      from: { path: "^src/api/bridge-health\\.ts$" },
      to: { path: "^src/(channels|queues|containers)/", pathNot: "^src/channels/bridge\\.ts$" },
    },
    {
      name: "dashboard-through-the-api",
      comment: "src/dashboard reads and writes through the public API in process: core and api only, never state or channels directly.",
      severity: "error",
      from: { path: "^src/dashboard/" },
      to: { path: "^src/", pathNot: "^src/(core|api|dashboard)/" },
    },
    {
      name: "queues-not-api",
      severity: "error",
      from: { path: "^src/queues/" },
      to: { path: "^src/(api|webhooks|containers)/" },
    },
    {
      name: "src-not-outside",
      comment: "The Worker never imports the bridge, the sandbox, tests or benchmarks.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(bridge|sandbox|test|bench)/" },
    },
    {
      name: "bridge-only-core",
      comment: "The bridge shares src/core with the edge and nothing else of src/.",
      severity: "error",
      from: { path: "^bridge/" },
      to: { path: "^(src/(?!core/)|sandbox/|test/|bench/)" },
    },
    {
      name: "sandbox-independent",
      comment: "Simulators verify with independent libraries: a bug of ours cannot hide behind the same bug in the simulator.",
      severity: "error",
      from: { path: "^sandbox/" },
      to: { path: "^(src|bridge|test|bench)/" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: { path: "^(src|bridge|sandbox)/" },
      to: { circular: true },
    },
    {
      name: "not-to-dev-dependency",
      comment: "What ships (the Worker, the bridge image) may not need a devDependency.",
      severity: "error",
      from: { path: "^(src|bridge/src)/" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(\\.wrangler|\\.sandbox|dist|worker-configuration\\.d\\.ts)" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".js", ".d.ts"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
