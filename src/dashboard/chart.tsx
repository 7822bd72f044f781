/** A small SVG chart of hourly counts, drawn on the server: no script, no chart library. */
import type { FC } from "hono/jsx";

const W = 240;
const H = 64;
const PAD = 12;

export const Spark: FC<{ label: string; hours: string[]; values: number[]; tone?: "ok" }> = ({ label, hours, values, tone }) => {
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? (W - 2) / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(1 + i * step).toFixed(1)},${(H - PAD - (v / max) * (H - PAD - 4)).toFixed(1)}`);
  const total = values.reduce((a, b) => a + b, 0);
  return (
    <figure class={tone}>
      <figcaption>
        <span>{label}</span>
        <span>{total}</span>
      </figcaption>
      <svg
        class="chart"
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${label}: ${total} in ${hours.length} hours, at most ${max} an hour`}
      >
        <line class="axis" x1="0" y1={H - PAD} x2={W} y2={H - PAD} />
        {points.length > 1 ? (
          <>
            <polygon class="area" points={`1,${H - PAD} ${points.join(" ")} ${W - 1},${H - PAD}`} />
            <polyline class="line" points={points.join(" ")} />
          </>
        ) : null}
        <text x="0" y={H - 1}>
          {hours[0]?.slice(11, 16) ?? ""}
        </text>
        <text x={W} y={H - 1} text-anchor="end">
          {hours.at(-1)?.slice(11, 16) ?? ""}
        </text>
        <text x={W} y="9" text-anchor="end">
          max {max}/h
        </text>
      </svg>
    </figure>
  );
};
