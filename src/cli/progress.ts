/**
 * A progress bar on stderr for work that reads more than a few MB. Drawn only when the stream is
 * a terminal, so pipes and log files never see it; redrawn at most ten times a second.
 */
export const PROGRESS_THRESHOLD_BYTES = 4 * 1024 * 1024;

export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(s: string): boolean;
}

function mb(n: number): string {
  return (n / (1024 * 1024)).toFixed(1);
}

/**
 * @example
 * const bar = new ProgressBar("verify", totalBytes);
 * bar.update(bytesDone);
 * bar.done();
 */
export class ProgressBar {
  readonly active: boolean;
  private readonly stream: ProgressStream;
  private readonly label: string;
  private total: number;
  private current = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(label: string, totalBytes: number, stream: ProgressStream = process.stderr, threshold = PROGRESS_THRESHOLD_BYTES) {
    this.label = label;
    this.total = totalBytes;
    this.stream = stream;
    this.active = stream.isTTY === true && totalBytes >= threshold;
  }

  /** Sets the bytes done so far (clamped to the total). */
  update(bytesDone: number): void {
    if (!this.active) return;
    this.current = Math.min(Math.max(bytesDone, 0), this.total);
    const now = Date.now();
    if (now - this.lastDraw < 100 && this.current < this.total) return;
    this.lastDraw = now;
    this.draw();
  }

  /** Adds to the bytes done. */
  advance(bytes: number): void {
    this.update(this.current + bytes);
  }

  /** Erases the bar, leaving the terminal as it was. */
  done(): void {
    if (!this.active || !this.drawn) return;
    this.stream.write("\r\u001b[2K");
    this.drawn = false;
  }

  private draw(): void {
    const ratio = this.total > 0 ? this.current / this.total : 1;
    const text = ` ${Math.floor(ratio * 100)
      .toString()
      .padStart(3)}% ${mb(this.current)}/${mb(this.total)} MB`;
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - this.label.length - text.length - 4));
    const filled = Math.round(ratio * width);
    this.stream.write(`\r\u001b[2K${this.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}]${text}`);
    this.drawn = true;
  }
}
