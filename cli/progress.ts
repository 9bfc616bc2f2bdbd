import type { ProgressEvent } from '../node-agent/engine/run.js';
import { statusLine, type StatusLine } from './status-line.js';

const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A one-line live progress display on a terminal: elapsed time and which captures run or are
 * done, on the status line (nothing when stderr is not a terminal: piped output stays clean).
 */
export class Progress {
  private readonly running = new Set<string>();
  private readonly done: string[] = [];
  private timer?: NodeJS.Timeout;
  private frame = 0;
  private readonly started = Date.now();

  constructor(
    private readonly durationSeconds: number,
    private readonly line: StatusLine = statusLine,
  ) {}

  get enabled(): boolean {
    return this.line.enabled;
  }

  start(): void {
    if (!this.enabled) return;
    this.timer = setInterval(() => this.draw(), 100);
  }

  update(event: ProgressEvent): void {
    if (event.type === 'started') this.running.add(event.name);
    else {
      this.running.delete(event.outcome.name);
      this.done.push(`${event.outcome.name}${event.outcome.state === 'Succeeded' ? '' : ` (${event.outcome.state})`}`);
    }
  }

  private draw(): void {
    const elapsed = Math.floor((Date.now() - this.started) / 1000);
    const phase = elapsed < this.durationSeconds ? `${elapsed}s/${this.durationSeconds}s` : `analyzing ${elapsed}s`;
    const parts = [`${frames[this.frame++ % frames.length]} ${phase}`];
    if (this.running.size) parts.push(`running: ${[...this.running].join(', ')}`);
    if (this.done.length) parts.push(`done: ${this.done.join(', ')}`);
    this.line.show(parts.join('  '));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.line.clear();
  }
}
