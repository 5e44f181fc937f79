import type { RotationError } from "../../protocol/rotation.ts";

/** A rotation or verification that did not succeed, with the code the edge is told (never target text). */
export class RotationFailure extends Error {
  override name = "RotationFailure";
  constructor(readonly code: RotationError) {
    super(`rotation failed: ${code}`);
  }
}
