// The slice of autocannon 9 the benchmark uses (the package ships no types).
declare module "autocannon" {
  type Request = { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer };
  type Context = Record<string, unknown>;
  type Options = {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    timeout?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    requests?: Array<
      Request & {
        setupRequest?: (req: Request, context: Context) => Request;
        onResponse?: (status: number, body: string, context: Context) => void;
      }
    >;
  };
  type Histogram = { average: number; p50: number; p99: number; max: number; total: number };
  export type Result = {
    duration: number;
    "2xx": number;
    non2xx: number;
    errors: number;
    timeouts: number;
    resets: number;
    statusCodeStats: Record<string, { count: number }>;
    latency: Histogram;
    requests: Histogram;
  };
  export default function autocannon(options: Options): Promise<Result>;
}
