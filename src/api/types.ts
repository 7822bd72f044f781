import type { KeyGrant } from "../core/config/keys.ts";

/** The Hono environment of every route: the Worker's bindings, the authenticated account and its key. */
export type AppEnv = { Bindings: Env; Variables: { account: string; key: KeyGrant } };
