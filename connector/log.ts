// Structured log lines on stderr. Callers pass identifiers and reasons only: never a grant, a token
// or a credential (tests scan this output for a canary secret).
export type Log = (event: string, fields?: Record<string, string | number | boolean | undefined>) => void;

export const log: Log = (event, fields = {}) => {
  process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), event, ...fields })}\n`);
};
