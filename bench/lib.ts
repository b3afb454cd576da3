/** Small helpers the benchmark scripts share. */
import fs from "node:fs";

/** The median (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Peak resident memory of this process in MB: VmHWM where Linux keeps it, else undefined. */
export function vmHwmMb(): number | undefined {
  try {
    const m = /VmHWM:\s*(\d+)\s*kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak RSS in MB: VmHWM, else the current RSS. */
export function peakRssMb(): number {
  return vmHwmMb() ?? process.memoryUsage().rss / 1024 / 1024;
}
