// Exact money from the API's decimal strings: BigInt in units of 1e-12, never a float.
const SCALE = 12;
const ONE = 10n ** BigInt(SCALE);

export function parse(text) {
  let s = String(text ?? "0").trim();
  const negative = s.startsWith("-");
  if (negative || s.startsWith("+")) s = s.slice(1);
  const [whole, frac = ""] = s.split(".");
  const units = BigInt(whole || "0") * ONE + BigInt((frac + "0".repeat(SCALE)).slice(0, SCALE) || "0");
  return negative ? -units : units;
}

export function sum(values) {
  return values.reduce((acc, v) => acc + (typeof v === "bigint" ? v : parse(v)), 0n);
}

// "1234.5678" -> "$1,234.57" (half away from zero, at cents)
export function fmt(value, currency = "USD") {
  const units = typeof value === "bigint" ? value : parse(value);
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const step = 10n ** BigInt(SCALE - 2);
  const cents = (abs + step / 2n) / step;
  const whole = (cents / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const frac = (cents % 100n).toString().padStart(2, "0");
  const symbol = currency === "USD" ? "$" : currency + " ";
  return `${negative && cents ? "−" : ""}${symbol}${whole}.${frac}`;
}

// For drawing only (chart heights), never for a figure shown as text.
export function toNumber(value) {
  const units = typeof value === "bigint" ? value : parse(value);
  return Number(units / 10n ** 6n) / 1e6;
}

export function percent(p) {
  return p == null ? "—" : `${Math.round(Number(p) * 100)}%`;
}
