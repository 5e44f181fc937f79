import { describe, expect, it } from "vitest";
import { browserOf } from "./user-agent.ts";

describe("browserOf", () => {
  it("names the browser and the system a person recognises", () => {
    const android =
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
    expect(browserOf(android)).toBe("Chrome on Android");
    expect(browserOf(`${android} Edg/126.0`)).toBe("Edge on Android");
    expect(
      browserOf(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile/15E148 Safari/604.1",
      ),
    ).toBe("Safari on iOS");
    expect(browserOf("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")).toBe(
      "Firefox on Linux",
    );
    expect(browserOf("curl/8.5.0")).toBeNull();
    expect(browserOf(undefined)).toBeNull();
  });
});
