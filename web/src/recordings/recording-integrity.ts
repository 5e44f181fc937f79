// The integrity line of a replay (terminal or desktop): what the edge's verification of the recording
// against its signed manifest found, in words, with its status on #replay-integrity[data-status].
import type { IntegrityReport } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";

export function integrityText(report: IntegrityReport): string {
  // Recordings made at the source say how much of what the room relayed their chunks hold.
  const covered = report.coverage
    ? ` They hold all ${report.coverage.output.toLocaleString()} output bytes the edge relayed.`
    : "";
  return report.status === "verified"
    ? `Integrity verified: ${report.chunks === 1 ? "its 1 chunk matches" : `all ${report.chunks} chunks match`} the edge's signed manifest.${covered}`
    : report.status === "unsealed"
      ? "Not sealed yet: the session is still running or its upload is pending."
      : report.status === "incomplete"
        ? `Verified, but incomplete: ${report.problems.find((p) => p.kind === "incomplete")?.detail ?? "the recording stopped early"}.`
        : `Tampering detected: ${report.problems.map((p) => p.detail).join("; ")}`;
}

/** Verifies recording `id` and shows the outcome in `element` (unless `disposed()` by then). */
export async function showIntegrity(element: HTMLElement, id: string, disposed: () => boolean): Promise<void> {
  try {
    const report = await api.verifyRecording(id);
    if (disposed()) return;
    element.dataset.status = report.status;
    element.textContent = integrityText(report);
    element.dataset.tone = report.status === "verified" ? "ok" : "error";
  } catch (error) {
    if (!disposed()) element.textContent = `Integrity could not be checked: ${errorText(error)}`;
  }
}
