/** The Hono environment of every route: the Worker's bindings and the authenticated account. */
export type AppEnv = { Bindings: Env; Variables: { account: string } };
