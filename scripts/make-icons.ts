// `npx tsx scripts/make-icons.ts`: draws the web app's icons (web/public/icons/icon-192.png, icon-512.png): a
// dark tile with a light keyhole, no text, full bleed so "maskable" crops keep the keyhole. Committed; rerun only
// to change the design.
import { writeFileSync } from "node:fs";
import { PNG } from "pngjs";

function icon(size: number): Buffer {
  const png = new PNG({ width: size, height: size });
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x - c;
      const dy = y - c * 0.9;
      // Keyhole: a circle and a tapering slot below it, inside the maskable safe zone (40 % radius).
      const inCircle = dx * dx + dy * dy <= (size * 0.12) ** 2;
      const slotTop = c * 0.9;
      const slotBottom = size * 0.72;
      const half = size * 0.05 + ((y - slotTop) / (slotBottom - slotTop)) * size * 0.04;
      const inSlot = y >= slotTop && y <= slotBottom && Math.abs(dx) <= half;
      const i = (y * size + x) * 4;
      const [r, g, b] = inCircle || inSlot ? [0xf2, 0xf4, 0xf7] : [0x1f, 0x3a, 0x5f];
      png.data[i] = r;
      png.data[i + 1] = g;
      png.data[i + 2] = b;
      png.data[i + 3] = 0xff;
    }
  }
  return PNG.sync.write(png);
}

for (const size of [192, 512])
  writeFileSync(new URL(`../web/public/icons/icon-${size}.png`, import.meta.url), icon(size));
