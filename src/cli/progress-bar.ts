/** A one-line progress bar on stderr; plain lines every 10 % when stderr is not a terminal. */
export class ProgressBar {
  #lastDecile = -1;
  #lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(percent: number, detail = ''): void {
    const p = Math.max(0, Math.min(100, percent));
    if (this.out.isTTY) {
      if (Date.now() - this.#lastDraw < 100 && p < 100) return;
      this.#lastDraw = Date.now();
      const width = 30;
      const filled = Math.round((p / 100) * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      this.out.write(`\r${this.label.padEnd(12)} ${bar} ${p.toFixed(0).padStart(3)}% ${detail}`.padEnd(80));
    } else {
      const decile = Math.floor(p / 10);
      if (decile === this.#lastDecile) return;
      this.#lastDecile = decile;
      this.out.write(`${this.label} ${p.toFixed(0)}% ${detail}\n`);
    }
  }

  done(detail = ''): void {
    this.update(100, detail);
    if (this.out.isTTY) this.out.write('\n');
  }
}
