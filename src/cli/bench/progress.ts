import { Presets, SingleBar } from 'cli-progress';

/**
 * A progress bar on stderr for interactive runs. It draws nothing when stderr is not a
 * terminal or when disabled (`--json`, `--no-progress`), so piped output stays clean.
 */
export class Progress {
  private bar: SingleBar | undefined;

  constructor(private readonly enabled: boolean) {}

  /** Starts (or restarts) the bar for one phase, e.g. `connecting` up to 5000. */
  phase(name: string, total: number): void {
    this.stop();
    if (!this.enabled || !process.stderr.isTTY) return;
    this.bar = new SingleBar(
      { format: `${name.padEnd(12)} [{bar}] {percentage}% | {value}/{total}`, hideCursor: true },
      Presets.shades_classic,
    );
    this.bar.start(total, 0);
  }

  update(value: number): void {
    this.bar?.update(value);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
