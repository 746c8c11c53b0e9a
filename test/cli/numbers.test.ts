import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { grouped } from "../../src/cli/numbers.js";

describe("grouped", () => {
  it("groups thousands as toLocaleString('en-US') does", () => {
    expect(grouped(0)).toBe("0");
    expect(grouped(999)).toBe("999");
    expect(grouped(1000)).toBe("1,000");
    expect(grouped(14800)).toBe("14,800");
    expect(grouped(1234567)).toBe("1,234,567");
    fc.assert(
      fc.property(fc.nat(), (count) => {
        expect(grouped(count)).toBe(count.toLocaleString("en-US"));
      }),
    );
  });
});
