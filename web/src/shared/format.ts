// Human forms of durations, times, countdowns and windows, shared by the catalog, requests and approvals pages.

const MINUTE_MS = 60_000;
const HOUR_MIN = 60;
const DAY_MIN = 24 * 60;

/** "45 min", "8 h", "1 h 30 min", "3 d", "1 d 4 h". */
export function formatMinutes(minutes: number): string {
  const m = Math.max(0, Math.round(minutes));
  if (m < HOUR_MIN) return `${m} min`;
  const days = Math.floor(m / DAY_MIN);
  const hours = Math.floor((m % DAY_MIN) / HOUR_MIN);
  const rest = m % HOUR_MIN;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  return rest > 0 ? `${hours} h ${rest} min` : `${hours} h`;
}

/** A countdown of `ms` (ms): "2 d 3 h", "1 h 05 min", "4 min 09 s", "12 s". */
export function formatCountdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
});
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** "Sun 29 Nov, 09:30". */
export function formatTime(ms: number): string {
  return dateTime.format(ms);
}

/** How long ago `ms` was, from `now`: "just now", "4 min ago", "2 h 5 min ago", "1 d 3 h ago". */
export function formatAgo(ms: number, now = Date.now()): string {
  const minutes = Math.floor((now - ms) / MINUTE_MS);
  return minutes < 1 ? "just now" : `${formatMinutes(minutes)} ago`;
}

/** Date and time with seconds, for the audit log. */
export function formatFullTime(ms: number): string {
  return full.format(ms);
}

/** "Sun 29 Nov, 09:30 – 10:30 (1 h)": the end shows only its time when it falls on the same day. */
export function formatWindow(startsAt: number, endsAt: number): string {
  const sameDay = new Date(startsAt).toDateString() === new Date(endsAt).toDateString();
  const end = sameDay ? timeOnly.format(endsAt) : dateTime.format(endsAt);
  return `${dateTime.format(startsAt)} – ${end} (${formatMinutes((endsAt - startsAt) / MINUTE_MS)})`;
}

/** A <time> element for `ms`, with the machine-readable value set. */
export function timeElement(ms: number, text = formatTime(ms)): HTMLTimeElement {
  const el = document.createElement("time");
  el.dateTime = new Date(ms).toISOString();
  el.textContent = text;
  return el;
}

/** The value of a datetime-local input for `ms`, in local time ("2026-11-29T09:30"). */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Unix ms from a datetime-local value (local time); undefined when empty or invalid. */
export function fromLocalInput(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}
